//! Named API keys: each kept as its SHA-256 only, a request's key hashed
//! and compared against every one in constant time, so neither the keys
//! nor which one matched show in memory dumps or timings.

use rat_core::config::SecretRef;
use rat_core::{Error, Result};
use secrecy::ExposeSecret;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::{Principal, same};

/// The principal of the single `key` form of `server.auth`.
pub const SINGLE_KEY_PRINCIPAL: &str = "api-key";

/// Fewest characters of an API key.
pub const MIN_KEY_CHARS: usize = 16;

/// One of `server.auth.api_keys`: who a key is, and its roles.
///
/// ```
/// use rat_server::auth::NamedKey;
///
/// let key: NamedKey = serde_yaml_ng::from_str(
///     "{name: ci, key: {env: RAT_CI_KEY}, roles: [data-engineer]}").unwrap();
/// assert_eq!(key.roles, ["data-engineer"]);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NamedKey {
    /// The principal the key is (what audit and versions name).
    pub name: String,
    /// The key.
    pub key: SecretRef,
    /// Its roles (`admin` may do everything).
    #[serde(default)]
    pub roles: Vec<String>,
}

/// The keys a server accepts, by digest.
pub(super) struct KnownKeys(Vec<([u8; 32], Principal)>);

impl KnownKeys {
    /// The single-key form (an admin named `api-key`) and the named keys,
    /// each read and checked; errors name the field.
    pub(super) fn read(single: Option<&SecretRef>, named: &[NamedKey]) -> Result<Self> {
        let mut known = Vec::new();
        if let Some(key) = single {
            let admin = Principal::local(SINGLE_KEY_PRINCIPAL);
            known.push((digest_of(key, "server.auth.key")?, admin));
        }
        for (i, entry) in named.iter().enumerate() {
            let field = format!("server.auth.api_keys[{i}]");
            // The field is the configuration's, not the principal's.
            let at = |part: &str| {
                let field = format!("{field}.{part}");
                move |e: Error| Error::invalid(e.message().to_owned()).with_context("field", field)
            };
            let principal = Principal::new(entry.name.clone())
                .map_err(at("name"))?
                .with_roles(entry.roles.iter().cloned())
                .map_err(at("roles"))?;
            if known
                .iter()
                .any(|(_, p): &([u8; 32], Principal)| p.id == principal.id)
            {
                return Err(
                    Error::invalid(format!("two API keys are named '{}'", principal.id))
                        .with_context("field", format!("{field}.name")),
                );
            }
            let digest = digest_of(&entry.key, &format!("{field}.key"))?;
            if known.iter().any(|(d, _)| same(d, &digest)) {
                return Err(Error::invalid("two API keys are the same key")
                    .with_context("field", format!("{field}.key")));
            }
            known.push((digest, principal));
        }
        if known.is_empty() {
            return Err(Error::invalid("api_key auth needs `key` or `api_keys`")
                .with_context("field", "server.auth"));
        }
        Ok(Self(known))
    }

    /// The principal whose key `given` is; every key is compared.
    pub(super) fn principal(&self, given: &str) -> Option<Principal> {
        let digest: [u8; 32] = Sha256::digest(given.as_bytes()).into();
        let mut found = None;
        for (known, principal) in &self.0 {
            if same(known, &digest) && found.is_none() {
                found = Some(principal.clone());
            }
        }
        found
    }
}

fn digest_of(key: &SecretRef, field: &str) -> Result<[u8; 32]> {
    let value = key.resolve().map_err(|e| e.with_context("field", field))?;
    let value = value.expose_secret();
    if value.chars().count() < MIN_KEY_CHARS {
        return Err(Error::invalid(format!(
            "an API key must be at least {MIN_KEY_CHARS} characters"
        ))
        .with_context("field", field));
    }
    Ok(Sha256::digest(value.as_bytes()).into())
}
