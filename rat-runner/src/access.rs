//! Per-namespace access: what is done on a namespace's behalf (its
//! pipelines' files, every run) uses storage credentials a
//! [`CredentialVendor`] scopes to that namespace's prefix
//! (`<bucket>/<namespace>/`).
//!
//! - [`NamespaceAccess`]: storage, catalog and engines of one namespace,
//!   made on first use and kept (the vendor renews what they sign with).
//! - [`ScopedEngine`]: the [`RunEngine`] an in-process executor drives,
//!   running each run over its namespace's access.
//!
//! The `default` namespace is the storage root, which no namespace scope
//! covers: with a vendor, pipelines live in named namespaces.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use rat_core::config::{CatalogConfig, S3StorageConfig, StorageConfig};
use rat_core::{
    Catalog, CredentialProvider, CredentialScope, CredentialVendor, Error, Identifier,
    LakehouseConfig, Result, RunContext, RunEngine, RunResult, RunSpec, ScopedCredentials, Storage,
};

use crate::Engine;
use crate::catalog::RestCatalog;
use crate::storage::S3Storage;

/// The S3 storage a vendor scopes: its session policy covers
/// `<bucket>/<namespace>/`, so the storage must start at the bucket.
/// Errors name `storage.prefix` or `server.credential_vendor`.
pub fn scoped_storage(lakehouse: &LakehouseConfig) -> Result<&S3StorageConfig> {
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

/// Storage, catalog and engines signing with one namespace's credentials,
/// made on first use and kept (the vendor renews what they sign with).
///
/// ```no_run
/// # async fn demo(vendor: std::sync::Arc<dyn rat_core::CredentialVendor>,
/// #               lakehouse: rat_core::LakehouseConfig) -> rat_core::Result<()> {
/// use rat_core::StorageExt;
/// use rat_runner::access::NamespaceAccess;
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
    use super::*;

    fn lakehouse(yaml: &str) -> LakehouseConfig {
        LakehouseConfig::from_tree(
            rat_core::config::config_tree(yaml, Vec::new()).unwrap(),
            std::path::Path::new("/etc/rat"),
        )
        .unwrap()
    }

    const S3: &str = "storage: {type: s3, bucket: lake, endpoint: http://127.0.0.1:8333, path_style: true}\n\
                      catalog: {type: rest, uri: http://127.0.0.1:8181, warehouse: s3://warehouse}\n";

    #[test]
    fn the_default_namespace_is_out_of_a_vendor_s_reach() {
        let vendor = Arc::new(rat_core::StaticCredentialVendor::new(
            rat_core::StorageCredentials::new("AKID", "secret", None, None),
        ));
        let access = NamespaceAccess::new(vendor, &lakehouse(S3)).unwrap();
        let err = access
            .storage(&rat_core::ident::namespace("default").unwrap())
            .unwrap_err();
        assert!(err.to_string().contains("storage root"), "{err}");
        let shop = rat_core::ident::namespace("shop").unwrap();
        let first = access.storage(&shop).unwrap();
        assert!(Arc::ptr_eq(&first, &access.storage(&shop).unwrap()));
    }

    #[test]
    fn only_storage_starting_at_a_bucket_can_be_scoped() {
        let prefixed = lakehouse(
            "storage: {type: s3, bucket: lake, prefix: shop}\ncatalog: {type: sql, path: c.db, warehouse: w}\n",
        );
        let err = scoped_storage(&prefixed).unwrap_err();
        assert!(err.to_string().contains("storage.prefix"), "{err}");
        let local = LakehouseConfig::embedded(std::path::Path::new("/srv/shop"));
        let err = scoped_storage(&local).unwrap_err();
        assert!(
            err.to_string().contains("server.credential_vendor"),
            "{err}"
        );
        assert_eq!(scoped_storage(&lakehouse(S3)).unwrap().bucket, "lake");
    }
}
