//! Notifications: a namespace's hooks, the events the lease holder
//! enqueues for them (runs as they end, read from the run store with a
//! durable cursor; skipped schedules as they skip), and their delivery:
//! signed with HMAC-SHA256, retried with exponential backoff a bounded
//! number of times, every attempt kept in the delivery's record.

use std::time::Duration;

use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use rat_core::notify::{DeliveryState, FailedTest, SigningSecret};
use rat_core::{
    Delivery, Error, Event, EventKind, NotificationHook, NotificationStore, Result, RunId,
    RunRecord, RunStatus, Schedule, TestOutcome,
};
use sha2::Sha256;

use rat_core::authz::Action;

use super::Platform;
use super::triggers::{hex, new_token};
use crate::api::{NewHook, Page};

/// How deliveries are attempted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NotifierSettings {
    /// Attempts before a delivery is marked failed.
    pub max_attempts: u32,
    /// Wait before the second attempt; each later one waits twice as long.
    pub first_retry: Duration,
    /// How long a receiver has to answer.
    pub timeout: Duration,
}

impl Default for NotifierSettings {
    fn default() -> Self {
        Self {
            max_attempts: 5,
            first_retry: Duration::from_secs(1),
            timeout: Duration::from_secs(10),
        }
    }
}

/// The notifier's cursor over finished runs.
const RUNS_CURSOR: &str = "runs";
/// Finished runs read, and deliveries attempted, per pass.
const BATCH: u32 = 100;
/// The header carrying a body's signature: `sha256=<hex HMAC>`.
pub const SIGNATURE_HEADER: &str = "x-rat-signature-256";

impl Platform {
    /// The hooks of a namespace that exists.
    pub(super) async fn list_hooks(&self, namespace: &str) -> Result<Vec<NotificationHook>> {
        let namespace = self.checked_namespace(Action::Read, namespace).await?;
        self.notification_store().hooks(Some(&namespace)).await
    }

    /// Validates and adds a hook; the reply carries its signing secret
    /// (the only time it is shown).
    pub(super) async fn add_hook(
        &self,
        namespace: &str,
        new: &NewHook,
    ) -> Result<NotificationHook> {
        let namespace = self.checked_namespace(Action::Write, namespace).await?;
        check_url(&new.url)?;
        if new.events.is_empty() {
            return Err(Error::invalid("name at least one event").with_context("field", "events"));
        }
        let description = rat_core::versions::free_text("description", new.description.as_deref())?;
        let mut events = new.events.clone();
        events.sort();
        events.dedup();
        let secret = new_token()?;
        let mut hook = NotificationHook {
            id: uuid::Uuid::now_v7().simple().to_string(),
            namespace,
            url: new.url.clone(),
            events,
            description,
            created_at: chrono::SubsecRound::trunc_subsecs(Utc::now(), 6),
            secret: None,
        };
        self.notification_store()
            .insert_hook(&hook, &secret)
            .await?;
        hook.secret = Some(SigningSecret(secret));
        Ok(hook)
    }

    /// One hook of `namespace`: another namespace's looks absent.
    pub(super) async fn read_hook(&self, namespace: &str, id: &str) -> Result<NotificationHook> {
        self.checked_hook(Action::Read, namespace, id).await
    }

    /// One hook of `namespace`, when the caller may do `action` to what
    /// belongs to the namespace.
    async fn checked_hook(
        &self,
        action: Action,
        namespace: &str,
        id: &str,
    ) -> Result<NotificationHook> {
        let namespace = self.checked_namespace(action, namespace).await?;
        match self.notification_store().hook(id).await {
            Ok(hook) if hook.namespace == namespace => Ok(hook),
            Ok(_) => Err(Error::not_found(format!("no notification hook '{id}'"))),
            Err(e) => Err(e),
        }
    }

    pub(super) async fn remove_hook(&self, namespace: &str, id: &str) -> Result<()> {
        self.checked_hook(Action::Write, namespace, id).await?;
        self.notification_store().delete_hook(id).await
    }

    pub(super) async fn list_deliveries(
        &self,
        namespace: &str,
        id: &str,
        limit: u32,
        offset: u32,
    ) -> Result<Page<Delivery>> {
        self.read_hook(namespace, id).await?;
        let found = self
            .notification_store()
            .deliveries(id, limit.saturating_add(1), offset)
            .await?;
        Ok(Page::of(found, limit, offset))
    }

    /// One notifier pass (the lease holder's): events of the runs that
    /// ended since the last pass enqueued (and the runs counted in the
    /// metrics), then the deliveries due tried.
    pub(crate) async fn notify(&self, settings: &NotifierSettings) -> Result<()> {
        self.enqueue_run_events().await?;
        self.deliver_due(settings).await
    }

    /// Enqueues, for the hooks of a skipped schedule's namespace, that it
    /// skipped.
    pub(super) async fn enqueue_skip(&self, schedule: &Schedule, why: &str, at: DateTime<Utc>) {
        let event = Event {
            kind: EventKind::ScheduleSkipped,
            at,
            namespace: schedule.pipeline.namespace.clone(),
            pipeline: schedule.pipeline.clone(),
            run_id: None,
            status: None,
            message: Some(why.to_owned()),
            failed_tests: Vec::new(),
            schedule_id: Some(schedule.id.clone()),
        };
        if let Err(e) = self.enqueue_events(vec![event]).await {
            tracing::warn!(schedule = %schedule.id, "cannot enqueue the skip's notifications: {e}");
        }
    }

    async fn enqueue_run_events(&self) -> Result<()> {
        let store = self.notification_store();
        if store.cursor(RUNS_CURSOR).await?.is_none() {
            // The first pass ever: runs that ended before this server
            // started are not news.
            let start = cursor_text(self.inner.started_at, None);
            store.move_cursor(RUNS_CURSOR, None, &start).await?;
        }
        let Some(cursor) = store.cursor(RUNS_CURSOR).await? else {
            return Ok(());
        };
        let (after, after_run) = parse_cursor(&cursor)?;
        let runs = self
            .store()
            .finished_after(Some((after, after_run)), BATCH)
            .await?;
        let Some(last) = runs.last() else {
            return Ok(());
        };
        let next = cursor_text(last.finished_at.unwrap_or(after), Some(&last.run_id));
        self.enqueue_events(runs.iter().flat_map(events_of).collect())
            .await?;
        // Lost to another notifier: it enqueued the same events, which the
        // store keeps once, and counted the runs.
        if store.move_cursor(RUNS_CURSOR, Some(&cursor), &next).await? {
            for run in &runs {
                self.inner.metrics.run_finished(run);
            }
        }
        Ok(())
    }

    /// Deliveries of `events` for each hook that asked for them.
    async fn enqueue_events(&self, events: Vec<Event>) -> Result<()> {
        if events.is_empty() {
            return Ok(());
        }
        let hooks = self.notification_store().hooks(None).await?;
        let deliveries: Vec<Delivery> = events
            .into_iter()
            .flat_map(|event| {
                hooks
                    .iter()
                    .filter(|h| h.namespace == event.namespace && h.events.contains(&event.kind))
                    .map(|h| Delivery::new(&h.id, event.clone()))
                    .collect::<Vec<_>>()
            })
            .collect();
        self.notification_store().enqueue(&deliveries).await
    }

    async fn deliver_due(&self, settings: &NotifierSettings) -> Result<()> {
        let store = self.notification_store();
        for mut delivery in store.due_deliveries(Utc::now(), BATCH).await? {
            let hook = match store.hook(&delivery.hook_id).await {
                Ok(hook) => hook,
                Err(e) if e.kind() == rat_core::ErrorKind::NotFound => continue,
                Err(e) => return Err(e),
            };
            let secret = store.hook_secret(&hook.id).await?;
            let outcome = self.post(&hook, &delivery, &secret, settings.timeout).await;
            settle(&mut delivery, outcome, settings, Utc::now());
            store.update_delivery(&delivery).await?;
        }
        Ok(())
    }

    /// Posts one delivery: the receiver's status, or why there is none.
    async fn post(
        &self,
        hook: &NotificationHook,
        delivery: &Delivery,
        secret: &str,
        timeout: Duration,
    ) -> std::result::Result<u16, String> {
        let body = serde_json::to_vec(&delivery.event).map_err(|e| e.to_string())?;
        let response = self
            .inner
            .http
            .post(&hook.url)
            .timeout(timeout)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header("x-rat-event", delivery.event.kind.as_str())
            .header("x-rat-delivery", &delivery.id)
            .header(SIGNATURE_HEADER, signature(secret, &body))
            .body(body)
            .send()
            .await
            // Without the URL: it may hold a token of the receiver's.
            .map_err(|e| format!("no answer: {}", e.without_url()))?;
        Ok(response.status().as_u16())
    }

    pub(super) fn notification_store(&self) -> &std::sync::Arc<dyn NotificationStore> {
        &self.inner.stores.notifications
    }
}

/// `sha256=<hex HMAC-SHA256 of body under secret>`.
///
/// ```
/// let signed = rat_server::notification_signature("key", b"{}");
/// assert!(signed.starts_with("sha256="));
/// assert_eq!(signed.len(), 7 + 64);
/// ```
pub fn signature(secret: &str, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes())
        .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
    mac.update(body);
    format!("sha256={}", hex(&mac.finalize().into_bytes()))
}

/// A delivery after an attempt: delivered on 2xx, else due again after
/// the backoff, or failed once its attempts are spent.
fn settle(
    delivery: &mut Delivery,
    outcome: std::result::Result<u16, String>,
    settings: &NotifierSettings,
    now: DateTime<Utc>,
) {
    delivery.attempts += 1;
    let error = match outcome {
        Ok(status) => {
            delivery.last_status = Some(status);
            if (200..300).contains(&status) {
                delivery.state = DeliveryState::Delivered;
                delivery.delivered_at = Some(now);
                delivery.next_attempt_at = None;
                delivery.last_error = None;
                return;
            }
            format!("the receiver answered {status}")
        }
        Err(why) => why,
    };
    delivery.last_error = Some(error);
    if delivery.attempts >= settings.max_attempts {
        delivery.state = DeliveryState::Failed;
        delivery.next_attempt_at = None;
        return;
    }
    let factor = 2u32.saturating_pow(delivery.attempts - 1);
    let wait = settings.first_retry.saturating_mul(factor);
    delivery.next_attempt_at =
        Some(now + chrono::Duration::from_std(wait).unwrap_or(chrono::Duration::MAX));
}

/// The events a finished run makes: finished, and failed or a test failed.
fn events_of(run: &RunRecord) -> Vec<Event> {
    let at = run.finished_at.unwrap_or_else(Utc::now);
    let failed_tests: Vec<FailedTest> = run
        .result
        .iter()
        .flat_map(|r| &r.quality)
        .filter(|q| q.outcome != TestOutcome::Passed)
        .map(|q| FailedTest {
            name: q.name.clone(),
            severity: q.severity,
            violations: q.violations,
            message: q.message.clone(),
        })
        .collect();
    let event = |kind| Event {
        kind,
        at,
        namespace: run.table.namespace.clone(),
        pipeline: run.table.clone(),
        run_id: Some(run.run_id.clone()),
        status: Some(run.status),
        message: run.error.as_ref().map(|e| e.message.clone()),
        failed_tests: failed_tests.clone(),
        schedule_id: None,
    };
    let mut events = vec![event(EventKind::RunFinished)];
    if run.status == RunStatus::Failed {
        events.push(event(EventKind::RunFailed));
    }
    if !failed_tests.is_empty() {
        events.push(event(EventKind::QualityFailed));
    }
    events
}

fn cursor_text(at: DateTime<Utc>, run: Option<&RunId>) -> String {
    let at = at.to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
    match run {
        Some(run) => format!("{at} {run}"),
        None => at,
    }
}

/// A cursor's time and run (none: before every run of that time).
fn parse_cursor(text: &str) -> Result<(DateTime<Utc>, &str)> {
    let (at, run) = text.split_once(' ').unwrap_or((text, ""));
    let at = DateTime::parse_from_rfc3339(at)
        .map_err(|_| {
            Error::internal(format!(
                "the notifier's cursor '{text}' is not one it wrote"
            ))
        })?
        .with_timezone(&Utc);
    Ok((at, run))
}

/// A hook's URL: http(s), no credentials in it, at most 2000 characters.
fn check_url(text: &str) -> Result<()> {
    let invalid =
        |why: &str| Err(Error::invalid(format!("url: {why}")).with_context("field", "url"));
    if text.len() > 2000 {
        return invalid("longer than 2000 characters");
    }
    let Ok(url) = url::Url::parse(text) else {
        return invalid("not a URL (http://host/path)");
    };
    if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
        return invalid("give an http or https URL with a host");
    }
    if !url.username().is_empty() || url.password().is_some() {
        return invalid("put no credentials in it; verify the signature instead");
    }
    Ok(())
}
