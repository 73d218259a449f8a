//! What the web IDE's Runs page costs over a long history: a run store
//! holding `runs` finished runs (20 pipelines, every tenth failed, one a
//! second), the page's first screen, a status filter, a pipeline filter,
//! a time range ending halfway through the history and a deep page,
//! each against the same page of the JSON API (`GET /api/v1/runs`, the
//! baseline), asked in turn so noise hits both alike. Loopback latency, an
//! upper bound of the server's time. Target: the page < 300 ms at 10,000
//! runs.

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Result, ensure};
use chrono::Utc;
use rat_core::{RunId, RunRecord, RunStatus, TableRef};
use rat_server::ServerSetup;

use crate::report::{median, table};
use crate::setup::BenchProject;

const PIPELINES: usize = 20;

/// `runs` finished records, oldest first, straight into the store.
async fn fill(setup: &ServerSetup, runs: usize) -> Result<()> {
    let store = setup.run_store.open().await?.runs;
    let start = Utc::now() - chrono::Duration::seconds(runs as i64);
    for i in 0..runs {
        let table: TableRef = format!("default.bronze.p{:02}", i % PIPELINES).parse()?;
        let submitted = start + chrono::Duration::seconds(i as i64);
        // A v7 id of its submission time, as a submitted run's is.
        let id: RunId = format!("{:012x}7{:019x}", submitted.timestamp_millis(), i).parse()?;
        let mut record = RunRecord::pending(id, table, "local");
        record.submitted_at = submitted;
        record.started_at = Some(record.submitted_at);
        record.finished_at = Some(record.submitted_at + chrono::Duration::milliseconds(80));
        record.status = if i % 10 == 0 {
            RunStatus::Failed
        } else {
            RunStatus::Success
        };
        record.owner = None;
        store.insert(&record).await?;
    }
    Ok(())
}

pub(crate) async fn run(runs: usize, repeat: usize) -> Result<()> {
    let project = BenchProject::new()?;
    let mut setup = ServerSetup::embedded(Path::new(project.path()));
    setup.scheduler = None;
    let filled = Instant::now();
    fill(&setup, runs).await?;
    println!(
        "{runs} runs stored in {:.1} s",
        filled.elapsed().as_secs_f64()
    );
    let server = setup.open().await?;
    let base = crate::setup::serve(&server).await?;
    let http = reqwest::Client::new();
    let get = |path: String| {
        let (http, url) = (http.clone(), format!("{base}{path}"));
        async move {
            let started = Instant::now();
            let response = http.get(&url).send().await?;
            let status = response.status();
            let body = response.text().await?;
            ensure!(status.is_success(), "{url}: {status} {body}");
            Result::<(Duration, String)>::Ok((started.elapsed(), body))
        }
    };
    // The first screen holds the newest runs.
    let (_, first) = get("/runs".into()).await?;
    let newest = format!("default.bronze.p{:02}", (runs - 1) % PIPELINES);
    ensure!(
        first.contains(&newest),
        "the newest run is not on the first screen"
    );

    let deep = runs / 2 / 50;
    // Before the middle run's submission: a time range in the middle.
    let middle =
        (Utc::now() - chrono::Duration::seconds((runs / 2) as i64)).format("%Y-%m-%dT%H:%M:%SZ");
    let cases = [
        (
            "first screen",
            "/runs".to_string(),
            "/api/v1/runs?limit=51".to_string(),
        ),
        (
            "failed only",
            "/runs?status=failed".into(),
            "/api/v1/runs?status=failed&limit=51".into(),
        ),
        (
            "one pipeline",
            "/runs?pipeline=bronze.p07".into(),
            "/api/v1/runs?pipeline=bronze.p07&limit=51".into(),
        ),
        (
            "before a time",
            format!("/runs?until={middle}"),
            format!("/api/v1/runs?until={middle}&limit=51"),
        ),
        (
            "a page halfway",
            format!("/runs?page={deep}"),
            format!("/api/v1/runs?limit=51&offset={}", deep * 50),
        ),
    ];
    let mut rows = Vec::new();
    let mut worst = Duration::ZERO;
    for (name, page, api) in cases {
        let (mut pages, mut apis) = (Vec::new(), Vec::new());
        for _ in 0..repeat {
            pages.push(get(page.clone()).await?.0);
            apis.push(get(api.clone()).await?.0);
        }
        let (p, a) = (median(&pages), median(&apis));
        worst = worst.max(p);
        rows.push(vec![
            name.to_string(),
            format!("{:.2}", p.as_secs_f64() * 1e3),
            format!("{:.2}", a.as_secs_f64() * 1e3),
            format!("{:.2}x", p.as_secs_f64() / a.as_secs_f64()),
        ]);
    }
    println!("Runs page over {runs} runs, median of {repeat}:");
    table(&["case", "page ms", "API ms", "page / API"], &rows);
    let verdict = if worst < Duration::from_millis(300) {
        "met"
    } else {
        "MISSED"
    };
    println!(
        "slowest page {:.1} ms; target < 300 ms: {verdict}",
        worst.as_secs_f64() * 1e3
    );
    Ok(())
}
