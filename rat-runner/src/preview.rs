//! Dry runs: a pipeline compiled, or compiled and read, or its quality
//! tests run against `main` — in the same sandboxed session a run uses,
//! with nothing written to storage or the catalog.
//!
//! [`Engine::compile_pipeline`](crate::Engine::compile_pipeline),
//! [`Engine::preview_pipeline`](crate::Engine::preview_pipeline) and
//! [`Engine::test_pipeline`](crate::Engine::test_pipeline) take a
//! [`Pipeline`](rat_core::Pipeline) as loaded or as a caller is about to
//! save it, so unsaved code can be tried.

use std::time::Duration;

use rat_core::{Language, LogRecord, QualityResult, TableRef};
use serde::{Deserialize, Serialize};

pub use crate::query::{DetectedColumn, QueryOutput};

/// Limits of a dry run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DryRunLimits {
    /// Most rows a preview returns; more are reported as `truncated`.
    pub max_rows: usize,
    /// Time limit of the whole dry run (compile, script, query, tests).
    pub timeout: Duration,
}

impl Default for DryRunLimits {
    fn default() -> Self {
        Self {
            max_rows: 100,
            timeout: Duration::from_secs(30),
        }
    }
}

/// A table a dry run read, and which snapshot of it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "json-schema", derive(schemars::JsonSchema))]
pub struct ReadTable {
    /// The table.
    pub table: TableRef,
    /// The snapshot its view showed (`None`: it has none yet).
    pub snapshot_id: Option<i64>,
}

/// What the pipeline compiles to, without running it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "json-schema", derive(schemars::JsonSchema))]
pub struct CompiledPipeline {
    /// The table the pipeline writes.
    pub table: TableRef,
    /// What its code is written in.
    pub language: Language,
    /// The SELECT a run writes (the template rendered, `ref()`s as
    /// views); `None` for a Python script until it has run.
    pub compiled_sql: Option<String>,
    /// DuckDB's plan of that SELECT (`EXPLAIN`); `None` likewise.
    pub explain: Option<String>,
    /// The tables it reads, with their snapshots.
    pub reads: Vec<ReadTable>,
    /// The landing zones it reads.
    pub landing_zones: Vec<String>,
    /// Non-fatal findings (unknown config keys, a described column the
    /// result lacks...).
    pub warnings: Vec<String>,
}

/// How long each part of a preview took.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "json-schema", derive(schemars::JsonSchema))]
pub struct PreviewTiming {
    /// Loading the table, rendering, resolving `ref()`s, the sandbox.
    pub compile_ms: u64,
    /// The script (Python) and the query.
    pub execute_ms: u64,
}

/// A pipeline's first rows, as a run would compute them now.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "json-schema", derive(schemars::JsonSchema))]
pub struct PipelinePreview {
    /// What ran.
    #[serde(flatten)]
    pub compiled: CompiledPipeline,
    /// The result's columns with DuckDB's types.
    pub schema: Vec<DetectedColumn>,
    /// The first rows.
    #[serde(flatten)]
    pub output: QueryOutput,
    /// Where the time went.
    pub timing: PreviewTiming,
    /// What the dry run logged (a script's prints included).
    pub log: Vec<LogRecord>,
}

/// A pipeline's quality tests run against its table's `main`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "json-schema", derive(schemars::JsonSchema))]
pub struct TestReport {
    /// The table tested.
    pub table: TableRef,
    /// The snapshot of `main` the tests read (`None`: the table has none).
    pub snapshot_id: Option<i64>,
    /// One result per test, in file name order.
    pub results: Vec<QualityResult>,
    /// Whether a run would publish with these results (no `error`
    /// test failed or errored).
    pub passed: bool,
    /// Milliseconds spent.
    pub millis: u64,
}
