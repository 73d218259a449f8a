//! The [`CredentialVendor`] trait: short-lived storage credentials scoped to
//! one namespace.

use std::fmt;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use secrecy::{ExposeSecret, SecretString};

use crate::error::Result;
use crate::ident::{Identifier, RunId};

/// Storage credentials. Secret parts never show in `Debug` output.
///
/// ```
/// use rat_core::StorageCredentials;
///
/// let c = StorageCredentials::new("AKIDEXAMPLE", "wJalrXUtnFEMI", None, None);
/// let shown = format!("{c:?}");
/// assert!(shown.contains("AKIDEXAMPLE"));
/// assert!(!shown.contains("wJalrXUtnFEMI"));
/// ```
#[derive(Clone)]
pub struct StorageCredentials {
    /// Access key id (not secret: it names the key).
    pub access_key_id: String,
    /// Secret access key.
    pub secret_access_key: SecretString,
    /// Session token of temporary credentials.
    pub session_token: Option<SecretString>,
    /// When they expire; `None` for long-lived keys.
    pub expires_at: Option<DateTime<Utc>>,
}

impl StorageCredentials {
    /// Builds credentials from their parts.
    pub fn new(
        access_key_id: impl Into<String>,
        secret_access_key: impl Into<String>,
        session_token: Option<String>,
        expires_at: Option<DateTime<Utc>>,
    ) -> Self {
        Self {
            access_key_id: access_key_id.into(),
            secret_access_key: SecretString::from(secret_access_key.into()),
            session_token: session_token.map(SecretString::from),
            expires_at,
        }
    }

    /// The secret key, for handing to a client library.
    pub fn secret(&self) -> &str {
        self.secret_access_key.expose_secret()
    }
}

impl fmt::Debug for StorageCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StorageCredentials")
            .field("access_key_id", &self.access_key_id)
            .field("secret_access_key", &"<redacted>")
            .field(
                "session_token",
                &self.session_token.as_ref().map(|_| "<redacted>"),
            )
            .field("expires_at", &self.expires_at)
            .finish()
    }
}

/// What credentials are for: one namespace, on behalf of one run.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CredentialScope {
    /// The only namespace the credentials may touch.
    pub namespace: Identifier,
    /// The run asking (for traceability, e.g. the STS session name).
    pub run_id: Option<RunId>,
}

/// Hands out storage credentials scoped to a namespace.
///
/// Implementations: [`StaticCredentialVendor`] (embedded; the same keys for
/// every namespace), `rat_cloud_aws::StsCredentialVendor` (STS AssumeRole
/// with an inline session policy). [`ScopedCredentials`] turns one scope
/// into a [`CredentialProvider`] for storage clients.
#[async_trait]
pub trait CredentialVendor: Send + Sync + fmt::Debug {
    /// Credentials valid for `scope`, with their expiry.
    async fn vend(&self, scope: &CredentialScope) -> Result<StorageCredentials>;
}

/// The credentials of one scope of a vendor, as a [`CredentialProvider`]:
/// storage, a catalog or DuckDB then ask for them whenever they sign a
/// request, and the vendor decides when to fetch new ones (STS vendors
/// cache them for half their life).
///
/// ```
/// use std::sync::Arc;
/// use rat_core::{CredentialProvider, CredentialScope, ScopedCredentials,
///                StaticCredentialVendor, StorageCredentials};
///
/// # futures::executor::block_on(async {
/// let vendor = Arc::new(StaticCredentialVendor::new(
///     StorageCredentials::new("AKID", "secret", None, None),
/// ));
/// let scope = CredentialScope { namespace: rat_core::ident::namespace("shop")?, run_id: None };
/// let shop = ScopedCredentials::new(vendor, scope);
/// assert_eq!(shop.credentials().await?.access_key_id, "AKID");
/// # Ok::<_, rat_core::Error>(()) }).unwrap();
/// ```
#[derive(Debug, Clone)]
pub struct ScopedCredentials {
    vendor: std::sync::Arc<dyn CredentialVendor>,
    scope: CredentialScope,
}

impl ScopedCredentials {
    /// Credentials `vendor` hands out for `scope`.
    pub fn new(vendor: std::sync::Arc<dyn CredentialVendor>, scope: CredentialScope) -> Self {
        Self { vendor, scope }
    }

    /// The scope asked for.
    pub fn scope(&self) -> &CredentialScope {
        &self.scope
    }
}

#[async_trait]
impl CredentialProvider for ScopedCredentials {
    async fn credentials(&self) -> Result<StorageCredentials> {
        self.vendor.vend(&self.scope).await
    }
}

/// Returns the same credentials for every scope. For embedded use and tests,
/// where there is a single trust domain.
#[derive(Debug, Clone)]
pub struct StaticCredentialVendor {
    credentials: StorageCredentials,
}

impl StaticCredentialVendor {
    /// Vends `credentials` for every scope.
    pub fn new(credentials: StorageCredentials) -> Self {
        Self { credentials }
    }
}

#[async_trait]
impl CredentialVendor for StaticCredentialVendor {
    async fn vend(&self, _scope: &CredentialScope) -> Result<StorageCredentials> {
        Ok(self.credentials.clone())
    }
}

/// Supplies the current credentials for one storage location, whenever they
/// are needed: implementations cache them and fetch new ones before they
/// expire, so a long run never holds a value captured once.
#[async_trait]
pub trait CredentialProvider: Send + Sync + fmt::Debug {
    /// Credentials valid now, with their expiry.
    async fn credentials(&self) -> Result<StorageCredentials>;
}

/// Hands back the same credentials forever: long-lived keys.
#[async_trait]
impl CredentialProvider for StorageCredentials {
    async fn credentials(&self) -> Result<StorageCredentials> {
        Ok(self.clone())
    }
}

/// How to reach objects on an S3-compatible service: endpoint, addressing
/// and a credential provider. The catalog hands one out with each table
/// whose files are remote (with the credentials it vended for that table),
/// S3 storage with its objects; the engine gives DuckDB the same access.
#[derive(Clone, Debug)]
pub struct S3Access {
    /// Endpoint URL for S3-compatible services; `None` for AWS.
    pub endpoint: Option<String>,
    /// Region (signing region for compatible services).
    pub region: String,
    /// Path-style addressing (`endpoint/bucket/key`) instead of virtual hosts.
    pub path_style: bool,
    /// Where credentials come from; `None` for anonymous access.
    pub credentials: Option<std::sync::Arc<dyn CredentialProvider>>,
}
