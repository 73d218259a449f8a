//! [`BasePath`]: the path prefix the server answers under when a reverse
//! proxy forwards `https://host/prefix/...` unchanged (`server.base_path`).

use axum::Router;
use axum::extract::Request;
use axum::http::Uri;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Redirect, Response};
use rat_core::{Error, Result};
use serde::{Deserialize, Deserializer};

/// A path prefix such as `/rat` (no trailing slash), or none: the API is
/// then at `{prefix}/api/v1`, the web IDE at `{prefix}/`, the probes at
/// `{prefix}/health`.
///
/// ```
/// use rat_server::http::BasePath;
///
/// assert_eq!(BasePath::parse("/tools/rat/").unwrap().as_str(), "/tools/rat");
/// assert_eq!(BasePath::parse("").unwrap().as_str(), "");
/// let err = BasePath::parse("rat/../x").unwrap_err();
/// assert!(err.to_string().contains("server.base_path"), "{err}");
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BasePath(String);

impl BasePath {
    /// Validates `text`: empty or `/`, or `/` then segments of letters,
    /// digits, `-`, `_` and `.` (not `.` or `..` alone).
    pub fn parse(text: &str) -> Result<Self> {
        let trimmed = text.trim().trim_end_matches('/');
        if trimmed.is_empty() {
            return Ok(Self::default());
        }
        let segments_ok = trimmed.starts_with('/')
            && trimmed[1..].split('/').all(|s| {
                !s.is_empty()
                    && s != "."
                    && s != ".."
                    && s.chars()
                        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
            });
        if !segments_ok {
            return Err(Error::invalid(format!(
                "'{}' is not a path prefix like /rat (segments of letters, digits, - _ .)",
                text.escape_default()
            ))
            .with_context("field", "server.base_path"));
        }
        Ok(Self(trimmed.to_string()))
    }

    /// The prefix (`""` when none).
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Where the web IDE is: the prefix and `/`.
    pub fn root(&self) -> String {
        format!("{}/", self.0)
    }
}

impl<'de> Deserialize<'de> for BasePath {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        BasePath::parse(&text).map_err(serde::de::Error::custom)
    }
}

/// `app` answering under `base`, as if a proxy stripped the prefix: the
/// prefix alone leads to `{base}/`, paths outside it are 404. Handlers,
/// `OriginalUri` and so the audit log's objects and the metrics' routes
/// see the path below the prefix, the same whatever the deployment.
pub(super) fn under(app: Router, base: BasePath) -> Router {
    Router::new()
        .fallback_service(app)
        .layer(middleware::from_fn(move |request, next| {
            strip(base.clone(), request, next)
        }))
}

async fn strip(base: BasePath, mut request: Request, next: Next) -> Response {
    let path = request.uri().path();
    if path == base.as_str() {
        return Redirect::permanent(&base.root()).into_response();
    }
    let Some(rest) = path
        .strip_prefix(base.as_str())
        .filter(|r| r.starts_with('/'))
    else {
        return crate::error::ApiError::new(
            axum::http::StatusCode::NOT_FOUND,
            "not_found",
            format!("this server answers under {}/", base.as_str()),
        )
        .into_response();
    };
    let rest = match request.uri().query() {
        Some(query) => format!("{rest}?{query}"),
        None => rest.to_string(),
    };
    match rest.parse::<Uri>() {
        Ok(uri) => {
            request
                .extensions_mut()
                .insert(axum::extract::OriginalUri(uri.clone()));
            *request.uri_mut() = uri;
        }
        Err(_) => unreachable!("a suffix of a valid path"),
    }
    next.run(request).await
}
