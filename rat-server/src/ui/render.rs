//! Rendering: the templates (compiled in, auto-escaped as HTML), a page
//! for an error with its status and message, and the embedded assets.

use std::sync::OnceLock;

use axum::extract::Path;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use minijinja::Environment;
use serde::Serialize;

use crate::error::{ApiError, Denied};

/// Every template, by name; `.html` names are auto-escaped.
const TEMPLATES: [(&str, &str); 9] = [
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
];

/// Every asset: name, media type, bytes.
const ASSETS: [(&str, &str, &[u8]); 1] = [(
    "rat.css",
    "text/css; charset=utf-8",
    include_bytes!("../../ui/assets/rat.css"),
)];

fn templates() -> &'static Environment<'static> {
    static ENV: OnceLock<Environment<'static>> = OnceLock::new();
    ENV.get_or_init(|| {
        let mut env = Environment::new();
        // Where the UI is served from; links are relative to it.
        env.add_global("root", "/");
        for (name, source) in TEMPLATES {
            // Compiled into the binary and parsed by the unit test below:
            // a broken template fails the build's tests, not a request.
            env.add_template(name, source)
                .unwrap_or_else(|e| panic!("template {name}: {e}"));
        }
        env
    })
}

/// A page, or the error page for whatever stopped it.
pub(super) type PageResult = Result<Html<String>, PageError>;

/// `template` rendered with `context`.
pub(super) fn page(template: &str, context: impl Serialize) -> PageResult {
    let rendered = templates()
        .get_template(template)
        .and_then(|t| t.render(context))
        .map_err(|e| {
            PageError(ApiError::from(rat_core::Error::new(
                rat_core::ErrorKind::Internal,
                format!("page {template}: {e}"),
            )))
        })?;
    Ok(Html(rendered))
}

/// An error shown as a page: its status, its message, and a way back.
#[derive(Debug)]
pub(super) struct PageError(ApiError);

impl From<rat_core::Error> for PageError {
    fn from(e: rat_core::Error) -> Self {
        Self(ApiError::from(e))
    }
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        let status = self.0.status();
        let context = minijinja::context! {
            title => status.canonical_reason().unwrap_or("Error"),
            status => status.as_u16(),
            message => self.0.message(),
        };
        let body = match templates()
            .get_template("error.html")
            .and_then(|t| t.render(context))
        {
            Ok(html) => html,
            Err(_) => format!("{status}: {}", self.0.message()),
        };
        let mut response = (status, Html(body)).into_response();
        if self.0.is_denied() {
            response.extensions_mut().insert(Denied);
        }
        response
    }
}

/// `GET /assets/{file}`: an embedded asset, cached for a day.
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
            },
        )
        .unwrap()
        .0;
        for link in ["page=0", "page=2"] {
            let href = format!("runs?pipeline=sales.bronze.orders&amp;status=failed&amp;{link}");
            assert!(html.contains(&href), "{href}: {html}");
        }
    }

    #[test]
    fn every_template_parses_and_escapes_html() {
        let env = templates();
        for (name, _) in TEMPLATES {
            assert!(env.get_template(name).is_ok(), "{name}");
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
