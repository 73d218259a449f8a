//! The embedded setup: a project folder with its tables and run records
//! under `.rat/`.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rat_core::config::SqlAccess;
use rat_core::{Error, ErrorKind, Executor, LakehouseConfig, Result, RunStore};
use rat_executor::{LocalExecutor, PoolConfig, ProcessConfig, ProcessExecutor, SqliteRunStore};
use rat_runner::{Engine, EngineConfig};

/// Where the embedded catalog, warehouse and run records live, inside the project.
pub(crate) const STATE_DIR: &str = ".rat";

/// Where a command works: the project folder (run records live in its
/// `.rat/`) and the lakehouse config, if one is given.
#[derive(Debug, Clone)]
pub(crate) struct Place {
    pub(crate) project: PathBuf,
    pub(crate) config: Option<PathBuf>,
}

impl Place {
    /// The lakehouse: the config file's, else the embedded layout.
    pub(crate) fn lakehouse(&self, project: &Path) -> Result<LakehouseConfig> {
        match &self.config {
            Some(file) => LakehouseConfig::from_file(file),
            None => Ok(LakehouseConfig::embedded(project)),
        }
    }
}

/// A project folder, opened.
#[derive(Debug)]
pub(crate) struct Workspace {
    pub(crate) lakehouse: LakehouseConfig,
    pub(crate) engine: Engine,
    pub(crate) store: Arc<SqliteRunStore>,
    state: PathBuf,
}

impl Workspace {
    /// Opens the project folder: local storage rooted at it, the SQLite
    /// catalog and warehouse, and the run store under `.rat/`.
    pub(crate) async fn open(place: &Place) -> Result<Self> {
        let project = place.project.as_path();
        if !project.is_dir() {
            return Err(Error::new(
                ErrorKind::InvalidInput,
                format!(
                    "project folder '{}' does not exist (create one with `rat init {}`)",
                    project.display(),
                    project.display()
                ),
            ));
        }
        let project = std::fs::canonicalize(project)?;
        let state = project.join(STATE_DIR);
        let lakehouse = place.lakehouse(&project)?;
        let store = Arc::new(SqliteRunStore::open(state.join("runs.db")).await?);
        // Embedded: one user's own project, whose files pipelines may read.
        let config = EngineConfig {
            sql_access: SqlAccess::ProjectFiles,
            ..EngineConfig::default()
        };
        let engine = Engine::open(&lakehouse, config)
            .await?
            .with_run_store(store.clone());
        Ok(Self {
            lakehouse,
            engine,
            store,
            state,
        })
    }

    /// The run store as the trait.
    pub(crate) fn runs(&self) -> Arc<dyn RunStore> {
        self.store.clone()
    }

    /// An executor: in-process workers, or one `rat-runner` process per run.
    pub(crate) async fn executor(
        &self,
        isolate: bool,
        workers: usize,
    ) -> Result<Arc<dyn Executor>> {
        let config = PoolConfig {
            workers,
            ..PoolConfig::default()
        };
        let storage = self.engine.storage().clone();
        if isolate {
            let mut process = ProcessConfig::new(
                rat_executor::locate_runner("--isolate runs each pipeline with it; build it")?,
                self.lakehouse.clone(),
                self.state.join("runs"),
            );
            process.sql_access = SqlAccess::ProjectFiles;
            Ok(Arc::new(
                ProcessExecutor::start(process, self.runs(), storage, config).await?,
            ))
        } else {
            let engine = Arc::new(self.engine.clone());
            Ok(Arc::new(
                LocalExecutor::start(engine, self.runs(), storage, config).await?,
            ))
        }
    }
}
