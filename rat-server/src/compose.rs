//! Building a [`Platform`] from configuration: the lakehouse, the run
//! store and the executor a server uses.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rat_core::config::{CatalogConfig, StorageConfig};
use rat_core::{Executor, LakehouseConfig, Result, RunStore};
use rat_executor::{LocalExecutor, PoolConfig, SqliteRunStore};
use rat_runner::{Engine, EngineConfig};

use crate::Platform;
use crate::api::Features;
use crate::auth::{AuthConfig, Authenticator};
use crate::scheduler::{self, SchedulerConfig};

/// What a server is made of.
#[derive(Debug, Clone)]
pub struct ServerSetup {
    /// Storage and catalog.
    pub lakehouse: LakehouseConfig,
    /// The SQLite run store's file.
    pub run_store: PathBuf,
    /// Runs executing at once, and queued beyond them.
    pub pool: PoolConfig,
    /// Who may call the API.
    pub auth: AuthConfig,
    /// The scheduler (`None`: this instance never fires schedules).
    pub scheduler: Option<SchedulerConfig>,
}

/// A composed server: what it does and who may ask.
#[derive(Debug, Clone)]
pub struct Server {
    /// The components.
    pub platform: Platform,
    /// The request check.
    pub auth: Authenticator,
    scheduler: Option<Arc<tokio::task::JoinHandle<()>>>,
}

impl Drop for Server {
    fn drop(&mut self) {
        // The last clone stops the scheduler.
        if let Some(handle) = self.scheduler.take()
            && let Ok(handle) = Arc::try_unwrap(handle)
        {
            handle.abort();
        }
    }
}

impl Server {
    /// The HTTP routes.
    pub fn router(&self) -> axum::Router {
        crate::http::router(self.platform.clone(), self.auth.clone())
    }
}

impl ServerSetup {
    /// The embedded layout of a project folder: the folder is the storage,
    /// catalog, warehouse and run records live under its `.rat/`.
    pub fn embedded(project: &Path) -> Self {
        Self {
            lakehouse: LakehouseConfig::embedded(project),
            run_store: project.join(".rat").join("runs.db"),
            pool: PoolConfig::default(),
            auth: AuthConfig::None,
            scheduler: Some(SchedulerConfig::default()),
        }
    }

    /// Opens everything: auth first (a half-configured one stops here),
    /// the lakehouse, the run store, the executor (which adopts runs a
    /// previous instance left).
    pub async fn open(&self) -> Result<Server> {
        let auth = Authenticator::from_config(&self.auth)?;
        let sqlite = Arc::new(SqliteRunStore::open(&self.run_store).await?);
        let store: Arc<dyn RunStore> = sqlite.clone();
        let engine = Engine::open(&self.lakehouse, EngineConfig::default())
            .await?
            .with_run_store(store.clone());
        let executor: Arc<dyn Executor> = Arc::new(
            LocalExecutor::start(
                Arc::new(engine.clone()),
                store.clone(),
                engine.storage().clone(),
                self.pool.clone(),
            )
            .await?,
        );
        let features = Features {
            storage: match &self.lakehouse.storage {
                StorageConfig::Local { .. } => "local",
                StorageConfig::S3(_) => "s3",
            }
            .into(),
            catalog: match &self.lakehouse.catalog {
                CatalogConfig::Sql { .. } => "sql",
                CatalogConfig::Rest(_) => "rest",
            }
            .into(),
            executor: "local".into(),
            run_store: "sqlite".into(),
            auth: self.auth.kind().into(),
            scheduler: false,
        };
        let platform = Platform::new(engine, executor, store, sqlite, features);
        let scheduler = self
            .scheduler
            .clone()
            .map(|config| Arc::new(scheduler::spawn(platform.clone(), config)));
        Ok(Server {
            platform,
            auth,
            scheduler,
        })
    }
}
