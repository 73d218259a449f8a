//! The [`RunStore`] trait: durable run records and logs, so runs and their
//! logs survive the process that executed them.

use std::fmt;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::error::Result;
use crate::executor::RunRecord;
use crate::ident::{Identifier, Layer, RunId, TableRef};
use crate::maintenance::RunRetention;
use crate::run::{LogRecord, Phase, RunError, RunResult, RunStatus};

/// How many records a [`RunFilter`] without a limit returns.
pub const DEFAULT_RUN_LIST: u32 = 100;

/// The error of a run that is not there, the same from every store (and
/// from a platform hiding the run from its caller).
pub fn run_not_found(run: &RunId) -> crate::Error {
    crate::Error::not_found(format!("no run {run}"))
}

/// Which runs to list.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunFilter {
    /// Only this table.
    pub table: Option<TableRef>,
    /// Only tables of this namespace.
    pub namespace: Option<Identifier>,
    /// Only tables of this layer.
    pub layer: Option<Layer>,
    /// Only these statuses (any when empty).
    pub statuses: Vec<RunStatus>,
    /// Only runs submitted at this time or later.
    pub since: Option<DateTime<Utc>>,
    /// Only runs submitted before this time.
    pub until: Option<DateTime<Utc>>,
    /// At most this many, newest first (a store default when `None`).
    pub limit: Option<u32>,
    /// Skip this many of the newest.
    pub offset: u32,
}

impl RunFilter {
    /// A bound of the time range ([`since`](Self::since),
    /// [`until`](Self::until)) from user input: an RFC 3339 time or a date,
    /// meaning its midnight UTC; the error names `field`.
    ///
    /// ```
    /// use rat_core::RunFilter;
    ///
    /// let at = RunFilter::parse_time("since", "2026-03-01").unwrap();
    /// assert_eq!(at.to_rfc3339(), "2026-03-01T00:00:00+00:00");
    /// let at = RunFilter::parse_time("since", "2026-03-01T12:00:00+02:00").unwrap();
    /// assert_eq!(at.to_rfc3339(), "2026-03-01T10:00:00+00:00");
    /// let error = RunFilter::parse_time("until", "yesterday").unwrap_err();
    /// assert!(error.to_string().contains("'yesterday'"));
    /// ```
    pub fn parse_time(field: &str, text: &str) -> Result<DateTime<Utc>> {
        let text = text.trim();
        if let Ok(at) = DateTime::parse_from_rfc3339(text) {
            return Ok(at.with_timezone(&Utc));
        }
        match chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d") {
            Ok(day) => Ok(day.and_time(chrono::NaiveTime::MIN).and_utc()),
            Err(_) => Err(crate::Error::invalid(format!(
                "'{}' is not a time: expected an RFC 3339 time such as \
                 2026-03-01T12:00:00Z, or a date such as 2026-03-01",
                text.escape_default()
            ))
            .with_context("field", field)),
        }
    }

    /// A SQL `LIKE` pattern (escape character: backslash) matching the
    /// `namespace.layer.name` of the tables the namespace and layer
    /// filters admit; `None` when neither is set. Identifiers hold no `.`,
    /// so `%.layer.%` can only match the layer.
    pub fn table_pattern(&self) -> Option<String> {
        if self.namespace.is_none() && self.layer.is_none() {
            return None;
        }
        let escape = |s: &str| s.replace('_', "\\_");
        let namespace = self
            .namespace
            .as_ref()
            .map_or("%".to_owned(), |n| escape(n.as_str()));
        let layer = self.layer.map_or("%".to_owned(), |l| escape(l.as_str()));
        Some(format!("{namespace}.{layer}.%"))
    }
}

/// A status change, with what changes along with it.
#[derive(Debug, Clone, PartialEq)]
pub enum Transition {
    /// A worker started the run, in process `owner`.
    Started {
        /// When.
        at: DateTime<Utc>,
        /// `pid:start` of the owning process.
        owner: String,
    },
    /// The run entered a phase.
    Phase(Phase),
    /// The executor's handle on the work (a child process, a task ARN).
    Handle(String),
    /// Another process adopted the run after its owner died.
    Adopted {
        /// `pid:start` of the new owner.
        owner: String,
    },
    /// The run ended with the engine's result.
    Finished(Box<RunResult>),
    /// The run ended without an engine result (crash, restart, timeout).
    Aborted {
        /// `failed` or `cancelled`.
        status: RunStatus,
        /// Why.
        error: RunError,
        /// When.
        at: DateTime<Utc>,
    },
}

/// Durable run records and their logs.
///
/// Implementations: `rat_executor::SqliteRunStore` (embedded), PostgreSQL
/// later. A record is inserted before a run is dispatched; every transition
/// is written as it happens; logs are appended in batches and kept bounded.
#[async_trait]
pub trait RunStore: Send + Sync + fmt::Debug {
    /// Inserts a new (pending) record.
    async fn insert(&self, record: &RunRecord) -> Result<()>;

    /// Applies a transition. Transitions of a terminal run are refused with
    /// [`ErrorKind::Conflict`](crate::ErrorKind::Conflict), so a run ends once.
    async fn transition(&self, run: &RunId, transition: Transition) -> Result<()>;

    /// Marks a cancel request; [`ErrorKind::Conflict`](crate::ErrorKind::Conflict)
    /// when the run already ended.
    async fn request_cancel(&self, run: &RunId) -> Result<()>;

    /// Deletes a record that was never dispatched (a refused submission).
    async fn forget(&self, run: &RunId) -> Result<()>;

    /// One record; [`ErrorKind::NotFound`](crate::ErrorKind::NotFound) when unknown.
    async fn get(&self, run: &RunId) -> Result<RunRecord>;

    /// Records matching `filter`, newest first.
    async fn list(&self, filter: &RunFilter) -> Result<Vec<RunRecord>>;

    /// Records that are pending or running (for reconciliation on start).
    async fn unfinished(&self) -> Result<Vec<RunRecord>>;

    /// Runs that ended after `after` (their finish time, then their id:
    /// `""` is before every id), in that order: at most `limit`. How a
    /// notifier follows runs as they end.
    async fn finished_after(
        &self,
        after: Option<(DateTime<Utc>, &str)>,
        limit: u32,
    ) -> Result<Vec<RunRecord>>;

    /// Appends log lines (ignoring ones already stored); the store keeps at
    /// most its bound per run, dropping the oldest.
    async fn append_logs(&self, run: &RunId, records: &[LogRecord]) -> Result<()>;

    /// Stored log lines from `from_seq`, in order, at most `limit`.
    async fn logs(&self, run: &RunId, from_seq: u64, limit: u32) -> Result<Vec<LogRecord>>;

    /// Applies `retention` as of `now`: deletes ended runs beyond the newest
    /// `keep_runs` of their pipeline, with their logs, and the logs of ended
    /// runs that finished before `now - log_retention`. Runs still pending
    /// or running are never touched. Returns the runs deleted, so their
    /// executor can remove what it keeps of them (run folders).
    async fn prune(&self, retention: &RunRetention, now: DateTime<Utc>) -> Result<Vec<RunId>>;
}
