//! The values of the API: what [`PlatformApi`](super::PlatformApi)'s verbs
//! take and return, and the JSON bodies of the HTTP API. Shared by the
//! server, its client and the CLI (which prints the same values in local
//! and remote mode).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

pub use rat_core::project::PipelineFiles;
use rat_core::{Pipeline, RunId, RunLimits, RunStatus, TableRef, VersionSummary};

/// The error envelope every failed request gets.
///
/// ```json
/// {"error": {"code": "not_found", "message": "no run 0195..."}}
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ErrorEnvelope {
    /// What went wrong.
    pub error: ErrorBody,
}

/// The inside of [`ErrorEnvelope`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ErrorBody {
    /// A stable code (`invalid_input`, `not_found`, `queue_full`...).
    pub code: String,
    /// A sentence for people, naming the field, file or value at fault.
    pub message: String,
    /// The same facts for programs: `file`, `field`, `line`, `table`...
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub context: BTreeMap<String, String>,
}

/// One page of a list.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Page<T> {
    /// The items.
    pub items: Vec<T>,
    /// The page size asked for (at most [`MAX_PAGE`]).
    pub limit: u32,
    /// Items skipped.
    pub offset: u32,
    /// Whether more items may follow.
    pub has_more: bool,
}

/// Largest page a list returns.
pub const MAX_PAGE: u32 = 200;
/// Page size when none is asked for.
pub const DEFAULT_PAGE: u32 = 50;

impl<T> Page<T> {
    /// Cuts `items` (fetched with one extra to learn whether more follow)
    /// to `limit`.
    pub fn of(mut items: Vec<T>, limit: u32, offset: u32) -> Self {
        let has_more = items.len() > limit as usize;
        items.truncate(limit as usize);
        Self {
            items,
            limit,
            offset,
            has_more,
        }
    }
}

/// `GET /health`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Health {
    /// `ok`.
    pub status: String,
    /// The server's version.
    pub version: String,
}

/// `GET /health/ready`: whether the components requests need answer
/// (`200` when all do, `503` otherwise).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Readiness {
    /// Every check passed.
    pub ready: bool,
    /// One per component: `run_store`, `catalog`, `storage`.
    pub checks: Vec<ReadinessCheck>,
}

/// One component's answer to a readiness check. What went wrong is in the
/// server's log, not here: the route is public.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReadinessCheck {
    /// The component.
    pub component: String,
    /// Whether it answered in time.
    pub ok: bool,
    /// How long it took, in milliseconds.
    pub millis: u64,
    /// The kind of failure (`storage`, `catalog`, `timeout`...), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_kind: Option<String>,
}

/// `GET /api/v1/features`: which implementations this server runs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Features {
    /// `local` or `s3`.
    pub storage: String,
    /// `sql` or `rest`.
    pub catalog: String,
    /// `local`, `process` or `ecs`.
    pub executor: String,
    /// `sqlite` or `postgres`.
    pub run_store: String,
    /// `none`, `api_key` or `oidc`.
    pub auth: String,
    /// `static` or `sts`: whether each namespace's storage access is scoped.
    pub credential_vendor: String,
    /// Whether schedules fire on this instance (it holds leadership).
    pub scheduler: bool,
}

/// A pipeline in a list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct PipelineSummary {
    /// Its table, `namespace.layer.name`.
    pub table: TableRef,
    /// Namespace.
    pub namespace: String,
    /// Layer.
    pub layer: String,
    /// Name.
    pub name: String,
}

impl From<TableRef> for PipelineSummary {
    fn from(table: TableRef) -> Self {
        Self {
            namespace: table.namespace.to_string(),
            layer: table.layer.to_string(),
            name: table.name.to_string(),
            table,
        }
    }
}

/// `GET /api/v1/pipelines/{ns}/{layer}/{name}`: the files and what rat
/// makes of them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct PipelineDetail {
    /// SQL, effective settings, parsed quality tests, warnings.
    #[serde(flatten)]
    pub pipeline: Pipeline,
    /// The text of `config.yaml`, when there is one.
    pub config: Option<String>,
    /// The version these files are (none for code saved before rat kept
    /// versions, or outside its API).
    #[serde(default)]
    pub version: Option<VersionSummary>,
    /// The pending draft, when one was saved after the published code
    /// (only on the published code's detail).
    #[serde(default)]
    pub draft: Option<VersionSummary>,
}

impl PipelineDetail {
    /// The files this detail was read from, as a save would send them.
    pub fn files(&self) -> PipelineFiles {
        files_of(&self.pipeline, self.config.as_deref())
    }
}

/// The files `pipeline` was loaded from, with its `config.yaml` text.
pub(crate) fn files_of(pipeline: &Pipeline, config: Option<&str>) -> PipelineFiles {
    let code = Some(pipeline.source.clone());
    let python = pipeline.language == rat_core::Language::Python;
    PipelineFiles {
        sql: if python { None } else { code.clone() },
        python: if python { code } else { None },
        config: config.map(str::to_owned),
        tests: pipeline
            .tests
            .iter()
            .map(|t| (t.name.clone(), t.sql.clone()))
            .collect(),
    }
}

/// `POST /api/v1/pipelines`: where, and the files.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NewPipeline {
    /// Namespace (`default` when absent).
    #[serde(default)]
    pub namespace: Option<String>,
    /// `bronze`, `silver` or `gold`.
    pub layer: String,
    /// Name.
    pub name: String,
    /// The files.
    #[serde(flatten)]
    pub files: PipelineFiles,
    /// Why, recorded with its first version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

/// `GET /api/v1/lineage`: pipelines and the `ref()`s between them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Lineage {
    /// Every pipeline, upstream first.
    pub nodes: Vec<TableRef>,
    /// `from` is read by `to`.
    pub edges: Vec<LineageEdge>,
}

/// One edge of [`Lineage`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct LineageEdge {
    /// The upstream table.
    pub from: TableRef,
    /// The pipeline reading it.
    pub to: TableRef,
}

/// `POST /api/v1/runs`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SubmitRun {
    /// The pipeline: `namespace.layer.name`, or `layer.name` in `default`.
    pub pipeline: String,
    /// Limits of the run.
    #[serde(default)]
    pub limits: RunLimits,
}

/// `POST /api/v1/runs` for several pipelines: `pipelines` (`layer.name`
/// in `namespace`, or `namespace.layer.name`), or `all` of a namespace's,
/// with their downstream when `downstream` is set. Validated as a whole
/// before anything runs; run in DAG order, what depends on a failure
/// skipped.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BatchRequest {
    /// The pipelines (none with `all`).
    #[serde(default)]
    pub pipelines: Vec<String>,
    /// Every pipeline of the namespace.
    #[serde(default)]
    pub all: bool,
    /// The namespace (`default` when absent).
    #[serde(default)]
    pub namespace: Option<String>,
    /// Also what depends on the pipelines named, directly or not.
    #[serde(default)]
    pub downstream: bool,
    /// Limits of each run.
    #[serde(default)]
    pub limits: RunLimits,
    /// Runs of the batch at once (the executor's workers bound it too).
    #[serde(default)]
    pub parallel: Option<usize>,
}

/// `POST /api/v1/tables/{ns}/{layer}/{name}/rollback`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RollbackRequest {
    /// The snapshot `main` returns to.
    pub to: i64,
}

/// What `main` pointed at over time, newest first
/// (`GET .../tables/{ns}/{layer}/{name}/history`).
pub use rat_runner::table::SnapshotInfo;

/// What a rollback did.
pub use rat_runner::table::Rollback;

/// `POST /api/v1/tables/{ns}/{layer}/{name}/maintain`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MaintainRequest {
    /// Plan only: report what would be rewritten or removed, change nothing.
    #[serde(default)]
    pub dry_run: bool,
}

/// What maintenance did (or would do) to one table.
pub use rat_runner::maintain::MaintenanceReport;

/// A batch of runs and where each of its pipelines is.
pub use rat_core::Batch;

/// `GET /api/v1/runs/{id}/logs` as JSON: lines from `from_seq` on, and
/// where the next page starts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct LogPage {
    /// The lines, oldest first.
    pub items: Vec<rat_core::LogRecord>,
    /// The sequence number to ask for next.
    pub next_seq: u64,
}

/// `202 Accepted` for a submitted run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct RunAccepted {
    /// The run's id.
    pub run_id: RunId,
    /// The pipeline's table.
    pub table: TableRef,
    /// `pending`.
    pub status: RunStatus,
}

/// A table in a list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct TableSummary {
    /// `namespace.layer.name`.
    pub table: TableRef,
    /// Current snapshot of `main`.
    pub snapshot_id: Option<i64>,
    /// Rows in that snapshot.
    pub records: Option<u64>,
    /// Data files in that snapshot.
    pub data_files: Option<u64>,
    /// When that snapshot was committed (RFC 3339).
    pub updated_at: Option<String>,
}

impl TableSummary {
    /// The summary of a loaded table's `main`.
    pub fn of(loaded: &rat_core::LoadedTable) -> Self {
        let snapshot = loaded
            .main_snapshot_id()
            .and_then(|id| loaded.metadata.snapshot_by_id(id));
        let number = |key: &str| {
            snapshot.and_then(|s| s.summary().additional_properties.get(key)?.parse().ok())
        };
        Self {
            table: loaded.table.clone(),
            snapshot_id: snapshot.map(|s| s.snapshot_id()),
            records: number("total-records"),
            data_files: number("total-data-files"),
            updated_at: snapshot
                .and_then(|s| s.timestamp().ok())
                .map(|t| t.to_rfc3339()),
        }
    }
}

/// `GET /api/v1/tables/{ns}/{layer}/{name}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct TableDetail {
    /// The summary.
    #[serde(flatten)]
    pub summary: TableSummary,
    /// Where the table's metadata lives.
    pub metadata_location: String,
    /// Current schema, as the Iceberg spec writes it.
    pub schema: serde_json::Value,
    /// Default partition spec, as the Iceberg spec writes it.
    pub partition_spec: serde_json::Value,
    /// Snapshots, oldest first, as the Iceberg spec writes them.
    pub snapshots: Vec<serde_json::Value>,
    /// Table properties.
    pub properties: BTreeMap<String, String>,
    /// What the table holds (its `comment` property, from the pipeline's
    /// `description`).
    #[serde(default)]
    pub description: Option<String>,
    /// The current schema's top-level columns, in order.
    #[serde(default)]
    pub columns: Vec<ColumnInfo>,
}

/// One column of [`TableDetail`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ColumnInfo {
    /// The column's name.
    pub name: String,
    /// Its Iceberg type (`long`, `decimal(10,2)`, `struct<...>`).
    #[serde(rename = "type")]
    pub data_type: String,
    /// Whether a value is required.
    pub required: bool,
    /// Its description (the field's doc, from the pipeline's `columns:`).
    #[serde(default)]
    pub description: Option<String>,
}

/// `POST /api/v1/query`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct QueryRequest {
    /// One SELECT; tables are `namespace.layer.name` (or `layer.name` in
    /// `namespace`).
    pub sql: String,
    /// Namespace of two-part names (`default` when absent).
    #[serde(default)]
    pub namespace: Option<String>,
    /// Most rows returned (at most 10,000; 1,000 when absent).
    #[serde(default)]
    pub limit: Option<u32>,
    /// Time limit in milliseconds (at most 300,000; 30,000 when absent).
    #[serde(default)]
    pub timeout_ms: Option<u64>,
    /// Tables read at an earlier snapshot (time travel), by name as in
    /// `sql`: snapshot id; the others at their `main`'s current one.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub snapshots: BTreeMap<String, i64>,
}

/// A query's rows.
pub use rat_runner::query::QueryOutput;

/// `POST /api/v1/schedules` and `PUT /api/v1/schedules/{id}`: exactly one
/// of `cron`, `after`, `landing` and `webhook`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ScheduleRequest {
    /// The pipeline to run: `namespace.layer.name`, or `layer.name` in `default`.
    pub pipeline: String,
    /// A cron expression in UTC: 5 fields (`0 6 * * 1-5`), or 6 with
    /// seconds first (`*/30 * * * * *`).
    #[serde(default)]
    pub cron: Option<String>,
    /// Run after each success of this pipeline (`layer.name` is in the
    /// scheduled pipeline's namespace).
    #[serde(default)]
    pub after: Option<String>,
    /// Run when a file lands in this zone of the pipeline's namespace.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub landing: Option<String>,
    /// With `landing`: only files whose name matches this glob (`*.csv`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pattern: Option<String>,
    /// Run when `POST /webhooks/{id}` is called with the token the reply
    /// to this request shows (once).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub webhook: bool,
    /// Whether it fires (default true).
    #[serde(default = "enabled")]
    pub enabled: bool,
}

fn enabled() -> bool {
    true
}

/// `GET /api/v1/cron`: when an expression fires next.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct CronNext {
    /// The expression asked about.
    pub expression: String,
    /// Its next firing times, soonest first.
    pub next: Vec<chrono::DateTime<chrono::Utc>>,
}

/// A schedule with its firing state.
pub use rat_core::Schedule;
