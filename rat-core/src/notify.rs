//! Notifications: outgoing webhooks a namespace registers for events of its
//! pipelines — a run finished or failed, a quality test failed, a schedule
//! skipped — each delivery kept (with its attempts) in an outbox, and the
//! [`NotificationStore`] that keeps hooks and deliveries durable.

use std::fmt;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::error::Result;
use crate::ident::{Identifier, RunId, TableRef};
use crate::project::Severity;
use crate::run::RunStatus;

/// What a hook can be told about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "json-schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum EventKind {
    /// A run ended, whatever its status.
    RunFinished,
    /// A run failed (its error says why).
    RunFailed,
    /// A quality test of a run failed or errored (`warn` or `error`).
    QualityFailed,
    /// A schedule fired but started no run (the reason says why).
    ScheduleSkipped,
}

impl EventKind {
    /// Every kind.
    pub const ALL: [EventKind; 4] = [
        EventKind::RunFinished,
        EventKind::RunFailed,
        EventKind::QualityFailed,
        EventKind::ScheduleSkipped,
    ];

    /// The snake_case name, as the `X-Rat-Event` header sends it.
    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::RunFinished => "run_finished",
            EventKind::RunFailed => "run_failed",
            EventKind::QualityFailed => "quality_failed",
            EventKind::ScheduleSkipped => "schedule_skipped",
        }
    }
}

impl fmt::Display for EventKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A hook's signing secret: shown once, when the hook is made; its
/// `Debug` is redacted.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "json-schema", derive(schemars::JsonSchema))]
#[serde(transparent)]
pub struct SigningSecret(pub String);

impl fmt::Debug for SigningSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SigningSecret(<redacted>)")
    }
}

/// An outgoing webhook of a namespace.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "json-schema", derive(schemars::JsonSchema))]
pub struct NotificationHook {
    /// Its id (32 hex digits, time-ordered).
    pub id: String,
    /// The namespace whose events it gets.
    pub namespace: Identifier,
    /// Where events are posted (http or https).
    pub url: String,
    /// Which events, by kind.
    pub events: Vec<EventKind>,
    /// What it is for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// When it was made.
    pub created_at: DateTime<Utc>,
    /// The key bodies are signed with (HMAC-SHA256), only in the reply
    /// that made the hook.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret: Option<SigningSecret>,
}

/// A quality test that failed in a run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "json-schema", derive(schemars::JsonSchema))]
pub struct FailedTest {
    /// Its name.
    pub name: String,
    /// `warn` or `error`.
    pub severity: Severity,
    /// Rows that violate it (0 when it errored).
    pub violations: u64,
    /// Why it errored.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

/// What happened: the body a hook receives (with the delivery's id).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "json-schema", derive(schemars::JsonSchema))]
pub struct Event {
    /// Its kind.
    pub kind: EventKind,
    /// When it happened.
    pub at: DateTime<Utc>,
    /// The namespace.
    pub namespace: Identifier,
    /// The pipeline.
    pub pipeline: TableRef,
    /// The run (none for a skipped schedule).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run_id: Option<RunId>,
    /// The run's final status.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<RunStatus>,
    /// The run's error, or why the schedule skipped.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// The tests that failed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub failed_tests: Vec<FailedTest>,
    /// The schedule, for a skipped one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schedule_id: Option<String>,
}

impl Event {
    /// What makes it one event: a hook gets each key once.
    pub fn key(&self) -> String {
        match (&self.run_id, &self.schedule_id) {
            (Some(run), _) => format!("{}:{run}", self.kind),
            (None, Some(schedule)) => {
                format!("{}:{schedule}:{}", self.kind, self.at.timestamp_micros())
            }
            (None, None) => format!(
                "{}:{}:{}",
                self.kind,
                self.pipeline,
                self.at.timestamp_micros()
            ),
        }
    }
}

/// Where a delivery is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "json-schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "lowercase")]
pub enum DeliveryState {
    /// Waiting for its next attempt.
    Pending,
    /// The receiver answered 2xx.
    Delivered,
    /// Every attempt failed.
    Failed,
}

impl DeliveryState {
    /// The lowercase name, as stored.
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryState::Pending => "pending",
            DeliveryState::Delivered => "delivered",
            DeliveryState::Failed => "failed",
        }
    }
}

/// One event for one hook, and its attempts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "json-schema", derive(schemars::JsonSchema))]
pub struct Delivery {
    /// Its id (32 hex digits, time-ordered; the `X-Rat-Delivery` header).
    pub id: String,
    /// The hook.
    pub hook_id: String,
    /// What it tells.
    pub event: Event,
    /// Where it is.
    pub state: DeliveryState,
    /// Attempts made.
    pub attempts: u32,
    /// When the next attempt is due (pending only).
    pub next_attempt_at: Option<DateTime<Utc>>,
    /// The status the receiver last answered.
    pub last_status: Option<u16>,
    /// What went wrong last (a refused connection, a timeout, a status).
    pub last_error: Option<String>,
    /// When it was delivered.
    pub delivered_at: Option<DateTime<Utc>>,
}

impl Delivery {
    /// A delivery of `event` to `hook`, due now.
    pub fn new(hook_id: &str, event: Event) -> Self {
        Self {
            id: uuid::Uuid::now_v7().simple().to_string(),
            hook_id: hook_id.to_owned(),
            next_attempt_at: Some(event.at),
            event,
            state: DeliveryState::Pending,
            attempts: 0,
            last_status: None,
            last_error: None,
            delivered_at: None,
        }
    }
}

/// Durable hooks and their deliveries.
///
/// Implementations: `rat_executor::SqliteRunStore` and the PostgreSQL
/// store (same database as the run records).
#[async_trait]
pub trait NotificationStore: Send + Sync + fmt::Debug {
    /// Adds a hook with its signing secret (kept for signing, never
    /// listed).
    async fn insert_hook(&self, hook: &NotificationHook, secret: &str) -> Result<()>;

    /// The hooks of `namespace` (all when `None`), oldest first.
    async fn hooks(&self, namespace: Option<&Identifier>) -> Result<Vec<NotificationHook>>;

    /// One hook; `not_found` when unknown.
    async fn hook(&self, id: &str) -> Result<NotificationHook>;

    /// A hook's signing secret.
    async fn hook_secret(&self, id: &str) -> Result<String>;

    /// Deletes a hook and its deliveries; `not_found` when unknown.
    async fn delete_hook(&self, id: &str) -> Result<()>;

    /// Adds deliveries; one whose hook already has its event's key is
    /// left out (an event is delivered once).
    async fn enqueue(&self, deliveries: &[Delivery]) -> Result<()>;

    /// Pending deliveries due at `now`, oldest first, at most `limit`.
    async fn due_deliveries(&self, now: DateTime<Utc>, limit: u32) -> Result<Vec<Delivery>>;

    /// Saves a delivery's state after an attempt.
    async fn update_delivery(&self, delivery: &Delivery) -> Result<()>;

    /// A hook's deliveries, newest first.
    async fn deliveries(&self, hook: &str, limit: u32, offset: u32) -> Result<Vec<Delivery>>;

    /// A named cursor of the notifier (how far it read the runs).
    async fn cursor(&self, name: &str) -> Result<Option<String>>;

    /// Moves a cursor from `expected` to `value`; whether it still was
    /// `expected` (so two notifiers never both enqueue from one place).
    async fn move_cursor(&self, name: &str, expected: Option<&str>, value: &str) -> Result<bool>;
}
