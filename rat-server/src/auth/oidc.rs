//! OIDC bearer tokens: verified against the issuer's published keys
//! (fetched on an unknown key id, at most once per [`MIN_KEY_REFRESH`]);
//! the principal is the token's subject with its name, email and roles.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use rat_core::{Error, Result};
use serde::Deserialize;
use tokio::sync::{Mutex, OnceCell, RwLock};

use super::Principal;

/// The issuer's keys are fetched again when a token names a key id the
/// cache does not hold (a rotation), but at most this often: tokens with
/// made-up key ids cannot turn into a storm of requests to the issuer.
pub const MIN_KEY_REFRESH: Duration = Duration::from_secs(1);
/// Clock skew allowed on `exp` and `nbf`.
const LEEWAY_SECS: u64 = 30;

/// Where roles are read from when `roles_claim` is not set.
pub const DEFAULT_ROLES_CLAIM: &str = "groups";

pub(super) struct Oidc {
    issuer: String,
    /// What `aud` may name: the configured audience, and the web IDE's
    /// client when it signs people in (its ID tokens are for it).
    audiences: Vec<String>,
    jwks_uri: Option<String>,
    roles_claim: String,
    http: reqwest::Client,
    keys: RwLock<HashMap<String, (DecodingKey, Algorithm)>>,
    /// When the keys were last fetched; held while fetching.
    refresh: Mutex<Option<Instant>>,
    /// The discovery document, once read (a failed read is tried again).
    discovered: OnceCell<Discovery>,
}

impl std::fmt::Debug for Oidc {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Oidc")
            .field("issuer", &self.issuer)
            .field("audiences", &self.audiences)
            .field("roles_claim", &self.roles_claim)
            .finish_non_exhaustive()
    }
}

/// A valid token's claims (rat reads `sub`, `name`, `email` and the roles
/// claim).
type Claims = serde_json::Map<String, serde_json::Value>;

/// The parts of the issuer's discovery document rat reads.
#[derive(Debug, Clone, Deserialize)]
pub(super) struct Discovery {
    jwks_uri: String,
    /// Where a person signs in (the code flow's start).
    pub(super) authorization_endpoint: Option<String>,
    /// Where a code is exchanged for tokens.
    pub(super) token_endpoint: Option<String>,
}

impl Oidc {
    pub(super) fn new(
        issuer: &str,
        audiences: Vec<String>,
        jwks_uri: Option<String>,
        roles_claim: Option<String>,
    ) -> Result<Self> {
        Ok(Self {
            issuer: issuer.trim_end_matches('/').to_owned(),
            audiences,
            jwks_uri,
            roles_claim: roles_claim.unwrap_or_else(|| DEFAULT_ROLES_CLAIM.to_owned()),
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(10))
                .build()
                .map_err(|e| Error::internal(format!("HTTP client: {e}")))?,
            keys: RwLock::new(HashMap::new()),
            refresh: Mutex::new(None),
            discovered: OnceCell::new(),
        })
    }

    /// The HTTP client rat talks to the issuer with.
    pub(super) fn http(&self) -> &reqwest::Client {
        &self.http
    }

    /// The principal a bearer token (or a session's ID token) is.
    pub(super) async fn verify(&self, token: &str) -> std::result::Result<Principal, String> {
        let claims = self.claims(token).await?;
        self.principal(&claims)
    }

    /// The principal of an ID token the sign-in flow received: valid as
    /// any token, and carrying the flow's `nonce` (so it was issued for
    /// this browser's sign-in, not replayed from another).
    pub(super) async fn verify_id_token(
        &self,
        token: &str,
        nonce: &str,
    ) -> std::result::Result<Principal, String> {
        let claims = self.claims(token).await?;
        let given = claims.get("nonce").and_then(|v| v.as_str()).unwrap_or("");
        if !super::same(given.as_bytes(), nonce.as_bytes()) {
            return Err("the ID token is not the one this sign-in asked for (nonce)".into());
        }
        self.principal(&claims)
    }

    async fn claims(&self, token: &str) -> std::result::Result<Claims, String> {
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
        validation.set_audience(&self.audiences);
        validation.set_required_spec_claims(&["exp", "iss", "aud"]);
        validation.leeway = LEEWAY_SECS;
        jsonwebtoken::decode::<Claims>(token, &key, &validation)
            .map(|data| data.claims)
            .map_err(|e| format!("the token is not valid: {e}"))
    }

    /// The token's subject with its name, email and roles; role names
    /// that are not valid names are left out.
    fn principal(&self, claims: &Claims) -> std::result::Result<Principal, String> {
        let text = |key: &str| claims.get(key).and_then(|v| v.as_str()).map(str::to_owned);
        let sub = text("sub").filter(|s| !s.is_empty());
        let mut principal = match sub.map(Principal::new) {
            Some(Ok(principal)) => principal,
            Some(Err(e)) => return Err(format!("the token's subject (sub) is not usable: {e}")),
            None => return Err("the token names no subject (sub)".into()),
        };
        principal.name = text("name");
        principal.email = text("email");
        let mut at = Some(&serde_json::Value::Object(claims.clone()));
        for part in self.roles_claim.split('.') {
            at = at.and_then(|v| v.get(part));
        }
        let roles: Vec<&str> = match at {
            Some(serde_json::Value::Array(items)) => {
                items.iter().filter_map(|v| v.as_str()).collect()
            }
            Some(serde_json::Value::String(one)) => vec![one.as_str()],
            _ => vec![],
        };
        for role in roles {
            match rat_core::principal::name("role", role.to_owned()) {
                Ok(role) => {
                    principal.roles.insert(role);
                }
                Err(_) => {
                    tracing::debug!(claim = %self.roles_claim, "a role name in the token is not usable")
                }
            }
        }
        Ok(principal)
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

    /// The issuer's discovery document (`/.well-known/openid-configuration`).
    /// Read once per process: what it names (endpoints, the key set's
    /// URL) does not move, and every sign-in and key refresh needs it.
    pub(super) async fn discovery(&self) -> Result<&Discovery> {
        self.discovered
            .get_or_try_init(|| async {
                let url = format!("{}/.well-known/openid-configuration", self.issuer);
                serde_json::from_slice(&self.get(&url).await?)
                    .map_err(|e| Error::internal(format!("{url}: {e}")))
            })
            .await
    }

    async fn get(&self, url: &str) -> Result<bytes::Bytes> {
        let response = self
            .http
            .get(url)
            .send()
            .await
            .and_then(|r| r.error_for_status())
            .map_err(|e| Error::internal(format!("GET {url}: {e}")))?;
        response
            .bytes()
            .await
            .map_err(|e| Error::internal(format!("GET {url}: {e}")))
    }

    async fn fetch_keys(&self) -> Result<HashMap<String, (DecodingKey, Algorithm)>> {
        let jwks_uri = match &self.jwks_uri {
            Some(uri) => uri.clone(),
            None => self.discovery().await?.jwks_uri.clone(),
        };
        let set: JwkSet = serde_json::from_slice(&self.get(&jwks_uri).await?)
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
