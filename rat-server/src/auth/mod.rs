//! Who may call the API: nobody is asked (embedded use: one implicit
//! admin), API keys (each a named principal with roles), or OIDC bearer
//! tokens checked against the issuer's published keys. `/health` is
//! always public.

mod keys;
mod oidc;
pub(crate) mod session;
pub(crate) mod sign_in;

use std::fmt;
use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use rat_core::config::SecretRef;
use rat_core::{Error, Result};
use serde::{Deserialize, Serialize};

pub use keys::{MIN_KEY_CHARS, NamedKey, SINGLE_KEY_PRINCIPAL};
pub use oidc::{DEFAULT_ROLES_CLAIM, MIN_KEY_REFRESH};
pub use rat_core::principal::Principal;
pub(crate) use session::Credential;
pub use sign_in::OidcSignIn;

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
    /// `Authorization: Bearer KEY` or `X-API-Key: KEY`: the single `key`
    /// (an admin named `api-key`), and or named `api_keys` with roles.
    ApiKey {
        /// One key, for an admin.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        key: Option<SecretRef>,
        /// Keys of named principals.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        api_keys: Vec<NamedKey>,
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
        /// The claim holding the caller's roles or groups (a list, or one
        /// name); a dotted path reaches into objects, as Keycloak's
        /// `realm_access.roles`. `groups` when absent.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        roles_claim: Option<String>,
        /// The web IDE's sign-in at the issuer (authorization code with
        /// PKCE); without it, people paste a token into the sign-in form.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        sign_in: Option<OidcSignIn>,
    },
}

impl AuthConfig {
    /// One API key, for an admin named `api-key`.
    pub fn api_key(key: SecretRef) -> Self {
        AuthConfig::ApiKey {
            key: Some(key),
            api_keys: Vec::new(),
        }
    }

    /// OIDC tokens of `issuer` for `audience`, keys and roles as usual.
    pub fn oidc(issuer: impl Into<String>, audience: impl Into<String>) -> Self {
        AuthConfig::Oidc {
            issuer: issuer.into(),
            audience: audience.into(),
            jwks_uri: None,
            roles_claim: None,
            sign_in: None,
        }
    }

    /// This OIDC configuration with the web IDE signing people in at the
    /// issuer as `sign_in`'s client (other kinds are left as they are).
    ///
    /// ```
    /// use rat_server::auth::{AuthConfig, OidcSignIn};
    ///
    /// let config = AuthConfig::oidc("https://login.example.com", "rat")
    ///     .with_sign_in(OidcSignIn::public_client("rat-ide"));
    /// config.validate().unwrap();
    /// ```
    pub fn with_sign_in(mut self, client: OidcSignIn) -> Self {
        if let AuthConfig::Oidc { sign_in, .. } = &mut self {
            *sign_in = Some(client);
        }
        self
    }

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
            AuthConfig::ApiKey { key, api_keys } => {
                keys::KnownKeys::read(key.as_ref(), api_keys).map(|_| ())
            }
            AuthConfig::Oidc {
                issuer,
                audience,
                jwks_uri,
                roles_claim,
                sign_in,
            } => {
                if let Some(sign_in) = sign_in {
                    sign_in.validate()?;
                }
                if roles_claim
                    .as_deref()
                    .is_some_and(|c| c.split('.').any(|part| part.trim().is_empty()))
                {
                    return Err(Error::invalid(
                        "the roles claim must be a claim name or a dotted path",
                    )
                    .with_context("field", "server.auth.roles_claim"));
                }
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

/// Checks each API request against an [`AuthConfig`].
#[derive(Clone, Debug)]
pub struct Authenticator {
    inner: Arc<Method>,
}

enum Method {
    None,
    ApiKey(keys::KnownKeys),
    Oidc(Box<oidc::Oidc>, Option<sign_in::CodeFlow>),
}

impl fmt::Debug for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Method::None => f.write_str("None"),
            Method::ApiKey(_) => f.write_str("ApiKey(<redacted>)"),
            Method::Oidc(o, flow) => f.debug_tuple("Oidc").field(o).field(flow).finish(),
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
            AuthConfig::ApiKey { key, api_keys } => {
                Method::ApiKey(keys::KnownKeys::read(key.as_ref(), api_keys)?)
            }
            AuthConfig::Oidc {
                issuer,
                audience,
                jwks_uri,
                roles_claim,
                sign_in,
            } => {
                let flow = sign_in.as_ref().map(sign_in::CodeFlow::new).transpose()?;
                let mut audiences = vec![audience.clone()];
                audiences.extend(flow.as_ref().map(|f| f.client_id.clone()));
                let oidc =
                    oidc::Oidc::new(issuer, audiences, jwks_uri.clone(), roles_claim.clone())?;
                Method::Oidc(Box::new(oidc), flow)
            }
        };
        Ok(Self {
            inner: Arc::new(method),
        })
    }

    /// Whether callers must show a credential at all.
    pub fn asks(&self) -> bool {
        !matches!(self.inner.as_ref(), Method::None)
    }

    /// What this server asks a person signing in to the web IDE for.
    pub fn kind(&self) -> &'static str {
        match self.inner.as_ref() {
            Method::None => "none",
            Method::ApiKey(_) => "api_key",
            Method::Oidc(..) => "oidc",
        }
    }

    /// Whether people sign in to the web IDE at the OIDC issuer.
    pub(crate) fn signs_in_at_issuer(&self) -> bool {
        matches!(self.inner.as_ref(), Method::Oidc(_, Some(_)))
    }

    /// The code flow and its issuer, when people sign in there.
    fn code_flow(&self) -> std::result::Result<(&oidc::Oidc, &sign_in::CodeFlow), String> {
        match self.inner.as_ref() {
            Method::Oidc(oidc, Some(flow)) => Ok((oidc, flow)),
            _ => Err("this server does not sign people in at an OIDC issuer".into()),
        }
    }

    /// Starts a sign-in at the issuer: the URL to send the browser to and
    /// the flow its cookie keeps. `origin` and `root` are where the
    /// browser reached the web IDE (for the redirect back).
    pub(crate) async fn begin_sign_in(
        &self,
        origin: &str,
        root: &str,
        next: &str,
    ) -> std::result::Result<(String, sign_in::Flow), String> {
        let (oidc, flow) = self.code_flow()?;
        let discovery = discovered(oidc).await?;
        let authorize = discovery
            .authorization_endpoint
            .as_deref()
            .ok_or("the issuer names no authorization endpoint")?;
        flow.begin(authorize, &flow.redirect_url(origin, root), next)
    }

    /// Finishes a sign-in: the code redeemed at the issuer, the ID token
    /// checked (with the flow's nonce). The token is the session's.
    pub(crate) async fn finish_sign_in(
        &self,
        origin: &str,
        root: &str,
        code: &str,
        started: &sign_in::Flow,
    ) -> std::result::Result<String, String> {
        let (oidc, flow) = self.code_flow()?;
        let discovery = discovered(oidc).await?;
        let endpoint = discovery
            .token_endpoint
            .as_deref()
            .ok_or("the issuer names no token endpoint")?;
        let redirect = flow.redirect_url(origin, root);
        let token = flow
            .redeem(oidc.http(), endpoint, code, started, &redirect)
            .await?;
        oidc.verify_id_token(&token, &started.nonce).await?;
        Ok(token)
    }

    /// The principal `credential` is, or why it is refused; `Ok(None)`
    /// when nobody is asked.
    pub(crate) async fn check(
        &self,
        credential: Option<&Credential>,
    ) -> std::result::Result<Option<Principal>, String> {
        let given = credential.map(Credential::secret);
        match self.inner.as_ref() {
            Method::None => Ok(None),
            Method::ApiKey(known) => match given {
                Some(given) => match known.principal(given) {
                    Some(principal) => Ok(Some(principal)),
                    None => Err("the API key is not valid".into()),
                },
                None => Err("an API key is required (Authorization: Bearer KEY)".into()),
            },
            Method::Oidc(oidc, _) => match given {
                Some(token) => oidc.verify(token).await.map(Some),
                None => Err("a bearer token is required".into()),
            },
        }
    }
}

/// The issuer's discovery document, or a refusal a person can read (the
/// cause is logged).
async fn discovered(oidc: &oidc::Oidc) -> std::result::Result<&oidc::Discovery, String> {
    oidc.discovery().await.map_err(|e| {
        tracing::warn!("the issuer's discovery document: {e}");
        "the issuer cannot be reached".to_owned()
    })
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
    let credential = Credential::of(request.headers());
    if let Some(why) = credential
        .as_ref()
        .and_then(|c| c.forgery(request.method(), request.headers()))
    {
        return ApiError::new(StatusCode::FORBIDDEN, "csrf", why).into_response();
    }
    match auth.check(credential.as_ref()).await {
        Ok(principal) => {
            if let Some(principal) = &principal {
                request.extensions_mut().insert(principal.clone());
            }
            let mut response = next.run(request).await;
            // Who asked, for layers outside this one (the audit log).
            if let Some(principal) = principal {
                response.extensions_mut().insert(principal);
            }
            response
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
