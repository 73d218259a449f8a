//! `/schedules`: schedules and triggers — what fires when, paused or not,
//! with a form for a new one (cron with its next firings previewed, or
//! after an upstream pipeline) and pause, resume and delete (the page's
//! script calls the API for those).

use serde::Serialize;

use super::render::{PageResult, Shell};
use crate::api::{Schedule, ScheduleRequest};
use crate::http::Api;
use rat_core::schedule::Trigger;

/// A schedule in the list, with the request that re-saves it paused or
/// resumed (none for webhooks: saving one again would show a new token).
#[derive(Debug, Serialize)]
struct ScheduleRow {
    id: String,
    pipeline: String,
    trigger: String,
    enabled: bool,
    next_fire_at: Option<String>,
    last_fired_at: Option<String>,
    last_run_id: Option<String>,
    request: Option<String>,
}

fn time(t: Option<chrono::DateTime<chrono::Utc>>) -> Option<String> {
    t.map(|t| t.format("%Y-%m-%d %H:%M:%S UTC").to_string())
}

impl From<&Schedule> for ScheduleRow {
    fn from(s: &Schedule) -> Self {
        let pipeline = s.pipeline.to_string();
        let mut request = ScheduleRequest {
            pipeline: pipeline.clone(),
            cron: None,
            after: None,
            landing: None,
            pattern: None,
            webhook: false,
            enabled: s.enabled,
        };
        let trigger = match &s.trigger {
            Trigger::Cron { expression } => {
                request.cron = Some(expression.clone());
                format!("cron {expression} (UTC)")
            }
            Trigger::AfterUpstream { upstream } => {
                request.after = Some(upstream.to_string());
                format!("after each success of {upstream}")
            }
            Trigger::Landing { zone, pattern } => {
                request.landing = Some(zone.to_string());
                request.pattern = pattern.clone();
                match pattern {
                    Some(p) => format!("files matching {p} landing in {zone}"),
                    None => format!("files landing in {zone}"),
                }
            }
            Trigger::Webhook { .. } => "webhook".to_string(),
        };
        let reusable = !matches!(s.trigger, Trigger::Webhook { .. });
        Self {
            id: s.id.clone(),
            pipeline,
            trigger,
            enabled: s.enabled,
            next_fire_at: time(s.next_fire_at),
            last_fired_at: time(s.last_fired_at),
            last_run_id: s.last_run_id.as_ref().map(ToString::to_string),
            request: reusable.then(|| serde_json::to_string(&request).unwrap_or_default()),
        }
    }
}

pub(super) async fn page(shell: Shell, Api(api): Api) -> PageResult {
    let schedules = api.schedules().await?;
    let pipelines: Vec<String> = api
        .pipelines(None, None)
        .await?
        .into_iter()
        .map(|p| p.table.to_string())
        .collect();
    shell.page(
        "schedules.html",
        minijinja::context! {
            title => "Schedules",
            section => "schedules",
            schedules => schedules.iter().map(ScheduleRow::from).collect::<Vec<_>>(),
            pipelines => pipelines,
        },
    )
}
