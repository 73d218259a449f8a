//! [`Engine`]: runs one pipeline from SQL to a published Iceberg snapshot.
//!
//! Phases (ARCHITECTURE.md): load → compile → execute (DuckDB writes Parquet
//! data files) → write (snapshot on branch `run-<id>`) → test (quality tests
//! on the branch) → publish (fast-forward `main` if it has not moved, remove
//! the branch). Any failure removes the branch; `main` never shows unaudited
//! data. A publish that loses a race re-plans on the new `main` and tries
//! again, a bounded number of times.

mod merge;
mod plan;
mod probe;
mod quality;
pub(crate) mod relations;
mod run;
mod stale;
pub(crate) mod write;

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use rat_core::config::SqlAccess;
use rat_core::{Catalog, RunContext, RunEngine, RunResult, RunSpec, RunStore, Storage};

pub use plan::RunPlan;
pub(crate) use relations::{
    create_table_views, landing_reader, named_tables, parse_select, relation_at,
};

use crate::duck::SessionLimits;
use crate::python::{PythonConfig, WorkerPool};

/// Engine settings.
#[derive(Debug, Clone)]
pub struct EngineConfig {
    /// DuckDB resources per run.
    pub limits: SessionLimits,
    /// How many times a run re-plans after losing a commit race.
    pub max_commit_attempts: usize,
    /// A `run-*` branch whose run is unknown and that is older than this is
    /// left over from a crash and removed by the next run of its table.
    pub stale_branch_age: Duration,
    /// What pipeline and quality-test SQL may read beyond what its run
    /// resolved (strict unless the storage is a trusted project folder).
    pub sql_access: SqlAccess,
    /// The interpreter of Python pipelines.
    pub python: PythonConfig,
}

impl Default for EngineConfig {
    fn default() -> Self {
        Self {
            limits: SessionLimits::default(),
            max_commit_attempts: 12,
            stale_branch_age: Duration::from_secs(3600),
            sql_access: SqlAccess::Strict,
            python: PythonConfig::default(),
        }
    }
}

/// The embedded DuckDB engine over a [`Storage`] (pipelines, landing files)
/// and a [`Catalog`] (tables).
///
/// ```no_run
/// # async fn demo() -> rat_core::Result<()> {
/// use std::sync::Arc;
/// use rat_core::{RunContext, RunEngine, RunSpec, TracingLogSink};
/// use rat_runner::{Engine, catalog::SqlCatalog, storage::LocalStorage};
///
/// let storage = Arc::new(LocalStorage::new("./project")?);
/// let catalog = Arc::new(SqlCatalog::open("./project/.rat/catalog.db", "./project/.rat/warehouse").await?);
/// let engine = Engine::new(storage, catalog);
/// let ctx = RunContext { cancel: Default::default(), log: Arc::new(TracingLogSink) };
/// let result = engine.execute(RunSpec::new("silver.orders".parse()?), ctx).await;
/// println!("{}: {} rows", result.status, result.rows_written);
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct Engine {
    storage: Arc<dyn Storage>,
    catalog: Arc<dyn Catalog>,
    config: EngineConfig,
    run_store: Option<Arc<dyn RunStore>>,
    /// Warm interpreters for Python pipelines (shared by clones).
    python_workers: Arc<WorkerPool>,
}

impl Engine {
    /// An engine with default settings.
    pub fn new(storage: Arc<dyn Storage>, catalog: Arc<dyn Catalog>) -> Self {
        Self::with_config(storage, catalog, EngineConfig::default())
    }

    /// An engine with explicit settings.
    pub fn with_config(
        storage: Arc<dyn Storage>,
        catalog: Arc<dyn Catalog>,
        config: EngineConfig,
    ) -> Self {
        let python_workers = Arc::new(WorkerPool::new(config.python.clone(), staging_dir(&config)));
        Self {
            storage,
            catalog,
            config,
            run_store: None,
            python_workers,
        }
    }

    /// Lets runs consult run records: a `run-*` branch whose run ended is
    /// removed by the next run of its table, whatever its age.
    pub fn with_run_store(mut self, store: Arc<dyn RunStore>) -> Self {
        self.run_store = Some(store);
        self
    }

    /// The same engine (settings, run store) over other storage and
    /// catalog, e.g. ones signing with one namespace's credentials.
    pub fn with_lakehouse(&self, storage: Arc<dyn Storage>, catalog: Arc<dyn Catalog>) -> Self {
        Self {
            storage,
            catalog,
            config: self.config.clone(),
            run_store: self.run_store.clone(),
            python_workers: self.python_workers.clone(),
        }
    }

    /// The same engine running Python pipelines with `python`.
    pub fn with_python(&self, python: PythonConfig) -> Self {
        let mut engine = self.clone();
        engine.python_workers = Arc::new(WorkerPool::new(python.clone(), self.staging_dir()));
        engine.config.python = python;
        engine
    }

    /// The warm interpreters of Python pipelines.
    pub fn python_workers(&self) -> &WorkerPool {
        &self.python_workers
    }

    /// The pipeline storage.
    pub fn storage(&self) -> &Arc<dyn Storage> {
        &self.storage
    }

    /// The catalog.
    pub fn catalog(&self) -> &Arc<dyn Catalog> {
        &self.catalog
    }

    /// The settings.
    pub fn config(&self) -> &EngineConfig {
        &self.config
    }

    /// Where data files of remote tables are written before their upload:
    /// DuckDB's temp directory when set, else the system's.
    pub(crate) fn staging_dir(&self) -> std::path::PathBuf {
        staging_dir(&self.config)
    }
}

#[async_trait]
impl RunEngine for Engine {
    async fn execute(&self, spec: RunSpec, ctx: RunContext) -> RunResult {
        run::Run::new(self, spec, ctx).execute().await
    }
}

/// Where runs stage files before they are committed.
fn staging_dir(config: &EngineConfig) -> std::path::PathBuf {
    let base = config
        .limits
        .temp_directory
        .as_ref()
        .map(std::path::PathBuf::from)
        .unwrap_or_else(std::env::temp_dir);
    base.join("rat-staging")
}
