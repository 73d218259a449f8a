//! Schedules: validated definitions, and the firing rules the scheduler
//! applies each tick (a missed cron time fires once, then the next time
//! is computed from now; an upstream success fires once).

use chrono::{DateTime, SubsecRound, Utc};
use rat_core::{
    Error, ErrorKind, Firing, Result, RunFilter, RunId, RunStatus, Schedule, TableRef, Trigger,
};

use super::Platform;
use crate::api::{ScheduleRequest, SubmitRun};

/// The next time a 5-field cron `expression` matches, after `after`.
pub fn next_cron_time(expression: &str, after: DateTime<Utc>) -> Result<DateTime<Utc>> {
    let invalid = |why: String| {
        Error::invalid(format!(
            "invalid cron expression '{}': {why}",
            expression.escape_default()
        ))
        .with_context("field", "cron")
    };
    let fields = expression.split_whitespace().count();
    if fields != 5 {
        return Err(invalid(format!(
            "{fields} fields; expected 5 (minute hour day-of-month month day-of-week)"
        )));
    }
    let cron = croner::Cron::new(expression)
        .parse()
        .map_err(|e| invalid(e.to_string()))?;
    cron.find_next_occurrence(&after, false)
        .map_err(|e| invalid(e.to_string()))
}

impl Platform {
    /// All schedules, oldest first.
    pub(super) async fn list_schedules(&self) -> Result<Vec<Schedule>> {
        self.schedule_store().schedules().await
    }

    /// One schedule.
    pub(super) async fn read_schedule(&self, id: &str) -> Result<Schedule> {
        self.schedule_store().schedule(id).await
    }

    /// Validates and adds a schedule.
    pub(super) async fn add_schedule(&self, request: &ScheduleRequest) -> Result<Schedule> {
        let (pipeline, trigger) = self.check_schedule(request).await?;
        let mut schedule = Schedule {
            id: uuid::Uuid::now_v7().to_string(),
            pipeline,
            trigger,
            enabled: request.enabled,
            next_fire_at: None,
            last_fired_at: None,
            last_run_id: None,
            last_upstream_run: None,
            // As precise as stores keep it, so the reply equals a re-read.
            created_at: Utc::now().trunc_subsecs(6),
        };
        self.arm(&mut schedule).await?;
        self.schedule_store().insert_schedule(&schedule).await?;
        Ok(schedule)
    }

    /// Replaces a schedule's definition; its firing state restarts when
    /// the trigger changes.
    pub(super) async fn update_schedule(
        &self,
        id: &str,
        request: &ScheduleRequest,
    ) -> Result<Schedule> {
        let mut schedule = self.schedule_store().schedule(id).await?;
        let (pipeline, trigger) = self.check_schedule(request).await?;
        let changed = trigger != schedule.trigger;
        schedule.pipeline = pipeline;
        schedule.trigger = trigger;
        schedule.enabled = request.enabled;
        if changed {
            self.arm(&mut schedule).await?;
        }
        self.schedule_store().replace_schedule(&schedule).await?;
        Ok(schedule)
    }

    /// Deletes a schedule.
    pub(super) async fn remove_schedule(&self, id: &str) -> Result<()> {
        self.schedule_store().delete_schedule(id).await
    }

    async fn check_schedule(&self, request: &ScheduleRequest) -> Result<(TableRef, Trigger)> {
        let pipeline = TableRef::parse(&request.pipeline, rat_core::DEFAULT_NAMESPACE)
            .map_err(|e| e.with_context("field", "pipeline"))?;
        if !self.pipeline_exists(&pipeline).await? {
            return Err(Error::new(
                ErrorKind::NotFound,
                format!("no pipeline '{pipeline}'"),
            ));
        }
        let trigger = match (&request.cron, &request.after) {
            (Some(expression), None) => {
                next_cron_time(expression, Utc::now())?;
                Trigger::Cron {
                    expression: expression.split_whitespace().collect::<Vec<_>>().join(" "),
                }
            }
            (None, Some(after)) => {
                let upstream = TableRef::parse(after, pipeline.namespace.as_str())
                    .map_err(|e| e.with_context("field", "after"))?;
                if upstream == pipeline {
                    return Err(Error::invalid("a pipeline cannot run after itself")
                        .with_context("field", "after"));
                }
                Trigger::AfterUpstream { upstream }
            }
            _ => {
                return Err(Error::invalid("give exactly one of 'cron' and 'after'")
                    .with_context("field", "cron"));
            }
        };
        Ok((pipeline, trigger))
    }

    /// Sets the firing state a new trigger starts from: the next cron
    /// time, or the upstream's latest success (older ones never fire it).
    async fn arm(&self, schedule: &mut Schedule) -> Result<()> {
        schedule.next_fire_at = None;
        schedule.last_upstream_run = None;
        match &schedule.trigger {
            Trigger::Cron { expression } => {
                schedule.next_fire_at = Some(next_cron_time(expression, Utc::now())?);
            }
            Trigger::AfterUpstream { upstream } => {
                schedule.last_upstream_run = self.latest_success(upstream).await?;
            }
        }
        Ok(())
    }

    async fn latest_success(&self, table: &TableRef) -> Result<Option<RunId>> {
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

    /// Fires every schedule due at `now`; the runs started. A full queue
    /// leaves a schedule due for the next tick; a submission that cannot
    /// succeed (the pipeline was deleted) is logged and the schedule
    /// moves on.
    pub(crate) async fn fire_due(&self, now: DateTime<Utc>) -> Result<Vec<RunId>> {
        let mut started = Vec::new();
        for schedule in self.schedule_store().schedules().await? {
            if !schedule.enabled {
                continue;
            }
            let (due, next_fire_at, upstream_run) = match &schedule.trigger {
                Trigger::Cron { expression } => match schedule.next_fire_at {
                    Some(at) if at <= now => (true, Some(next_cron_time(expression, now)?), None),
                    _ => (false, None, None),
                },
                Trigger::AfterUpstream { upstream } => {
                    let latest = self.latest_success(upstream).await?;
                    let fresh = latest.is_some() && latest != schedule.last_upstream_run;
                    (fresh, None, latest)
                }
            };
            if !due {
                continue;
            }
            let submitted = self
                .start_run(&SubmitRun {
                    pipeline: schedule.pipeline.to_string(),
                    limits: Default::default(),
                })
                .await;
            let run_id = match submitted {
                Ok(accepted) => Some(accepted.run_id),
                Err(e) if e.is_retryable() => continue,
                Err(e) => {
                    tracing::warn!(schedule = %schedule.id, "schedule could not start its run: {e}");
                    None
                }
            };
            let firing = Firing {
                id: schedule.id.clone(),
                expected_next: schedule.next_fire_at,
                expected_upstream: schedule.last_upstream_run.clone(),
                next_fire_at,
                upstream_run,
                run_id: run_id.clone(),
                at: now,
            };
            let recorded = self.schedule_store().record_firing(&firing).await?;
            match (recorded, run_id) {
                (true, Some(run)) => started.push(run),
                // Another scheduler fired it first: withdraw this run.
                (false, Some(run)) => {
                    let _ = self.executor().cancel(&run).await;
                }
                _ => {}
            }
        }
        Ok(started)
    }
}
