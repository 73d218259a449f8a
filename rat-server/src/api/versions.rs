//! Versions and drafts of a pipeline's code: every save numbered with who
//! saved it, when and why; a version read back or rolled back to; a draft
//! saved beside the published code, previewed and test-run, then
//! published or discarded.
//!
//! Storage holds the published code, so runs and schedules only ever read
//! published code. A published save (or a rollback) supersedes a pending
//! draft; its code stays in the history.

use async_trait::async_trait;
pub use rat_core::versions::{MAX_MESSAGE_CHARS, PipelineVersion, VersionState, VersionSummary};
use rat_core::{Result, TableRef};
use serde::{Deserialize, Serialize};

use super::{Page, PipelineDetail, PipelineFiles};

/// `PUT .../pipelines/{ns}/{layer}/{name}`: the files, why, and whether
/// they are a draft.
///
/// ```
/// use rat_server::api::SavePipeline;
///
/// let save: SavePipeline = serde_json::from_str(
///     r#"{"sql": "SELECT 1", "message": "first cut", "draft": true}"#).unwrap();
/// assert!(save.draft);
/// assert_eq!(save.files.sql.as_deref(), Some("SELECT 1"));
/// assert!(serde_json::from_str::<SavePipeline>(r#"{"sql": "SELECT 1", "drafts": true}"#).is_err());
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SavePipeline {
    /// The pipeline's files.
    #[serde(flatten)]
    pub files: PipelineFiles,
    /// Why, recorded with the version (at most 1000 characters).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// Save as the pipeline's draft: the published code keeps running.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub draft: bool,
}

impl From<PipelineFiles> for SavePipeline {
    fn from(files: PipelineFiles) -> Self {
        Self {
            files,
            ..Self::default()
        }
    }
}

/// `POST .../publish` and `.../versions/{version}/rollback`: why.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct VersionNote {
    /// Recorded with the new version (a sentence saying what happened
    /// when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

/// Versions and the draft of one pipeline.
///
/// ```no_run
/// # async fn demo(api: &dyn rat_server::api::PlatformApi) -> rat_core::Result<()> {
/// use rat_server::api::VersionNote;
///
/// let table = "silver.orders".parse()?;
/// let page = api.pipeline_versions(&table, 20, 0).await?;
/// if let Some(previous) = page.items.get(1) {
///     api.rollback_pipeline(&table, previous.version, &VersionNote::default()).await?;
/// }
/// # Ok(()) }
/// ```
#[async_trait]
pub trait VersionsApi: Send + Sync {
    /// One page of the pipeline's versions, newest first; `not_found` for
    /// a pipeline that neither exists nor ever had a version.
    async fn pipeline_versions(
        &self,
        table: &TableRef,
        limit: u32,
        offset: u32,
    ) -> Result<Page<VersionSummary>>;

    /// One version with its files.
    async fn pipeline_version(&self, table: &TableRef, version: u64) -> Result<PipelineVersion>;

    /// Saves a version's files as the published code again (validated as
    /// any save): a new version. Restores a deleted pipeline too.
    async fn rollback_pipeline(
        &self,
        table: &TableRef,
        version: u64,
        note: &VersionNote,
    ) -> Result<PipelineDetail>;

    /// The pipeline's pending draft; `not_found` when it has none.
    async fn pipeline_draft(&self, table: &TableRef) -> Result<PipelineDetail>;

    /// Makes the pending draft the published code (a new version).
    async fn publish_draft(&self, table: &TableRef, note: &VersionNote) -> Result<PipelineDetail>;

    /// Throws the pending draft away (kept in the history as discarded).
    async fn discard_draft(&self, table: &TableRef) -> Result<()>;
}
