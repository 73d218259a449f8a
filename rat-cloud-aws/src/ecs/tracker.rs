//! One poller for every task the executor follows: DescribeTasks in
//! batches of up to 100 per cluster, however many runs are live.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use tokio::sync::watch;

use super::task::{Observed, observe};

/// ECS describes at most this many tasks per call.
pub(crate) const DESCRIBE_BATCH: usize = 100;

type Key = (String, String);

#[derive(Debug)]
pub(crate) struct Tracker {
    client: aws_sdk_ecs::Client,
    container: String,
    watched: Mutex<HashMap<Key, watch::Sender<Option<Observed>>>>,
}

/// A subscription to one task's state; unsubscribes when dropped.
pub(crate) struct TaskWatch {
    tracker: Arc<Tracker>,
    key: Key,
    pub(crate) states: watch::Receiver<Option<Observed>>,
}

impl Drop for TaskWatch {
    fn drop(&mut self) {
        let mut watched = self.tracker.lock();
        if watched
            .get(&self.key)
            .is_some_and(|s| s.receiver_count() <= 1)
        {
            watched.remove(&self.key);
        }
    }
}

impl Tracker {
    /// Starts polling every `interval` until the tracker is dropped.
    pub(crate) fn start(
        client: aws_sdk_ecs::Client,
        container: String,
        interval: Duration,
    ) -> Arc<Self> {
        let tracker = Arc::new(Self {
            client,
            container,
            watched: Mutex::new(HashMap::new()),
        });
        let weak: Weak<Self> = Arc::downgrade(&tracker);
        tokio::spawn(async move {
            let mut ticks = tokio::time::interval(interval);
            ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                ticks.tick().await;
                let Some(tracker) = weak.upgrade() else { break };
                tracker.poll().await;
            }
        });
        tracker
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Key, watch::Sender<Option<Observed>>>> {
        self.watched.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Follows the task `arn` of `cluster`.
    pub(crate) fn watch(self: &Arc<Self>, cluster: &str, arn: &str) -> TaskWatch {
        let key = (cluster.to_owned(), arn.to_owned());
        let states = self
            .lock()
            .entry(key.clone())
            .or_insert_with(|| watch::Sender::new(None))
            .subscribe();
        TaskWatch {
            tracker: Arc::clone(self),
            key,
            states,
        }
    }

    async fn poll(&self) {
        let mut by_cluster: HashMap<String, Vec<String>> = HashMap::new();
        for (cluster, arn) in self.lock().keys() {
            by_cluster
                .entry(cluster.clone())
                .or_default()
                .push(arn.clone());
        }
        for (cluster, arns) in by_cluster {
            for batch in arns.chunks(DESCRIBE_BATCH) {
                self.describe(&cluster, batch).await;
            }
        }
    }

    async fn describe(&self, cluster: &str, arns: &[String]) {
        let response = self
            .client
            .describe_tasks()
            .cluster(cluster)
            .set_tasks(Some(arns.to_vec()))
            .send()
            .await;
        let response = match response {
            Ok(r) => r,
            Err(e) => {
                // The next tick tries again; followers keep their last state.
                let (_, e) = super::api::sdk_error("DescribeTasks", e);
                tracing::warn!("{e}");
                return;
            }
        };
        let mut seen = HashMap::new();
        for task in response.tasks() {
            if let Some(arn) = task.task_arn() {
                seen.insert(arn.to_owned(), observe(task, &self.container));
            }
        }
        for failure in response.failures() {
            if failure.reason() == Some("MISSING")
                && let Some(arn) = failure.arn()
            {
                seen.insert(arn.to_owned(), Observed::Missing);
            }
        }
        let watched = self.lock();
        for arn in arns {
            if let (Some(state), Some(sender)) = (
                seen.remove(arn),
                watched.get(&(cluster.to_owned(), arn.clone())),
            ) {
                sender.send_replace(Some(state));
            }
        }
    }
}
