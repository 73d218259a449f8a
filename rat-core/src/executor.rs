//! The [`Executor`] trait: submit runs, watch them, follow their logs,
//! cancel them — the same way in-process, per process or on ECS.

use std::fmt;

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
}

impl RunRequest {
    /// A request to run the pipeline producing `table`.
    pub fn pipeline(table: TableRef) -> Self {
        Self { table }
    }
}

/// What an executor knows about a run at a moment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
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
    /// The full result once terminal.
    pub result: Option<RunResult>,
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
}
