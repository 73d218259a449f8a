//! The machinery both executors share: a bounded queue served by a fixed
//! number of workers, the registry of live runs, durable transitions,
//! batched log flushing, cancellation from any process, and reconciliation
//! of runs a crashed process left behind.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use chrono::Utc;
use futures::StreamExt;
use futures::stream::BoxStream;
use rat_core::{
    Error, ErrorKind, Executor, LogCursor, LogLevel, LogRecord, LogSink, Project, Result, RunError,
    RunId, RunRecord, RunRequest, RunResult, RunSpec, RunStatus, RunStore, Storage, Transition,
};

use crate::identity::Owner;
use crate::live::LiveRun;
use crate::logs::DEFAULT_LOG_CAPACITY;
use crate::queue::{JobQueue, Refused};

/// Sizing and timing of an executor. In a config file (an executor's
/// section of `rat.yaml`) it is `workers`, `queue` and `per_namespace`;
/// the rest keeps its defaults.
///
/// ```
/// let pool: rat_executor::PoolConfig =
///     serde_yaml_ng::from_str("{workers: 8, per_namespace: 2}").unwrap();
/// assert_eq!((pool.workers, pool.queue, pool.per_namespace), (8, 64, Some(2)));
/// assert!(serde_yaml_ng::from_str::<rat_executor::PoolConfig>("{workers: 0}").is_err());
/// ```
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PoolConfig {
    /// Runs executing at once.
    #[serde(deserialize_with = "rat_core::config::de::count")]
    pub workers: usize,
    /// Runs of one namespace executing at once (no cap when `None`); the
    /// others wait in the queue without holding back other namespaces.
    #[serde(
        deserialize_with = "rat_core::config::de::optional_count",
        skip_serializing_if = "Option::is_none"
    )]
    pub per_namespace: Option<usize>,
    /// Runs waiting beyond those; a submission past it is refused.
    #[serde(deserialize_with = "rat_core::config::de::count")]
    pub queue: usize,
    /// Log lines kept in memory per run.
    #[serde(skip)]
    pub log_capacity: usize,
    /// How long a finished run stays in memory (its record and logs stay
    /// in the store).
    #[serde(skip)]
    pub ttl: Duration,
    /// How often logs are flushed to the store and cancel requests from
    /// other processes are checked.
    #[serde(skip)]
    pub poll_interval: Duration,
    /// The owner recorded on runs; this process on this host
    /// (`pid:PID:START@HOST`, [`crate::Owner`]) when `None`. At start, an
    /// executor takes over the unfinished runs of owners on its own host
    /// that are no longer running, and of names it cannot parse, so a
    /// custom name suits one executor instance per run store, not several.
    /// Runs of owners on other hosts are left to them.
    #[serde(skip)]
    pub owner: Option<String>,
}

impl Default for PoolConfig {
    fn default() -> Self {
        Self {
            workers: 4,
            per_namespace: None,
            queue: 64,
            log_capacity: DEFAULT_LOG_CAPACITY,
            ttl: Duration::from_secs(600),
            poll_interval: Duration::from_millis(100),
            owner: None,
        }
    }
}

/// How a run ended, as the launcher saw it.
#[derive(Debug)]
pub enum Outcome {
    /// The engine reported a result.
    Finished(Box<RunResult>),
    /// The run ended without one (a crashed process, a stopped task...).
    Aborted {
        /// `failed` or `cancelled`.
        status: RunStatus,
        /// Why, for people.
        error: RunError,
    },
}

impl Outcome {
    /// A failure of kind `kind` with `message`.
    pub fn failed(kind: ErrorKind, message: impl Into<String>) -> Self {
        Self::Aborted {
            status: RunStatus::Failed,
            error: RunError::new(kind, message),
        }
    }

    /// Cancelled, with `message`.
    pub fn cancelled(message: impl Into<String>) -> Self {
        Self::Aborted {
            status: RunStatus::Cancelled,
            error: RunError::new(ErrorKind::Cancelled, message),
        }
    }
}

/// Runs one job to its end: in this process, in a child, in a container.
/// A [`Pool`] does the rest: queueing, concurrency caps, records, logs to
/// the store, cancellation from any process, and adoption after a crash.
#[async_trait]
pub trait Launcher: Send + Sync + fmt::Debug + 'static {
    /// The executor name recorded on runs (`local`, `process`, `ecs`).
    const KIND: &'static str;

    /// Executes a run; `live` receives its logs and phases and carries its
    /// cancellation.
    async fn launch(&self, spec: RunSpec, live: Arc<LiveRun>, store: &Arc<dyn RunStore>)
    -> Outcome;

    /// Whether the work of a run whose owner died can be completed from
    /// here: followed while it goes on, or its outcome read if it ended.
    fn can_adopt(&self, record: &RunRecord) -> bool;

    /// Follows an adopted run to its end.
    async fn resume(
        &self,
        record: RunRecord,
        live: Arc<LiveRun>,
        store: &Arc<dyn RunStore>,
    ) -> Outcome;

    /// Drops what the launcher keeps of an ended run whose record was
    /// pruned (see [`Executor::forget`]).
    async fn forget(&self, run: &RunId) -> Result<()> {
        let _ = run;
        Ok(())
    }
}

#[derive(Debug)]
struct Job {
    spec: RunSpec,
    live: Arc<LiveRun>,
    /// What must still hold when a worker takes it up.
    gate: Option<rat_core::StartGate>,
}

/// What workers and the handle share.
#[derive(Debug)]
struct Shared<L> {
    launcher: L,
    store: Arc<dyn RunStore>,
    config: PoolConfig,
    owner: String,
    registry: Mutex<HashMap<RunId, Arc<LiveRun>>>,
    queue: JobQueue<Job>,
}

/// An [`Executor`] made of a launcher `L` and a pool of workers: the
/// executors of this crate and of `rat-cloud-aws` are pools.
#[derive(Debug)]
pub struct Pool<L: Launcher> {
    shared: Arc<Shared<L>>,
    storage: Arc<dyn Storage>,
}

impl<L: Launcher> Drop for Pool<L> {
    /// Idle workers stop; runs under way go on to their end.
    fn drop(&mut self) {
        self.shared.queue.close();
    }
}

impl<L: Launcher> Pool<L> {
    /// Starts the workers, then reconciles runs left by crashed processes.
    /// `storage` holds the pipelines, so submissions are validated before
    /// they are accepted.
    pub async fn start(
        launcher: L,
        store: Arc<dyn RunStore>,
        storage: Arc<dyn Storage>,
        config: PoolConfig,
    ) -> Result<Self> {
        let shared = Arc::new(Shared {
            launcher,
            store,
            owner: config
                .owner
                .clone()
                .unwrap_or_else(|| Owner::current().to_string()),
            registry: Mutex::new(HashMap::new()),
            queue: JobQueue::new(config.queue, config.per_namespace),
            config,
        });
        for _ in 0..shared.config.workers.max(1) {
            let shared = Arc::clone(&shared);
            tokio::spawn(async move {
                while let Some((namespace, job)) = shared.queue.next().await {
                    shared.work(job).await;
                    shared.queue.done(&namespace);
                }
            });
        }
        shared.reconcile().await?;
        Ok(Self { shared, storage })
    }

    /// The launcher.
    pub fn launcher(&self) -> &L {
        &self.shared.launcher
    }

    fn live(&self, run: &RunId) -> Option<Arc<LiveRun>> {
        self.shared.registry().get(run).cloned()
    }
}

impl<L: Launcher> Shared<L> {
    fn registry(&self) -> std::sync::MutexGuard<'_, HashMap<RunId, Arc<LiveRun>>> {
        self.registry.lock().unwrap_or_else(|p| p.into_inner())
    }

    async fn work(self: &Arc<Self>, job: Job) {
        let Job { spec, live, gate } = job;
        let run = spec.run_id.clone();
        let asked_elsewhere = self.store.get(&run).await.is_ok_and(|r| r.cancel_requested);
        if live.cancellation().is_cancelled() || asked_elsewhere {
            self.finish_unstarted(&live).await;
            return;
        }
        if let Some(gate) = gate
            && let Err(refused) = gate.0.admit(&spec.table).await
        {
            live.log(LogLevel::Error, format!("the run may not start: {refused}"));
            let outcome = Outcome::failed(refused.kind(), refused.message().to_owned());
            self.finish(&live, outcome).await;
            return;
        }
        let now = Utc::now();
        let started = Transition::Started {
            at: now,
            owner: self.owner.clone(),
        };
        if let Err(e) = self.store.transition(&run, started).await {
            live.log(LogLevel::Error, format!("cannot start the run: {e}"));
            live.logs.close();
            return;
        }
        live.update(|r| {
            r.status = RunStatus::Running;
            r.started_at = Some(now);
            r.owner = Some(self.owner.clone());
        });
        let watcher = self.watch(&live);
        let outcome = self
            .launcher
            .launch(spec, Arc::clone(&live), &self.store)
            .await;
        watcher.abort();
        self.finish(&live, outcome).await;
    }

    async fn finish_unstarted(self: &Arc<Self>, live: &Arc<LiveRun>) {
        live.log(LogLevel::Info, "run cancelled before it started".into());
        self.finish(live, Outcome::cancelled("cancelled before it started"))
            .await;
    }

    /// While a run is live: flush its logs and phase, honour cancel requests
    /// made through the store by other processes.
    fn watch(self: &Arc<Self>, live: &Arc<LiveRun>) -> tokio::task::JoinHandle<()> {
        let shared = Arc::clone(self);
        let live = Arc::clone(live);
        tokio::spawn(async move {
            let run = live.run_id();
            loop {
                tokio::time::sleep(shared.config.poll_interval).await;
                live.flush(&shared.store).await;
                if !live.cancellation().is_cancelled()
                    && shared
                        .store
                        .get(&run)
                        .await
                        .is_ok_and(|r| r.cancel_requested)
                {
                    live.log(LogLevel::Info, "cancel requested".into());
                    live.cancellation().cancel();
                }
            }
        })
    }

    /// Records how the run ended: the last log lines go to the store, then
    /// the terminal record (store and memory), and only then the log closes,
    /// so a follower that sees the end finds the run ended. The run leaves
    /// memory after the TTL.
    async fn finish(self: &Arc<Self>, live: &Arc<LiveRun>, outcome: Outcome) {
        let run = live.run_id();
        let now = Utc::now();
        let transition = match &outcome {
            Outcome::Finished(result) => Transition::Finished(result.clone()),
            Outcome::Aborted { status, error } => {
                live.log(LogLevel::Error, format!("run {status}: {}", error.message));
                Transition::Aborted {
                    status: *status,
                    error: error.clone(),
                    at: now,
                }
            }
        };
        live.flush(&self.store).await;
        if let Err(e) = self.store.transition(&run, transition).await {
            tracing::warn!("cannot record the end of run {run}: {e}");
        }
        live.update(|r| match outcome {
            Outcome::Finished(result) => {
                r.status = result.status;
                r.phase = Some(result.phase);
                r.finished_at = Some(result.finished_at);
                r.error = result.error.clone();
                r.result = Some(*result);
            }
            Outcome::Aborted { status, error } => {
                r.status = status;
                r.finished_at = Some(now);
                r.error = Some(error);
            }
        });
        live.logs.close();
        let shared = Arc::clone(self);
        tokio::spawn(async move {
            tokio::time::sleep(shared.config.ttl).await;
            shared.registry().remove(&run);
        });
    }

    /// Runs of this executor kind left pending or running by a process that
    /// is gone: adopted when their work still goes on, failed otherwise.
    /// Other kinds are left to their own executors, which alone can tell.
    async fn reconcile(self: &Arc<Self>) -> Result<()> {
        for record in self.store.unfinished().await? {
            if record.executor != L::KIND {
                continue;
            }
            let owner = record
                .owner
                .as_deref()
                .and_then(|o| o.parse::<Owner>().ok());
            match &owner {
                // Another machine's executor: only it can tell.
                Some(owner) if !owner.is_here() => continue,
                Some(owner) if owner.process.is_alive() => continue,
                _ => {}
            }
            let run = record.run_id.clone();
            if self.launcher.can_adopt(&record) {
                let adopted = Transition::Adopted {
                    owner: self.owner.clone(),
                };
                if self.store.transition(&run, adopted).await.is_err() {
                    continue;
                }
                tracing::info!("adopting run {run}, whose executor is gone");
                let live = LiveRun::new(record.clone(), self.config.log_capacity);
                live.mark_flushed(stored_log_end(&self.store, &run).await);
                live.update(|r| r.owner = Some(self.owner.clone()));
                self.registry().insert(run, Arc::clone(&live));
                let shared = Arc::clone(self);
                tokio::spawn(async move {
                    let watcher = shared.watch(&live);
                    let outcome = shared
                        .launcher
                        .resume(record, Arc::clone(&live), &shared.store)
                        .await;
                    watcher.abort();
                    shared.finish(&live, outcome).await;
                });
            } else {
                let error = RunError::new(
                    ErrorKind::Internal,
                    "executor restarted: the process running this run is gone",
                );
                let aborted = Transition::Aborted {
                    status: RunStatus::Failed,
                    error,
                    at: Utc::now(),
                };
                let _ = self.store.transition(&run, aborted).await;
            }
        }
        Ok(())
    }
}

/// The sequence number after the last stored log line of `run`.
async fn stored_log_end(store: &Arc<dyn RunStore>, run: &RunId) -> u64 {
    let mut next = 0;
    loop {
        match store.logs(run, next, 1000).await {
            Ok(lines) if !lines.is_empty() => next = lines.last().map_or(next, |l| l.seq + 1),
            _ => return next,
        }
    }
}

#[async_trait]
impl<L: Launcher> Executor for Pool<L> {
    async fn submit(&self, request: RunRequest) -> Result<RunId> {
        request.limits.validate()?;
        let mut spec = RunSpec::new(request.table);
        spec.limits = request.limits;
        let gate = request.gate;
        // Refuse what cannot run before accepting it.
        Project::load_pipeline(self.storage.as_ref(), &spec.project, &spec.table).await?;
        let permit = self.shared.queue.try_reserve().map_err(|e| match e {
            Refused::Full => Error::new(
                ErrorKind::QueueFull,
                format!(
                    "the run queue is full ({} waiting); try again later",
                    self.shared.config.queue
                ),
            ),
            Refused::Closed => Error::internal("the executor has stopped"),
        })?;
        let mut record = RunRecord::pending(spec.run_id.clone(), spec.table.clone(), L::KIND);
        record.owner = Some(self.shared.owner.clone());
        record.started_by = request.started_by;
        self.shared.store.insert(&record).await?;
        let live = LiveRun::new(record, self.shared.config.log_capacity);
        let run = spec.run_id.clone();
        self.shared
            .registry()
            .insert(run.clone(), Arc::clone(&live));
        permit.send(spec.table.namespace.clone(), Job { spec, live, gate });
        Ok(run)
    }

    async fn status(&self, run: &RunId) -> Result<RunRecord> {
        match self.live(run) {
            Some(live) => Ok(live.snapshot()),
            None => self.shared.store.get(run).await,
        }
    }

    async fn logs(&self, run: &RunId, cursor: LogCursor) -> Result<BoxStream<'static, LogRecord>> {
        if let Some(live) = self.live(run) {
            return Ok(live.logs.follow(cursor));
        }
        self.shared.store.get(run).await?;
        Ok(stored_logs(
            Arc::clone(&self.shared.store),
            run.clone(),
            cursor,
            self.shared.config.poll_interval,
        ))
    }

    async fn cancel(&self, run: &RunId) -> Result<()> {
        if let Some(live) = self.live(run) {
            let status = live.snapshot().status;
            if status.is_terminal() {
                return Err(Error::new(
                    ErrorKind::Conflict,
                    format!("run {run} already ended ({status})"),
                ));
            }
            live.cancellation().cancel();
            let requested = match self.shared.store.request_cancel(run).await {
                Err(e) if e.kind() == ErrorKind::Conflict => Ok(()),
                other => other,
            };
            // A waiting run ends now rather than when a worker frees up.
            if let Some(job) = self.shared.queue.remove(|j| &j.spec.run_id == run) {
                self.shared.finish_unstarted(&job.live).await;
            }
            return requested;
        }
        self.shared.store.request_cancel(run).await
    }

    async fn forget(&self, runs: &[RunId]) -> Result<()> {
        for run in runs {
            if self
                .live(run)
                .is_some_and(|l| !l.snapshot().status.is_terminal())
            {
                continue;
            }
            self.shared.launcher.forget(run).await?;
        }
        Ok(())
    }
}

/// Implements [`Executor`] for an executor type by forwarding to its
/// `pool` field (a [`Pool`]).
#[macro_export]
macro_rules! forward_executor {
    ($executor:ty) => {
        #[$crate::__private::async_trait]
        impl $crate::__private::rat_core::Executor for $executor {
            async fn submit(
                &self,
                request: $crate::__private::rat_core::RunRequest,
            ) -> $crate::__private::rat_core::Result<$crate::__private::rat_core::RunId> {
                self.pool.submit(request).await
            }

            async fn status(
                &self,
                run: &$crate::__private::rat_core::RunId,
            ) -> $crate::__private::rat_core::Result<$crate::__private::rat_core::RunRecord> {
                self.pool.status(run).await
            }

            async fn logs(
                &self,
                run: &$crate::__private::rat_core::RunId,
                cursor: $crate::__private::rat_core::LogCursor,
            ) -> $crate::__private::rat_core::Result<
                $crate::__private::futures::stream::BoxStream<
                    'static,
                    $crate::__private::rat_core::LogRecord,
                >,
            > {
                self.pool.logs(run, cursor).await
            }

            async fn cancel(
                &self,
                run: &$crate::__private::rat_core::RunId,
            ) -> $crate::__private::rat_core::Result<()> {
                self.pool.cancel(run).await
            }

            async fn forget(
                &self,
                runs: &[$crate::__private::rat_core::RunId],
            ) -> $crate::__private::rat_core::Result<()> {
                self.pool.forget(runs).await
            }
        }
    };
}

/// Logs of a run read from a [`RunStore`] (for runs another process holds,
/// or that ended): from `cursor.from_seq`, and when following, polled every
/// `poll` until the run ends.
pub fn stored_logs(
    store: Arc<dyn RunStore>,
    run: RunId,
    cursor: LogCursor,
    poll: Duration,
) -> BoxStream<'static, LogRecord> {
    futures::stream::unfold(
        (store, run, cursor.from_seq, false),
        move |(store, run, next, ending)| async move {
            loop {
                let lines = store.logs(&run, next, 500).await.ok()?;
                if let Some(last) = lines.last() {
                    let next = last.seq + 1;
                    return Some((lines, (store, run, next, ending)));
                }
                if ending || !cursor.follow {
                    return None;
                }
                // One more read after the run ends picks up its last lines.
                let ended = store
                    .get(&run)
                    .await
                    .map_or(true, |r| r.status.is_terminal());
                if ended {
                    let lines = store.logs(&run, next, 500).await.ok()?;
                    let next = lines.last().map_or(next, |l| l.seq + 1);
                    return (!lines.is_empty()).then_some((lines, (store, run, next, true)));
                }
                tokio::time::sleep(poll).await;
            }
        },
    )
    .flat_map(futures::stream::iter)
    .boxed()
}
