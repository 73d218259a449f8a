//! The API: [`PlatformApi`], everything the platform does, and the values
//! its verbs take and return ([`types`], also the HTTP API's JSON bodies).
//!
//! Two implementations, one contract: [`Platform`](crate::Platform) does
//! the work in-process over the components, [`Client`](crate::client::Client)
//! asks a server over HTTP. The CLI, the HTTP handlers and the web UI call
//! the trait, so what they show is the same whichever is behind it.

mod access;
mod authoring;
mod files;
mod landing;
mod namespaces;
mod notifications;
mod triggers;
mod types;
mod versions;

use async_trait::async_trait;
use futures::stream::BoxStream;
use rat_core::storage::ByteStream;
use rat_core::{LogRecord, Result, RunFilter, RunId, RunRecord, TableRef};

use crate::auth::Principal;

pub use access::*;
pub use authoring::*;
pub use files::*;
pub use landing::*;
pub use namespaces::*;
pub use notifications::*;
pub use triggers::*;
pub(crate) use types::files_of;
pub use types::*;
pub use versions::*;

/// What the platform does: who the caller is ([`AccessApi`]), namespaces (one through [`NamespacesApi`]), pipelines and their lineage, runs
/// (one, or a batch in DAG order) with their logs, tables with their
/// history, read-only queries, schedules; the project's files through
/// [`FilesApi`]; quality tests, test runs and previews through
/// [`AuthoringApi`]; versions and drafts of code through [`VersionsApi`];
/// schedules' firings and webhooks through [`TriggersApi`]; a namespace's
/// outgoing notifications through [`NotificationsApi`].
///
/// Errors carry a kind and a message naming the file, field or value at
/// fault; an object that does not exist is
/// [`ErrorKind::NotFound`](rat_core::ErrorKind::NotFound).
///
/// ```no_run
/// # async fn demo(api: &dyn rat_server::api::PlatformApi) -> rat_core::Result<()> {
/// use rat_server::api::SubmitRun;
///
/// let accepted = api
///     .submit_run(&SubmitRun { pipeline: "silver.orders".into(), limits: Default::default() })
///     .await?;
/// let record = api.run(&accepted.run_id).await?;
/// println!("{} is {}", record.table, record.status);
/// # Ok(()) }
/// ```
#[async_trait]
pub trait PlatformApi:
    AccessApi
    + NamespacesApi
    + FilesApi
    + AuthoringApi
    + VersionsApi
    + TriggersApi
    + NotificationsApi
    + Send
    + Sync
    + std::fmt::Debug
{
    /// The same API doing its verbs for `principal`: the versions it
    /// saves name them. A client's server learns who from its credentials
    /// instead, so a client returns itself.
    fn acting_for(&self, principal: &Principal) -> std::sync::Arc<dyn PlatformApi>;

    /// The metrics this API records as it answers (none for a client:
    /// its server records them).
    fn metrics(&self) -> Option<std::sync::Arc<crate::metrics::Metrics>>;

    /// The platform that keeps the audit log of the requests this API
    /// answers (none for a client: its server keeps it).
    fn auditor(&self) -> Option<crate::Platform>;

    /// The server's metrics in Prometheus' text format.
    async fn metrics_text(&self) -> Result<String>;

    /// Which implementations serve the platform.
    async fn features(&self) -> Result<Features>;

    /// Whether the run store, the catalog and storage answer now.
    async fn readiness(&self) -> Result<Readiness>;

    /// Every namespace, by name.
    async fn namespaces(&self) -> Result<Vec<Namespace>>;

    /// Creates a namespace; `already_exists` if it is there.
    async fn create_namespace(&self, new: &NewNamespace) -> Result<Namespace>;

    /// Pipelines of `namespace` (every namespace when `None`), optionally
    /// of one `layer`, by table.
    async fn pipelines(
        &self,
        namespace: Option<&str>,
        layer: Option<&str>,
    ) -> Result<Vec<PipelineSummary>>;

    /// One pipeline: its files and what rat makes of them.
    async fn pipeline(&self, table: &TableRef) -> Result<PipelineDetail>;

    /// Validates, then writes a new pipeline; `already_exists` when its
    /// folder has one.
    async fn create_pipeline(&self, pipeline: &NewPipeline) -> Result<PipelineDetail>;

    /// Validates, then replaces a pipeline's files (a config or test left
    /// out is removed), recording a version; with `draft`, saves them as
    /// the pipeline's draft and leaves the published code as it is.
    async fn replace_pipeline(
        &self,
        table: &TableRef,
        save: &SavePipeline,
    ) -> Result<PipelineDetail>;

    /// Deletes a pipeline's files (its table stays).
    async fn delete_pipeline(&self, table: &TableRef) -> Result<()>;

    /// The DAG of one namespace's pipelines (every namespace when `None`).
    async fn lineage(&self, namespace: Option<&str>) -> Result<Lineage>;

    /// Submits one run; a full queue is `queue_full`.
    async fn submit_run(&self, request: &SubmitRun) -> Result<RunAccepted>;

    /// Validates a selection as a whole, then runs it in DAG order
    /// (independent pipelines at once, what depends on a failure
    /// skipped); the batch as submitted.
    async fn submit_batch(&self, request: &BatchRequest) -> Result<Batch>;

    /// A batch and where each of its pipelines is.
    async fn batch(&self, id: &str) -> Result<Batch>;

    /// Stops a batch: its runs are cancelled, what waits is skipped;
    /// `conflict` once it ended. The batch as it is right after.
    async fn cancel_batch(&self, id: &str) -> Result<Batch>;

    /// Run records matching `filter`, newest first.
    async fn runs(&self, filter: &RunFilter) -> Result<Vec<RunRecord>>;

    /// One run's record.
    async fn run(&self, run: &RunId) -> Result<RunRecord>;

    /// Asks a run to stop; `conflict` once it ended. The record right
    /// after.
    async fn cancel(&self, run: &RunId) -> Result<RunRecord>;

    /// Stored log lines from `from_seq`, at most `limit`.
    async fn logs(&self, run: &RunId, from_seq: u64, limit: u32) -> Result<Vec<LogRecord>>;

    /// Log lines from `from_seq` as they happen, until the run ends.
    async fn follow_logs(
        &self,
        run: &RunId,
        from_seq: u64,
    ) -> Result<BoxStream<'static, LogRecord>>;

    /// One page of the tables of `namespace` (every namespace when
    /// `None`), by table; only the page's tables are loaded.
    async fn tables(
        &self,
        namespace: Option<&str>,
        limit: u32,
        offset: u32,
    ) -> Result<Page<TableSummary>>;

    /// One table's schema, partitioning, snapshots and properties.
    async fn table(&self, table: &TableRef) -> Result<TableDetail>;

    /// What `main` pointed at over time, newest first.
    async fn history(&self, table: &TableRef) -> Result<Vec<SnapshotInfo>>;

    /// Points `main` back at snapshot `to` in a new commit.
    async fn rollback(&self, table: &TableRef, to: i64) -> Result<Rollback>;

    /// Compacts small files, expires old snapshots and removes orphan
    /// files of one table (plans only when `request.dry_run`).
    async fn maintain(
        &self,
        table: &TableRef,
        request: &MaintainRequest,
    ) -> Result<MaintenanceReport>;

    /// The first `rows` rows of a table's `main`, or of an earlier
    /// snapshot of it (time travel); `invalid_input` naming the snapshot
    /// when the table has no such one.
    async fn preview(
        &self,
        table: &TableRef,
        rows: u32,
        snapshot_id: Option<i64>,
    ) -> Result<QueryOutput>;

    /// One read-only SELECT, with row and time limits.
    async fn query(&self, request: &QueryRequest) -> Result<QueryOutput>;

    /// All schedules, oldest first.
    async fn schedules(&self) -> Result<Vec<Schedule>>;

    /// One schedule.
    async fn schedule(&self, id: &str) -> Result<Schedule>;

    /// Validates and adds a schedule.
    async fn create_schedule(&self, request: &ScheduleRequest) -> Result<Schedule>;

    /// Replaces a schedule's definition.
    async fn replace_schedule(&self, id: &str, request: &ScheduleRequest) -> Result<Schedule>;

    /// Deletes a schedule.
    async fn delete_schedule(&self, id: &str) -> Result<()>;

    /// The landing zones of `namespace` (every namespace when `None`).
    async fn landing_zones(&self, namespace: Option<&str>) -> Result<Vec<LandingZone>>;

    /// One landing zone.
    async fn landing_zone(&self, zone: &ZoneRef) -> Result<LandingZone>;

    /// Creates a landing zone; `already_exists` if it is there.
    async fn create_landing_zone(&self, zone: &NewLandingZone) -> Result<LandingZone>;

    /// Deletes a landing zone with its files and archive.
    async fn delete_landing_zone(&self, zone: &ZoneRef) -> Result<()>;

    /// The files of a zone waiting to be read, or (`archived`) those runs
    /// moved to its `_processed/`.
    async fn landing_files(&self, zone: &ZoneRef, archived: bool) -> Result<Vec<LandingFile>>;

    /// Streams `data` into a zone as file `name` (replacing one of that
    /// name): `too_large` past the server's limit, and nothing is stored
    /// unless all of `data` arrived.
    async fn upload_landing_file(
        &self,
        zone: &ZoneRef,
        name: &str,
        data: ByteStream,
    ) -> Result<LandingFile>;

    /// The bytes of one file of a zone.
    async fn read_landing_file(&self, zone: &ZoneRef, name: &str) -> Result<ByteStream>;

    /// Deletes one file of a zone.
    async fn delete_landing_file(&self, zone: &ZoneRef, name: &str) -> Result<()>;

    /// The first `rows` rows of a zone's file and the schema detected, as
    /// `landing_zone()` would read it.
    async fn preview_landing_file(
        &self,
        zone: &ZoneRef,
        name: &str,
        rows: u32,
    ) -> Result<FilePreview>;
}

/// Every table of `namespace`, page by page.
pub async fn all_tables(
    api: &dyn PlatformApi,
    namespace: Option<&str>,
) -> Result<Vec<TableSummary>> {
    let mut tables = Vec::new();
    loop {
        let offset = u32::try_from(tables.len()).unwrap_or(u32::MAX);
        let page = api.tables(namespace, MAX_PAGE, offset).await?;
        let more = page.has_more;
        tables.extend(page.items);
        if !more {
            return Ok(tables);
        }
    }
}
