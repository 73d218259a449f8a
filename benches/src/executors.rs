//! Executor latency: submit → running, and a tiny pipeline end to end, for
//! the local pool and a process per run. Targets: local submit→running p50
//! < 5 ms; tiny pipeline end to end p50 < 150 ms local, < 400 ms per process.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, ensure};
use chrono::Utc;
use rat_core::{Executor, LakehouseConfig, RunRequest, RunStatus, RunStore};
use rat_executor::{LocalExecutor, PoolConfig, ProcessConfig, ProcessExecutor, SqliteRunStore};
use rat_runner::{Engine, EngineConfig};

use crate::report::{percentiles, table};
use crate::setup::BenchProject;

pub(crate) async fn run(runs: usize) -> Result<()> {
    let project = BenchProject::new()?;
    project.write("pipelines/bronze/tiny/pipeline.sql", "SELECT 1 AS n")?;
    let lakehouse = LakehouseConfig::embedded(project.path());
    let store = Arc::new(SqliteRunStore::open(project.path().join(".rat/runs.db")).await?);
    let engine = Engine::open(&lakehouse, EngineConfig::default())
        .await?
        .with_run_store(store.clone());
    let storage = engine.storage().clone();
    let local = LocalExecutor::start(
        Arc::new(engine),
        store.clone(),
        storage.clone(),
        PoolConfig::default(),
    )
    .await?;
    let process = ProcessExecutor::start(
        ProcessConfig::new(runner()?, lakehouse, project.path().join(".rat/runs")),
        store.clone(),
        storage,
        PoolConfig::default(),
    )
    .await?;

    let mut rows = Vec::new();
    for (name, executor, target_e2e) in [
        ("local", &local as &dyn Executor, 150.0),
        ("process", &process as &dyn Executor, 400.0),
    ] {
        // One warm-up run creates the table and warms caches.
        measure(executor, store.as_ref()).await?;
        let (mut to_running, mut end_to_end) = (Vec::new(), Vec::new());
        for _ in 0..runs {
            let (r, e) = measure(executor, store.as_ref()).await?;
            to_running.push(r);
            end_to_end.push(e);
        }
        let (r50, r99) = percentiles(&mut to_running);
        let (e50, e99) = percentiles(&mut end_to_end);
        let target_running = if name == "local" { "< 5" } else { "-" };
        rows.push(vec![
            name.into(),
            format!("{r50:.2}"),
            format!("{r99:.2}"),
            target_running.into(),
            format!("{e50:.1}"),
            format!("{e99:.1}"),
            format!("< {target_e2e:.0}"),
        ]);
    }
    println!(
        "\nexecutor latency over {runs} sequential runs of a one-row pipeline (milliseconds):\n"
    );
    table(
        &[
            "executor",
            "submit→running p50",
            "p99",
            "target p50",
            "end-to-end p50",
            "p99",
            "target p50",
        ],
        &rows,
    );
    Ok(())
}

/// The `rat-runner` binary beside this one.
pub(crate) fn runner() -> Result<std::path::PathBuf> {
    let runner = std::env::current_exe()?.with_file_name("rat-runner");
    ensure!(
        runner.is_file(),
        "{} is missing: cargo build -p rat-runner --bins",
        runner.display()
    );
    Ok(runner)
}

/// One run of `bronze.tiny`: (submit → running, submit → terminal as the
/// caller sees it), in ms.
pub(crate) async fn measure(executor: &dyn Executor, store: &dyn RunStore) -> Result<(f64, f64)> {
    let called = Utc::now();
    let clock = Instant::now();
    let run = executor
        .submit(RunRequest::pipeline("bronze.tiny".parse()?))
        .await?;
    let end_to_end = loop {
        let record = executor.status(&run).await?;
        if record.status.is_terminal() {
            ensure!(
                record.status == RunStatus::Success,
                "run failed: {:?}",
                record.error
            );
            break clock.elapsed();
        }
        tokio::time::sleep(Duration::from_micros(200)).await;
    };
    let started = store.get(&run).await?.started_at.context("no start time")?;
    let to_running = (started - called).num_microseconds().context("overflow")? as f64 / 1000.0;
    Ok((to_running.max(0.0), end_to_end.as_secs_f64() * 1000.0))
}
