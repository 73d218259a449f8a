//! Batches: a selection of pipelines run as one request, in DAG order
//! (independent ones at once, what depends on a failure skipped), and the
//! [`BatchStore`] that keeps them durable so any process sharing the store
//! can follow or cancel one.

use std::fmt;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::error::Result;
use crate::ident::{Identifier, RunId, TableRef};
use crate::run::RunStatus;

/// Where one pipeline of a batch is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "json-schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "lowercase")]
pub enum ItemState {
    /// Waiting for its upstream (or a free worker).
    Waiting,
    /// Its run was submitted.
    Running,
    /// Its run ended (see its status).
    Finished,
    /// Not run: an upstream failed, the batch was cancelled, or its run
    /// could not be submitted.
    Skipped,
}

/// One pipeline of a batch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "json-schema", derive(schemars::JsonSchema))]
pub struct BatchItem {
    /// The pipeline's table.
    pub table: TableRef,
    /// The pipelines of the batch it depends on, directly or not.
    pub upstream: Vec<TableRef>,
    /// Where it is.
    pub state: ItemState,
    /// Its run, once submitted.
    pub run_id: Option<RunId>,
    /// Its run's final status, once finished.
    pub status: Option<RunStatus>,
    /// Why it was skipped.
    pub reason: Option<String>,
}

impl BatchItem {
    /// An item waiting to run.
    pub fn waiting(table: TableRef, upstream: Vec<TableRef>) -> Self {
        Self {
            table,
            upstream,
            state: ItemState::Waiting,
            run_id: None,
            status: None,
            reason: None,
        }
    }

    /// Whether it ended without success (skipped, or its run did not
    /// succeed): what depends on it is skipped.
    pub fn failed(&self) -> bool {
        match self.state {
            ItemState::Skipped => true,
            ItemState::Finished => self.status != Some(RunStatus::Success),
            _ => false,
        }
    }
}

/// A batch and where each of its pipelines is.
///
/// ```
/// use rat_core::batch::{Batch, BatchItem};
///
/// let a: rat_core::TableRef = "bronze.a".parse().unwrap();
/// let b: rat_core::TableRef = "silver.b".parse().unwrap();
/// let batch = Batch::new(
///     rat_core::ident::namespace("default").unwrap(),
///     vec![BatchItem::waiting(a.clone(), vec![]), BatchItem::waiting(b, vec![a])],
/// );
/// assert_eq!(batch.status, rat_core::RunStatus::Running);
/// assert_eq!(batch.id.len(), 32);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "json-schema", derive(schemars::JsonSchema))]
pub struct Batch {
    /// Its id (32 hex digits, time-ordered).
    pub id: String,
    /// The namespace of its pipelines.
    pub namespace: Identifier,
    /// `running` until every item is finished or skipped; then `success`
    /// when every run succeeded, `cancelled` when it was cancelled, else
    /// `failed`.
    pub status: RunStatus,
    /// When it was submitted.
    pub submitted_at: DateTime<Utc>,
    /// When it ended.
    pub finished_at: Option<DateTime<Utc>>,
    /// Whether a cancel was asked for.
    pub cancel_requested: bool,
    /// Its pipelines, upstream first.
    pub items: Vec<BatchItem>,
}

impl Batch {
    /// A new, running batch of `items` (upstream first).
    pub fn new(namespace: Identifier, items: Vec<BatchItem>) -> Self {
        Self {
            id: uuid::Uuid::now_v7().simple().to_string(),
            namespace,
            status: RunStatus::Running,
            submitted_at: Utc::now(),
            finished_at: None,
            cancel_requested: false,
            items,
        }
    }

    /// The tables of its items in `state`, upstream first.
    pub fn tables_in(&self, state: ItemState) -> impl Iterator<Item = &TableRef> {
        self.items
            .iter()
            .filter(move |i| i.state == state)
            .map(|i| &i.table)
    }

    /// The status its items add up to once none waits or runs.
    pub fn outcome(&self) -> RunStatus {
        if self.cancel_requested {
            RunStatus::Cancelled
        } else if self.items.iter().any(BatchItem::failed) {
            RunStatus::Failed
        } else {
            RunStatus::Success
        }
    }
}

/// The error of a batch that is not there, the same from every store (and
/// from a platform hiding the batch from its caller).
pub fn batch_not_found(id: &str) -> crate::Error {
    crate::Error::not_found(format!("no batch '{}'", id.escape_default()))
}

/// Durable batches.
///
/// Implementations: `rat_executor::SqliteRunStore`, and the PostgreSQL
/// store (same database as the run records).
#[async_trait]
pub trait BatchStore: Send + Sync + fmt::Debug {
    /// Records a new batch, owned by `owner` (the process driving it).
    async fn insert_batch(&self, batch: &Batch, owner: &str) -> Result<()>;

    /// Saves a batch's progress (its cancel request is kept as stored).
    async fn update_batch(&self, batch: &Batch) -> Result<()>;

    /// One batch; [`ErrorKind::NotFound`](crate::ErrorKind::NotFound)
    /// when unknown.
    async fn batch(&self, id: &str) -> Result<Batch>;

    /// Asks the batch's driver to stop it;
    /// [`ErrorKind::Conflict`](crate::ErrorKind::Conflict) once it ended.
    async fn request_batch_cancel(&self, id: &str) -> Result<()>;

    /// Batches still running, with the owner driving each.
    async fn unfinished_batches(&self) -> Result<Vec<(Batch, String)>>;
}
