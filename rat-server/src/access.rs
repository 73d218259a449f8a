//! `server.credential_vendor`: what the server does on a namespace's
//! behalf — the pipelines API and every run — uses storage credentials
//! scoped to that namespace's prefix.
//!
//! ```yaml
//! storage: {type: s3, bucket: lake}
//! server:
//!   credential_vendor:                  # default {type: static}: the storage's own
//!     type: sts                         # credentials for every namespace
//!     role_arn: arn:aws:iam::123456789012:role/rat-namespace
//!     duration_secs: 3600
//!     external_id: rat                  # when the role's trust policy asks for one
//!     credentials_command: rat-aws-credentials   # what runners run for theirs
//! ```
//!
//! With `sts`, the server assumes the role with a session policy allowing
//! `lake/<namespace>/*` only ([`rat_cloud_aws::StsCredentialVendor`]; its
//! own identity is the standard AWS provider chain's). Runners (process
//! or ECS) get `credentials: {type: process, command: [rat-aws-credentials,
//! ...]}` in place of the storage's credentials, and the executor names
//! the run's namespace in their environment, so each run reads and writes
//! its own namespace only. The `default` namespace is the storage root,
//! which no namespace scope covers: with a vendor, pipelines live in named
//! namespaces.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use rat_core::config::{CatalogConfig, CredentialsConfig, S3StorageConfig, StorageConfig};
use rat_core::{
    Catalog, CredentialProvider, CredentialScope, CredentialVendor, Error, Identifier,
    LakehouseConfig, Result, RunContext, RunEngine, RunResult, RunSpec, ScopedCredentials, Storage,
};
use rat_runner::Engine;
use rat_runner::catalog::RestCatalog;
use rat_runner::storage::S3Storage;
use serde::{Deserialize, Serialize};

/// `server.credential_vendor`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase", deny_unknown_fields)]
pub enum CredentialVendorConfig {
    /// Every namespace uses the storage's own credentials.
    #[default]
    Static,
    /// STS `AssumeRole` with a session policy per namespace (feature `aws`).
    Sts(StsSettings),
}

/// The STS vendor's settings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StsSettings {
    /// The role assumed for each namespace; its own policy bounds them all.
    pub role_arn: String,
    /// Session lifetime in seconds (900 to 43200, within the role's maximum).
    #[serde(default = "hour", deserialize_with = "crate::config::count")]
    pub duration_secs: usize,
    /// External id the role's trust policy may require.
    #[serde(default)]
    pub external_id: Option<String>,
    /// The program runners run for their credentials: `rat-aws-credentials`
    /// (beside the server for the process executor, on the image's `PATH`
    /// for ECS) when absent.
    #[serde(default)]
    pub credentials_command: Option<String>,
}

fn hour() -> usize {
    3600
}

/// STS's bounds on a session's lifetime.
const SESSION_SECONDS: std::ops::RangeInclusive<usize> = 900..=43_200;

impl CredentialVendorConfig {
    /// The name `GET /api/v1/features` reports.
    pub fn kind(&self) -> &'static str {
        match self {
            CredentialVendorConfig::Static => "static",
            CredentialVendorConfig::Sts(_) => "sts",
        }
    }

    /// Per-namespace access to `lakehouse` through this vendor; `None`
    /// for `static` (nothing to scope).
    pub async fn open(&self, lakehouse: &LakehouseConfig) -> Result<Option<Arc<NamespaceAccess>>> {
        let CredentialVendorConfig::Sts(sts) = self else {
            return Ok(None);
        };
        sts.check()?;
        let storage = scoped_storage(lakehouse)?;
        let vendor = sts.vendor(&storage.bucket).await?;
        NamespaceAccess::new(vendor, lakehouse).map(|access| Some(Arc::new(access)))
    }

    /// `lakehouse` as runners see it: with a vendor, the storage's (and a
    /// REST catalog's) credentials are a command printing their run's
    /// namespace's (`program` when the settings name none), which finds
    /// the namespace in the environment the executor gives it.
    pub fn runner_lakehouse(
        &self,
        lakehouse: &LakehouseConfig,
        program: impl FnOnce() -> Result<String>,
    ) -> Result<LakehouseConfig> {
        let CredentialVendorConfig::Sts(sts) = self else {
            return Ok(lakehouse.clone());
        };
        let storage = scoped_storage(lakehouse)?;
        let program = match &sts.credentials_command {
            Some(command) => command.clone(),
            None => program()?,
        };
        let mut command = vec![
            program,
            "--role-arn".into(),
            sts.role_arn.clone(),
            "--bucket".into(),
            storage.bucket.clone(),
            "--duration-seconds".into(),
            sts.duration_secs.to_string(),
        ];
        if let Some(id) = &sts.external_id {
            command.extend(["--external-id".into(), id.clone()]);
        }
        let credentials = CredentialsConfig::Process { command };
        let mut runner = lakehouse.clone();
        if let StorageConfig::S3(s3) = &mut runner.storage {
            s3.credentials = credentials.clone();
        }
        if let CatalogConfig::Rest(rest) = &mut runner.catalog {
            rest.s3.credentials = credentials;
        }
        Ok(runner)
    }
}

/// The S3 storage a vendor scopes: its session policy covers
/// `<bucket>/<namespace>/`, so the storage must start at the bucket.
fn scoped_storage(lakehouse: &LakehouseConfig) -> Result<&S3StorageConfig> {
    match &lakehouse.storage {
        StorageConfig::S3(s3) if s3.prefix.as_deref().is_none_or(|p| p.trim_matches('/').is_empty()) => Ok(s3),
        StorageConfig::S3(_) => Err(Error::invalid(
            "a credential vendor scopes <bucket>/<namespace>/ prefixes, so storage.prefix must be empty",
        )
        .with_context("field", "storage.prefix")),
        StorageConfig::Local { .. } => Err(Error::invalid(
            "a credential vendor scopes S3 prefixes; this storage is local (use {type: static})",
        )
        .with_context("field", "server.credential_vendor")),
    }
}

impl StsSettings {
    fn check(&self) -> Result<()> {
        let field = |name: &str| format!("server.credential_vendor.{name}");
        if !self.role_arn.starts_with("arn:") {
            return Err(Error::invalid(format!(
                "role_arn '{}' is not an ARN (arn:aws:iam::ACCOUNT:role/NAME)",
                self.role_arn.escape_default()
            ))
            .with_context("field", field("role_arn")));
        }
        if !SESSION_SECONDS.contains(&self.duration_secs) {
            return Err(Error::invalid(format!(
                "duration_secs {} is outside STS's {}..={} seconds",
                self.duration_secs,
                SESSION_SECONDS.start(),
                SESSION_SECONDS.end()
            ))
            .with_context("field", field("duration_secs")));
        }
        Ok(())
    }

    #[cfg(feature = "aws")]
    async fn vendor(&self, bucket: &str) -> Result<Arc<dyn CredentialVendor>> {
        let mut config = rat_cloud_aws::StsVendorConfig::new(&self.role_arn, bucket);
        config.duration = std::time::Duration::from_secs(self.duration_secs as u64);
        config.external_id = self.external_id.clone();
        let sdk = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
        Ok(Arc::new(rat_cloud_aws::StsCredentialVendor::new(
            &sdk, config,
        )))
    }

    #[cfg(not(feature = "aws"))]
    async fn vendor(&self, _bucket: &str) -> Result<Arc<dyn CredentialVendor>> {
        Err(Error::new(
            rat_core::ErrorKind::Unsupported,
            "this build has no STS credential vendor (rat-server feature 'aws')",
        )
        .with_context("field", "server.credential_vendor"))
    }
}

/// Storage, catalog and engines signing with one namespace's credentials,
/// made on first use and kept (the vendor renews what they sign with).
///
/// ```no_run
/// # async fn demo(vendor: std::sync::Arc<dyn rat_core::CredentialVendor>,
/// #               lakehouse: rat_core::LakehouseConfig) -> rat_core::Result<()> {
/// use rat_core::StorageExt;
/// use rat_server::access::NamespaceAccess;
///
/// let access = NamespaceAccess::new(vendor, &lakehouse)?;
/// let shop = access.storage(&rat_core::ident::namespace("shop")?)?;
/// // Signed with credentials that reach `<bucket>/shop/` only.
/// let sql = shop.get_string(&rat_core::ObjectKey::new("shop/pipelines/bronze/orders/pipeline.sql")?).await?;
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct NamespaceAccess {
    vendor: Arc<dyn CredentialVendor>,
    lakehouse: LakehouseConfig,
    storages: Mutex<HashMap<Identifier, Arc<dyn Storage>>>,
    catalogs: tokio::sync::Mutex<HashMap<Identifier, Arc<dyn Catalog>>>,
}

impl NamespaceAccess {
    /// Access to `lakehouse` (S3 storage starting at its bucket) through
    /// `vendor`.
    pub fn new(vendor: Arc<dyn CredentialVendor>, lakehouse: &LakehouseConfig) -> Result<Self> {
        scoped_storage(lakehouse)?;
        Ok(Self {
            vendor,
            lakehouse: lakehouse.clone(),
            storages: Mutex::default(),
            catalogs: tokio::sync::Mutex::default(),
        })
    }

    /// The vendor's credentials for `namespace`; `default` (the storage
    /// root) is refused.
    pub fn credentials(&self, namespace: &Identifier) -> Result<Arc<dyn CredentialProvider>> {
        if namespace.as_str() == rat_core::DEFAULT_NAMESPACE {
            return Err(Error::invalid(
                "namespace 'default' is the storage root, which credentials scoped to a namespace                  do not reach (server.credential_vendor); use a named namespace",
            )
            .with_context("namespace", namespace));
        }
        let scope = CredentialScope {
            namespace: namespace.clone(),
            run_id: None,
        };
        Ok(Arc::new(ScopedCredentials::new(self.vendor.clone(), scope)))
    }

    /// Storage signing with `namespace`'s credentials.
    pub fn storage(&self, namespace: &Identifier) -> Result<Arc<dyn Storage>> {
        let mut storages = self.storages.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(storage) = storages.get(namespace) {
            return Ok(storage.clone());
        }
        let config = scoped_storage(&self.lakehouse)?;
        let storage: Arc<dyn Storage> = Arc::new(S3Storage::with_credentials(
            config,
            Some(self.credentials(namespace)?),
        )?);
        storages.insert(namespace.clone(), storage.clone());
        Ok(storage)
    }

    /// The catalog for `namespace`'s runs: a REST catalog whose table
    /// files (those it vends no credentials for) are reached with the
    /// namespace's credentials; `shared` otherwise.
    pub async fn catalog(
        &self,
        namespace: &Identifier,
        shared: &Arc<dyn Catalog>,
    ) -> Result<Arc<dyn Catalog>> {
        let CatalogConfig::Rest(rest) = &self.lakehouse.catalog else {
            return Ok(shared.clone());
        };
        let mut catalogs = self.catalogs.lock().await;
        if let Some(catalog) = catalogs.get(namespace) {
            return Ok(catalog.clone());
        }
        let catalog: Arc<dyn Catalog> = Arc::new(
            RestCatalog::connect_with_credentials(rest, Some(self.credentials(namespace)?)).await?,
        );
        catalogs.insert(namespace.clone(), catalog.clone());
        Ok(catalog)
    }

    /// `engine` over `namespace`'s storage and catalog.
    pub async fn engine(&self, namespace: &Identifier, engine: &Engine) -> Result<Engine> {
        let storage = self.storage(namespace)?;
        let catalog = self.catalog(namespace, engine.catalog()).await?;
        Ok(engine.with_lakehouse(storage, catalog))
    }
}

/// An engine running each run with its namespace's credentials: what the
/// in-process (local) executor drives when a vendor is configured.
#[derive(Debug)]
pub struct ScopedEngine {
    engine: Engine,
    access: Arc<NamespaceAccess>,
}

impl ScopedEngine {
    /// Runs of `engine`, each over its namespace's access.
    pub fn new(engine: Engine, access: Arc<NamespaceAccess>) -> Self {
        Self { engine, access }
    }
}

#[async_trait]
impl RunEngine for ScopedEngine {
    async fn execute(&self, spec: RunSpec, ctx: RunContext) -> RunResult {
        match self
            .access
            .engine(&spec.table.namespace, &self.engine)
            .await
        {
            Ok(engine) => engine.execute(spec, ctx).await,
            Err(e) => RunResult::not_started(&spec, &e),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use std::path::Path;

    use super::*;
    use crate::ServerSetup;

    fn load(yaml: &str) -> Result<ServerSetup> {
        ServerSetup::from_yaml(yaml, Path::new("/etc/rat"), Path::new("/srv"), Vec::new())
            .map(|(setup, _)| setup)
    }

    const S3: &str = "storage: {type: s3, bucket: lake, endpoint: http://127.0.0.1:8333, path_style: true}\n\
                      catalog: {type: rest, uri: http://127.0.0.1:8181, warehouse: s3://warehouse}\n";

    #[test]
    fn runners_get_a_command_printing_their_namespace_s_credentials() {
        let setup = load(&format!(
            "{S3}server:\n  credential_vendor: {{type: sts, role_arn: 'arn:aws:iam::1:role/ns', duration_secs: '900', external_id: x}}\n"
        ))
        .unwrap();
        assert_eq!(setup.credential_vendor.kind(), "sts");
        let runner = setup
            .credential_vendor
            .runner_lakehouse(&setup.lakehouse, || {
                Ok("/opt/rat/rat-aws-credentials".into())
            })
            .unwrap();
        let expected = CredentialsConfig::Process {
            command: [
                "/opt/rat/rat-aws-credentials",
                "--role-arn",
                "arn:aws:iam::1:role/ns",
                "--bucket",
                "lake",
                "--duration-seconds",
                "900",
                "--external-id",
                "x",
            ]
            .map(String::from)
            .to_vec(),
        };
        let (StorageConfig::S3(storage), CatalogConfig::Rest(rest)) =
            (&runner.storage, &runner.catalog)
        else {
            panic!("{runner:?}")
        };
        assert_eq!(storage.credentials, expected);
        assert_eq!(rest.s3.credentials, expected);
        // Static changes nothing.
        let plain = load(S3).unwrap();
        assert_eq!(plain.credential_vendor, CredentialVendorConfig::Static);
        let same = plain
            .credential_vendor
            .runner_lakehouse(&plain.lakehouse, || unreachable!())
            .unwrap();
        assert_eq!(same, plain.lakehouse);
    }

    #[tokio::test]
    async fn what_a_vendor_cannot_scope_is_refused_by_name() {
        let sts = "credential_vendor: {type: sts, role_arn: 'arn:aws:iam::1:role/ns'}";
        let cases = [
            (format!("server:\n  {sts}\n"), "server.credential_vendor"),
            (
                format!(
                    "storage: {{type: s3, bucket: lake, prefix: shop}}\ncatalog: {{type: sql, path: c.db, warehouse: w}}\nserver:\n  {sts}\n"
                ),
                "storage.prefix",
            ),
            (
                format!("{S3}server:\n  credential_vendor: {{type: sts, role_arn: runner}}\n"),
                "role_arn",
            ),
            (
                format!(
                    "{S3}server:\n  credential_vendor: {{type: sts, role_arn: 'arn:aws:iam::1:role/ns', duration_secs: 60}}\n"
                ),
                "duration_secs",
            ),
        ];
        for (yaml, named) in cases {
            let setup = load(&yaml).unwrap();
            let err = setup
                .credential_vendor
                .open(&setup.lakehouse)
                .await
                .unwrap_err();
            assert!(err.to_string().contains(named), "{yaml}: {err}");
        }
        for (yaml, named) in [
            (
                format!("{S3}server: {{credential_vendor: {{type: sts}}}}\n"),
                "role_arn",
            ),
            (
                format!("{S3}server: {{credential_vendor: {{type: vault}}}}\n"),
                "vault",
            ),
        ] {
            let err = load(&yaml).unwrap_err();
            assert!(err.to_string().contains(named), "{yaml}: {err}");
        }
    }

    #[test]
    fn the_default_namespace_is_out_of_a_vendor_s_reach() {
        let vendor = Arc::new(rat_core::StaticCredentialVendor::new(
            rat_core::StorageCredentials::new("AKID", "secret", None, None),
        ));
        let lakehouse = load(S3).unwrap().lakehouse;
        let access = NamespaceAccess::new(vendor, &lakehouse).unwrap();
        let err = access
            .storage(&rat_core::ident::namespace("default").unwrap())
            .unwrap_err();
        assert!(err.to_string().contains("storage root"), "{err}");
        let shop = rat_core::ident::namespace("shop").unwrap();
        let first = access.storage(&shop).unwrap();
        assert!(Arc::ptr_eq(&first, &access.storage(&shop).unwrap()));
    }
}
