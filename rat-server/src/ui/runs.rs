//! `/runs`: the runs the caller may see, newest first, filtered by
//! pipeline and status (a plain GET form, so a filtered list is a link),
//! a page at a time; `/runs/{id}`: one run — its phases, quality
//! results, error and its log as it is written (the page's script follows
//! it).

use axum::extract::{Path, Query};
use rat_core::store::RunFilter;
use rat_core::{RunStatus, TableRef};
use serde::Deserialize;

use super::render::{PageError, PageResult, Shell};
use super::views::RunRow;
use crate::http::Api;

/// Runs per page.
const PAGE: u32 = 50;

/// The filter form's fields; empty ones are no filter.
#[derive(Debug, Default, Deserialize)]
pub(super) struct RunsForm {
    #[serde(default)]
    pipeline: String,
    #[serde(default)]
    status: String,
    #[serde(default)]
    page: u32,
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
    // One more than a page tells whether there is a next one.
    let mut runs = api
        .runs(&RunFilter {
            table,
            statuses,
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
            page => form.page,
            more => more,
        },
    )
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
            record => record,
            ended => record.status.is_terminal(),
        },
    )
}
