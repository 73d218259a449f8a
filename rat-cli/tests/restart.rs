//! Killing `rat run` with runs in flight, then starting again: nothing is
//! left `running`; an in-process run is failed ("executor restarted"), a
//! runner process that outlived its parent is adopted and completes.
#![allow(clippy::unwrap_used)]

mod common;

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{Background, rat, spawn_rat, spawn_rat_piped, write};
use rat_core::{Executor, LakehouseConfig, RunFilter, RunRecord, RunStatus, RunStore};
use rat_executor::{PoolConfig, ProcessConfig, ProcessExecutor, ProcessId, SqliteRunStore};

/// Waits for a record of `table` matching `check`, while `rat` runs.
async fn wait_for(
    rat: &mut Background,
    store: &SqliteRunStore,
    table: &str,
    check: impl Fn(&RunRecord) -> bool,
) -> RunRecord {
    let deadline = Instant::now() + Duration::from_secs(60);
    let filter = RunFilter {
        table: Some(table.parse().unwrap()),
        ..RunFilter::default()
    };
    loop {
        if let Some(r) = store.list(&filter).await.unwrap().into_iter().find(&check) {
            return r;
        }
        rat.assert_running(&format!("a run of {table}"));
        assert!(
            Instant::now() < deadline,
            "no run of {table} reached the expected state"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn store(project: &Path) -> SqliteRunStore {
    SqliteRunStore::open(project.join(".rat/runs.db"))
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_local_run_is_failed_when_rat_starts_again() {
    let tmp = tempfile::tempdir().unwrap();
    let project = tmp.path();
    write(
        project,
        "pipelines/bronze/quick/pipeline.sql",
        "SELECT 1 AS n",
    );
    write(
        project,
        "pipelines/bronze/endless/pipeline.sql",
        "SELECT count(*) AS n FROM range(300000) a, range(300000) b WHERE a.range + b.range < 0",
    );
    let mut parent = spawn_rat(project, &["run", "bronze.endless"]);
    let store = store(project).await;
    let running = wait_for(&mut parent, &store, "bronze.endless", |r| {
        r.status == RunStatus::Running
    })
    .await;
    parent.child.kill().unwrap();
    parent.child.wait().unwrap();
    assert_eq!(
        store.get(&running.run_id).await.unwrap().status,
        RunStatus::Running
    );

    // Starting again (any rat run) reconciles the orphan.
    let mut again = spawn_rat(project, &["run", "bronze.quick"]);
    assert!(again.child.wait().unwrap().success());
    let record = store.get(&running.run_id).await.unwrap();
    assert_eq!(record.status, RunStatus::Failed);
    assert!(record.error.unwrap().message.contains("executor restarted"));
    assert!(
        store.unfinished().await.unwrap().is_empty(),
        "a run is stuck"
    );
    // So is the batch the killed rat was driving.
    use rat_core::BatchStore;
    assert!(
        store.unfinished_batches().await.unwrap().is_empty(),
        "a batch is stuck"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_runner_outliving_a_killed_rat_is_adopted_and_completes() {
    let tmp = tempfile::tempdir().unwrap();
    let project = std::fs::canonicalize(tmp.path()).unwrap();
    write(
        &project,
        "pipelines/bronze/long/pipeline.sql",
        "SELECT sum(i) AS s FROM range(800000000) t(i)",
    );
    let mut parent = spawn_rat(
        &project,
        &["run", "--isolate", "--threads", "1", "bronze.long"],
    );
    let store = Arc::new(store(&project).await);
    let running = wait_for(&mut parent, &store, "bronze.long", |r| r.handle.is_some()).await;
    parent.child.kill().unwrap();
    parent.child.wait().unwrap();
    let runner: ProcessId = running.handle.unwrap().parse().unwrap();
    assert!(runner.is_alive(), "the runner should outlive rat");

    let runner_bin = Path::new(env!("CARGO_BIN_EXE_rat")).with_file_name("rat-runner");
    let config = ProcessConfig::new(
        runner_bin,
        LakehouseConfig::embedded(&project),
        project.join(".rat/runs"),
    );
    let storage = Arc::new(rat_runner::storage::LocalStorage::new(&project).unwrap());
    let executor = ProcessExecutor::start(config, store.clone(), storage, PoolConfig::default())
        .await
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(120);
    let record = loop {
        let r = executor.status(&running.run_id).await.unwrap();
        if r.status.is_terminal() {
            break r;
        }
        assert!(Instant::now() < deadline, "the adopted run never ended");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(record.status, RunStatus::Success, "{:?}", record.error);
    let logs = store.logs(&running.run_id, 0, 10_000).await.unwrap();
    let seqs: Vec<u64> = logs.iter().map(|l| l.seq).collect();
    assert_eq!(
        seqs,
        (0..logs.len() as u64).collect::<Vec<_>>(),
        "gaps or duplicates"
    );
    assert!(
        logs.iter()
            .any(|l| l.message.contains("published snapshot"))
    );
    assert!(store.unfinished().await.unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn runs_logs_and_cancel_work_from_another_process() {
    let tmp = tempfile::tempdir().unwrap();
    let project = tmp.path();
    write(
        project,
        "pipelines/bronze/endless/pipeline.sql",
        "SELECT count(*) AS n FROM range(300000) a, range(300000) b WHERE a.range + b.range < 0",
    );
    let mut runner = spawn_rat(project, &["run"]);
    let store = store(project).await;
    let running = wait_for(&mut runner, &store, "bronze.endless", |r| {
        r.status == RunStatus::Running
    })
    .await;
    let id = running.run_id.to_string();

    let listed: serde_json::Value =
        serde_json::from_slice(&rat(project, &["runs", "--json", "--status", "running"]).stdout)
            .unwrap();
    assert_eq!(listed[0]["run_id"], id.as_str());

    let follower = spawn_rat_piped(project, &["logs", "-f", &id]);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let cancelled = rat(project, &["cancel", &id]);
    assert!(cancelled.status.success());
    assert!(
        String::from_utf8_lossy(&cancelled.stdout).contains("cancelled"),
        "{cancelled:?}"
    );
    assert_eq!(runner.child.wait().unwrap().code(), Some(1));
    let followed = follower.wait_with_output().unwrap();
    let text = String::from_utf8_lossy(&followed.stdout);
    assert!(
        text.contains("started") && text.contains("cancel"),
        "{text}"
    );
    // Cancelling an ended run is refused.
    assert_eq!(rat(project, &["cancel", &id]).status.code(), Some(1));
}
