//! HTTP for the Iceberg REST catalog: the `/v1/config` handshake, bearer
//! tokens (static, or OAuth2 client credentials renewed before expiry and
//! on a 401), URL building with the catalog's prefix, error mapping.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use backon::{ExponentialBuilder, Retryable};
use rat_core::config::{RestAuth, RestCatalogConfig, SecretRef};
use rat_core::{Error, ErrorKind, Result};
use reqwest::{Method, StatusCode};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use tokio::sync::Mutex;

/// The Iceberg separator of namespace levels in a URL path segment.
pub(super) const NAMESPACE_SEPARATOR: char = '\u{1f}';

/// How long one HTTP request may take.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);

/// A catalog endpoint with authentication.
pub(super) struct RestClient {
    http: reqwest::Client,
    /// `uri` + `/v1/` + prefix, with a trailing `/`.
    root: url::Url,
    auth: Auth,
    /// The merged catalog properties `/v1/config` returned.
    properties: HashMap<String, String>,
}

impl std::fmt::Debug for RestClient {
    // The catalog's properties may carry credentials (some catalogs put
    // storage keys in /v1/config defaults): only their names are shown.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut keys: Vec<&String> = self.properties.keys().collect();
        keys.sort();
        f.debug_struct("RestClient")
            .field("root", &self.root.as_str())
            .field("auth", &self.auth)
            .field("property_keys", &keys)
            .finish_non_exhaustive()
    }
}

#[derive(Debug)]
enum Auth {
    None,
    Bearer(SecretString),
    OAuth2 {
        token_uri: String,
        client_id: String,
        client_secret: SecretRef,
        scope: String,
        current: Mutex<Option<Token>>,
    },
}

#[derive(Debug, Clone)]
struct Token {
    value: SecretString,
    renew_at: Option<Instant>,
}

/// An error body of the REST spec.
#[derive(Deserialize)]
struct ErrorBody {
    error: ErrorModel,
}

#[derive(Deserialize)]
struct ErrorModel {
    message: String,
    #[serde(rename = "type")]
    kind: Option<String>,
}

#[derive(Deserialize)]
struct ConfigResponse {
    #[serde(default)]
    defaults: HashMap<String, String>,
    #[serde(default)]
    overrides: HashMap<String, String>,
}

#[derive(Deserialize)]
struct TokenResponse {
    access_token: String,
    expires_in: Option<u64>,
}

/// One catalog request: a method, path segments under the prefix, a query,
/// a JSON body, and whether to ask for vended credentials.
#[derive(Debug, Clone)]
pub(super) struct Request<'a> {
    method: Method,
    path: &'a [&'a str],
    query: &'a [(&'a str, &'a str)],
    body: Option<&'a serde_json::Value>,
    vended_credentials: bool,
    /// The entity tag of what the caller holds (`If-None-Match`).
    if_none_match: Option<&'a str>,
}

impl<'a> Request<'a> {
    /// `GET` of `path`.
    pub(super) fn get(path: &'a [&'a str]) -> Self {
        Self::new(Method::GET, path)
    }

    /// `POST` of `body` to `path`.
    pub(super) fn post(path: &'a [&'a str], body: &'a serde_json::Value) -> Self {
        Self {
            body: Some(body),
            ..Self::new(Method::POST, path)
        }
    }

    /// `DELETE` of `path`.
    pub(super) fn delete(path: &'a [&'a str]) -> Self {
        Self::new(Method::DELETE, path)
    }

    fn new(method: Method, path: &'a [&'a str]) -> Self {
        Self {
            method,
            path,
            query: &[],
            body: None,
            vended_credentials: false,
            if_none_match: None,
        }
    }

    /// Answered `304 Not Modified` when the resource still has `etag`.
    pub(super) fn if_none_match(self, etag: Option<&'a str>) -> Self {
        Self {
            if_none_match: etag,
            ..self
        }
    }

    /// With query parameters.
    pub(super) fn query(self, query: &'a [(&'a str, &'a str)]) -> Self {
        Self { query, ..self }
    }

    /// Asking for vended credentials (`X-Iceberg-Access-Delegation`) when `yes`.
    pub(super) fn vended(self, yes: bool) -> Self {
        Self {
            vended_credentials: yes,
            ..self
        }
    }
}

/// A successful answer.
#[derive(Debug)]
pub(super) enum Answer {
    /// `304`: the resource still has the entity tag the request named.
    NotModified,
    /// The body, and the resource's entity tag when the catalog sends one.
    Body {
        bytes: bytes::Bytes,
        etag: Option<String>,
    },
}

/// A page of a listing.
pub(super) trait Page {
    /// The token of the next page, if there is one.
    fn next_page_token(&self) -> Option<&str>;
}

/// A request failure with the HTTP status it came with.
#[derive(Debug)]
pub(super) struct Failure {
    pub(super) status: Option<StatusCode>,
    pub(super) error: Error,
}

impl From<Failure> for Error {
    fn from(f: Failure) -> Self {
        f.error
    }
}

impl RestClient {
    /// Connects: authenticates, then asks `/v1/config` for the prefix and
    /// the catalog's properties.
    pub(super) async fn connect(config: &RestCatalogConfig) -> Result<Self> {
        let http = reqwest::Client::builder()
            .timeout(REQUEST_TIMEOUT)
            .build()
            .map_err(|e| catalog_error(format!("cannot build the HTTP client: {e}")))?;
        let base = config.uri.trim_end_matches('/').to_owned();
        let auth = match &config.auth {
            RestAuth::None => Auth::None,
            RestAuth::Bearer { token } => Auth::Bearer(token.resolve()?),
            RestAuth::OAuth2 {
                client_id,
                client_secret,
                scope,
                token_uri,
            } => Auth::OAuth2 {
                token_uri: token_uri
                    .clone()
                    .unwrap_or_else(|| format!("{base}/v1/oauth/tokens")),
                client_id: client_id.clone(),
                client_secret: client_secret.clone(),
                scope: scope.clone().unwrap_or_else(|| "catalog".to_owned()),
                current: Mutex::new(None),
            },
        };
        let root = parse_url(&format!("{base}/v1/"))?;
        let mut client = Self {
            http,
            root,
            auth,
            properties: HashMap::new(),
        };
        let mut query = Vec::new();
        if let Some(warehouse) = &config.warehouse {
            query.push(("warehouse", warehouse.as_str()));
        }
        let response: ConfigResponse = client
            .json(Request::get(&["config"]).query(&query))
            .await
            .map_err(|f| f.error.with_context("uri", &config.uri))?;
        let mut properties = response.defaults;
        properties.extend(response.overrides);
        let base = properties
            .get("uri")
            .map(|u| u.trim_end_matches('/').to_owned())
            .unwrap_or(base);
        let mut root = format!("{base}/v1/");
        if let Some(prefix) = properties.get("prefix").filter(|p| !p.is_empty()) {
            root.push_str(prefix.trim_matches('/'));
            root.push('/');
        }
        client.root = parse_url(&root)?;
        client.properties = properties;
        Ok(client)
    }

    /// A catalog property from `/v1/config`.
    pub(super) fn property(&self, key: &str) -> Option<&str> {
        self.properties.get(key).map(String::as_str)
    }

    /// Sends a request under the prefix and decodes a JSON answer.
    pub(super) async fn json<T: DeserializeOwned>(
        &self,
        request: Request<'_>,
    ) -> std::result::Result<T, Failure> {
        let path = request.path;
        let bytes = self.send(request).await?;
        serde_json::from_slice(&bytes).map_err(|e| Failure {
            status: None,
            error: catalog_error(format!("unexpected answer from the catalog: {e}"))
                .with_context("path", path.join("/")),
        })
    }

    /// Every page of a paged listing (`pageToken` / `next-page-token`).
    pub(super) async fn pages<T: DeserializeOwned + Page>(&self, path: &[&str]) -> Result<Vec<T>> {
        let mut pages: Vec<T> = Vec::new();
        loop {
            let token = pages
                .last()
                .and_then(Page::next_page_token)
                .filter(|t| !t.is_empty())
                .map(str::to_owned);
            if !pages.is_empty() && token.is_none() {
                return Ok(pages);
            }
            let query: Vec<(&str, &str)> = token
                .as_deref()
                .map(|t| vec![("pageToken", t)])
                .unwrap_or_default();
            pages.push(self.json(Request::get(path).query(&query)).await?);
        }
    }

    /// Sends a request under the prefix; a non-2xx answer is a [`Failure`].
    pub(super) async fn send(
        &self,
        request: Request<'_>,
    ) -> std::result::Result<bytes::Bytes, Failure> {
        match self.answer(request).await? {
            Answer::Body { bytes, .. } => Ok(bytes),
            Answer::NotModified => Err(Failure {
                status: Some(StatusCode::NOT_MODIFIED),
                error: catalog_error("the catalog answered 304 to an unconditional request"),
            }),
        }
    }

    /// Sends a request under the prefix: its body and entity tag, or
    /// [`Answer::NotModified`] for a conditional request; any other non-2xx
    /// answer is a [`Failure`]. Idempotent requests are retried on
    /// throttling and unavailability; a 401 renews an OAuth2 token once.
    pub(super) async fn answer(
        &self,
        request: Request<'_>,
    ) -> std::result::Result<Answer, Failure> {
        let Request {
            method,
            path,
            query,
            body,
            vended_credentials,
            if_none_match,
        } = request;
        let mut url = self.root.clone();
        {
            let mut segments = url.path_segments_mut().map_err(|_| Failure {
                status: None,
                error: catalog_error("the catalog uri cannot hold a path"),
            })?;
            segments.pop_if_empty();
            segments.extend(path);
        }
        url.query_pairs_mut().extend_pairs(query);
        if query.is_empty() {
            url.set_query(None);
        }
        let idempotent = method != Method::POST;
        let attempt = || async {
            let mut renewed = false;
            loop {
                let mut request = self.http.request(method.clone(), url.clone());
                if let Some(token) = self.token(renewed).await.map_err(|error| Failure {
                    status: None,
                    error,
                })? {
                    request = request.bearer_auth(token.expose_secret());
                }
                if vended_credentials {
                    request = request.header("X-Iceberg-Access-Delegation", "vended-credentials");
                }
                if let Some(etag) = if_none_match {
                    request = request.header(reqwest::header::IF_NONE_MATCH, etag);
                }
                if let Some(body) = body {
                    request = request.json(body);
                }
                let response = request.send().await.map_err(|e| Failure {
                    status: None,
                    error: catalog_error(format!("catalog request failed: {e}"))
                        .with_context("path", path.join("/"))
                        .with_retryable(idempotent),
                })?;
                let status = response.status();
                if status == StatusCode::NOT_MODIFIED && if_none_match.is_some() {
                    return Ok(Answer::NotModified);
                }
                let etag = response
                    .headers()
                    .get(reqwest::header::ETAG)
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_owned);
                let bytes = response.bytes().await.map_err(|e| Failure {
                    status: Some(status),
                    error: catalog_error(format!("catalog answer cut short: {e}")),
                })?;
                if status.is_success() {
                    return Ok(Answer::Body { bytes, etag });
                }
                if status == StatusCode::UNAUTHORIZED
                    && !renewed
                    && matches!(self.auth, Auth::OAuth2 { .. })
                {
                    renewed = true;
                    continue;
                }
                return Err(failure(status, &bytes, path, idempotent));
            }
        };
        attempt
            .retry(
                ExponentialBuilder::default()
                    .with_min_delay(Duration::from_millis(100))
                    .with_max_times(if idempotent { 4 } else { 0 }),
            )
            .when(|f: &Failure| f.error.is_retryable() && idempotent)
            .await
    }

    /// The bearer token to send; `renew` forces a new OAuth2 token.
    async fn token(&self, renew: bool) -> Result<Option<SecretString>> {
        match &self.auth {
            Auth::None => Ok(None),
            Auth::Bearer(token) => Ok(Some(token.clone())),
            Auth::OAuth2 {
                token_uri,
                client_id,
                client_secret,
                scope,
                current,
            } => {
                let mut current = current.lock().await;
                if let Some(token) = current.as_ref()
                    && !renew
                    && token.renew_at.is_none_or(|at| Instant::now() < at)
                {
                    return Ok(Some(token.value.clone()));
                }
                let secret = client_secret.resolve()?;
                let form = [
                    ("grant_type", "client_credentials"),
                    ("client_id", client_id.as_str()),
                    ("client_secret", secret.expose_secret()),
                    ("scope", scope.as_str()),
                ];
                let response = self
                    .http
                    .post(token_uri)
                    .form(&form)
                    .send()
                    .await
                    .map_err(|e| {
                        catalog_error(format!("cannot reach the token endpoint: {e}"))
                            .with_context("token_uri", token_uri)
                            .with_retryable(true)
                    })?;
                let status = response.status();
                let bytes = response.bytes().await.unwrap_or_default();
                if !status.is_success() {
                    let f = failure(status, &bytes, &["oauth", "tokens"], true);
                    return Err(Error::new(
                        ErrorKind::Catalog,
                        format!(
                            "the catalog refused the client credentials of '{client_id}': {}",
                            f.error.message()
                        ),
                    )
                    .with_context("token_uri", token_uri));
                }
                let parsed: TokenResponse = serde_json::from_slice(&bytes).map_err(|_| {
                    catalog_error("the token endpoint answered without an access_token")
                        .with_context("token_uri", token_uri)
                })?;
                let token = Token {
                    value: SecretString::from(parsed.access_token),
                    // Renew after 80% of the token's life.
                    renew_at: parsed
                        .expires_in
                        .map(|s| Instant::now() + Duration::from_secs(s).mul_f64(0.8)),
                };
                *current = Some(token.clone());
                Ok(Some(token.value))
            }
        }
    }
}

fn parse_url(text: &str) -> Result<url::Url> {
    url::Url::parse(text).map_err(|e| {
        Error::invalid(format!(
            "invalid catalog uri '{}': {e}",
            text.escape_default()
        ))
        .with_context("field", "catalog.uri")
    })
}

pub(super) fn catalog_error(message: impl Into<String>) -> Error {
    Error::new(ErrorKind::Catalog, message)
}

/// Maps an error answer: 404 not found, 409 conflict (retryable), 429 and
/// 503 retryable, the rest a catalog error with the server's message.
fn failure(status: StatusCode, body: &[u8], path: &[&str], idempotent: bool) -> Failure {
    let (message, kind) = match serde_json::from_slice::<ErrorBody>(body) {
        Ok(b) => (b.error.message, b.error.kind.unwrap_or_default()),
        Err(_) => (
            String::from_utf8_lossy(&body[..body.len().min(300)]).into_owned(),
            String::new(),
        ),
    };
    let text = if kind.is_empty() {
        format!("catalog answered {status}: {message}")
    } else {
        format!("catalog answered {status} ({kind}): {message}")
    };
    let error = match status {
        StatusCode::NOT_FOUND => Error::not_found(text),
        StatusCode::CONFLICT => Error::new(ErrorKind::Conflict, text),
        StatusCode::BAD_REQUEST => Error::invalid(text),
        StatusCode::TOO_MANY_REQUESTS | StatusCode::SERVICE_UNAVAILABLE => {
            catalog_error(text).with_retryable(true)
        }
        StatusCode::INTERNAL_SERVER_ERROR
        | StatusCode::BAD_GATEWAY
        | StatusCode::GATEWAY_TIMEOUT => catalog_error(text).with_retryable(idempotent),
        _ => catalog_error(text),
    };
    Failure {
        status: Some(status),
        error: error.with_context("path", path.join("/")),
    }
}
