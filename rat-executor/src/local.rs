//! [`LocalExecutor`]: the embedded default, a warm pool running pipelines
//! inside this process.

use std::sync::Arc;

use async_trait::async_trait;
use rat_core::{
    ErrorKind, Result, RunContext, RunEngine, RunError, RunRecord, RunSpec, RunStatus, RunStore,
    Storage,
};

use crate::forward_executor;
use crate::live::LiveRun;
use crate::pool::{Launcher, Outcome, Pool, PoolConfig};

/// Runs pipelines on a fixed number of in-process workers behind a bounded
/// queue. Records and logs go to the [`RunStore`]; a run whose process dies
/// is marked failed ("executor restarted") by the next executor to start.
///
/// ```no_run
/// # async fn demo(engine: std::sync::Arc<dyn rat_core::RunEngine>,
/// #               storage: std::sync::Arc<dyn rat_core::Storage>) -> rat_core::Result<()> {
/// use std::sync::Arc;
/// use rat_core::{Executor, RunRequest};
/// use rat_executor::{LocalExecutor, PoolConfig, SqliteRunStore};
///
/// let store = Arc::new(SqliteRunStore::open(".rat/runs.db").await?);
/// let executor = LocalExecutor::start(engine, store, storage, PoolConfig::default()).await?;
/// let run = executor.submit(RunRequest::pipeline("silver.orders".parse()?)).await?;
/// let record = executor.status(&run).await?;
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct LocalExecutor {
    pool: Pool<InProcess>,
}

impl LocalExecutor {
    /// Starts the workers and reconciles runs left by a crashed process.
    pub async fn start(
        engine: Arc<dyn RunEngine>,
        store: Arc<dyn RunStore>,
        storage: Arc<dyn Storage>,
        config: PoolConfig,
    ) -> Result<Self> {
        let pool = Pool::start(InProcess { engine }, store, storage, config).await?;
        Ok(Self { pool })
    }
}

#[derive(Debug)]
struct InProcess {
    engine: Arc<dyn RunEngine>,
}

#[async_trait]
impl Launcher for InProcess {
    const KIND: &'static str = "local";

    async fn launch(&self, spec: RunSpec, live: Arc<LiveRun>, _: &Arc<dyn RunStore>) -> Outcome {
        let ctx = RunContext {
            cancel: live.cancellation().clone(),
            log: live,
        };
        Outcome::Finished(Box::new(self.engine.execute(spec, ctx).await))
    }

    /// In-process work dies with its process.
    fn can_adopt(&self, _: &RunRecord) -> bool {
        false
    }

    async fn resume(&self, _: RunRecord, _: Arc<LiveRun>, _: &Arc<dyn RunStore>) -> Outcome {
        Outcome::Aborted {
            status: RunStatus::Failed,
            error: RunError::new(ErrorKind::Internal, "an in-process run cannot be adopted"),
        }
    }
}

forward_executor!(LocalExecutor);
