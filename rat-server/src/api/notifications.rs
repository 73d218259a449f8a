//! A namespace's notifications: outgoing webhooks told when runs finish or
//! fail, quality tests fail, or schedules skip, with every delivery and
//! its attempts kept.

use async_trait::async_trait;
use rat_core::Result;
pub use rat_core::notify::{
    Delivery, DeliveryState, Event, EventKind, FailedTest, NotificationHook, SigningSecret,
};
use serde::{Deserialize, Serialize};

use super::Page;

/// `POST /namespaces/{ns}/notifications`: a new hook.
///
/// ```
/// use rat_server::api::{EventKind, NewHook};
///
/// let hook: NewHook = serde_json::from_str(
///     r#"{"url": "https://hooks.example.com/rat", "events": ["run_failed", "quality_failed"]}"#,
/// ).unwrap();
/// assert_eq!(hook.events, [EventKind::RunFailed, EventKind::QualityFailed]);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NewHook {
    /// Where events are posted: an http(s) URL without credentials.
    pub url: String,
    /// Which events: `run_finished`, `run_failed`, `quality_failed`,
    /// `schedule_skipped`.
    pub events: Vec<EventKind>,
    /// What it is for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

/// Notification hooks of a namespace and their deliveries.
///
/// Each body is the [`Event`] as JSON, signed: the header
/// `X-Rat-Signature-256: sha256=<hex HMAC-SHA256 of the body under the
/// hook's secret>`, with `X-Rat-Event` and `X-Rat-Delivery` beside it.
///
/// ```no_run
/// # async fn demo(api: &dyn rat_server::api::PlatformApi) -> rat_core::Result<()> {
/// use rat_server::api::{EventKind, NewHook};
///
/// let hook = api
///     .create_notification_hook("default", &NewHook {
///         url: "https://hooks.example.com/rat".into(),
///         events: vec![EventKind::RunFailed],
///         description: None,
///     })
///     .await?;
/// let secret = hook.secret.expect("shown once, on creation");
/// # Ok(()) }
/// ```
#[async_trait]
pub trait NotificationsApi: Send + Sync {
    /// The hooks of a namespace, oldest first.
    async fn notification_hooks(&self, namespace: &str) -> Result<Vec<NotificationHook>>;

    /// One hook of a namespace.
    async fn notification_hook(&self, namespace: &str, id: &str) -> Result<NotificationHook>;

    /// Adds a hook; its signing secret is in the reply, and only there.
    async fn create_notification_hook(
        &self,
        namespace: &str,
        hook: &NewHook,
    ) -> Result<NotificationHook>;

    /// Deletes a hook and its deliveries.
    async fn delete_notification_hook(&self, namespace: &str, id: &str) -> Result<()>;

    /// One page of a hook's deliveries, newest first.
    async fn hook_deliveries(
        &self,
        namespace: &str,
        id: &str,
        limit: u32,
        offset: u32,
    ) -> Result<Page<Delivery>>;
}
