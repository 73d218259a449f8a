//! Schedules: when a pipeline runs without anyone asking — on a cron
//! expression, or after an upstream pipeline succeeds — and the
//! [`ScheduleStore`] that keeps them (and who fires them) durable.

use std::fmt;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::error::Result;
use crate::ident::{RunId, TableRef};

/// What makes a schedule fire.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum Trigger {
    /// A 5-field cron expression (minute hour day-of-month month
    /// day-of-week), in UTC.
    Cron {
        /// E.g. `0 6 * * 1-5`.
        expression: String,
    },
    /// Each successful run of another pipeline.
    AfterUpstream {
        /// The pipeline whose success triggers this one.
        upstream: TableRef,
    },
}

/// A schedule and its firing state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Schedule {
    /// Its id (a UUID).
    pub id: String,
    /// The pipeline it runs.
    pub pipeline: TableRef,
    /// When.
    pub trigger: Trigger,
    /// Paused schedules do not fire.
    pub enabled: bool,
    /// When a cron schedule fires next. In the past after a downtime: it
    /// fires once, then the next time is computed from now (no backfill).
    pub next_fire_at: Option<DateTime<Utc>>,
    /// When it last fired.
    pub last_fired_at: Option<DateTime<Utc>>,
    /// The run it last started.
    pub last_run_id: Option<RunId>,
    /// For [`Trigger::AfterUpstream`]: the upstream run it last reacted to.
    pub last_upstream_run: Option<RunId>,
    /// When it was created.
    pub created_at: DateTime<Utc>,
}

/// One firing, recorded only if the schedule is still as the scheduler
/// saw it (so two schedulers can never both fire it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Firing {
    /// The schedule.
    pub id: String,
    /// Its `next_fire_at` as read.
    pub expected_next: Option<DateTime<Utc>>,
    /// Its `last_upstream_run` as read.
    pub expected_upstream: Option<RunId>,
    /// The new `next_fire_at`.
    pub next_fire_at: Option<DateTime<Utc>>,
    /// The upstream run reacted to, if any.
    pub upstream_run: Option<RunId>,
    /// The run started (`None` when it could not be: the firing still
    /// counts, so a broken schedule does not retry every tick).
    pub run_id: Option<RunId>,
    /// When.
    pub at: DateTime<Utc>,
}

/// Durable schedules, and the lease that makes one scheduler the leader.
///
/// Implementations: `rat_executor::SqliteRunStore`, and the PostgreSQL
/// store (same database as the run records).
#[async_trait]
pub trait ScheduleStore: Send + Sync + fmt::Debug {
    /// Adds a schedule.
    async fn insert_schedule(&self, schedule: &Schedule) -> Result<()>;

    /// One schedule; `not_found` when unknown.
    async fn schedule(&self, id: &str) -> Result<Schedule>;

    /// All schedules, oldest first.
    async fn schedules(&self) -> Result<Vec<Schedule>>;

    /// Replaces a schedule's definition and firing state; `not_found` when
    /// unknown.
    async fn replace_schedule(&self, schedule: &Schedule) -> Result<()>;

    /// Deletes a schedule; `not_found` when unknown.
    async fn delete_schedule(&self, id: &str) -> Result<()>;

    /// Records a firing if the schedule still has the expected state;
    /// whether it did.
    async fn record_firing(&self, firing: &Firing) -> Result<bool>;

    /// Takes or keeps the scheduler lease for `ttl` as `owner`; whether
    /// `owner` holds it now. Only the holder fires schedules.
    async fn lead(&self, owner: &str, ttl: Duration) -> Result<bool>;

    /// Gives the lease up if `owner` holds it, so another instance takes
    /// over at once (an orderly shutdown; a crash lets it expire).
    async fn resign(&self, owner: &str) -> Result<()>;
}
