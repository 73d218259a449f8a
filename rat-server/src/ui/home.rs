//! `/`: recent runs with their status, the quality tests that failed in
//! them, the tables of each layer, and the schedules due next — all as
//! the caller may see them.

use std::collections::BTreeMap;

use rat_core::TestOutcome;
use rat_core::project::Severity;
use rat_core::store::RunFilter;
use serde::Serialize;

use super::render::{PageResult, Shell};
use super::views::RunRow;
use crate::http::Api;

/// Runs shown.
const RECENT_RUNS: u32 = 15;
/// Schedules shown.
const NEXT_SCHEDULES: usize = 8;
/// Tables read for the per-layer counts.
const TABLES: u32 = 200;

#[derive(Serialize)]
struct FailedTest {
    table: String,
    name: String,
    severity: Severity,
    violations: u64,
    run: String,
}

#[derive(Serialize)]
struct Due {
    pipeline: String,
    next_fire_at: String,
}

pub(super) async fn page(shell: Shell, Api(api): Api) -> PageResult {
    let runs = api
        .runs(&RunFilter {
            limit: Some(RECENT_RUNS),
            ..RunFilter::default()
        })
        .await?;
    let mut failed = Vec::new();
    for record in &runs {
        for test in record.result.iter().flat_map(|r| &r.quality) {
            if matches!(test.outcome, TestOutcome::Failed | TestOutcome::Errored) {
                failed.push(FailedTest {
                    table: record.table.to_string(),
                    name: test.name.clone(),
                    severity: test.severity,
                    violations: test.violations,
                    run: record.run_id.to_string(),
                });
            }
        }
    }
    let mut layers: BTreeMap<String, Vec<String>> = ["bronze", "silver", "gold"]
        .into_iter()
        .map(|layer| (layer.to_owned(), Vec::new()))
        .collect();
    for table in api.tables(None, TABLES, 0).await?.items {
        layers
            .entry(table.table.layer.to_string())
            .or_default()
            .push(table.table.to_string());
    }
    let mut due: Vec<_> = api
        .schedules()
        .await?
        .into_iter()
        .filter(|s| s.enabled)
        .filter_map(|s| {
            let next = s.next_fire_at?;
            Some((next, s.pipeline.to_string()))
        })
        .collect();
    due.sort();
    let due: Vec<Due> = due
        .into_iter()
        .take(NEXT_SCHEDULES)
        .map(|(next, pipeline)| Due {
            pipeline,
            next_fire_at: next.format("%Y-%m-%d %H:%M UTC").to_string(),
        })
        .collect();
    let runs: Vec<RunRow> = runs.into_iter().map(RunRow::from).collect();
    shell.page(
        "home.html",
        minijinja::context! {
            title => "Home",
            section => "home",
            runs => runs,
            failed => failed,
            layers => layers,
            due => due,
        },
    )
}
