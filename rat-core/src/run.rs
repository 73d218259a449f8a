//! The run model: what a run is, how far it got, and what it produced.

use std::fmt;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::error::{Error, ErrorKind};
use crate::ident::{RunId, TableRef};
use crate::project::{MergeStrategy, ProjectSource, Severity};

/// Lifecycle state of a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "json-schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "lowercase")]
pub enum RunStatus {
    /// Accepted, waiting for a worker.
    Pending,
    /// Executing.
    Running,
    /// Published (or nothing to publish) with no error-severity failure.
    Success,
    /// Ended with an error; `main` unchanged.
    Failed,
    /// Stopped on request; `main` unchanged.
    Cancelled,
}

impl RunStatus {
    /// Whether the run has ended.
    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            RunStatus::Success | RunStatus::Failed | RunStatus::Cancelled
        )
    }

    /// Lowercase name.
    pub fn as_str(self) -> &'static str {
        match self {
            RunStatus::Pending => "pending",
            RunStatus::Running => "running",
            RunStatus::Success => "success",
            RunStatus::Failed => "failed",
            RunStatus::Cancelled => "cancelled",
        }
    }
}

impl fmt::Display for RunStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// ```
/// use rat_core::RunStatus;
/// assert_eq!("failed".parse::<RunStatus>().unwrap(), RunStatus::Failed);
/// assert!("done".parse::<RunStatus>().unwrap_err().to_string().contains("'done'"));
/// ```
impl std::str::FromStr for RunStatus {
    type Err = Error;
    fn from_str(s: &str) -> std::result::Result<Self, Error> {
        [
            RunStatus::Pending,
            RunStatus::Running,
            RunStatus::Success,
            RunStatus::Failed,
            RunStatus::Cancelled,
        ]
        .into_iter()
        .find(|status| status.as_str() == s)
        .ok_or_else(|| {
            Error::invalid(format!(
                "unknown status '{}': expected pending, running, success, failed or cancelled",
                s.escape_default()
            ))
        })
    }
}

/// The phases of a run, in order (ARCHITECTURE.md, "A run, phase by phase").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "json-schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "lowercase")]
pub enum Phase {
    /// Load and validate the pipeline.
    Load,
    /// Render the template and resolve `ref()`s.
    Compile,
    /// Run the SQL and write data files.
    Execute,
    /// Commit a snapshot to the run's branch.
    Write,
    /// Run quality tests against the branch.
    Test,
    /// Fast-forward `main` and remove the branch.
    Publish,
}

impl Phase {
    /// Every phase, in the order a run goes through them.
    pub const ALL: [Phase; 6] = [
        Phase::Load,
        Phase::Compile,
        Phase::Execute,
        Phase::Write,
        Phase::Test,
        Phase::Publish,
    ];
}

impl fmt::Display for Phase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = match self {
            Phase::Load => "load",
            Phase::Compile => "compile",
            Phase::Execute => "execute",
            Phase::Write => "write",
            Phase::Test => "test",
            Phase::Publish => "publish",
        };
        f.write_str(name)
    }
}

/// How long one phase took.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "json-schema", derive(schemars::JsonSchema))]
pub struct PhaseTiming {
    /// The phase.
    pub phase: Phase,
    /// Wall-clock milliseconds.
    pub millis: u64,
}

/// What the engine needs to run one pipeline.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunSpec {
    /// The run's id (also names its branch, `run-<id>`).
    pub run_id: RunId,
    /// The pipeline to run, by its table.
    pub table: TableRef,
    /// Where the pipeline's project lives in storage.
    pub project: ProjectSource,
    /// Resource limits of this run.
    #[serde(default)]
    pub limits: crate::config::RunLimits,
}

impl RunSpec {
    /// A spec for `table` with a fresh run id, in the embedded layout when
    /// the table is in the `default` namespace, the namespaced one otherwise.
    pub fn new(table: TableRef) -> Self {
        let project = ProjectSource::of(&table.namespace);
        Self {
            run_id: RunId::generate(),
            table,
            project,
            limits: Default::default(),
        }
    }
}

/// Outcome of one quality test.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "json-schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "lowercase")]
pub enum TestOutcome {
    /// No violating rows.
    Passed,
    /// Violating rows found.
    Failed,
    /// The query errored or timed out (counts as failed).
    Errored,
}

/// Up to three violating rows, every cell cut to 40 characters.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "json-schema", derive(schemars::JsonSchema))]
pub struct SampleRows {
    /// Column names.
    pub columns: Vec<String>,
    /// Rows; `None` is SQL NULL.
    pub rows: Vec<Vec<Option<String>>>,
}

/// Maximum sample rows kept per failed test.
pub const MAX_SAMPLE_ROWS: usize = 3;
/// Maximum characters kept per sample cell.
pub const MAX_SAMPLE_CELL_CHARS: usize = 40;

/// Result of one quality test.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "json-schema", derive(schemars::JsonSchema))]
pub struct QualityResult {
    /// Test name (file stem).
    pub name: String,
    /// Test file key.
    pub file: String,
    /// Severity.
    pub severity: Severity,
    /// Outcome.
    pub outcome: TestOutcome,
    /// Number of violating rows (0 when errored).
    pub violations: u64,
    /// Sample violating rows.
    pub sample: SampleRows,
    /// Error or timeout message when errored.
    pub message: Option<String>,
    /// Description from the test header.
    pub description: Option<String>,
    /// Remediation from the test header.
    pub remediation: Option<String>,
    /// Milliseconds spent.
    pub millis: u64,
}

impl QualityResult {
    /// Whether this result blocks publication.
    pub fn blocks(&self) -> bool {
        self.severity == Severity::Error && self.outcome != TestOutcome::Passed
    }
}

/// The error a run ended with, in a serializable form.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "json-schema", derive(schemars::JsonSchema))]
pub struct RunError {
    /// Error kind name (`invalid_input`, `query`, `quality_gate`...).
    pub kind: String,
    /// Full message with context.
    pub message: String,
    /// The file involved, when known.
    pub file: Option<String>,
}

impl RunError {
    /// An error that has no [`Error`] value behind it (a crashed process...).
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Self {
            kind: kind.as_str().to_owned(),
            message: message.into(),
            file: None,
        }
    }

    /// The kind it names ([`ErrorKind::Internal`] for a name this version
    /// does not know).
    pub fn error_kind(&self) -> ErrorKind {
        ErrorKind::from_name(&self.kind).unwrap_or(ErrorKind::Internal)
    }
}

impl From<&Error> for RunError {
    fn from(err: &Error) -> Self {
        Self {
            kind: err.kind().as_str().to_owned(),
            message: err.to_string(),
            file: err.context("file").map(str::to_owned),
        }
    }
}

/// What a run produced.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "json-schema", derive(schemars::JsonSchema))]
pub struct RunResult {
    /// The run.
    pub run_id: RunId,
    /// The pipeline's table.
    pub table: TableRef,
    /// Final status.
    pub status: RunStatus,
    /// The last phase entered.
    pub phase: Phase,
    /// The effective merge strategy, once the pipeline loaded.
    pub strategy: Option<MergeStrategy>,
    /// Start time.
    pub started_at: DateTime<Utc>,
    /// End time.
    pub finished_at: DateTime<Utc>,
    /// Time per phase.
    pub timings: Vec<PhaseTiming>,
    /// Rows in the data files this run wrote.
    pub rows_written: u64,
    /// Snapshot of `main` when the run started (None: table did not exist).
    pub base_snapshot_id: Option<i64>,
    /// The snapshot this run committed (published to `main` on success).
    pub snapshot_id: Option<i64>,
    /// Quality test results.
    pub quality: Vec<QualityResult>,
    /// Warnings (unknown settings, failed warn-severity tests...).
    pub warnings: Vec<String>,
    /// The error, when failed or cancelled.
    pub error: Option<RunError>,
}

impl RunResult {
    /// The result of a run that failed before its pipeline loaded (its
    /// engine could not be set up): `err`, nothing written.
    pub fn not_started(spec: &RunSpec, err: &Error) -> Self {
        let now = Utc::now();
        Self {
            run_id: spec.run_id.clone(),
            table: spec.table.clone(),
            status: Self::status_for(err),
            phase: Phase::Load,
            strategy: None,
            started_at: now,
            finished_at: now,
            timings: Vec::new(),
            rows_written: 0,
            base_snapshot_id: None,
            snapshot_id: None,
            quality: Vec::new(),
            warnings: Vec::new(),
            error: Some(err.into()),
        }
    }

    /// Wall-clock milliseconds from start to end.
    pub fn millis(&self) -> u64 {
        (self.finished_at - self.started_at)
            .num_milliseconds()
            .max(0)
            .unsigned_abs()
    }

    /// The status an error of this kind ends a run with.
    pub fn status_for(err: &Error) -> RunStatus {
        if err.kind() == ErrorKind::Cancelled {
            RunStatus::Cancelled
        } else {
            RunStatus::Failed
        }
    }
}

/// Severity of a log record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "json-schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "lowercase")]
pub enum LogLevel {
    /// Details.
    Debug,
    /// Progress.
    Info,
    /// Something the user should look at.
    Warn,
    /// A failure.
    Error,
}

/// One line of a run's log.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "json-schema", derive(schemars::JsonSchema))]
pub struct LogRecord {
    /// Position in the run's log, from 0, without gaps.
    pub seq: u64,
    /// When it was emitted.
    pub at: DateTime<Utc>,
    /// Severity.
    pub level: LogLevel,
    /// The message.
    pub message: String,
}

impl LogRecord {
    /// Line `seq`, stamped now — to the microsecond, as precise as run
    /// stores keep it, so a line reads the same from a live buffer and from
    /// the store.
    pub fn now(seq: u64, level: LogLevel, message: String) -> Self {
        use chrono::SubsecRound;
        Self {
            seq,
            at: Utc::now().trunc_subsecs(6),
            level,
            message,
        }
    }
}

/// Receives a run's log lines as they happen.
pub trait LogSink: Send + Sync + fmt::Debug {
    /// Records one line.
    fn log(&self, level: LogLevel, message: String);

    /// Notes that the run entered `phase` (for status displays).
    fn phase(&self, phase: Phase) {
        let _ = phase;
    }
}

/// A sink that forwards to `tracing` (for embedding without an executor).
#[derive(Debug, Default, Clone, Copy)]
pub struct TracingLogSink;

impl LogSink for TracingLogSink {
    fn log(&self, level: LogLevel, message: String) {
        match level {
            LogLevel::Debug => tracing::debug!("{message}"),
            LogLevel::Info => tracing::info!("{message}"),
            LogLevel::Warn => tracing::warn!("{message}"),
            LogLevel::Error => tracing::error!("{message}"),
        }
    }
}

/// A sink that keeps the lines, numbered from 0 (a dry run's log, which
/// no run store holds).
///
/// ```
/// use rat_core::{LogLevel, LogSink, MemoryLogSink};
///
/// let sink = MemoryLogSink::default();
/// sink.log(LogLevel::Info, "compiled".into());
/// let lines = sink.records();
/// assert_eq!((lines[0].seq, lines[0].message.as_str()), (0, "compiled"));
/// ```
#[derive(Debug, Default, Clone)]
pub struct MemoryLogSink {
    lines: Arc<std::sync::Mutex<Vec<LogRecord>>>,
}

impl MemoryLogSink {
    /// The lines so far.
    pub fn records(&self) -> Vec<LogRecord> {
        self.lines.lock().map(|l| l.clone()).unwrap_or_default()
    }
}

impl LogSink for MemoryLogSink {
    fn log(&self, level: LogLevel, message: String) {
        if let Ok(mut lines) = self.lines.lock() {
            let seq = lines.len() as u64;
            lines.push(LogRecord::now(seq, level, message));
        }
    }
}

/// Shared handle to a sink.
pub type SharedLogSink = Arc<dyn LogSink>;
