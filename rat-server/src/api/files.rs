//! The files of a namespace's project as files: what an editor lists,
//! opens, saves and deletes (pipelines' code, configs and tests through the
//! same validation as the pipeline verbs; docs as they are).

use async_trait::async_trait;
use chrono::{DateTime, Utc};
pub use rat_core::project::files::FileKind;
use rat_core::{Result, TableRef};
use serde::{Deserialize, Serialize};

/// One file of a project.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ProjectFile {
    /// Its path inside the project (`pipelines/silver/orders/pipeline.sql`,
    /// `docs/guide.md`, `README.md`).
    pub path: String,
    /// `code`, `config` or `test` of a pipeline, else `doc`.
    pub kind: FileKind,
    /// The pipeline it belongs to, for files of a pipeline folder.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pipeline: Option<TableRef>,
    /// Size in bytes.
    pub size: u64,
    /// When it was written, when storage knows.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_modified: Option<DateTime<Utc>>,
}

/// `GET /api/v1/files/{ns}/{path}`: a file and its text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct FileContent {
    /// The file.
    #[serde(flatten)]
    pub file: ProjectFile,
    /// Its text (project files are UTF-8).
    pub content: String,
}

/// `PUT /api/v1/files/{ns}/{path}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct WriteFile {
    /// The file's new text.
    pub content: String,
}

/// The project files of a namespace.
///
/// Paths are checked by
/// [`ProjectPath::parse`](rat_core::project::files::ProjectPath::parse):
/// relative, no `..`, inside `README.md`, `docs/` or a pipeline folder. A
/// pipeline's file is saved only if the pipeline it makes is valid, exactly
/// as [`PlatformApi::replace_pipeline`](super::PlatformApi::replace_pipeline)
/// checks it; a refused save changes nothing.
///
/// ```no_run
/// # async fn demo(api: &dyn rat_server::api::PlatformApi) -> rat_core::Result<()> {
/// api.write_project_file("default", "docs/orders.md", "# Orders\n").await?;
/// let text = api.read_project_file("default", "docs/orders.md").await?.content;
/// assert_eq!(text, "# Orders\n");
/// # Ok(()) }
/// ```
#[async_trait]
pub trait FilesApi: Send + Sync {
    /// Every project file of `namespace`, by path.
    async fn project_files(&self, namespace: &str) -> Result<Vec<ProjectFile>>;

    /// One file with its text.
    async fn read_project_file(&self, namespace: &str, path: &str) -> Result<FileContent>;

    /// Writes a file (creating or replacing it) after validating it.
    async fn write_project_file(
        &self,
        namespace: &str,
        path: &str,
        content: &str,
    ) -> Result<ProjectFile>;

    /// Deletes a file; a pipeline's config or test only if the pipeline
    /// left is valid.
    async fn delete_project_file(&self, namespace: &str, path: &str) -> Result<()>;
}
