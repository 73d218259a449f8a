//! The scheduler: each tick, the instance holding the lease fires the
//! schedules that are due and passes the notifier (events of runs that
//! ended enqueued, deliveries due attempted — in the background: a slow
//! receiver never delays a schedule), and every `housekeeping` interval it
//! prunes run records and maintains every table (in the background too). Every instance tries for the lease, so another
//! takes over within a lease's life when the leader stops.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use chrono::Utc;
use rat_core::RunRetention;

use crate::{NotifierSettings, Platform};

/// How a scheduler ticks and holds its lease.
#[derive(Debug, Clone)]
pub struct SchedulerConfig {
    /// Time between ticks.
    pub tick: Duration,
    /// The lease lasts this long unless renewed (each tick renews it).
    pub lease: Duration,
    /// This instance's name in the lease.
    pub owner: String,
    /// Time between housekeeping passes (default 1 hour; `None`: never).
    pub housekeeping: Option<Duration>,
    /// How long run records and logs are kept.
    pub run_retention: RunRetention,
    /// How notifications are delivered.
    pub notifier: NotifierSettings,
}

impl Default for SchedulerConfig {
    fn default() -> Self {
        Self {
            tick: Duration::from_secs(1),
            lease: Duration::from_secs(15),
            owner: uuid::Uuid::new_v4().to_string(),
            housekeeping: Some(Duration::from_secs(3600)),
            run_retention: RunRetention::default(),
            notifier: NotifierSettings::default(),
        }
    }
}

/// Runs the scheduler until the returned handle is aborted (or dropped
/// with the runtime).
pub fn spawn(platform: Platform, config: SchedulerConfig) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval(config.tick);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        // The first pass comes one interval after start, not at once: a
        // server restarted often does not maintain on every start.
        let mut last_housekeeping = Instant::now();
        let housekeeping_busy = Arc::new(AtomicBool::new(false));
        let notifier_busy = Arc::new(AtomicBool::new(false));
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
            let due = config
                .housekeeping
                .is_some_and(|every| last_housekeeping.elapsed() >= every);
            if due && !housekeeping_busy.swap(true, Ordering::SeqCst) {
                last_housekeeping = Instant::now();
                let (platform, busy) = (platform.clone(), housekeeping_busy.clone());
                let retention = config.run_retention;
                tokio::spawn(async move {
                    match platform.housekeep(&retention).await {
                        Ok(done) => tracing::info!(?done, "housekeeping"),
                        Err(e) => tracing::warn!("housekeeping: {e}"),
                    }
                    busy.store(false, Ordering::SeqCst);
                });
            }
            if !notifier_busy.swap(true, Ordering::SeqCst) {
                let (platform, busy) = (platform.clone(), notifier_busy.clone());
                let settings = config.notifier;
                tokio::spawn(async move {
                    if let Err(e) = platform.notify(&settings).await {
                        tracing::warn!("notifications: {e}");
                    }
                    busy.store(false, Ordering::SeqCst);
                });
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
