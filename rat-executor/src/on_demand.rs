//! [`OnDemand`]: an executor started by the first run submitted to it.
//! Until then, everything else goes through the run store, as for a run
//! another process holds: a command that only reads runs (`rat runs`,
//! `rat logs -f`) never starts workers, nor adopts or reconciles what a
//! crashed process left.

use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use futures::future::BoxFuture;
use futures::stream::BoxStream;
use rat_core::{
    Error, Executor, LogCursor, LogRecord, Result, RunId, RunRecord, RunRequest, RunStore,
};
use tokio::sync::OnceCell;

use crate::stored_logs;

/// What starts the executor.
type Start = Box<dyn FnOnce() -> BoxFuture<'static, Result<Arc<dyn Executor>>> + Send>;

/// An executor started on first submit.
///
/// ```no_run
/// # async fn demo(store: std::sync::Arc<rat_executor::SqliteRunStore>,
/// #               engine: std::sync::Arc<rat_runner::Engine>) -> rat_core::Result<()> {
/// use std::sync::Arc;
/// use rat_core::Executor;
/// use rat_executor::{LocalExecutor, OnDemand, PoolConfig};
///
/// let storage = engine.storage().clone();
/// let runs = store.clone();
/// let executor = OnDemand::new(store, move || {
///     Box::pin(async move {
///         let local = LocalExecutor::start(engine, runs, storage, PoolConfig::default()).await?;
///         Ok(Arc::new(local) as Arc<dyn Executor>)
///     })
/// });
/// // Nothing runs yet; the store answers.
/// let record = executor.status(&"0195f3a27c1e7b409d2a3c4f5e6a7b8c".parse()?).await;
/// # Ok(()) }
/// ```
pub struct OnDemand {
    store: Arc<dyn RunStore>,
    start: Mutex<Option<Start>>,
    started: OnceCell<Arc<dyn Executor>>,
}

impl fmt::Debug for OnDemand {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OnDemand")
            .field("started", &self.started.get())
            .finish_non_exhaustive()
    }
}

/// How often a log follower reads the store while nothing here runs.
const STORE_POLL: Duration = Duration::from_millis(100);

impl OnDemand {
    /// An executor `start` starts on first submit, `store` answering until
    /// then.
    pub fn new(
        store: Arc<dyn RunStore>,
        start: impl FnOnce() -> BoxFuture<'static, Result<Arc<dyn Executor>>> + Send + 'static,
    ) -> Self {
        Self {
            store,
            start: Mutex::new(Some(Box::new(start))),
            started: OnceCell::new(),
        }
    }

    async fn executor(&self) -> Result<&Arc<dyn Executor>> {
        self.started
            .get_or_try_init(|| async {
                let start = self
                    .start
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .take()
                    .ok_or_else(|| Error::internal("the executor failed to start before"))?;
                start().await
            })
            .await
    }
}

#[async_trait]
impl Executor for OnDemand {
    async fn submit(&self, request: RunRequest) -> Result<RunId> {
        self.executor().await?.submit(request).await
    }

    async fn status(&self, run: &RunId) -> Result<RunRecord> {
        match self.started.get() {
            Some(executor) => executor.status(run).await,
            None => self.store.get(run).await,
        }
    }

    async fn logs(&self, run: &RunId, cursor: LogCursor) -> Result<BoxStream<'static, LogRecord>> {
        match self.started.get() {
            Some(executor) => executor.logs(run, cursor).await,
            None => {
                self.store.get(run).await?;
                Ok(stored_logs(
                    self.store.clone(),
                    run.clone(),
                    cursor,
                    STORE_POLL,
                ))
            }
        }
    }

    async fn cancel(&self, run: &RunId) -> Result<()> {
        match self.started.get() {
            Some(executor) => executor.cancel(run).await,
            // The process holding the run stops it.
            None => self.store.request_cancel(run).await,
        }
    }

    async fn forget(&self, runs: &[RunId]) -> Result<()> {
        match self.started.get() {
            Some(executor) => executor.forget(runs).await,
            // Nothing started here kept anything.
            None => Ok(()),
        }
    }
}
