//! How schedules fire. Each scheduler tick fires the cron times due, the
//! upstream successes not reacted to yet, and the files landed since a
//! landing trigger last fired (it waits while its last run is still
//! going). A webhook fires when called with its token, within a rate.
//! Every firing is recorded with the run it started, or why it started
//! none (the pipeline was deleted, the schedule is paused).

use std::num::NonZeroU32;
use std::time::Duration;

use chrono::{DateTime, Utc};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use rat_core::schedule::LandingCursor;
use rat_core::{Error, ErrorKind, Firing, FiringRecord, Result, RunId, Schedule, Trigger};
use sha2::{Digest, Sha256};

use super::Platform;
use super::schedules::next_cron_time;
use crate::api::{Page, SubmitRun, ZoneRef};
use crate::auth::same;

/// Firings a webhook may make at once before its rate applies.
pub const WEBHOOK_BURST: u32 = 5;
/// How often a webhook may fire once its burst is spent: one firing per
/// this long.
pub const WEBHOOK_PERIOD: Duration = Duration::from_secs(12);
/// File names a firing's detail lists before "and N more".
const NAMES_SHOWN: usize = 5;

/// Webhook firings per schedule, in memory (each server instance keeps
/// its own count).
pub(super) struct WebhookLimiter(DefaultKeyedRateLimiter<String>);

impl Default for WebhookLimiter {
    fn default() -> Self {
        let burst = NonZeroU32::new(WEBHOOK_BURST).unwrap_or(NonZeroU32::MIN);
        let quota = Quota::with_period(WEBHOOK_PERIOD)
            .unwrap_or_else(|| Quota::per_second(NonZeroU32::MIN))
            .allow_burst(burst);
        Self(RateLimiter::keyed(quota))
    }
}

/// What firing a schedule now changes in it, and says about why.
#[derive(Default)]
struct Due {
    next_fire_at: Option<DateTime<Utc>>,
    upstream_run: Option<RunId>,
    landing_cursor: Option<LandingCursor>,
    detail: String,
    /// Why the schedule can never fire again: recorded as skipped once,
    /// and the schedule paused.
    pause: Option<String>,
}

/// What came of firing a schedule.
enum Fired {
    /// It counted: its record.
    Recorded(FiringRecord),
    /// Another firing changed the schedule first; this one did nothing.
    Lost,
    /// No run could start yet (a full queue); it stays due.
    Deferred(Error),
}

/// The hex SHA-256 of a webhook token, as a trigger keeps it.
pub(super) fn token_hash(token: &str) -> String {
    hex(&Sha256::digest(token.as_bytes()))
}

/// A new secret (a webhook's token, a hook's signing key): 32 random
/// bytes, hex.
pub(super) fn new_token() -> Result<String> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes)
        .map_err(|e| Error::internal(format!("no randomness for a secret: {e}")))?;
    Ok(hex(&bytes))
}

/// Lowercase hex of `bytes`.
pub(super) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

impl Platform {
    /// Fires every schedule due at `now`; the runs started. A full queue
    /// leaves a schedule due for the next tick.
    pub(crate) async fn fire_due(&self, now: DateTime<Utc>) -> Result<Vec<RunId>> {
        let mut started = Vec::new();
        for schedule in self.schedule_store().schedules().await? {
            if !schedule.enabled {
                continue;
            }
            let Some(due) = self.due(&schedule, now).await? else {
                continue;
            };
            let fired = match due.pause.clone() {
                Some(why) => self.pause(&schedule, due, now, &why).await?,
                None => self.fire(&schedule, due, now).await?,
            };
            if let Fired::Recorded(record) = fired
                && let Some(run) = record.run_id
            {
                started.push(run);
            }
        }
        Ok(started)
    }

    /// Fires a webhook schedule for a caller holding its `token`. A wrong
    /// token and an unknown schedule are refused alike; past the rate,
    /// `rate_limited`; a paused schedule or a run that cannot start is
    /// recorded as skipped and refused with `conflict`.
    pub(super) async fn call_webhook(&self, id: &str, token: &str) -> Result<FiringRecord> {
        let refused = || Error::new(ErrorKind::Unauthorized, "unknown webhook, or not its token");
        let schedule = match self.schedule_store().schedule(id).await {
            Ok(schedule) => schedule,
            Err(e) if e.kind() == ErrorKind::NotFound => return Err(refused()),
            Err(e) => return Err(e),
        };
        let Trigger::Webhook { token_sha256 } = &schedule.trigger else {
            return Err(refused());
        };
        if !same(token_hash(token).as_bytes(), token_sha256.as_bytes()) {
            return Err(refused());
        }
        if let Err(wait) = self.inner.webhooks.0.check_key(&schedule.id) {
            let seconds = wait
                .wait_time_from(governor::clock::Clock::now(
                    &governor::clock::DefaultClock::default(),
                ))
                .as_secs()
                + 1;
            return Err(Error::new(
                ErrorKind::RateLimited,
                format!(
                    "webhook {id} fires at most {WEBHOOK_BURST} times at once, then once every {} s; try again in {seconds} s",
                    WEBHOOK_PERIOD.as_secs()
                ),
            ));
        }
        let now = Utc::now();
        let due = Due {
            detail: "webhook called".to_owned(),
            ..Due::default()
        };
        let fired = match schedule.enabled {
            true => self.fire(&schedule, due, now).await?,
            false => {
                self.skip(&schedule, due, now, "the schedule is paused")
                    .await?
            }
        };
        let record = match fired {
            Fired::Recorded(record) => record,
            Fired::Deferred(e) => return Err(e),
            Fired::Lost => {
                return Err(Error::new(
                    ErrorKind::Conflict,
                    format!("schedule {id} changed while firing; call again"),
                ));
            }
        };
        match &record.skipped {
            Some(why) => Err(Error::new(
                ErrorKind::Conflict,
                format!("webhook {id} fired no run: {why}"),
            )
            .with_retryable(false)),
            None => Ok(record),
        }
    }

    /// One page of a schedule's firings, newest first.
    pub(super) async fn list_firings(
        &self,
        id: &str,
        limit: u32,
        offset: u32,
    ) -> Result<Page<FiringRecord>> {
        let store = self.schedule_store();
        self.checked_schedule(rat_core::authz::Action::Discover, id)
            .await?;
        let firings = store.firings(id, limit.saturating_add(1), offset).await?;
        Ok(Page::of(firings, limit, offset))
    }

    /// What firing `schedule` at `now` changes, when it is due.
    async fn due(&self, schedule: &Schedule, now: DateTime<Utc>) -> Result<Option<Due>> {
        Ok(match &schedule.trigger {
            Trigger::Cron { expression } => match schedule.next_fire_at {
                Some(at) if at <= now => Some(Due {
                    next_fire_at: Some(next_cron_time(expression, now)?),
                    detail: format!("cron {expression} (due {at})"),
                    ..Due::default()
                }),
                _ => None,
            },
            Trigger::AfterUpstream { upstream } => {
                let latest = self.latest_success(upstream).await?;
                match latest {
                    Some(run) if Some(&run) != schedule.last_upstream_run.as_ref() => Some(Due {
                        detail: format!("{upstream} succeeded in run {run}"),
                        upstream_run: Some(run),
                        ..Due::default()
                    }),
                    _ => None,
                }
            }
            Trigger::Landing { zone, pattern } => {
                if self.still_running(schedule.last_run_id.as_ref()).await? {
                    return Ok(None);
                }
                let zone = ZoneRef {
                    namespace: schedule.pipeline.namespace.clone(),
                    zone: zone.clone(),
                };
                let seen = schedule.landing_cursor.clone().unwrap_or_default();
                let files = match self.landed_files(&zone, pattern.as_deref()).await {
                    Ok(files) => files,
                    Err(e) if e.kind() == ErrorKind::NotFound => {
                        return Ok(Some(Due {
                            detail: format!("landing zone {zone} is gone"),
                            pause: Some(format!(
                                "landing zone '{zone}' no longer exists; the schedule is paused"
                            )),
                            ..Due::default()
                        }));
                    }
                    Err(e) => return Err(e),
                };
                let new: Vec<&str> = files
                    .iter()
                    .filter(|(name, at)| seen.is_new(name, *at))
                    .map(|(name, _)| name.as_str())
                    .collect();
                if new.is_empty() {
                    return Ok(None);
                }
                let more = new.len().saturating_sub(NAMES_SHOWN);
                let mut detail = format!(
                    "landed in {zone}: {}",
                    new[..new.len().min(NAMES_SHOWN)].join(", ")
                );
                if more > 0 {
                    detail.push_str(&format!(" and {more} more"));
                }
                let cursor = LandingCursor::of(files.iter().map(|(n, at)| (n.as_str(), *at)));
                Some(Due {
                    landing_cursor: Some(cursor),
                    detail,
                    ..Due::default()
                })
            }
            Trigger::Webhook { .. } => None,
        })
    }

    /// The files of `zone` waiting to be read whose name matches
    /// `pattern`, with their modification times.
    pub(super) async fn landed_files(
        &self,
        zone: &ZoneRef,
        pattern: Option<&str>,
    ) -> Result<Vec<(String, Option<DateTime<Utc>>)>> {
        let matcher = pattern.map(landing_glob).transpose()?;
        Ok(self
            .list_zone_files(zone, false)
            .await?
            .into_iter()
            .filter(|f| matcher.as_ref().is_none_or(|m| m.is_match(&f.name)))
            .map(|f| (f.name, f.last_modified))
            .collect())
    }

    /// Whether `run` is still pending or running.
    async fn still_running(&self, run: Option<&RunId>) -> Result<bool> {
        let Some(run) = run else {
            return Ok(false);
        };
        match self.store().get(run).await {
            Ok(record) => Ok(!record.status.is_terminal()),
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Starts the schedule's run and records the firing (another
    /// scheduler may have fired the schedule first: then the run is
    /// withdrawn). A full queue defers it: the schedule stays due.
    async fn fire(&self, schedule: &Schedule, due: Due, now: DateTime<Utc>) -> Result<Fired> {
        // The run acts for the schedule's owner, checked like a user's.
        let actor = match &schedule.owner {
            Some(owner) => self.for_principal(owner),
            None => self.clone(),
        };
        let submitted = actor
            .start_run(&SubmitRun {
                pipeline: schedule.pipeline.to_string(),
                limits: Default::default(),
            })
            .await;
        let run_id = match submitted {
            Ok(accepted) => accepted.run_id,
            Err(e) if e.is_retryable() => {
                tracing::info!(schedule = %schedule.id, "schedule waits: {e}");
                return Ok(Fired::Deferred(e));
            }
            Err(e) => {
                tracing::warn!(schedule = %schedule.id, "schedule could not start its run: {e}");
                return self.skip(schedule, due, now, e.message()).await;
            }
        };
        let firing = firing_of(schedule, due, now, Some(run_id.clone()), None);
        if self.schedule_store().record_firing(&firing).await? {
            self.inner.metrics.firing(firing.kind, true);
            return Ok(Fired::Recorded(firing.record()));
        }
        // Another scheduler fired it first: withdraw this run.
        let _ = self.executor().cancel(&run_id).await;
        Ok(Fired::Lost)
    }

    /// Records that the schedule can never fire again, and pauses it.
    async fn pause(
        &self,
        schedule: &Schedule,
        due: Due,
        now: DateTime<Utc>,
        why: &str,
    ) -> Result<Fired> {
        let fired = self.skip(schedule, due, now, why).await?;
        if let Fired::Recorded(_) = fired {
            let mut paused = self.schedule_store().schedule(&schedule.id).await?;
            paused.enabled = false;
            self.schedule_store().replace_schedule(&paused).await?;
            tracing::warn!(schedule = %schedule.id, "{why}");
        }
        Ok(fired)
    }

    /// Records a firing that started no run, and why.
    async fn skip(
        &self,
        schedule: &Schedule,
        due: Due,
        now: DateTime<Utc>,
        why: &str,
    ) -> Result<Fired> {
        let firing = firing_of(schedule, due, now, None, Some(why.to_owned()));
        if !self.schedule_store().record_firing(&firing).await? {
            return Ok(Fired::Lost);
        }
        self.inner.metrics.firing(firing.kind, false);
        self.enqueue_skip(schedule, why, now).await;
        Ok(Fired::Recorded(firing.record()))
    }
}

/// The firing of `schedule` at `now` that `due` describes.
fn firing_of(
    schedule: &Schedule,
    due: Due,
    now: DateTime<Utc>,
    run_id: Option<RunId>,
    skipped: Option<String>,
) -> Firing {
    Firing {
        id: schedule.id.clone(),
        record_id: uuid::Uuid::now_v7().simple().to_string(),
        expected_next: schedule.next_fire_at,
        expected_upstream: schedule.last_upstream_run.clone(),
        expected_cursor: schedule.landing_cursor.clone(),
        next_fire_at: due.next_fire_at,
        upstream_run: due.upstream_run,
        landing_cursor: due.landing_cursor,
        run_id,
        skipped,
        detail: Some(due.detail),
        kind: schedule.trigger.kind(),
        at: now,
    }
}

/// A landing trigger's glob over file names; the error names the field.
pub(super) fn landing_glob(pattern: &str) -> Result<globset::GlobMatcher> {
    let invalid = |why: String| {
        Error::invalid(format!(
            "invalid file pattern '{}': {why}",
            pattern.escape_default()
        ))
        .with_context("field", "pattern")
    };
    if pattern.is_empty() || pattern.len() > 200 {
        return Err(invalid("give 1 to 200 characters, e.g. *.csv".into()));
    }
    if pattern.contains('/') {
        return Err(invalid(
            "a zone's files have no folders; match names only".into(),
        ));
    }
    globset::Glob::new(pattern)
        .map(|g| g.compile_matcher())
        .map_err(|e| invalid(e.kind().to_string()))
}
