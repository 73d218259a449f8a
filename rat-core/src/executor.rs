//! The [`Executor`] trait: submit runs, watch them, follow their logs,
//! cancel them — the same way in-process, per process or on ECS.

use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use futures::stream::BoxStream;
use serde::{Deserialize, Serialize};

use crate::error::Result;
use crate::ident::{RunId, TableRef};
use crate::run::{LogRecord, Phase, RunResult, RunStatus};

/// A request to run one pipeline.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunRequest {
    /// The pipeline, by its table.
    pub table: TableRef,
    /// Resource limits for the run.
    #[serde(default)]
    pub limits: crate::config::RunLimits,
    /// Who the run acts for (a user, or a schedule's owner), recorded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_by: Option<String>,
    /// What must still hold when a worker takes the run up.
    #[serde(skip)]
    pub gate: Option<StartGate>,
}

impl RunRequest {
    /// A request to run the pipeline producing `table`, without limits.
    pub fn pipeline(table: TableRef) -> Self {
        Self {
            table,
            limits: Default::default(),
            started_by: None,
            gate: None,
        }
    }

    /// The same request with `limits`.
    pub fn with_limits(mut self, limits: crate::config::RunLimits) -> Self {
        self.limits = limits;
        self
    }

    /// The same request acting for `principal`, started only if `gate`
    /// still admits it when a worker takes it up.
    pub fn acting_for(mut self, principal: &str, gate: Arc<dyn RunGate>) -> Self {
        self.started_by = Some(principal.to_owned());
        self.gate = Some(StartGate(gate));
        self
    }
}

/// Decides, when a worker takes a run up, whether it may still start (for
/// example: may whom it acts for still read what it reads). A refusal
/// fails the run before it reads or writes anything.
#[async_trait]
pub trait RunGate: Send + Sync + fmt::Debug {
    /// `Ok` when the run of `table` may start now.
    async fn admit(&self, table: &TableRef) -> Result<()>;
}

/// A [`RunGate`] a request carries (never serialized: it lives in the
/// process that accepted the request).
#[derive(Clone, Debug)]
pub struct StartGate(pub Arc<dyn RunGate>);

impl PartialEq for StartGate {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

impl Eq for StartGate {}

/// What is known about a run at a moment: the durable record an executor
/// keeps in its [`RunStore`](crate::RunStore).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "json-schema", derive(schemars::JsonSchema))]
pub struct RunRecord {
    /// The run.
    pub run_id: RunId,
    /// The pipeline's table.
    pub table: TableRef,
    /// Current status.
    pub status: RunStatus,
    /// Last phase entered, once running.
    pub phase: Option<Phase>,
    /// When it was accepted.
    pub submitted_at: DateTime<Utc>,
    /// When a worker started it.
    pub started_at: Option<DateTime<Utc>>,
    /// When it ended.
    pub finished_at: Option<DateTime<Utc>>,
    /// Which executor runs it (`local`, `process`, `ecs`...).
    pub executor: String,
    /// The process owning the run while it is not terminal (`pid:start`),
    /// so a restarted executor can tell a crashed owner from a live one.
    pub owner: Option<String>,
    /// Executor-specific handle of the running work (a child's `pid:start`,
    /// an ECS task ARN...).
    pub handle: Option<String>,
    /// Whether a cancel was requested (honoured by the owner).
    pub cancel_requested: bool,
    /// Why the run failed or was cancelled.
    pub error: Option<crate::run::RunError>,
    /// The full result once the engine reported one.
    pub result: Option<RunResult>,
    /// Who the run acts for: the principal that submitted it, or the
    /// owner of the schedule that fired it.
    #[serde(default)]
    pub started_by: Option<String>,
}

impl RunRecord {
    /// A new pending record.
    pub fn pending(run_id: RunId, table: TableRef, executor: &str) -> Self {
        Self {
            run_id,
            table,
            status: RunStatus::Pending,
            phase: None,
            submitted_at: Utc::now(),
            started_at: None,
            finished_at: None,
            executor: executor.to_owned(),
            owner: None,
            handle: None,
            cancel_requested: false,
            error: None,
            result: None,
            started_by: None,
        }
    }
}

/// Where a log stream starts and whether it keeps following.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct LogCursor {
    /// First sequence number wanted (0 = from the beginning).
    pub from_seq: u64,
    /// Keep the stream open for new lines until the run ends.
    pub follow: bool,
}

/// Dispatches runs. Implementations: a local warm pool, a process per run,
/// ECS Fargate tasks (later issues).
#[async_trait]
pub trait Executor: Send + Sync + fmt::Debug {
    /// Validates and accepts a run, returning its id quickly. A full queue
    /// is [`ErrorKind::QueueFull`](crate::ErrorKind::QueueFull).
    async fn submit(&self, request: RunRequest) -> Result<RunId>;

    /// The run's current record.
    async fn status(&self, run: &RunId) -> Result<RunRecord>;

    /// The run's log lines from `cursor`, in order, without gaps.
    async fn logs(&self, run: &RunId, cursor: LogCursor) -> Result<BoxStream<'static, LogRecord>>;

    /// Asks the run to stop. Cancelling a finished run is
    /// [`ErrorKind::Conflict`](crate::ErrorKind::Conflict).
    async fn cancel(&self, run: &RunId) -> Result<()>;

    /// The records of these ended runs were pruned
    /// ([`RunStore::prune`](crate::RunStore::prune)): drops whatever the
    /// executor still keeps of them (a process executor's run folders).
    /// Nothing kept is not an error.
    async fn forget(&self, runs: &[RunId]) -> Result<()> {
        let _ = runs;
        Ok(())
    }
}
