//! Schedules: when a pipeline runs without anyone asking — on a cron
//! expression, after an upstream pipeline succeeds, when a file lands in
//! a landing zone, or when a webhook is called — the record of each
//! firing, and the [`ScheduleStore`] that keeps them (and who fires them)
//! durable.

use std::fmt;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::error::Result;
use crate::ident::{Identifier, RunId, TableRef};

/// What makes a schedule fire.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "json-schema", derive(schemars::JsonSchema))]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum Trigger {
    /// A cron expression in UTC: 5 fields (minute hour day-of-month month
    /// day-of-week), or 6 with seconds first.
    Cron {
        /// E.g. `0 6 * * 1-5`, or `*/30 * * * * *` (every 30 seconds).
        expression: String,
    },
    /// Each successful run of another pipeline.
    AfterUpstream {
        /// The pipeline whose success triggers this one.
        upstream: TableRef,
    },
    /// A file landing in a zone of the pipeline's namespace (one not
    /// there when the trigger last fired, or was armed).
    Landing {
        /// The zone.
        zone: Identifier,
        /// Only files whose name matches this glob (`*.csv`).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pattern: Option<String>,
    },
    /// A call of `POST /webhooks/{schedule id}` with the schedule's token.
    Webhook {
        /// Hex SHA-256 of the token (the token itself is never stored).
        token_sha256: String,
    },
}

impl Trigger {
    /// What kind of trigger it is, as firings name it.
    pub fn kind(&self) -> TriggerKind {
        match self {
            Trigger::Cron { .. } => TriggerKind::Cron,
            Trigger::AfterUpstream { .. } => TriggerKind::AfterUpstream,
            Trigger::Landing { .. } => TriggerKind::Landing,
            Trigger::Webhook { .. } => TriggerKind::Webhook,
        }
    }
}

/// The kinds of [`Trigger`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "json-schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum TriggerKind {
    /// [`Trigger::Cron`].
    Cron,
    /// [`Trigger::AfterUpstream`].
    AfterUpstream,
    /// [`Trigger::Landing`].
    Landing,
    /// [`Trigger::Webhook`].
    Webhook,
}

impl TriggerKind {
    /// The snake_case name, as stored and serialized.
    pub fn as_str(self) -> &'static str {
        match self {
            TriggerKind::Cron => "cron",
            TriggerKind::AfterUpstream => "after_upstream",
            TriggerKind::Landing => "landing",
            TriggerKind::Webhook => "webhook",
        }
    }
}

impl fmt::Display for TriggerKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where a [`Trigger::Landing`] is: the newest modification time among
/// the files it reacted to, and the names modified at that time (storage
/// times may be whole seconds: a file landing in the same second as the
/// last one is still new).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "json-schema", derive(schemars::JsonSchema))]
pub struct LandingCursor {
    /// The newest modification time seen (none: the zone was empty).
    pub modified_at: Option<DateTime<Utc>>,
    /// The names of the files modified at `modified_at`, sorted.
    pub names: Vec<String>,
}

impl LandingCursor {
    /// The cursor after seeing `files` (name, modification time).
    ///
    /// ```
    /// use chrono::{TimeZone, Utc};
    /// use rat_core::schedule::LandingCursor;
    ///
    /// let t = |s| Some(Utc.timestamp_opt(s, 0).unwrap());
    /// let seen = LandingCursor::of([("a.csv", t(10)), ("b.csv", t(20))]);
    /// assert!(!seen.is_new("b.csv", t(20)));
    /// assert!(seen.is_new("c.csv", t(20)), "same second, new name");
    /// assert!(seen.is_new("a.csv", t(30)), "written again");
    /// ```
    pub fn of<'a>(files: impl IntoIterator<Item = (&'a str, Option<DateTime<Utc>>)>) -> Self {
        let mut cursor = Self::default();
        for (name, modified_at) in files {
            if modified_at > cursor.modified_at {
                cursor.modified_at = modified_at;
                cursor.names.clear();
            }
            if modified_at == cursor.modified_at {
                cursor.names.push(name.to_owned());
            }
        }
        cursor.names.sort();
        cursor
    }

    /// Whether a file is one the cursor has not seen.
    pub fn is_new(&self, name: &str, modified_at: Option<DateTime<Utc>>) -> bool {
        modified_at > self.modified_at
            || (modified_at == self.modified_at
                && self
                    .names
                    .binary_search_by(|n| n.as_str().cmp(name))
                    .is_err())
    }
}

/// A webhook trigger's token, shown once when the trigger is made; its
/// `Debug` is redacted.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "json-schema", derive(schemars::JsonSchema))]
#[serde(transparent)]
pub struct WebhookToken(pub String);

impl fmt::Debug for WebhookToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("WebhookToken(<redacted>)")
    }
}

/// A schedule and its firing state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "json-schema", derive(schemars::JsonSchema))]
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
    /// For [`Trigger::Landing`]: the files it last reacted to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub landing_cursor: Option<LandingCursor>,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// For [`Trigger::Webhook`]: the token, only in the reply that made
    /// it (stores keep its hash alone).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub webhook_token: Option<WebhookToken>,
    /// Whom its runs act for: who made it (or last changed it), with the
    /// roles they held then. `None` on an embedded platform.
    #[serde(default)]
    pub owner: Option<crate::principal::Principal>,
}

/// The error of a schedule that is not there, the same from every store
/// (and from a platform hiding the schedule from its caller).
pub fn schedule_not_found(id: &str) -> crate::Error {
    crate::Error::not_found(format!("no schedule '{id}'"))
}

/// One firing, recorded only if the schedule is still as the scheduler
/// saw it (so two schedulers can never both fire it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Firing {
    /// The schedule.
    pub id: String,
    /// The id its [`FiringRecord`] gets.
    pub record_id: String,
    /// Its `next_fire_at` as read.
    pub expected_next: Option<DateTime<Utc>>,
    /// Its `last_upstream_run` as read.
    pub expected_upstream: Option<RunId>,
    /// The new `next_fire_at`.
    pub next_fire_at: Option<DateTime<Utc>>,
    /// The upstream run reacted to, if any.
    pub upstream_run: Option<RunId>,
    /// Its `landing_cursor` as read.
    pub expected_cursor: Option<LandingCursor>,
    /// The new `landing_cursor`.
    pub landing_cursor: Option<LandingCursor>,
    /// The run started (`None` when it could not be: the firing still
    /// counts, so a broken schedule does not retry every tick).
    pub run_id: Option<RunId>,
    /// Why no run was started.
    pub skipped: Option<String>,
    /// What fired it, for people: the upstream run, the files landed.
    pub detail: Option<String>,
    /// What kind of trigger fired.
    pub kind: TriggerKind,
    /// When.
    pub at: DateTime<Utc>,
}

impl Firing {
    /// How the firing is kept in the schedule's history.
    pub fn record(&self) -> FiringRecord {
        FiringRecord {
            id: self.record_id.clone(),
            schedule_id: self.id.clone(),
            kind: self.kind,
            at: self.at,
            run_id: self.run_id.clone(),
            skipped: self.skipped.clone(),
            detail: self.detail.clone(),
        }
    }
}

/// One firing of a schedule, as its history keeps it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "json-schema", derive(schemars::JsonSchema))]
pub struct FiringRecord {
    /// Its id (32 hex digits, time-ordered).
    pub id: String,
    /// The schedule that fired.
    pub schedule_id: String,
    /// What kind of trigger fired.
    pub kind: TriggerKind,
    /// When.
    pub at: DateTime<Utc>,
    /// The run it started.
    pub run_id: Option<RunId>,
    /// Why it started none (the pipeline was deleted, the schedule is
    /// paused...).
    pub skipped: Option<String>,
    /// What fired it: the upstream run, the files landed, the caller.
    pub detail: Option<String>,
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

    /// Records a firing (its new state and its [`FiringRecord`]) if the
    /// schedule still has the expected state; whether it did.
    async fn record_firing(&self, firing: &Firing) -> Result<bool>;

    /// A schedule's firings, newest first: at most `limit` after skipping
    /// `offset`.
    async fn firings(&self, schedule: &str, limit: u32, offset: u32) -> Result<Vec<FiringRecord>>;

    /// Keeps the newest `keep` firings of each schedule; how many were
    /// deleted.
    async fn prune_firings(&self, keep: u32) -> Result<u64>;

    /// Takes or keeps the scheduler lease for `ttl` as `owner`; whether
    /// `owner` holds it now. Only the holder fires schedules.
    async fn lead(&self, owner: &str, ttl: Duration) -> Result<bool>;

    /// Gives the lease up if `owner` holds it, so another instance takes
    /// over at once (an orderly shutdown; a crash lets it expire).
    async fn resign(&self, owner: &str) -> Result<()>;
}
