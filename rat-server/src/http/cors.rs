//! Cross-origin requests (`server.cors`): off unless configured, so only
//! the server's own origin may call it from a browser; otherwise exactly
//! the origins listed (tower-http's `CorsLayer`).

use std::time::Duration;

use axum::http::{HeaderName, HeaderValue, Method, header};
use rat_core::{Error, Result};
use serde::Deserialize;
use tower_http::cors::{AllowOrigin, CorsLayer};

use super::REQUEST_ID;

/// Which other origins may call the API from a browser.
///
/// ```yaml
/// server:
///   cors: {allowed_origins: ["https://ide.example.com"], max_age_secs: 600}
/// ```
///
/// ```
/// use rat_server::http::CorsConfig;
///
/// let cors = CorsConfig { allowed_origins: vec!["https://ide.example.com".into()], max_age_secs: 600 };
/// assert!(cors.layer().is_ok());
/// let bad = CorsConfig { allowed_origins: vec!["ide.example.com/path".into()], max_age_secs: 600 };
/// assert!(bad.layer().is_err());
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CorsConfig {
    /// Origins (`https://host[:port]`), or `["*"]` for any.
    pub allowed_origins: Vec<String>,
    /// How long a browser may cache a preflight answer.
    #[serde(default = "default_max_age")]
    pub max_age_secs: u64,
}

fn default_max_age() -> u64 {
    600
}

impl CorsConfig {
    /// The layer answering preflights and marking responses; an origin
    /// that is not `scheme://host[:port]` is refused by value.
    pub fn layer(&self) -> Result<CorsLayer> {
        let field = |e: Error| e.with_context("field", "server.cors.allowed_origins");
        let origins = match self.allowed_origins.as_slice() {
            [] => {
                return Err(field(Error::invalid(
                    "list at least one origin, or [\"*\"]",
                )));
            }
            [any] if any == "*" => AllowOrigin::any(),
            listed => AllowOrigin::list(
                listed
                    .iter()
                    .map(|o| origin(o))
                    .collect::<Result<Vec<_>>>()
                    .map_err(field)?,
            ),
        };
        Ok(CorsLayer::new()
            .allow_origin(origins)
            .allow_methods([Method::GET, Method::POST, Method::PUT, Method::DELETE])
            .allow_headers([
                header::AUTHORIZATION,
                header::CONTENT_TYPE,
                HeaderName::from_static("x-api-key"),
                HeaderName::from_static("last-event-id"),
                REQUEST_ID,
            ])
            .expose_headers([REQUEST_ID])
            .max_age(Duration::from_secs(self.max_age_secs)))
    }
}

/// One listed origin, checked: what a browser sends in `Origin`.
fn origin(text: &str) -> Result<HeaderValue> {
    let refused = || {
        Error::invalid(format!(
            "origin '{}' is not scheme://host[:port] (no path, no '*' beside other origins)",
            text.escape_default()
        ))
    };
    let url = url::Url::parse(text).map_err(|_| refused())?;
    let bare = matches!(url.scheme(), "http" | "https")
        && url.host_str().is_some()
        && url.path() == "/"
        && url.query().is_none()
        && url.fragment().is_none()
        && url.username().is_empty()
        && !text.ends_with('/');
    if !bare {
        return Err(refused());
    }
    HeaderValue::from_str(text).map_err(|_| refused())
}
