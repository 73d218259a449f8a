//! What schedules did, and webhooks: each firing of a schedule (the run
//! it started, or why it started none), and the call that fires a webhook
//! schedule with its token.

use async_trait::async_trait;
use rat_core::Result;
pub use rat_core::schedule::{FiringRecord, LandingCursor, TriggerKind, WebhookToken};

use super::Page;

/// Firings and webhooks.
///
/// ```no_run
/// # async fn demo(api: &dyn rat_server::api::PlatformApi, id: &str, token: &str) -> rat_core::Result<()> {
/// let fired = api.fire_webhook(id, token).await?;
/// println!("run {:?}", fired.run_id);
/// for firing in api.schedule_firings(id, 20, 0).await?.items {
///     println!("{} {} {:?}", firing.at, firing.kind, firing.skipped);
/// }
/// # Ok(()) }
/// ```
#[async_trait]
pub trait TriggersApi: Send + Sync {
    /// One page of a schedule's firings, newest first.
    async fn schedule_firings(
        &self,
        schedule: &str,
        limit: u32,
        offset: u32,
    ) -> Result<Page<FiringRecord>>;

    /// Fires a webhook schedule: `unauthorized` for a wrong token or an
    /// unknown schedule alike, `rate_limited` past its rate, `conflict`
    /// (recorded as skipped) when it is paused or its run cannot start.
    async fn fire_webhook(&self, schedule: &str, token: &str) -> Result<FiringRecord>;
}
