//! The scheduler: each tick, the instance holding the lease fires the
//! schedules that are due. Every instance tries for the lease, so another
//! takes over within a lease's life when the leader stops.

use std::time::Duration;

use chrono::Utc;

use crate::Platform;

/// How a scheduler ticks and holds its lease.
#[derive(Debug, Clone)]
pub struct SchedulerConfig {
    /// Time between ticks.
    pub tick: Duration,
    /// The lease lasts this long unless renewed (each tick renews it).
    pub lease: Duration,
    /// This instance's name in the lease.
    pub owner: String,
}

impl Default for SchedulerConfig {
    fn default() -> Self {
        Self {
            tick: Duration::from_secs(1),
            lease: Duration::from_secs(15),
            owner: uuid::Uuid::new_v4().to_string(),
        }
    }
}

/// Runs the scheduler until the returned handle is aborted (or dropped
/// with the runtime).
pub fn spawn(platform: Platform, config: SchedulerConfig) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval(config.tick);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticks.tick().await;
            let leading = match platform
                .schedule_store()
                .lead(&config.owner, config.lease)
                .await
            {
                Ok(leading) => leading,
                Err(e) => {
                    tracing::warn!("scheduler lease: {e}");
                    false
                }
            };
            platform.set_leading(leading);
            if !leading {
                continue;
            }
            match platform.fire_due(Utc::now()).await {
                Ok(runs) if !runs.is_empty() => {
                    tracing::info!("schedules started {} run(s)", runs.len())
                }
                Ok(_) => {}
                Err(e) => tracing::warn!("scheduler: {e}"),
            }
        }
    })
}
