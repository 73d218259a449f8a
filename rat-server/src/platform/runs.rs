//! Runs: submit to the executor, list and read records, cancel, logs.
//! (Several at once in DAG order: [`super::batches`].)

use futures::stream::BoxStream;
use rat_core::{
    Error, ErrorKind, LogCursor, LogRecord, Result, RunFilter, RunId, RunRecord, RunRequest,
    TableRef,
};

use super::Platform;
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
            return Err(Error::new(
                ErrorKind::NotFound,
                format!("no pipeline '{table}'"),
            ));
        }
        let run_request = RunRequest::pipeline(table.clone()).with_limits(request.limits.clone());
        let run_id = self.executor().submit(run_request).await?;
        Ok(RunAccepted {
            run_id,
            table,
            status: rat_core::RunStatus::Pending,
        })
    }

    /// Records matching `filter`, newest first.
    pub(super) async fn list_runs(&self, filter: &RunFilter) -> Result<Vec<RunRecord>> {
        self.store().list(filter).await
    }

    /// One run's record.
    pub(super) async fn read_run(&self, run: &RunId) -> Result<RunRecord> {
        self.store().get(run).await
    }

    /// Asks a run to stop; `conflict` when it already ended. The record
    /// as it is right after.
    pub(super) async fn stop_run(&self, run: &RunId) -> Result<RunRecord> {
        self.store().get(run).await?;
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
        self.store().get(run).await?;
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
        self.store().get(run).await?;
        let cursor = LogCursor {
            from_seq,
            follow: true,
        };
        self.executor().logs(run, cursor).await
    }
}
