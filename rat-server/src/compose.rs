//! Building a [`Platform`] from configuration: the lakehouse, the run
//! store and the executor a server uses.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rat_core::config::{CatalogConfig, SecretRef, SqlAccess, StorageConfig};
use rat_core::{Executor, LakehouseConfig, Result, RunEngine, RunStore, ScheduleStore};
use rat_executor::{
    LocalExecutor, PoolConfig, PostgresRunStore, ProcessConfig, ProcessExecutor, SqliteRunStore,
};
use rat_runner::{Engine, EngineConfig};
use secrecy::ExposeSecret;
use serde::{Deserialize, Serialize};

use crate::Platform;
use crate::access::{CredentialVendorConfig, ScopedEngine};
use crate::api::Features;
use crate::auth::{AuthConfig, Authenticator};
use crate::config::ExecutorConfig;
use crate::scheduler::{self, SchedulerConfig};

/// What a server is made of.
#[derive(Debug, Clone)]
pub struct ServerSetup {
    /// Storage and catalog.
    pub lakehouse: LakehouseConfig,
    /// Where run records, logs and schedules live.
    pub run_store: RunStoreConfig,
    /// Where runs execute.
    pub executor: ExecutorConfig,
    /// The folder of per-run files of process runners (`.rat/` of the
    /// project).
    pub state_dir: PathBuf,
    /// Who may call the API.
    pub auth: AuthConfig,
    /// Storage credentials per namespace.
    pub credential_vendor: CredentialVendorConfig,
    /// The scheduler (`None`: this instance never fires schedules).
    pub scheduler: Option<SchedulerConfig>,
    /// What pipeline SQL may read beyond what its run resolved.
    pub sql_access: SqlAccess,
}

/// Where run records, logs and schedules live.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase", deny_unknown_fields)]
pub enum RunStoreConfig {
    /// A SQLite file: one machine.
    Sqlite {
        /// The file.
        path: PathBuf,
    },
    /// PostgreSQL: several server instances share records and schedules,
    /// one of them fires schedules (advisory lock).
    Postgres {
        /// `postgres://user:password@host/database`, read from a variable
        /// or file since it may hold a password.
        url: SecretRef,
    },
}

impl RunStoreConfig {
    /// The name `GET /api/v1/features` reports.
    pub fn kind(&self) -> &'static str {
        match self {
            RunStoreConfig::Sqlite { .. } => "sqlite",
            RunStoreConfig::Postgres { .. } => "postgres",
        }
    }

    /// Opens the store (applying its migrations).
    pub async fn open(&self) -> Result<(Arc<dyn RunStore>, Arc<dyn ScheduleStore>)> {
        match self {
            RunStoreConfig::Sqlite { path } => {
                let store = Arc::new(SqliteRunStore::open(path).await?);
                Ok((store.clone(), store))
            }
            RunStoreConfig::Postgres { url } => {
                let url = url.resolve()?;
                let store = Arc::new(PostgresRunStore::connect(url.expose_secret()).await?);
                Ok((store.clone(), store))
            }
        }
    }
}

/// A composed server: what it does and who may ask.
#[derive(Debug, Clone)]
pub struct Server {
    /// The components.
    pub platform: Platform,
    /// The request check.
    pub auth: Authenticator,
    scheduler: Option<Arc<(tokio::task::JoinHandle<()>, String)>>,
}

impl Server {
    /// Stops this instance's scheduler and gives up its lease, so another
    /// instance fires schedules from its next tick.
    pub async fn shutdown(&self) {
        if let Some(scheduler) = &self.scheduler {
            let (handle, owner) = scheduler.as_ref();
            handle.abort();
            if let Err(e) = self.platform.schedule_store().resign(owner).await {
                tracing::warn!("scheduler lease: {e}");
            }
            self.platform.set_leading(false);
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        // The last clone stops the scheduler.
        if let Some(scheduler) = self.scheduler.take()
            && let Ok((handle, _)) = Arc::try_unwrap(scheduler)
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
            run_store: RunStoreConfig::Sqlite {
                path: project.join(".rat").join("runs.db"),
            },
            executor: ExecutorConfig::default(),
            state_dir: project.join(".rat"),
            auth: AuthConfig::None,
            credential_vendor: CredentialVendorConfig::Static,
            scheduler: Some(SchedulerConfig::default()),
            sql_access: SqlAccess::Strict,
        }
    }

    /// Opens everything: auth first (a half-configured one stops here),
    /// the lakehouse, the run store, the executor (which adopts runs a
    /// previous instance left).
    pub async fn open(&self) -> Result<Server> {
        let auth = Authenticator::from_config(&self.auth)?;
        let (store, schedules) = self.run_store.open().await?;
        let config = EngineConfig {
            sql_access: self.sql_access,
            ..EngineConfig::default()
        };
        let engine = Engine::open(&self.lakehouse, config)
            .await?
            .with_run_store(store.clone());
        let storage = engine.storage().clone();
        let access = self.credential_vendor.open(&self.lakehouse).await?;
        let (executor, kind): (Arc<dyn Executor>, &str) = match &self.executor {
            ExecutorConfig::Local { workers, queue } => {
                let pool = pool_config(*workers, *queue);
                let runs: Arc<dyn RunEngine> = match &access {
                    Some(access) => Arc::new(ScopedEngine::new(engine.clone(), access.clone())),
                    None => Arc::new(engine.clone()),
                };
                let local = LocalExecutor::start(runs, store.clone(), storage, pool).await?;
                (Arc::new(local), "local")
            }
            ExecutorConfig::Process {
                workers,
                queue,
                runner,
            } => {
                let runner = match runner {
                    Some(path) => path.clone(),
                    None => rat_executor::locate_runner("set server.executor.runner")?,
                };
                let lakehouse = self
                    .credential_vendor
                    .runner_lakehouse(&self.lakehouse, locate_credentials_command)?;
                let mut process =
                    ProcessConfig::new(runner, lakehouse, self.state_dir.join("runs"));
                process.sql_access = self.sql_access;
                let pool = pool_config(*workers, *queue);
                let executor =
                    ProcessExecutor::start(process, store.clone(), storage, pool).await?;
                (Arc::new(executor), "process")
            }
            #[cfg(feature = "aws")]
            ExecutorConfig::Ecs(settings) => {
                // Tasks find the command on their image's PATH.
                let lakehouse = self
                    .credential_vendor
                    .runner_lakehouse(&self.lakehouse, || Ok(CREDENTIALS_COMMAND.to_owned()))?;
                let executor = settings.start(&lakehouse, store.clone(), storage).await?;
                (Arc::new(executor), "ecs")
            }
            #[cfg(not(feature = "aws"))]
            ExecutorConfig::Ecs(_) => {
                return Err(rat_core::Error::new(
                    rat_core::ErrorKind::Unsupported,
                    "this build has no ECS executor (rat-server feature 'aws')",
                )
                .with_context("field", "server.executor"));
            }
        };
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
            executor: kind.into(),
            run_store: self.run_store.kind().into(),
            auth: self.auth.kind().into(),
            credential_vendor: self.credential_vendor.kind().into(),
            scheduler: false,
        };
        let mut platform = Platform::new(engine, executor, store, schedules, features);
        if let Some(access) = access {
            platform = platform.with_namespace_access(access);
        }
        let scheduler = self.scheduler.clone().map(|config| {
            let owner = config.owner.clone();
            Arc::new((scheduler::spawn(platform.clone(), config), owner))
        });
        Ok(Server {
            platform,
            auth,
            scheduler,
        })
    }
}

/// The program printing a namespace's credentials for runners.
const CREDENTIALS_COMMAND: &str = "rat-aws-credentials";

/// `rat-aws-credentials` beside the server (or `$RAT_AWS_CREDENTIALS`), for
/// runner processes on this machine.
fn locate_credentials_command() -> Result<String> {
    rat_executor::locate_binary(
        CREDENTIALS_COMMAND,
        "RAT_AWS_CREDENTIALS",
        "set server.credential_vendor.credentials_command",
    )
    .map(|path| path.display().to_string())
}

fn pool_config(workers: usize, queue: usize) -> PoolConfig {
    PoolConfig {
        workers,
        queue,
        ..PoolConfig::default()
    }
}

/// Opens `setup`, serves it on `listen` until `shutdown` completes, then
/// gives up the scheduler lease. Prints the address it listens on.
pub async fn serve(
    setup: ServerSetup,
    listen: std::net::SocketAddr,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<()> {
    let server = setup.open().await?;
    let listener = tokio::net::TcpListener::bind(listen).await.map_err(|e| {
        rat_core::Error::invalid(format!("cannot listen on {listen}: {e}"))
            .with_context("field", "listen")
    })?;
    eprintln!("rat-server: listening on http://{}", listener.local_addr()?);
    axum::serve(listener, server.router())
        .with_graceful_shutdown(shutdown)
        .await?;
    server.shutdown().await;
    Ok(())
}
