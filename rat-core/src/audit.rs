//! The audit log: who did what to which object, and how it ended, for
//! every mutation and every refused request — [`AuditEntry`], appended to
//! an [`AuditStore`] and read back by [`AuditFilter`]. Entries hold names,
//! paths and outcomes, never a credential.

use std::fmt;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// How a request ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "json-schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum AuditOutcome {
    /// It did what it asked.
    Ok,
    /// Authentication or an access check refused it.
    Denied,
    /// It failed otherwise (bad input, a conflict, an error).
    Failed,
}

impl AuditOutcome {
    /// `ok`, `denied` or `failed`.
    pub fn as_str(self) -> &'static str {
        match self {
            AuditOutcome::Ok => "ok",
            AuditOutcome::Denied => "denied",
            AuditOutcome::Failed => "failed",
        }
    }
}

impl std::str::FromStr for AuditOutcome {
    type Err = Error;

    fn from_str(text: &str) -> Result<Self> {
        match text {
            "ok" => Ok(AuditOutcome::Ok),
            "denied" => Ok(AuditOutcome::Denied),
            "failed" => Ok(AuditOutcome::Failed),
            other => Err(Error::invalid(format!(
                "'{}' is not ok, denied or failed",
                other.escape_default()
            ))
            .with_context("field", "outcome")),
        }
    }
}

impl fmt::Display for AuditOutcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One audited request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "json-schema", derive(schemars::JsonSchema))]
pub struct AuditEntry {
    /// Its id (time-ordered).
    pub id: String,
    /// When it was answered.
    pub at: DateTime<Utc>,
    /// Who asked: a principal's id, or `anonymous` when authentication
    /// failed.
    pub principal: String,
    /// What was asked: the method and the route (`DELETE
    /// /api/v1/pipelines/{namespace}/{layer}/{name}`).
    pub verb: String,
    /// What it was asked of: the request's path, without its query.
    pub object: String,
    /// How it ended.
    pub outcome: AuditOutcome,
    /// The HTTP status answered.
    pub status: u16,
    /// The request's id (`x-request-id`), to find its log lines.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
}

/// Which entries to read: every filter set must match; newest first.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditFilter {
    /// Only this principal's.
    pub principal: Option<String>,
    /// Only objects under this path (a prefix).
    pub object: Option<String>,
    /// Only this verb (`POST /api/v1/sharing`), or verbs of this method.
    pub verb: Option<String>,
    /// Only this outcome.
    pub outcome: Option<AuditOutcome>,
    /// Only at or after.
    pub since: Option<DateTime<Utc>>,
    /// Only before.
    pub until: Option<DateTime<Utc>>,
    /// At most this many.
    pub limit: u32,
    /// After skipping this many.
    pub offset: u32,
}

/// Keeps the audit log: appended to, read newest first, pruned by age.
///
/// Implementations: `rat_executor::SqliteRunStore` and the PostgreSQL
/// store (same database as the run records).
#[async_trait]
pub trait AuditStore: Send + Sync + fmt::Debug {
    /// Appends one entry.
    async fn append(&self, entry: &AuditEntry) -> Result<()>;

    /// The entries matching `filter`, newest first.
    async fn entries(&self, filter: &AuditFilter) -> Result<Vec<AuditEntry>>;

    /// Removes the entries older than `before`; how many went.
    async fn prune_audit(&self, before: DateTime<Utc>) -> Result<u64>;
}
