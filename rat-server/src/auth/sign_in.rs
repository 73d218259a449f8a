//! The web IDE's sign-in at an OIDC issuer: the authorization-code flow
//! with PKCE (RFC 7636, `S256`), a `state` and a `nonce`.
//!
//! The flow's secrets (state, code verifier, nonce) and where to go after
//! live in a short-lived `HttpOnly` cookie of the browser that started it,
//! so any instance of the server can finish it without shared state. The
//! issuer's ID token then is the session's credential, checked on every
//! request as a bearer token is (signature, issuer, audience: the client,
//! expiry).

use std::fmt;

use axum::http::{HeaderMap, HeaderValue};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use percent_encoding::{NON_ALPHANUMERIC, percent_decode_str, utf8_percent_encode};
use rat_core::config::SecretRef;
use rat_core::{Error, Result};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// The cookie holding a sign-in under way.
pub(crate) const FLOW_COOKIE: &str = "rat_oidc";
/// How long a person has at the issuer before the sign-in must start over.
const FLOW_SECONDS: u32 = 600;
/// What is asked for when `scopes` is not set.
const DEFAULT_SCOPES: [&str; 3] = ["openid", "profile", "email"];

/// `server.auth.sign_in` of an OIDC configuration: the client the web IDE
/// signs people in as.
///
/// ```
/// use rat_server::auth::AuthConfig;
///
/// let config: AuthConfig = serde_yaml_ng::from_str(
///     "{type: oidc, issuer: https://login.example.com, audience: rat,
///       sign_in: {client_id: rat-ide}}",
/// ).unwrap();
/// config.validate().unwrap();
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OidcSignIn {
    /// The client registered at the issuer for the web IDE. A public
    /// client (no secret) is enough: PKCE binds the code to the browser.
    pub client_id: String,
    /// The secret of a confidential client, sent with HTTP Basic.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_secret: Option<SecretRef>,
    /// The scopes asked for; `openid profile email` when empty (add the
    /// one that puts the roles claim in the ID token, if the issuer needs it).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub scopes: Vec<String>,
    /// Where the issuer sends the browser back: the IDE's
    /// `…/login/callback`, as registered at the issuer. When absent, the
    /// URL the browser reached the server at.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub redirect_url: Option<String>,
}

impl OidcSignIn {
    /// A public client (PKCE, no secret), the default scopes, the
    /// redirect URL the browser reached rat at.
    pub fn public_client(client_id: impl Into<String>) -> Self {
        Self {
            client_id: client_id.into(),
            client_secret: None,
            scopes: Vec::new(),
            redirect_url: None,
        }
    }

    /// Checks the fields; errors name them.
    pub(super) fn validate(&self) -> Result<()> {
        let field = |name: &str| format!("server.auth.sign_in.{name}");
        if self.client_id.trim().is_empty() {
            return Err(Error::invalid("the client id must not be empty")
                .with_context("field", field("client_id")));
        }
        if let Some(url) = &self.redirect_url
            && !(url.starts_with("https://") || url.starts_with("http://"))
        {
            return Err(Error::invalid(format!(
                "'{}' must be an http(s) URL",
                url.escape_default()
            ))
            .with_context("field", field("redirect_url")));
        }
        if let Some(bad) = self
            .scopes
            .iter()
            .find(|s| s.is_empty() || s.chars().any(|c| c.is_whitespace() || c == '"'))
        {
            return Err(
                Error::invalid(format!("'{}' is not a scope", bad.escape_default()))
                    .with_context("field", field("scopes")),
            );
        }
        Ok(())
    }
}

/// A sign-in flow's client, its secret read once.
pub(super) struct CodeFlow {
    pub(super) client_id: String,
    client_secret: Option<SecretString>,
    scopes: String,
    redirect_url: Option<String>,
}

impl fmt::Debug for CodeFlow {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CodeFlow")
            .field("client_id", &self.client_id)
            .field("scopes", &self.scopes)
            .finish_non_exhaustive()
    }
}

/// One sign-in under way, as its cookie holds it.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Flow {
    pub(crate) state: String,
    verifier: String,
    pub(super) nonce: String,
    /// Where to go once signed in (checked again when used).
    pub(crate) next: String,
}

/// 32 random bytes, base64url: 256 bits for each of state, verifier, nonce.
fn random() -> std::result::Result<String, String> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|e| format!("no randomness for the sign-in: {e}"))?;
    Ok(URL_SAFE_NO_PAD.encode(bytes))
}

impl Flow {
    fn new(next: &str) -> std::result::Result<Self, String> {
        Ok(Self {
            state: random()?,
            verifier: random()?,
            nonce: random()?,
            next: next.to_owned(),
        })
    }

    /// The `Set-Cookie` holding this flow under `path`. `SameSite=Lax`:
    /// the issuer's redirect back is a top-level navigation from its site.
    pub(crate) fn cookie(&self, path: &str, secure: bool) -> HeaderValue {
        let next = utf8_percent_encode(&self.next, NON_ALPHANUMERIC);
        let secure = if secure { "; Secure" } else { "" };
        let value = format!(
            "{FLOW_COOKIE}={}.{}.{}.{next}; Path={path}; Max-Age={FLOW_SECONDS}; HttpOnly; SameSite=Lax{secure}",
            self.state, self.verifier, self.nonce
        );
        HeaderValue::try_from(value).unwrap_or_else(|_| unreachable!("base64url and %-encoding"))
    }

    /// The `Set-Cookie` that removes the flow's cookie.
    pub(crate) fn end(path: &str) -> HeaderValue {
        HeaderValue::try_from(format!(
            "{FLOW_COOKIE}=; Path={path}; Max-Age=0; HttpOnly; SameSite=Lax"
        ))
        .unwrap_or_else(|_| unreachable!("a fixed value"))
    }

    /// The flow the request's cookie holds, if it holds one.
    pub(crate) fn of(headers: &HeaderMap) -> Option<Self> {
        let value = super::session::cookie(headers, FLOW_COOKIE)?;
        let mut parts = value.splitn(4, '.');
        let (state, verifier, nonce, next) =
            (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
        let next = percent_decode_str(next).decode_utf8().ok()?.into_owned();
        Some(Self {
            state: state.to_owned(),
            verifier: verifier.to_owned(),
            nonce: nonce.to_owned(),
            next,
        })
    }
}

/// The token endpoint's answer (RFC 6749 §5.1; `id_token` from OIDC Core).
#[derive(Deserialize)]
struct Tokens {
    id_token: Option<String>,
}

/// The token endpoint's refusal (RFC 6749 §5.2).
#[derive(Deserialize)]
struct Refusal {
    error: String,
    error_description: Option<String>,
}

impl CodeFlow {
    pub(super) fn new(config: &OidcSignIn) -> Result<Self> {
        config.validate()?;
        let client_secret = config
            .client_secret
            .as_ref()
            .map(|s| {
                s.resolve()
                    .map_err(|e| e.with_context("field", "server.auth.sign_in.client_secret"))
            })
            .transpose()?;
        let scopes: Vec<&str> = match config.scopes.is_empty() {
            true => DEFAULT_SCOPES.to_vec(),
            false => config.scopes.iter().map(String::as_str).collect(),
        };
        let mut scopes = scopes.join(" ");
        if !scopes.split(' ').any(|s| s == "openid") {
            scopes.insert_str(0, "openid ");
        }
        Ok(Self {
            client_id: config.client_id.clone(),
            client_secret,
            scopes,
            redirect_url: config.redirect_url.clone(),
        })
    }

    /// Where the issuer sends the browser back: the configured URL, or
    /// `{origin}{root}login/callback` of the request.
    pub(crate) fn redirect_url(&self, origin: &str, root: &str) -> String {
        match &self.redirect_url {
            Some(url) => url.clone(),
            None => format!("{origin}{root}login/callback"),
        }
    }

    /// A new flow and the issuer's authorization URL that starts it.
    pub(super) fn begin(
        &self,
        authorize: &str,
        redirect: &str,
        next: &str,
    ) -> std::result::Result<(String, Flow), String> {
        let flow = Flow::new(next)?;
        let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(flow.verifier.as_bytes()));
        let mut url = url::Url::parse(authorize)
            .map_err(|e| format!("the issuer's authorization endpoint is not a URL: {e}"))?;
        url.query_pairs_mut()
            .append_pair("response_type", "code")
            .append_pair("client_id", &self.client_id)
            .append_pair("redirect_uri", redirect)
            .append_pair("scope", &self.scopes)
            .append_pair("state", &flow.state)
            .append_pair("nonce", &flow.nonce)
            .append_pair("code_challenge", &challenge)
            .append_pair("code_challenge_method", "S256");
        Ok((url.into(), flow))
    }

    /// The ID token the token endpoint gives for `code`.
    pub(super) async fn redeem(
        &self,
        http: &reqwest::Client,
        token_endpoint: &str,
        code: &str,
        flow: &Flow,
        redirect: &str,
    ) -> std::result::Result<String, String> {
        let mut form = vec![
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", redirect),
            ("code_verifier", flow.verifier.as_str()),
        ];
        let mut request = http.post(token_endpoint);
        match &self.client_secret {
            Some(secret) => {
                request = request.basic_auth(&self.client_id, Some(secret.expose_secret()));
            }
            None => form.push(("client_id", &self.client_id)),
        }
        let response = request.form(&form).send().await.map_err(|e| {
            tracing::warn!("the issuer's token endpoint: {e}");
            "the issuer's token endpoint cannot be reached".to_owned()
        })?;
        let status = response.status();
        let body = response.bytes().await.unwrap_or_default();
        if !status.is_success() {
            return Err(match serde_json::from_slice::<Refusal>(&body) {
                Ok(r) => format!(
                    "the issuer refused the sign-in: {}{}",
                    r.error,
                    r.error_description
                        .map_or(String::new(), |d| format!(" ({d})"))
                ),
                Err(_) => format!("the issuer's token endpoint answered {status}"),
            });
        }
        serde_json::from_slice::<Tokens>(&body)
            .ok()
            .and_then(|t| t.id_token)
            .ok_or_else(|| "the issuer's answer holds no ID token".to_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn flow() -> CodeFlow {
        CodeFlow::new(&OidcSignIn {
            client_id: "rat-ide".into(),
            client_secret: None,
            scopes: vec!["profile".into(), "groups".into()],
            redirect_url: None,
        })
        .unwrap()
    }

    #[test]
    fn the_authorization_url_carries_an_s256_challenge_of_the_verifier() {
        let (url, flow_state) = flow()
            .begin(
                "https://login.example.com/auth?tenant=a",
                "https://rat.example.com/ide/login/callback",
                "/ide/runs",
            )
            .unwrap();
        let url = url::Url::parse(&url).unwrap();
        let query: std::collections::HashMap<_, _> = url.query_pairs().collect();
        assert_eq!(query["tenant"], "a");
        assert_eq!(query["scope"], "openid profile groups");
        assert_eq!(query["state"], flow_state.state);
        assert_eq!(query["nonce"], flow_state.nonce);
        assert_eq!(query["code_challenge_method"], "S256");
        let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(flow_state.verifier.as_bytes()));
        assert_eq!(query["code_challenge"], challenge);
        assert!(
            !url.as_str().contains(&flow_state.verifier),
            "the verifier stays home"
        );
        // Two flows share nothing.
        let (_, other) = flow()
            .begin("https://login.example.com/auth", "x", "/")
            .unwrap();
        assert!(flow().begin("not a url", "x", "/").is_err());
        assert_ne!(other.state, flow_state.state);
        assert_ne!(other.verifier, flow_state.verifier);
    }

    #[test]
    fn a_flow_round_trips_through_its_cookie() {
        let (_, started) = flow()
            .begin("https://i/auth", "x", "/ide/runs?status=failed&x=1")
            .unwrap();
        let set = started.cookie("/ide/", true);
        let set = set.to_str().unwrap();
        assert!(set.contains("HttpOnly; SameSite=Lax; Secure"), "{set}");
        let mut headers = HeaderMap::new();
        headers.insert(
            axum::http::header::COOKIE,
            HeaderValue::from_str(set.split(';').next().unwrap()).unwrap(),
        );
        assert_eq!(Flow::of(&headers), Some(started));
        assert_eq!(Flow::of(&HeaderMap::new()), None);
    }

    #[test]
    fn a_bad_setting_is_named() {
        let bad = OidcSignIn {
            client_id: "rat".into(),
            client_secret: None,
            scopes: vec!["two words".into()],
            redirect_url: None,
        };
        let error = bad.validate().unwrap_err().to_string();
        assert!(error.contains("server.auth.sign_in.scopes"), "{error}");
        let bad = OidcSignIn {
            client_id: " ".into(),
            ..bad
        };
        assert!(
            bad.validate()
                .unwrap_err()
                .to_string()
                .contains("client_id")
        );
    }
}
