//! The machinery both executors share: a bounded queue served by a fixed
//! number of workers, the registry of live runs, durable transitions,
//! batched log flushing, cancellation from any process, and reconciliation
//! of runs a crashed process left behind.

use std::collections::HashMap;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use chrono::Utc;
use futures::StreamExt;
use futures::stream::BoxStream;
use rat_core::{
    Error, ErrorKind, Executor, LogCursor, LogLevel, LogRecord, LogSink, Phase, Project, Result,
    RunError, RunId, RunRecord, RunRequest, RunResult, RunSpec, RunStatus, RunStore, Storage,
    Transition,
};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::identity::ProcessId;
use crate::logs::{DEFAULT_LOG_CAPACITY, LogBuffer};

/// Sizing and timing of an executor.
#[derive(Debug, Clone)]
pub struct PoolConfig {
    /// Runs executing at once.
    pub workers: usize,
    /// Runs waiting beyond those; a submission past it is refused.
    pub queue: usize,
    /// Log lines kept in memory per run.
    pub log_capacity: usize,
    /// How long a finished run stays in memory (its record and logs stay
    /// in the store).
    pub ttl: Duration,
    /// How often logs are flushed to the store and cancel requests from
    /// other processes are checked.
    pub poll_interval: Duration,
}

impl Default for PoolConfig {
    fn default() -> Self {
        Self {
            workers: 4,
            queue: 64,
            log_capacity: DEFAULT_LOG_CAPACITY,
            ttl: Duration::from_secs(600),
            poll_interval: Duration::from_millis(100),
        }
    }
}

/// How a run ended, as the launcher saw it.
#[derive(Debug)]
pub(crate) enum Outcome {
    /// The engine reported a result.
    Finished(Box<RunResult>),
    /// The run ended without one (a crashed process...).
    Aborted { status: RunStatus, error: RunError },
}

/// Runs one job to its end: in this process or in a child.
#[async_trait]
pub(crate) trait Launcher: Send + Sync + fmt::Debug + 'static {
    /// The executor name recorded on runs (`local`, `process`).
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
}

/// A run this process is executing or recently executed.
#[derive(Debug)]
pub(crate) struct LiveRun {
    pub(crate) record: Mutex<RunRecord>,
    pub(crate) cancel: CancellationToken,
    pub(crate) logs: Arc<LogBuffer>,
    /// Log lines before this sequence number are in the store.
    flushed: AtomicU64,
    /// Last phase written to the store.
    stored_phase: Mutex<Option<Phase>>,
}

impl LiveRun {
    fn new(record: RunRecord, log_capacity: usize) -> Arc<Self> {
        let stored_phase = record.phase;
        Arc::new(Self {
            record: Mutex::new(record),
            cancel: CancellationToken::new(),
            logs: LogBuffer::new(log_capacity),
            flushed: AtomicU64::new(0),
            stored_phase: Mutex::new(stored_phase),
        })
    }

    pub(crate) fn snapshot(&self) -> RunRecord {
        self.record
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    fn update(&self, f: impl FnOnce(&mut RunRecord)) {
        f(&mut self.record.lock().unwrap_or_else(|p| p.into_inner()));
    }

    /// Records the executor's handle on the work, here and in the store.
    pub(crate) async fn set_handle(&self, handle: String, store: &Arc<dyn RunStore>) {
        self.update(|r| r.handle = Some(handle.clone()));
        let run = self.run_id();
        if let Err(e) = store.transition(&run, Transition::Handle(handle)).await {
            tracing::warn!("cannot record the handle of run {run}: {e}");
        }
    }

    pub(crate) fn run_id(&self) -> RunId {
        self.snapshot().run_id
    }

    /// Writes new log lines and a changed phase to the store.
    async fn flush(&self, store: &Arc<dyn RunStore>) {
        let from = self.flushed.load(Ordering::SeqCst);
        let (lines, _) = self.logs.since(from);
        let run = self.run_id();
        if let Some(last) = lines.last() {
            let next = last.seq + 1;
            match store.append_logs(&run, &lines).await {
                Ok(()) => self.flushed.store(next, Ordering::SeqCst),
                Err(e) => tracing::warn!("cannot store logs of run {run}: {e}"),
            }
        }
        let phase = self.snapshot().phase;
        let changed = {
            let mut stored = self.stored_phase.lock().unwrap_or_else(|p| p.into_inner());
            let changed = *stored != phase;
            *stored = phase;
            changed
        };
        if let (true, Some(phase)) = (changed, phase) {
            let _ = store.transition(&run, Transition::Phase(phase)).await;
        }
    }
}

impl LogSink for LiveRun {
    fn log(&self, level: LogLevel, message: String) {
        self.logs.push(level, message);
    }

    fn phase(&self, phase: Phase) {
        self.update(|r| r.phase = Some(phase));
    }
}

struct Job {
    spec: RunSpec,
    live: Arc<LiveRun>,
}

/// What workers and the handle share.
#[derive(Debug)]
struct Shared<L> {
    launcher: L,
    store: Arc<dyn RunStore>,
    config: PoolConfig,
    owner: String,
    registry: Mutex<HashMap<RunId, Arc<LiveRun>>>,
}

/// A pool of workers running jobs with launcher `L`.
#[derive(Debug)]
pub(crate) struct Pool<L> {
    shared: Arc<Shared<L>>,
    storage: Arc<dyn Storage>,
    queue: mpsc::Sender<Job>,
}

impl<L: Launcher> Pool<L> {
    /// Starts the workers, then reconciles runs left by crashed processes.
    pub(crate) async fn start(
        launcher: L,
        store: Arc<dyn RunStore>,
        storage: Arc<dyn Storage>,
        config: PoolConfig,
    ) -> Result<Self> {
        let (queue, receiver) = mpsc::channel::<Job>(config.queue.max(1));
        let shared = Arc::new(Shared {
            launcher,
            store,
            owner: ProcessId::current().to_string(),
            registry: Mutex::new(HashMap::new()),
            config,
        });
        let receiver = Arc::new(tokio::sync::Mutex::new(receiver));
        for _ in 0..shared.config.workers.max(1) {
            let shared = Arc::clone(&shared);
            let receiver = Arc::clone(&receiver);
            tokio::spawn(async move {
                loop {
                    let job = receiver.lock().await.recv().await;
                    let Some(job) = job else { break };
                    shared.work(job).await;
                }
            });
        }
        shared.reconcile().await?;
        Ok(Self {
            shared,
            storage,
            queue,
        })
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
        let Job { spec, live } = job;
        let run = spec.run_id.clone();
        let asked_elsewhere = self.store.get(&run).await.is_ok_and(|r| r.cancel_requested);
        if live.cancel.is_cancelled() || asked_elsewhere {
            live.log(LogLevel::Info, "run cancelled before it started".into());
            let error = RunError::new(ErrorKind::Cancelled, "cancelled before it started");
            self.finish(
                &live,
                Outcome::Aborted {
                    status: RunStatus::Cancelled,
                    error,
                },
            )
            .await;
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
                if !live.cancel.is_cancelled()
                    && shared
                        .store
                        .get(&run)
                        .await
                        .is_ok_and(|r| r.cancel_requested)
                {
                    live.log(LogLevel::Info, "cancel requested".into());
                    live.cancel.cancel();
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
            let owner_alive = record
                .owner
                .as_deref()
                .and_then(|o| o.parse::<ProcessId>().ok())
                .is_some_and(|o| o.is_alive());
            if owner_alive {
                continue;
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
                live.flushed
                    .store(stored_log_end(&self.store, &run).await, Ordering::SeqCst);
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
        // Refuse what cannot run before accepting it.
        Project::load_pipeline(self.storage.as_ref(), &spec.project, &spec.table).await?;
        let permit = self.queue.try_reserve().map_err(|e| match e {
            mpsc::error::TrySendError::Full(()) => Error::new(
                ErrorKind::QueueFull,
                format!(
                    "the run queue is full ({} waiting); try again later",
                    self.shared.config.queue
                ),
            ),
            mpsc::error::TrySendError::Closed(()) => Error::internal("the executor has stopped"),
        })?;
        let mut record = RunRecord::pending(spec.run_id.clone(), spec.table.clone(), L::KIND);
        record.owner = Some(self.shared.owner.clone());
        self.shared.store.insert(&record).await?;
        let live = LiveRun::new(record, self.shared.config.log_capacity);
        let run = spec.run_id.clone();
        self.shared
            .registry()
            .insert(run.clone(), Arc::clone(&live));
        permit.send(Job { spec, live });
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
            live.cancel.cancel();
            return match self.shared.store.request_cancel(run).await {
                Err(e) if e.kind() == ErrorKind::Conflict => Ok(()),
                other => other,
            };
        }
        self.shared.store.request_cancel(run).await
    }
}

/// Implements [`Executor`] for a public executor type by forwarding to its
/// `pool` field.
macro_rules! forward_executor {
    ($executor:ty) => {
        #[async_trait::async_trait]
        impl rat_core::Executor for $executor {
            async fn submit(
                &self,
                request: rat_core::RunRequest,
            ) -> rat_core::Result<rat_core::RunId> {
                self.pool.submit(request).await
            }

            async fn status(&self, run: &rat_core::RunId) -> rat_core::Result<rat_core::RunRecord> {
                self.pool.status(run).await
            }

            async fn logs(
                &self,
                run: &rat_core::RunId,
                cursor: rat_core::LogCursor,
            ) -> rat_core::Result<futures::stream::BoxStream<'static, rat_core::LogRecord>> {
                self.pool.logs(run, cursor).await
            }

            async fn cancel(&self, run: &rat_core::RunId) -> rat_core::Result<()> {
                self.pool.cancel(run).await
            }
        }
    };
}
pub(crate) use forward_executor;

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
