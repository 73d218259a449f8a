//! The engine trait executors drive: run one pipeline, start to end.

use std::fmt;

use async_trait::async_trait;
use tokio_util::sync::CancellationToken;

use crate::run::{RunResult, RunSpec, SharedLogSink};

/// What an executor hands the engine besides the spec: a way to ask it to
/// stop and a place for its log lines.
#[derive(Debug, Clone)]
pub struct RunContext {
    /// Cancelled when the run should stop. The engine checks it between
    /// phases and interrupts a running query.
    pub cancel: CancellationToken,
    /// Receives the run's log lines.
    pub log: SharedLogSink,
}

/// Runs one pipeline: load, compile, execute, write to the run branch, test,
/// publish. Never panics on bad input and never returns `Err`: every failure
/// is a [`RunResult`] with status `failed` (or `cancelled`) and `main`
/// unchanged.
///
/// Implementation: `rat_runner::Engine` (embedded DuckDB).
#[async_trait]
pub trait RunEngine: Send + Sync + fmt::Debug {
    /// Executes the run described by `spec`.
    async fn execute(&self, spec: RunSpec, ctx: RunContext) -> RunResult;
}
