//! `/runs`: the runs the caller may see, newest first, filtered by
//! pipeline, status and submission time (a plain GET form, so a filtered list is a link),
//! a page at a time; `/runs/{id}`: one run — its phase timeline, quality
//! results, error and its log as it is written (the page's script follows
//! the log, and renders the page's live parts again as the run moves).

use axum::extract::{Path, Query};
use chrono::{DateTime, Utc};
use rat_core::store::RunFilter;
use rat_core::{Phase, RunStatus, TableRef};
use serde::Deserialize;

use super::render::{PageError, PageResult, Shell};
use super::views::RunRow;
use crate::http::Api;

/// Runs per page.
const PAGE: u32 = 50;

/// The "submitted within" choices: (value, label, length).
const WITHIN: [(&str, &str, i64); 4] = [
    ("1h", "the last hour", 3_600),
    ("24h", "the last 24 hours", 86_400),
    ("7d", "the last 7 days", 7 * 86_400),
    ("30d", "the last 30 days", 30 * 86_400),
];

/// A run list's `since` and `until`, each optional.
type TimeRange = (Option<DateTime<Utc>>, Option<DateTime<Utc>>);

/// The filter form's fields; empty ones are no filter.
/// Serialized, it is the pager links' query.
#[derive(Debug, Default, Deserialize, serde::Serialize)]
pub(super) struct RunsForm {
    #[serde(default)]
    pipeline: String,
    #[serde(default)]
    status: String,
    /// Submitted within the last …: one of [`WITHIN`].
    #[serde(default)]
    within: String,
    /// Submitted on or after this date or time (UTC).
    #[serde(default)]
    since: String,
    /// Submitted before this date or time (UTC).
    #[serde(default)]
    until: String,
    #[serde(default, skip_serializing)]
    page: u32,
}

impl RunsForm {
    /// The time range the form asks for: the later of `within` and
    /// `since` as its start.
    fn time_range(&self) -> Result<TimeRange, PageError> {
        let bound = |field: &str, text: &str| match text.trim() {
            "" => Ok(None),
            text => RunFilter::parse_time(field, text).map(Some),
        };
        let mut since = bound("since", &self.since)?;
        if !self.within.is_empty() {
            let Some((_, _, secs)) = WITHIN.iter().find(|(value, ..)| *value == self.within) else {
                let error = rat_core::Error::invalid(format!(
                    "'{}' is not one of the choices",
                    self.within.escape_default()
                ));
                return Err(error.with_context("field", "within").into());
            };
            let start = Utc::now() - chrono::Duration::seconds(*secs);
            since = Some(since.map_or(start, |s| s.max(start)));
        }
        Ok((since, bound("until", &self.until)?))
    }

    /// Whether any filter is set.
    fn is_filtered(&self) -> bool {
        [
            &self.pipeline,
            &self.status,
            &self.within,
            &self.since,
            &self.until,
        ]
        .iter()
        .any(|field| !field.trim().is_empty())
    }
}

pub(super) async fn page(shell: Shell, Api(api): Api, Query(form): Query<RunsForm>) -> PageResult {
    let table = match form.pipeline.trim() {
        "" => None,
        text => Some(
            TableRef::parse(text, rat_core::DEFAULT_NAMESPACE)
                .map_err(|e| PageError::from(e.with_context("field", "pipeline")))?,
        ),
    };
    let statuses = match form.status.as_str() {
        "" => Vec::new(),
        text => vec![
            text.parse::<RunStatus>()
                .map_err(|e: rat_core::Error| PageError::from(e.with_context("field", "status")))?,
        ],
    };
    let (since, until) = form.time_range()?;
    // One more than a page tells whether there is a next one.
    let mut runs = api
        .runs(&RunFilter {
            table,
            statuses,
            since,
            until,
            limit: Some(PAGE + 1),
            offset: form.page * PAGE,
            ..RunFilter::default()
        })
        .await?;
    let more = runs.len() > PAGE as usize;
    runs.truncate(PAGE as usize);
    let rows: Vec<RunRow> = runs.into_iter().map(RunRow::from).collect();
    shell.page(
        "runs.html",
        minijinja::context! {
            title => "Runs",
            section => "runs",
            runs => rows,
            pipeline => form.pipeline.trim(),
            status => form.status,
            statuses => ["pending", "running", "success", "failed", "cancelled"],
            within => form.within,
            within_choices => WITHIN.map(|(value, label, _)| (value, label)),
            since => form.since.trim(),
            until => form.until.trim(),
            filtered => form.is_filtered(),
            filters => &form,
            page => form.page,
            more => more,
        },
    )
}

/// One step of a run's phase timeline.
#[derive(Debug, serde::Serialize)]
struct Step {
    phase: String,
    /// `done`, `running`, `waiting`, or `not reached` (the run ended before).
    state: &'static str,
    /// How long it took, once the run has ended.
    millis: Option<u64>,
}

/// The run's phases: with their timings once it ended; while it runs,
/// those before the phase it is in done, that one running, the rest
/// waiting (phases run in order).
fn timeline(record: &rat_core::RunRecord) -> Vec<Step> {
    let timings = record.result.as_ref().map(|r| r.timings.as_slice());
    Phase::ALL
        .iter()
        .map(|phase| {
            let millis = timings
                .and_then(|t| t.iter().find(|t| t.phase == *phase))
                .map(|t| t.millis);
            let state = match (record.status.is_terminal(), record.phase) {
                _ if millis.is_some() => "done",
                (true, _) => "not reached",
                (false, Some(now)) if *phase < now => "done",
                (false, Some(now)) if *phase == now => "running",
                _ => "waiting",
            };
            Step {
                phase: phase.to_string(),
                state,
                millis,
            }
        })
        .collect()
}

pub(super) async fn detail(shell: Shell, Api(api): Api, Path(id): Path<String>) -> PageResult {
    let run: rat_core::RunId = id
        .parse()
        .map_err(|e: rat_core::Error| PageError::from(e.with_context("field", "run")))?;
    let record = api.run(&run).await?;
    let row = RunRow::from(record.clone());
    shell.page(
        "run.html",
        minijinja::context! {
            title => format!("Run {run}"),
            section => "runs",
            run => row,
            timeline => timeline(&record),
            record => record,
            ended => record.status.is_terminal(),
        },
    )
}
