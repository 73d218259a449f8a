//! Rendering: the templates (compiled in, auto-escaped as HTML), a page
//! for an error with its status and message, and the embedded assets.

use std::sync::Arc;

use axum::extract::{FromRequestParts, Path, Request};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{Html, IntoResponse, Response};
use minijinja::{Environment, Value};
use serde::Serialize;

use crate::auth::{Authenticator, session};
use crate::error::{ApiError, Denied};

/// Every template, by name; `.html` names are auto-escaped.
const TEMPLATES: [(&str, &str); 18] = [
    (
        "layout.html",
        include_str!("../../ui/templates/layout.html"),
    ),
    (
        "macros.html",
        include_str!("../../ui/templates/macros.html"),
    ),
    ("home.html", include_str!("../../ui/templates/home.html")),
    ("runs.html", include_str!("../../ui/templates/runs.html")),
    (
        "pipelines.html",
        include_str!("../../ui/templates/pipelines.html"),
    ),
    (
        "tables.html",
        include_str!("../../ui/templates/tables.html"),
    ),
    ("table.html", include_str!("../../ui/templates/table.html")),
    (
        "settings.html",
        include_str!("../../ui/templates/settings.html"),
    ),
    ("error.html", include_str!("../../ui/templates/error.html")),
    ("login.html", include_str!("../../ui/templates/login.html")),
    (
        "signed-in.html",
        include_str!("../../ui/templates/signed-in.html"),
    ),
    (
        "pipeline.html",
        include_str!("../../ui/templates/pipeline.html"),
    ),
    ("run.html", include_str!("../../ui/templates/run.html")),
    ("query.html", include_str!("../../ui/templates/query.html")),
    (
        "landing.html",
        include_str!("../../ui/templates/landing.html"),
    ),
    ("zone.html", include_str!("../../ui/templates/zone.html")),
    (
        "schedules.html",
        include_str!("../../ui/templates/schedules.html"),
    ),
    (
        "lineage.html",
        include_str!("../../ui/templates/lineage.html"),
    ),
];

/// Every asset: name, media type, bytes.
const ASSETS: [(&str, &str, &[u8]); 3] = [
    (
        "rat.css",
        "text/css; charset=utf-8",
        include_bytes!("../../ui/assets/rat.css"),
    ),
    (
        "icon.svg",
        "image/svg+xml",
        include_bytes!("../../ui/assets/icon.svg"),
    ),
    // Built from ui/web by scripts/ui-build.sh (CI checks it is current).
    (
        "app.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../ui/assets/app.js"),
    ),
];

/// What every page of one server shares: the compiled templates, where
/// the UI is served from, and how people sign in.
#[derive(Debug)]
pub(crate) struct Ui {
    env: Environment<'static>,
    /// The path the UI is served under, ending in `/` (the `<base href>`
    /// of every page, so relative links work under a prefix).
    pub(super) root: String,
    pub(super) auth: Authenticator,
}

impl Ui {
    /// The UI served under `root` (`/`, or `/prefix/`).
    pub(crate) fn new(root: &str, auth: Authenticator) -> Self {
        let mut env = Environment::new();
        for (name, source) in TEMPLATES {
            // Compiled into the binary and parsed by the unit test below:
            // a broken template fails the build's tests, not a request.
            env.add_template(name, source)
                .unwrap_or_else(|e| panic!("template {name}: {e}"));
        }
        env.add_global("assets", assets_version());
        Self {
            env,
            root: root.to_string(),
            auth,
        }
    }

    /// `template` with `context` and what the layout needs.
    fn render(&self, template: &str, session: bool, context: Value) -> PageResult {
        let context = minijinja::context! {
            root => self.root,
            session => session,
            sign_in => self.auth.asks(),
            ..context
        };
        self.env
            .get_template(template)
            .and_then(|t| t.render(context))
            .map(Html)
            .map_err(|e| {
                PageError(ApiError::from(rat_core::Error::new(
                    rat_core::ErrorKind::Internal,
                    format!("page {template}: {e}"),
                )))
            })
    }
}

/// The UI of the request, and whether it came with a session.
pub(super) struct Shell {
    pub(super) ui: Arc<Ui>,
    session: bool,
}

impl<S: Send + Sync> FromRequestParts<S> for Shell {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(Self::of(parts))
    }
}

impl Shell {
    fn of(parts: &Parts) -> Self {
        let ui = parts
            .extensions
            .get::<Arc<Ui>>()
            .cloned()
            .unwrap_or_else(|| unreachable!("the UI's router adds its Ui"));
        let session = session::cookie(&parts.headers, session::SESSION_COOKIE).is_some();
        Self { ui, session }
    }

    /// `template` rendered with `context`.
    pub(super) fn page(&self, template: &str, context: impl Serialize) -> PageResult {
        self.ui
            .render(template, self.session, Value::from_serialize(context))
    }
}

/// A page, or the error page for whatever stopped it.
pub(super) type PageResult = Result<Html<String>, PageError>;

/// An error shown as a page: its status, its message, and a way back.
#[derive(Debug)]
pub(super) struct PageError(pub(super) ApiError);

impl From<rat_core::Error> for PageError {
    fn from(e: rat_core::Error) -> Self {
        Self(ApiError::from(e))
    }
}

/// A failure's message, for [`error_pages`] to render.
#[derive(Debug, Clone)]
struct Failure(String);

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        let mut response = self.0.status().into_response();
        response
            .extensions_mut()
            .insert(Failure(self.0.message().to_string()));
        if self.0.is_denied() {
            response.extensions_mut().insert(Denied);
        }
        response
    }
}

/// Renders the error page of a handler's [`PageError`] (where the UI of
/// the request, its prefix and session, are known).
pub(super) async fn error_pages(request: Request, next: Next) -> Response {
    let (parts, body) = request.into_parts();
    let shell = Shell::of(&parts);
    let mut response = next.run(Request::from_parts(parts, body)).await;
    let Some(Failure(message)) = response.extensions_mut().remove::<Failure>() else {
        return response;
    };
    let status = response.status();
    let context = minijinja::context! {
        title => status.canonical_reason().unwrap_or("Error"),
        status => status.as_u16(),
        message => message,
    };
    let body = match shell.page("error.html", context) {
        Ok(html) => html.0,
        Err(_) => format!("{status}: {message}"),
    };
    let mut page = (status, Html(body)).into_response();
    *page.extensions_mut() = std::mem::take(response.extensions_mut());
    page
}

/// A digest of the embedded assets, in their URLs (`?v=`): a browser
/// keeps them for a day, and an upgraded server's are new URLs.
fn assets_version() -> String {
    use std::hash::{Hash, Hasher};
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    for (name, _, bytes) in ASSETS {
        (name, bytes).hash(&mut hasher);
    }
    format!("{:016x}", hasher.finish())
}

/// `GET /assets/{file}`: an embedded asset, cached for a day (its URL
/// changes with its content: [`assets_version`]).
pub(super) async fn asset(Path(file): Path<String>) -> Response {
    match ASSETS.iter().find(|(name, _, _)| *name == file) {
        Some((_, media_type, bytes)) => {
            let mut response = bytes.into_response();
            let headers = response.headers_mut();
            headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(media_type));
            headers.insert(
                header::CACHE_CONTROL,
                HeaderValue::from_static("public, max-age=86400"),
            );
            response
        }
        None => PageError(ApiError::new(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("no asset '{}'", file.escape_default()),
        ))
        .into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn page(template: &str, context: Value) -> PageResult {
        Ui::new("/", Authenticator::none()).render(template, false, context)
    }

    #[test]
    fn every_template_file_is_compiled_in() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("ui/templates");
        let mut files: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        files.sort();
        let mut compiled: Vec<String> = TEMPLATES.iter().map(|(n, _)| n.to_string()).collect();
        compiled.sort();
        assert_eq!(files, compiled);
    }

    #[test]
    fn the_runs_pager_keeps_the_filters() {
        let html = page(
            "runs.html",
            minijinja::context! {
                title => "Runs", section => "runs", runs => Vec::<()>::new(),
                pipeline => "sales.bronze.orders", status => "failed",
                statuses => ["failed"], page => 1, more => true,
                filters => minijinja::context! {
                    pipeline => "sales.bronze.orders", since => "2026-03-01T00:00:00+01:00",
                },
            },
        )
        .unwrap()
        .0;
        for link in ["page=0", "page=2"] {
            let href = format!(
                "runs?pipeline=sales.bronze.orders&amp;since=2026-03-01T00%3A00%3A00%2B01%3A00&amp;{link}"
            );
            assert!(html.contains(&href), "{href}: {html}");
        }
    }

    #[test]
    fn every_template_parses_and_escapes_html() {
        let ui = Ui::new("/", Authenticator::none());
        for (name, _) in TEMPLATES {
            assert!(ui.env.get_template(name).is_ok(), "{name}");
        }
        let html = page(
            "error.html",
            minijinja::context! {title => "x", status => 404, message => "<script>"},
        )
        .unwrap()
        .0;
        assert!(
            html.contains("&lt;script&gt;") && !html.contains("<script>"),
            "{html}"
        );
    }
}
