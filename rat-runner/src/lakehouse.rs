//! Opening the storage and catalog a [`LakehouseConfig`] names.

use std::sync::Arc;

use rat_core::config::{CatalogConfig, StorageConfig};
use rat_core::{Catalog, LakehouseConfig, Result, Storage};

use crate::catalog::{RestCatalog, SqlCatalog};
use crate::storage::{LocalStorage, S3Storage};
use crate::{Engine, EngineConfig};

/// The storage of `config`.
pub fn open_storage(config: &StorageConfig) -> Result<Arc<dyn Storage>> {
    match config {
        StorageConfig::Local { root } => Ok(Arc::new(LocalStorage::new(root)?)),
        StorageConfig::S3(s3) => Ok(Arc::new(S3Storage::new(s3)?)),
    }
}

/// The catalog of `config`.
pub async fn open_catalog(config: &CatalogConfig) -> Result<Arc<dyn Catalog>> {
    match config {
        CatalogConfig::Sql { path, warehouse } => {
            Ok(Arc::new(SqlCatalog::open(path, warehouse).await?))
        }
        CatalogConfig::Rest(rest) => Ok(Arc::new(RestCatalog::connect(rest).await?)),
    }
}

impl Engine {
    /// An engine over the lakehouse `config` names.
    ///
    /// ```no_run
    /// # async fn demo() -> rat_core::Result<()> {
    /// use rat_core::LakehouseConfig;
    /// use rat_runner::{Engine, EngineConfig};
    ///
    /// let config = LakehouseConfig::embedded(std::path::Path::new("./shop"));
    /// let engine = Engine::open(&config, EngineConfig::default()).await?;
    /// # Ok(()) }
    /// ```
    pub async fn open(config: &LakehouseConfig, engine: EngineConfig) -> Result<Self> {
        let storage = open_storage(&config.storage)?;
        let catalog = open_catalog(&config.catalog).await?;
        Ok(Engine::with_config(storage, catalog, engine))
    }
}
