//! Runs: submit to the executor, list and read records, cancel, logs.
//! (Several at once in DAG order: [`super::batches`].)

use std::collections::BTreeSet;
use std::sync::Arc;

use async_trait::async_trait;
use futures::stream::BoxStream;
use rat_core::authz::Action;
use rat_core::{
    Error, ErrorKind, LogCursor, LogRecord, Project, Result, RunFilter, RunGate, RunId, RunRecord,
    RunRequest, TableRef,
};

use super::Platform;
use super::pipelines::no_pipeline;
use crate::api::{RunAccepted, SubmitRun};

/// Most log lines one JSON page returns.
pub const MAX_LOG_PAGE: u32 = 10_000;

impl Platform {
    /// Validates and submits a run; the executor records it before it is
    /// dispatched. A full queue is `queue_full`.
    pub(crate) async fn start_run(&self, request: &SubmitRun) -> Result<RunAccepted> {
        let table = TableRef::parse(&request.pipeline, rat_core::DEFAULT_NAMESPACE)
            .map_err(|e| e.with_context("field", "pipeline"))?;
        request
            .limits
            .validate()
            .map_err(|e| e.with_context("field", "limits"))?;
        if !self.pipeline_exists(&table).await? {
            return Err(no_pipeline(&table));
        }
        let mut run_request =
            RunRequest::pipeline(table.clone()).with_limits(request.limits.clone());
        if let Some((who, gate)) = self.run_actor() {
            // Write on the pipeline first (hidden as missing), then its refs.
            self.check_run(&table).await?;
            run_request = run_request.acting_for(&who, gate);
        }
        let run_id = self.executor().submit(run_request).await?;
        Ok(RunAccepted {
            run_id,
            table,
            status: rat_core::RunStatus::Pending,
        })
    }

    /// Whom runs started now act for, with the gate that checks again at
    /// their start what [`Platform::check_run`] checks (none without an
    /// authorizer).
    pub(super) fn run_actor(&self) -> Option<(String, Arc<dyn RunGate>)> {
        self.inner.options.authorizer.as_ref()?;
        let gate = Arc::new(AccessGate {
            platform: self.clone(),
        });
        Some((self.acting().id, gate))
    }

    /// Whether the acting principal may still run `table`: change it,
    /// and read every table of another namespace its code `ref()`s. A
    /// refusal names the table (the caller's own code names it, so
    /// nothing is revealed) and the pipeline's file.
    pub(super) async fn check_run(&self, table: &TableRef) -> Result<()> {
        if self.inner.options.authorizer.is_none() {
            return Ok(());
        }
        self.check(Action::Write, table, || no_pipeline(table))
            .await?;
        let source = rat_core::ProjectSource::of(&table.namespace);
        let storage = self.storage(&table.namespace)?;
        let pipeline = Project::load_pipeline(storage.as_ref(), &source, table).await?;
        let found = self.inner.engine.check_pipeline(&pipeline).await?;
        for read in found.refs.iter().filter(|t| t.namespace != table.namespace) {
            if !self.allows(Action::Read, read).await? {
                let refusal = Error::new(
                    ErrorKind::Forbidden,
                    format!(
                        "{} may not read {read}, which {table} reads (ref('{read}'))",
                        self.acting().id
                    ),
                );
                return Err(self.denied(refusal.with_context("file", &pipeline.source_file)));
            }
        }
        Ok(())
    }

    /// Records matching `filter` the caller may see, newest first: pages
    /// of the store are read until the filter's limit is met.
    pub(super) async fn list_runs(&self, filter: &RunFilter) -> Result<Vec<RunRecord>> {
        if self.inner.options.authorizer.is_none() || self.acting().is_admin() {
            return self.store().list(filter).await;
        }
        let wanted = filter.limit.unwrap_or(rat_core::store::DEFAULT_RUN_LIST) as usize;
        let mut page = filter.clone();
        page.limit = Some(wanted.max(100) as u32);
        page.offset = 0;
        let mut skip = filter.offset as usize;
        let mut seen = Vec::new();
        loop {
            let records = self.store().list(&page).await?;
            let read = records.len();
            let tables = records.iter().map(|r| r.table.clone()).collect();
            let visible: BTreeSet<TableRef> = self
                .visible(Action::Discover, tables)
                .await?
                .into_iter()
                .collect();
            for record in records {
                if !visible.contains(&record.table) {
                    continue;
                }
                match skip {
                    0 => seen.push(record),
                    _ => skip -= 1,
                }
                if seen.len() == wanted {
                    return Ok(seen);
                }
            }
            if read < page.limit.unwrap_or(0) as usize {
                return Ok(seen);
            }
            page.offset += read as u32;
        }
    }

    /// One run's record, when the caller may see its table.
    pub(super) async fn read_run(&self, run: &RunId) -> Result<RunRecord> {
        self.checked_run(Action::Discover, run).await
    }

    /// A run's record, refused as absent unless the caller may see its
    /// table, and as `forbidden` unless it may do `action` to it.
    async fn checked_run(&self, action: Action, run: &RunId) -> Result<RunRecord> {
        let record = self.store().get(run).await?;
        let missing = || rat_core::store::run_not_found(run);
        self.check(action, &record.table, missing).await?;
        Ok(record)
    }

    /// Asks a run to stop; `conflict` when it already ended. The record
    /// as it is right after.
    pub(super) async fn stop_run(&self, run: &RunId) -> Result<RunRecord> {
        self.checked_run(Action::Write, run).await?;
        self.executor().cancel(run).await?;
        self.store().get(run).await
    }

    /// Stored log lines from `from_seq`, at most `limit`.
    pub(super) async fn read_logs(
        &self,
        run: &RunId,
        from_seq: u64,
        limit: u32,
    ) -> Result<Vec<LogRecord>> {
        self.checked_run(Action::Read, run).await?;
        self.store()
            .logs(run, from_seq, limit.min(MAX_LOG_PAGE))
            .await
    }

    /// Log lines from `from_seq`, pushed as they happen until the run ends.
    pub(super) async fn stream_logs(
        &self,
        run: &RunId,
        from_seq: u64,
    ) -> Result<BoxStream<'static, LogRecord>> {
        self.checked_run(Action::Read, run).await?;
        let cursor = LogCursor {
            from_seq,
            follow: true,
        };
        self.executor().logs(run, cursor).await
    }
}

/// Checks again, when a worker takes a run up, what [`Platform::check_run`]
/// checked at submission, for the same principal.
#[derive(Debug)]
struct AccessGate {
    platform: Platform,
}

#[async_trait]
impl RunGate for AccessGate {
    async fn admit(&self, table: &TableRef) -> Result<()> {
        self.platform.check_run(table).await
    }
}
