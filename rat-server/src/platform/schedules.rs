//! Schedules: validated definitions and the state each trigger starts
//! from (a missed cron time fires once, then the next time is computed
//! from now; an upstream success fires once; files already in a zone do
//! not fire a new landing trigger). How they fire: [`super::triggers`].

use chrono::{DateTime, SubsecRound, Utc};
use std::collections::BTreeSet;

use rat_core::authz::Action;
use rat_core::schedule::{LandingCursor, WebhookToken, schedule_not_found as no_schedule};
use rat_core::{
    Error, Identifier, Result, RunFilter, RunId, RunStatus, Schedule, TableRef, Trigger,
};

use super::Platform;
use super::pipelines::no_pipeline;
use super::triggers::{landing_glob, new_token, token_hash};
use crate::api::{ScheduleRequest, ZoneRef};

/// The next `count` (1 to 20) times `expression` fires after `after`:
/// what a schedule form previews.
///
/// ```
/// use chrono::{TimeZone, Utc};
/// let at = Utc.with_ymd_and_hms(2026, 12, 4, 10, 0, 0).unwrap();
/// let next = rat_server::next_cron_times("0 6 * * *", at, 2).unwrap();
/// assert_eq!(next[0], Utc.with_ymd_and_hms(2026, 12, 5, 6, 0, 0).unwrap());
/// assert_eq!(next[1], Utc.with_ymd_and_hms(2026, 12, 6, 6, 0, 0).unwrap());
/// ```
pub fn next_cron_times(
    expression: &str,
    after: DateTime<Utc>,
    count: usize,
) -> Result<Vec<DateTime<Utc>>> {
    if !(1..=20).contains(&count) {
        return Err(
            Error::invalid(format!("count {count} is out of range: 1 to 20"))
                .with_context("field", "count"),
        );
    }
    let mut times = Vec::with_capacity(count);
    let mut at = after;
    for _ in 0..count {
        at = next_cron_time(expression, at)?;
        times.push(at);
    }
    Ok(times)
}

/// The next time a cron `expression` matches, after `after`: 5 fields
/// (minute hour day-of-month month day-of-week), or 6 with seconds first.
///
/// ```
/// use chrono::{TimeZone, Utc};
/// let at = Utc.with_ymd_and_hms(2026, 12, 4, 10, 0, 0).unwrap();
/// let next = rat_server::next_cron_time("*/20 * * * * *", at).unwrap();
/// assert_eq!(next, at + chrono::Duration::seconds(20));
/// assert!(rat_server::next_cron_time("* * * *", at).is_err());
/// ```
pub fn next_cron_time(expression: &str, after: DateTime<Utc>) -> Result<DateTime<Utc>> {
    let invalid = |why: String| {
        Error::invalid(format!(
            "invalid cron expression '{}': {why}",
            expression.escape_default()
        ))
        .with_context("field", "cron")
    };
    let fields = expression.split_whitespace().count();
    if !(5..=6).contains(&fields) {
        return Err(invalid(format!(
            "{fields} fields; expected 5 (minute hour day-of-month month day-of-week), \
             or 6 with seconds first"
        )));
    }
    let cron = croner::Cron::new(expression)
        .with_seconds_optional()
        .parse()
        .map_err(|e| invalid(e.to_string()))?;
    cron.find_next_occurrence(&after, false)
        .map_err(|e| invalid(e.to_string()))
}

impl Platform {
    /// All schedules, oldest first.
    pub(super) async fn list_schedules(&self) -> Result<Vec<Schedule>> {
        let all = self.schedule_store().schedules().await?;
        let pipelines = all.iter().map(|s| s.pipeline.clone()).collect();
        let seen: BTreeSet<TableRef> = self
            .visible(Action::Discover, pipelines)
            .await?
            .into_iter()
            .collect();
        Ok(all
            .into_iter()
            .filter(|s| seen.contains(&s.pipeline))
            .collect())
    }

    /// One schedule, when the caller may see its pipeline.
    pub(super) async fn read_schedule(&self, id: &str) -> Result<Schedule> {
        self.checked_schedule(Action::Discover, id).await
    }

    /// A schedule, refused as absent unless the caller may see its
    /// pipeline, and as `forbidden` unless it may do `action` to it.
    pub(super) async fn checked_schedule(&self, action: Action, id: &str) -> Result<Schedule> {
        let schedule = self.schedule_store().schedule(id).await?;
        self.check(action, &schedule.pipeline, || no_schedule(id))
            .await?;
        Ok(schedule)
    }

    /// Whom the runs of a schedule made or changed now act for.
    fn schedule_owner(&self) -> Option<rat_core::principal::Principal> {
        self.inner.options.authorizer.as_ref()?;
        Some(self.acting())
    }

    /// Validates and adds a schedule. A webhook's reply carries its token
    /// (the only time it is shown).
    pub(super) async fn add_schedule(&self, request: &ScheduleRequest) -> Result<Schedule> {
        let (pipeline, trigger, token) = self.check_schedule(request, None).await?;
        let mut schedule = Schedule {
            id: uuid::Uuid::now_v7().to_string(),
            pipeline,
            trigger,
            enabled: request.enabled,
            next_fire_at: None,
            last_fired_at: None,
            last_run_id: None,
            last_upstream_run: None,
            landing_cursor: None,
            // As precise as stores keep it, so the reply equals a re-read.
            created_at: Utc::now().trunc_subsecs(6),
            webhook_token: None,
            owner: self.schedule_owner(),
        };
        self.arm(&mut schedule).await?;
        self.schedule_store().insert_schedule(&schedule).await?;
        schedule.webhook_token = token;
        Ok(schedule)
    }

    /// Replaces a schedule's definition; its firing state restarts when
    /// the trigger changes (a webhook keeps its token).
    pub(super) async fn update_schedule(
        &self,
        id: &str,
        request: &ScheduleRequest,
    ) -> Result<Schedule> {
        let mut schedule = self.checked_schedule(Action::Write, id).await?;
        let (pipeline, trigger, token) = self.check_schedule(request, Some(&schedule)).await?;
        schedule.owner = self.schedule_owner();
        let changed = trigger != schedule.trigger || pipeline != schedule.pipeline;
        schedule.pipeline = pipeline;
        schedule.trigger = trigger;
        schedule.enabled = request.enabled;
        if changed {
            self.arm(&mut schedule).await?;
        }
        self.schedule_store().replace_schedule(&schedule).await?;
        schedule.webhook_token = token;
        Ok(schedule)
    }

    /// Deletes a schedule.
    pub(super) async fn remove_schedule(&self, id: &str) -> Result<()> {
        self.checked_schedule(Action::Write, id).await?;
        self.schedule_store().delete_schedule(id).await
    }

    /// The pipeline and trigger `request` asks for, validated, and a new
    /// webhook's token (a webhook `current` already is keeps its own).
    async fn check_schedule(
        &self,
        request: &ScheduleRequest,
        current: Option<&Schedule>,
    ) -> Result<(TableRef, Trigger, Option<WebhookToken>)> {
        let pipeline = TableRef::parse(&request.pipeline, rat_core::DEFAULT_NAMESPACE)
            .map_err(|e| e.with_context("field", "pipeline"))?;
        self.check(Action::Write, &pipeline, || no_pipeline(&pipeline))
            .await?;
        if !self.pipeline_exists(&pipeline).await? {
            return Err(no_pipeline(&pipeline));
        }
        if request.pattern.is_some() && request.landing.is_none() {
            return Err(
                Error::invalid("'pattern' filters a landing trigger; give 'landing' too")
                    .with_context("field", "pattern"),
            );
        }
        let chosen = [
            request.cron.is_some(),
            request.after.is_some(),
            request.landing.is_some(),
            request.webhook,
        ];
        if chosen.iter().filter(|c| **c).count() != 1 {
            return Err(Error::invalid(
                "give exactly one trigger: 'cron', 'after', 'landing' or 'webhook'",
            )
            .with_context("field", "cron"));
        }
        let mut token = None;
        let trigger = if let Some(expression) = &request.cron {
            next_cron_time(expression, Utc::now())?;
            Trigger::Cron {
                expression: expression.split_whitespace().collect::<Vec<_>>().join(" "),
            }
        } else if let Some(after) = &request.after {
            let upstream = TableRef::parse(after, pipeline.namespace.as_str())
                .map_err(|e| e.with_context("field", "after"))?;
            if upstream == pipeline {
                return Err(Error::invalid("a pipeline cannot run after itself")
                    .with_context("field", "after"));
            }
            self.check(Action::Discover, &upstream, || {
                no_pipeline(&upstream).with_context("field", "after")
            })
            .await?;
            Trigger::AfterUpstream { upstream }
        } else if let Some(zone) = &request.landing {
            let zone = ZoneRef {
                namespace: pipeline.namespace.clone(),
                zone: Identifier::new(zone).map_err(|e| e.with_context("field", "landing"))?,
            };
            if let Some(pattern) = &request.pattern {
                landing_glob(pattern)?;
            }
            self.read_zone(&zone).await?;
            Trigger::Landing {
                zone: zone.zone,
                pattern: request.pattern.clone(),
            }
        } else {
            match current.map(|s| &s.trigger) {
                Some(kept @ Trigger::Webhook { .. }) => kept.clone(),
                _ => {
                    let new = new_token()?;
                    let trigger = Trigger::Webhook {
                        token_sha256: token_hash(&new),
                    };
                    token = Some(WebhookToken(new));
                    trigger
                }
            }
        };
        Ok((pipeline, trigger, token))
    }

    /// Sets the firing state a new trigger starts from: the next cron
    /// time, the upstream's latest success (older ones never fire it), the
    /// files already in the zone (they never fire it).
    async fn arm(&self, schedule: &mut Schedule) -> Result<()> {
        schedule.next_fire_at = None;
        schedule.last_upstream_run = None;
        schedule.landing_cursor = None;
        match &schedule.trigger {
            Trigger::Cron { expression } => {
                schedule.next_fire_at = Some(next_cron_time(expression, Utc::now())?);
            }
            Trigger::AfterUpstream { upstream } => {
                schedule.last_upstream_run = self.latest_success(upstream).await?;
            }
            Trigger::Landing { zone, pattern } => {
                let zone = ZoneRef {
                    namespace: schedule.pipeline.namespace.clone(),
                    zone: zone.clone(),
                };
                let files = self.landed_files(&zone, pattern.as_deref()).await?;
                let cursor = LandingCursor::of(files.iter().map(|(n, at)| (n.as_str(), *at)));
                schedule.landing_cursor = Some(cursor);
            }
            Trigger::Webhook { .. } => {}
        }
        Ok(())
    }

    pub(super) async fn latest_success(&self, table: &TableRef) -> Result<Option<RunId>> {
        let filter = RunFilter {
            table: Some(table.clone()),
            statuses: vec![RunStatus::Success],
            limit: Some(1),
            ..RunFilter::default()
        };
        Ok(self
            .list_runs(&filter)
            .await?
            .first()
            .map(|r| r.run_id.clone()))
    }
}
