//! [`VersionsApi`] for [`Platform`], and how a save is recorded: the
//! published code in storage and a numbered version in the store; a draft
//! only in the store. Code storage holds that the history does not end
//! with (saved before rat kept versions, or outside its API) is recorded
//! first, so a rollback can always return to what ran.

use async_trait::async_trait;
use rat_core::authz::Action;
use rat_core::versions::NewVersion;
use rat_core::{
    Error, ErrorKind, Pipeline, PipelineVersion, Result, TableRef, VersionState, VersionSummary,
};

use super::Platform;
use super::pipelines::{no_pipeline, pipeline_of};
use crate::api::{Page, PipelineDetail, PipelineFiles, VersionNote, VersionsApi, files_of};

/// The message of a version recorded for code found in storage.
const FOUND_IN_STORAGE: &str = "found in storage (saved outside rat's API)";

#[async_trait]
impl VersionsApi for Platform {
    async fn pipeline_versions(
        &self,
        table: &TableRef,
        limit: u32,
        offset: u32,
    ) -> Result<Page<VersionSummary>> {
        self.check(Action::Discover, table, || no_pipeline(table))
            .await?;
        let versions = self
            .version_store()
            .versions(table, limit.saturating_add(1), offset)
            .await?;
        if versions.is_empty() && offset == 0 && !self.pipeline_exists(table).await? {
            return Err(no_pipeline(table));
        }
        Ok(Page::of(versions, limit, offset))
    }

    async fn pipeline_version(&self, table: &TableRef, version: u64) -> Result<PipelineVersion> {
        self.check(Action::Discover, table, || no_pipeline(table))
            .await?;
        self.version_store().version(table, version).await
    }

    async fn rollback_pipeline(
        &self,
        table: &TableRef,
        version: u64,
        note: &VersionNote,
    ) -> Result<PipelineDetail> {
        self.check(Action::Write, table, || no_pipeline(table))
            .await?;
        let message = message_or(note, || format!("rolled back to version {version}"))?;
        let old = self.version_store().version(table, version).await?;
        self.save_pipeline(table, &old.files, Some(&message)).await
    }

    async fn pipeline_draft(&self, table: &TableRef) -> Result<PipelineDetail> {
        self.check(Action::Discover, table, || no_pipeline(table))
            .await?;
        let draft = self.pending_draft(table).await?;
        Ok(detail_of(pipeline_of(table, &draft.files)?, draft))
    }

    async fn publish_draft(&self, table: &TableRef, note: &VersionNote) -> Result<PipelineDetail> {
        self.check(Action::Write, table, || no_pipeline(table))
            .await?;
        let draft = self.pending_draft(table).await?;
        let number = draft.summary.version;
        let message = message_or(note, || format!("published draft {number}"))?;
        self.save_pipeline(table, &draft.files, Some(&message))
            .await
    }

    async fn discard_draft(&self, table: &TableRef) -> Result<()> {
        self.check(Action::Write, table, || no_pipeline(table))
            .await?;
        self.pending_draft(table).await?;
        self.version_store().discard_drafts(table).await.map(|_| ())
    }
}

impl Platform {
    /// Records `files`, just written to storage, as the pipeline's newest
    /// published version.
    pub(super) async fn record_published(
        &self,
        table: &TableRef,
        files: &PipelineFiles,
        message: Option<&str>,
    ) -> Result<PipelineVersion> {
        self.record(table, VersionState::Published, files, message)
            .await
    }

    /// Validates `files` as a save would, then records them as the
    /// pipeline's draft; the published code stays as it is.
    pub(super) async fn save_draft(
        &self,
        table: &TableRef,
        files: &PipelineFiles,
        message: Option<&str>,
    ) -> Result<PipelineDetail> {
        if !self.pipeline_exists(table).await? {
            return Err(Error::invalid(format!(
                "pipeline '{table}' is not saved yet; a draft needs published code to sit beside"
            ))
            .with_context("field", "draft"));
        }
        let pipeline = pipeline_of(table, files)?;
        self.inner.engine.check_pipeline(&pipeline).await?;
        self.record_stored(table).await?;
        let draft = self
            .record(table, VersionState::Draft, files, message)
            .await?;
        Ok(detail_of(pipeline, draft))
    }

    /// Records the code storage holds when the newest published version
    /// is not it (none yet, or changed outside the API).
    pub(super) async fn record_stored(&self, table: &TableRef) -> Result<()> {
        let Some(stored) = self.stored_files(table).await? else {
            return Ok(());
        };
        if self.published_files(table).await?.as_ref() != Some(&stored) {
            let found = NewVersion {
                table,
                state: VersionState::Published,
                author: None,
                message: Some(FOUND_IN_STORAGE),
                files: &stored,
            };
            self.version_store().add_version(found).await?;
        }
        Ok(())
    }

    /// The newest published version when it is the code `pipeline` was
    /// loaded from (with its config text), and the pending draft.
    pub(super) async fn versions_of(
        &self,
        pipeline: &Pipeline,
        config: Option<&str>,
    ) -> Result<(Option<VersionSummary>, Option<VersionSummary>)> {
        let store = self.version_store();
        let table = &pipeline.table;
        let published = match store.published_version(table).await? {
            Some(v) if v.files == files_of(pipeline, config) => Some(v.summary),
            _ => None,
        };
        let draft = store
            .newest_version(table)
            .await?
            .filter(|v| v.summary.state == VersionState::Draft)
            .map(|v| v.summary);
        Ok((published, draft))
    }

    /// The pending draft's files (`None` without `draft`, the published
    /// code then being read).
    pub(super) async fn draft_files(
        &self,
        table: &TableRef,
        draft: bool,
    ) -> Result<Option<PipelineFiles>> {
        Ok(match draft {
            true => Some(self.pending_draft(table).await?.files),
            false => None,
        })
    }

    async fn pending_draft(&self, table: &TableRef) -> Result<PipelineVersion> {
        self.version_store()
            .newest_version(table)
            .await?
            .filter(|v| v.summary.state == VersionState::Draft)
            .ok_or_else(|| {
                Error::new(
                    ErrorKind::NotFound,
                    format!("pipeline '{table}' has no draft"),
                )
                .with_context("field", "draft")
            })
    }

    async fn published_files(&self, table: &TableRef) -> Result<Option<PipelineFiles>> {
        Ok(self
            .version_store()
            .published_version(table)
            .await?
            .map(|v| v.files))
    }

    async fn record(
        &self,
        table: &TableRef,
        state: VersionState,
        files: &PipelineFiles,
        message: Option<&str>,
    ) -> Result<PipelineVersion> {
        let version = NewVersion {
            table,
            state,
            author: self.author(),
            message,
            files,
        };
        self.version_store().add_version(version).await
    }
}

/// A save's message from a note, or what the verb did.
fn message_or(note: &VersionNote, default: impl FnOnce() -> String) -> Result<String> {
    Ok(rat_core::versions::message(note.message.as_deref())?.unwrap_or_else(default))
}

/// The detail of a version's code (a draft's, or one just saved).
fn detail_of(pipeline: Pipeline, version: PipelineVersion) -> PipelineDetail {
    PipelineDetail {
        pipeline,
        config: version.files.config,
        version: Some(version.summary),
        draft: None,
    }
}
