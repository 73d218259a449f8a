//! Who may call the API: nobody is asked (embedded use), a static API key,
//! or OIDC bearer tokens checked against the issuer's published keys.
//! `/health` is always public.

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use rat_core::config::SecretRef;
use rat_core::{Error, Result};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use tokio::sync::{Mutex, RwLock};

use crate::error::ApiError;

/// How API clients authenticate, as `rat.yaml`'s `server.auth` says.
///
/// ```
/// use rat_server::auth::AuthConfig;
///
/// let oidc: AuthConfig = serde_yaml_ng::from_str(
///     "{type: oidc, issuer: https://login.example.com, audience: rat}").unwrap();
/// oidc.validate().unwrap();
/// // Half a configuration is refused, naming what is missing.
/// let half = serde_yaml_ng::from_str::<AuthConfig>("{type: oidc, issuer: https://x}");
/// assert!(half.unwrap_err().to_string().contains("audience"));
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum AuthConfig {
    /// Every request is allowed (a server on loopback, embedded use).
    #[default]
    None,
    /// `Authorization: Bearer KEY` or `X-API-Key: KEY`.
    ApiKey {
        /// The key.
        key: SecretRef,
    },
    /// `Authorization: Bearer JWT` signed by the issuer.
    Oidc {
        /// The issuer (`iss`), e.g. `https://login.example.com/realms/rat`.
        issuer: String,
        /// The audience tokens must name (`aud`).
        audience: String,
        /// Where the keys are; from the issuer's discovery document
        /// (`/.well-known/openid-configuration`) when absent.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        jwks_uri: Option<String>,
    },
}

impl AuthConfig {
    /// Checks URLs and that secrets can be read; errors name the field.
    pub fn validate(&self) -> Result<()> {
        let url = |value: &str, field: &str| {
            if value.starts_with("https://") || value.starts_with("http://") {
                Ok(())
            } else {
                Err(Error::invalid(format!(
                    "'{}' must be an http(s) URL",
                    value.escape_default()
                ))
                .with_context("field", format!("server.auth.{field}")))
            }
        };
        match self {
            AuthConfig::None => Ok(()),
            AuthConfig::ApiKey { key } => {
                let value = key.resolve()?;
                if value.expose_secret().len() < 16 {
                    return Err(Error::invalid("the API key must be at least 16 characters")
                        .with_context("field", "server.auth.key"));
                }
                Ok(())
            }
            AuthConfig::Oidc {
                issuer,
                audience,
                jwks_uri,
            } => {
                url(issuer, "issuer")?;
                if audience.trim().is_empty() {
                    return Err(Error::invalid("the audience must not be empty")
                        .with_context("field", "server.auth.audience"));
                }
                jwks_uri.as_deref().map_or(Ok(()), |u| url(u, "jwks_uri"))
            }
        }
    }

    /// The name `GET /api/v1/features` reports.
    pub fn kind(&self) -> &'static str {
        match self {
            AuthConfig::None => "none",
            AuthConfig::ApiKey { .. } => "api_key",
            AuthConfig::Oidc { .. } => "oidc",
        }
    }
}

/// Who a request comes from, as its credentials establish: an OIDC
/// token's subject (`sub`), or `api-key` for the configured key. Requests
/// carry it as an extension; with auth `none` there is none.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// A stable id: the token's `sub`, or `api-key`.
    pub id: String,
}

/// Checks each API request against an [`AuthConfig`].
#[derive(Clone, Debug)]
pub struct Authenticator {
    inner: Arc<Method>,
}

enum Method {
    None,
    ApiKey(SecretString),
    Oidc(Box<Oidc>),
}

impl fmt::Debug for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Method::None => f.write_str("None"),
            Method::ApiKey(_) => f.write_str("ApiKey(<redacted>)"),
            Method::Oidc(o) => f
                .debug_struct("Oidc")
                .field("issuer", &o.issuer)
                .field("audience", &o.audience)
                .finish_non_exhaustive(),
        }
    }
}

impl Authenticator {
    /// Lets every request through.
    pub fn none() -> Self {
        Self {
            inner: Arc::new(Method::None),
        }
    }

    /// From a validated configuration (secrets are read here, once).
    pub fn from_config(config: &AuthConfig) -> Result<Self> {
        config.validate()?;
        let method = match config {
            AuthConfig::None => Method::None,
            AuthConfig::ApiKey { key } => Method::ApiKey(key.resolve()?),
            AuthConfig::Oidc {
                issuer,
                audience,
                jwks_uri,
            } => Method::Oidc(Box::new(Oidc {
                issuer: issuer.trim_end_matches('/').to_owned(),
                audience: audience.clone(),
                jwks_uri: jwks_uri.clone(),
                http: reqwest::Client::builder()
                    .timeout(Duration::from_secs(10))
                    .build()
                    .map_err(|e| Error::internal(format!("HTTP client: {e}")))?,
                keys: RwLock::new(HashMap::new()),
                refresh: Mutex::new(None),
            })),
        };
        Ok(Self {
            inner: Arc::new(method),
        })
    }

    async fn check(&self, headers: &HeaderMap) -> std::result::Result<Option<Principal>, String> {
        let bearer = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(str::trim);
        match self.inner.as_ref() {
            Method::None => Ok(None),
            Method::ApiKey(key) => {
                let given =
                    bearer.or_else(|| headers.get("x-api-key").and_then(|v| v.to_str().ok()));
                match given {
                    Some(given) if same(given.as_bytes(), key.expose_secret().as_bytes()) => {
                        Ok(Some(Principal {
                            id: "api-key".to_owned(),
                        }))
                    }
                    Some(_) => Err("the API key is not valid".into()),
                    None => Err("an API key is required (Authorization: Bearer KEY)".into()),
                }
            }
            Method::Oidc(oidc) => match bearer {
                Some(token) => oidc.verify(token).await.map(Some),
                None => Err("a bearer token is required".into()),
            },
        }
    }
}

/// Compares in time independent of where the inputs differ.
pub(crate) fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Refuses requests the [`Authenticator`] does not accept with `401`.
/// Passes accepted ones on with their [`Principal`] as an extension.
pub async fn require(
    State(auth): State<Authenticator>,
    mut request: Request,
    next: Next,
) -> Response {
    match auth.check(request.headers()).await {
        Ok(principal) => {
            if let Some(principal) = principal {
                request.extensions_mut().insert(principal);
            }
            next.run(request).await
        }
        Err(why) => {
            let mut response =
                ApiError::new(StatusCode::UNAUTHORIZED, "unauthorized", why).into_response();
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            response
        }
    }
}

/// The issuer's keys are fetched again when a token names a key id the
/// cache does not hold (a rotation), but at most this often: tokens with
/// made-up key ids cannot turn into a storm of requests to the issuer.
pub const MIN_KEY_REFRESH: Duration = Duration::from_secs(1);
/// Clock skew allowed on `exp` and `nbf`.
const LEEWAY_SECS: u64 = 30;

struct Oidc {
    issuer: String,
    audience: String,
    jwks_uri: Option<String>,
    http: reqwest::Client,
    keys: RwLock<HashMap<String, (DecodingKey, Algorithm)>>,
    /// When the keys were last fetched; held while fetching.
    refresh: Mutex<Option<Instant>>,
}

/// The claims rat reads from a valid token.
#[derive(Deserialize)]
struct Claims {
    sub: Option<String>,
}

#[derive(Deserialize)]
struct Discovery {
    jwks_uri: String,
}

impl Oidc {
    async fn verify(&self, token: &str) -> std::result::Result<Principal, String> {
        // `alg: none` and malformed headers fail here.
        let header =
            jsonwebtoken::decode_header(token).map_err(|e| format!("invalid token: {e}"))?;
        let kid = header.kid.ok_or("the token names no key (kid)")?;
        let (key, algorithm) = match self.key(&kid).await? {
            Some(found) => found,
            None => {
                return Err(format!(
                    "the token's key '{kid}' is not one of the issuer's"
                ));
            }
        };
        if header.alg != algorithm {
            return Err("the token's algorithm does not match its key".into());
        }
        let mut validation = Validation::new(algorithm);
        validation.set_issuer(&[&self.issuer, &format!("{}/", self.issuer)]);
        validation.set_audience(&[&self.audience]);
        validation.set_required_spec_claims(&["exp", "iss", "aud"]);
        validation.leeway = LEEWAY_SECS;
        let claims = jsonwebtoken::decode::<Claims>(token, &key, &validation)
            .map_err(|e| format!("the token is not valid: {e}"))?
            .claims;
        match claims.sub.filter(|s| !s.is_empty()) {
            Some(id) => Ok(Principal { id }),
            None => Err("the token names no subject (sub)".into()),
        }
    }

    /// The key `kid`, fetching the key set when it is unknown (at most once
    /// per [`MIN_KEY_REFRESH`]).
    async fn key(
        &self,
        kid: &str,
    ) -> std::result::Result<Option<(DecodingKey, Algorithm)>, String> {
        if let Some(found) = self.keys.read().await.get(kid) {
            return Ok(Some(found.clone()));
        }
        let mut last = self.refresh.lock().await;
        if let Some(found) = self.keys.read().await.get(kid) {
            return Ok(Some(found.clone()));
        }
        if last.is_some_and(|at| at.elapsed() < MIN_KEY_REFRESH) {
            return Ok(None);
        }
        let fetched = self.fetch_keys().await;
        *last = Some(Instant::now());
        let fetched = fetched.map_err(|e| {
            tracing::warn!("cannot fetch the issuer's keys: {e}");
            "the issuer's keys cannot be fetched".to_owned()
        })?;
        let mut keys = self.keys.write().await;
        *keys = fetched;
        Ok(keys.get(kid).cloned())
    }

    async fn fetch_keys(&self) -> Result<HashMap<String, (DecodingKey, Algorithm)>> {
        let get = |url: String| async move {
            let response = self
                .http
                .get(&url)
                .send()
                .await
                .and_then(|r| r.error_for_status())
                .map_err(|e| Error::internal(format!("GET {url}: {e}")))?;
            response
                .bytes()
                .await
                .map_err(|e| Error::internal(format!("GET {url}: {e}")))
        };
        let jwks_uri = match &self.jwks_uri {
            Some(uri) => uri.clone(),
            None => {
                let url = format!("{}/.well-known/openid-configuration", self.issuer);
                let discovery: Discovery = serde_json::from_slice(&get(url.clone()).await?)
                    .map_err(|e| Error::internal(format!("{url}: {e}")))?;
                discovery.jwks_uri
            }
        };
        let set: JwkSet = serde_json::from_slice(&get(jwks_uri.clone()).await?)
            .map_err(|e| Error::internal(format!("{jwks_uri}: {e}")))?;
        let mut keys = HashMap::new();
        for jwk in &set.keys {
            let Some(kid) = jwk.common.key_id.clone() else {
                continue;
            };
            let algorithm = match jwk.common.key_algorithm {
                Some(a) => match a.to_string().parse::<Algorithm>() {
                    Ok(alg) => alg,
                    Err(_) => continue,
                },
                // Keys without `alg`: the usual one for their type.
                None => match &jwk.algorithm {
                    jsonwebtoken::jwk::AlgorithmParameters::RSA(_) => Algorithm::RS256,
                    jsonwebtoken::jwk::AlgorithmParameters::EllipticCurve(_) => Algorithm::ES256,
                    _ => continue,
                },
            };
            // Issuers sign with their private keys; a shared-secret
            // algorithm in a public key set is never trusted.
            if matches!(
                algorithm,
                Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512
            ) {
                continue;
            }
            if let Ok(key) = DecodingKey::from_jwk(jwk) {
                keys.insert(kid, (key, algorithm));
            }
        }
        Ok(keys)
    }
}
