//! Versions of a pipeline's code: every save numbered, with who saved it,
//! when and why, so code can be compared and rolled back; drafts saved
//! beside the published code until they are published. The
//! [`VersionStore`] keeps them durable.
//!
//! Storage holds the published code (what runs and schedules read); a
//! draft lives only in the store.

use std::fmt;
use std::str::FromStr;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::ident::TableRef;
use crate::project::PipelineFiles;

/// What a version is to its pipeline.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "json-schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "lowercase")]
pub enum VersionState {
    /// Written to storage: the code runs used from then until the next
    /// published version.
    Published,
    /// Saved beside the published code, for previews and test runs; it is
    /// the pipeline's draft while it is the newest version.
    Draft,
    /// A draft thrown away.
    Discarded,
}

impl VersionState {
    /// The lowercase name, as stored and serialized.
    pub fn as_str(self) -> &'static str {
        match self {
            VersionState::Published => "published",
            VersionState::Draft => "draft",
            VersionState::Discarded => "discarded",
        }
    }
}

impl fmt::Display for VersionState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for VersionState {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        match s {
            "published" => Ok(VersionState::Published),
            "draft" => Ok(VersionState::Draft),
            "discarded" => Ok(VersionState::Discarded),
            other => Err(Error::invalid(format!(
                "unknown version state '{}'; expected published, draft or discarded",
                other.escape_default()
            ))),
        }
    }
}

/// A version without its files: what a list of versions shows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "json-schema", derive(schemars::JsonSchema))]
pub struct VersionSummary {
    /// The pipeline.
    pub table: TableRef,
    /// Its number: 1 for the pipeline's first, one more for each save.
    pub version: u64,
    /// Published, draft or discarded.
    pub state: VersionState,
    /// When it was saved.
    pub created_at: DateTime<Utc>,
    /// Who saved it, when the server knew (the caller's principal).
    pub author: Option<String>,
    /// Why, as the author said (or what the save did).
    pub message: Option<String>,
}

/// One version of a pipeline's code, with its files.
///
/// ```
/// use rat_core::versions::{PipelineVersion, VersionState};
///
/// let version: PipelineVersion = serde_json::from_str(r#"{
///     "table": "default.silver.orders", "version": 3, "state": "draft",
///     "created_at": "2026-12-04T10:00:00Z", "author": "alice", "message": null,
///     "files": {"sql": "SELECT 1"}}"#).unwrap();
/// assert_eq!(version.summary.state, VersionState::Draft);
/// assert_eq!(version.files.code().unwrap().1, "SELECT 1");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "json-schema", derive(schemars::JsonSchema))]
pub struct PipelineVersion {
    /// Number, state, who, when, why.
    #[serde(flatten)]
    pub summary: VersionSummary,
    /// The pipeline's files as they were saved.
    pub files: PipelineFiles,
}

/// A version to record; the store numbers it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewVersion<'a> {
    /// The pipeline.
    pub table: &'a TableRef,
    /// Published (written to storage) or draft.
    pub state: VersionState,
    /// Who saved it.
    pub author: Option<&'a str>,
    /// Why.
    pub message: Option<&'a str>,
    /// The files saved.
    pub files: &'a PipelineFiles,
}

/// Most characters a version's message keeps.
pub const MAX_MESSAGE_CHARS: usize = 1_000;

/// A save's message, validated as [`free_text`] of the field `message`.
///
/// ```
/// use rat_core::versions::message;
///
/// assert_eq!(message(Some("  fix the join ")).unwrap(), Some("fix the join".to_owned()));
/// assert_eq!(message(Some(" ")).unwrap(), None);
/// assert!(message(Some("bell\u{7}")).is_err());
/// ```
pub fn message(text: Option<&str>) -> Result<Option<String>> {
    free_text("message", text)
}

/// A short free text a user gives (a message, a description), validated:
/// at most [`MAX_MESSAGE_CHARS`] characters, no control characters but
/// newlines and tabs; blank is none. The error names `field`.
///
/// ```
/// use rat_core::versions::free_text;
///
/// let err = free_text("description", Some(&"x".repeat(1001))).unwrap_err();
/// assert!(err.to_string().contains("description"));
/// ```
pub fn free_text(field: &'static str, text: Option<&str>) -> Result<Option<String>> {
    let Some(text) = text.map(str::trim).filter(|t| !t.is_empty()) else {
        return Ok(None);
    };
    let invalid = |why: String| Err(Error::invalid(why).with_context("field", field));
    if text.chars().count() > MAX_MESSAGE_CHARS {
        return invalid(format!(
            "the {field} is longer than {MAX_MESSAGE_CHARS} characters"
        ));
    }
    if text
        .chars()
        .any(|c| c.is_control() && c != '\n' && c != '\t')
    {
        return invalid(format!("the {field} holds a control character"));
    }
    Ok(Some(text.to_owned()))
}

/// Durable versions of pipelines' code.
///
/// Implementations: `rat_executor::SqliteRunStore` and the PostgreSQL
/// store (same database as the run records).
#[async_trait]
pub trait VersionStore: Send + Sync + fmt::Debug {
    /// Records `version` numbered one more than its pipeline's newest (1
    /// for its first), even when several saves race.
    async fn add_version(&self, version: NewVersion<'_>) -> Result<PipelineVersion>;

    /// The pipeline's versions, newest first: at most `limit`, after
    /// skipping `offset`.
    async fn versions(
        &self,
        table: &TableRef,
        limit: u32,
        offset: u32,
    ) -> Result<Vec<VersionSummary>>;

    /// One version; [`ErrorKind::NotFound`](crate::ErrorKind::NotFound)
    /// when the pipeline has no version of that number.
    async fn version(&self, table: &TableRef, version: u64) -> Result<PipelineVersion>;

    /// The pipeline's newest version of any state (none before its first
    /// save).
    async fn newest_version(&self, table: &TableRef) -> Result<Option<PipelineVersion>>;

    /// The pipeline's newest published version.
    async fn published_version(&self, table: &TableRef) -> Result<Option<PipelineVersion>>;

    /// Marks the pipeline's drafts newer than its newest published
    /// version discarded (older ones were published or superseded and
    /// stay drafts in the history); how many there were.
    async fn discard_drafts(&self, table: &TableRef) -> Result<u64>;
}
