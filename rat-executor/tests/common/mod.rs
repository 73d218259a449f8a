//! A project folder, its lakehouse, a run store and executors over them.
#![allow(dead_code, unreachable_pub, clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::StreamExt;
use rat_core::{
    Executor, LakehouseConfig, LogCursor, LogRecord, RunId, RunRecord, RunStatus, RunStore,
    TableRef,
};
use rat_executor::{LocalExecutor, PoolConfig, ProcessConfig, ProcessExecutor, SqliteRunStore};
use rat_runner::{Engine, EngineConfig};

pub struct Harness {
    pub dir: tempfile::TempDir,
    pub lakehouse: LakehouseConfig,
    pub store: Arc<SqliteRunStore>,
    pub engine: Engine,
}

impl Harness {
    pub async fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let lakehouse = LakehouseConfig::embedded(dir.path());
        let store = Arc::new(
            SqliteRunStore::open(dir.path().join(".rat/runs.db"))
                .await
                .unwrap(),
        );
        let engine = Engine::open(&lakehouse, EngineConfig::default())
            .await
            .unwrap()
            .with_run_store(store.clone());
        Self {
            dir,
            lakehouse,
            store,
            engine,
        }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn write(&self, relative: &str, text: &str) {
        let path = self.path().join(relative);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }

    pub fn pipeline(&self, table: &str, sql: &str) {
        let t: TableRef = table.parse().unwrap();
        self.write(
            &format!("pipelines/{}/{}/pipeline.sql", t.layer, t.name),
            sql,
        );
    }

    pub async fn local(&self, config: PoolConfig) -> LocalExecutor {
        LocalExecutor::start(
            Arc::new(self.engine.clone()),
            self.store.clone(),
            self.engine.storage().clone(),
            config,
        )
        .await
        .unwrap()
    }

    pub fn process_config(&self) -> ProcessConfig {
        let mut config = ProcessConfig::new(
            runner_binary(),
            self.lakehouse.clone(),
            self.path().join(".rat/runs"),
        );
        config.grace = Duration::from_secs(2);
        config
    }

    pub async fn process(&self, config: PoolConfig) -> ProcessExecutor {
        ProcessExecutor::start(
            self.process_config(),
            self.store.clone(),
            self.engine.storage().clone(),
            config,
        )
        .await
        .unwrap()
    }

    pub async fn main_snapshot(&self, table: &str) -> Option<i64> {
        match self
            .engine
            .catalog()
            .load_table(&table.parse().unwrap())
            .await
        {
            Ok(t) => t.main_snapshot_id(),
            Err(_) => None,
        }
    }

    pub async fn refs(&self, table: &str) -> Vec<String> {
        let t = self
            .engine
            .catalog()
            .load_table(&table.parse().unwrap())
            .await
            .unwrap();
        let mut names = rat_runner::table::ref_names(&t.metadata);
        names.sort();
        names
    }

    pub async fn stored_logs(&self, run: &RunId) -> Vec<LogRecord> {
        self.store.logs(run, 0, 100_000).await.unwrap()
    }
}

/// The rat-runner binary built beside the test binaries.
pub fn runner_binary() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let bin = exe.parent().unwrap().parent().unwrap().join("rat-runner");
    assert!(
        bin.is_file(),
        "{} is missing: build it first (cargo build -p rat-runner --bins; scripts/test.sh does)",
        bin.display()
    );
    bin
}

/// Polls until the run is terminal.
pub async fn wait_for_end(executor: &dyn Executor, run: &RunId, limit: Duration) -> RunRecord {
    let deadline = Instant::now() + limit;
    loop {
        let record = executor.status(run).await.unwrap();
        if record.status.is_terminal() {
            return record;
        }
        assert!(
            Instant::now() < deadline,
            "run {run} still {} after {limit:?}",
            record.status
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Polls until `check` holds for the run's record.
pub async fn wait_until(
    executor: &dyn Executor,
    run: &RunId,
    limit: Duration,
    check: impl Fn(&RunRecord) -> bool,
) -> RunRecord {
    let deadline = Instant::now() + limit;
    loop {
        let record = executor.status(run).await.unwrap();
        if check(&record) {
            return record;
        }
        assert!(
            !record.status.is_terminal(),
            "run {run} ended ({}) before the condition held: {:?}",
            record.status,
            record.error
        );
        assert!(
            Instant::now() < deadline,
            "condition not met for run {run} within {limit:?}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Every log line of a run, following it to its end.
pub async fn follow_all(executor: &dyn Executor, run: &RunId, from_seq: u64) -> Vec<LogRecord> {
    executor
        .logs(
            run,
            LogCursor {
                from_seq,
                follow: true,
            },
        )
        .await
        .unwrap()
        .collect()
        .await
}

/// Seq numbers are 0..n without gaps or repeats.
pub fn assert_contiguous(lines: &[LogRecord]) {
    let seqs: Vec<u64> = lines.iter().map(|l| l.seq).collect();
    let expected: Vec<u64> = (0..lines.len() as u64).collect();
    assert_eq!(seqs, expected, "log sequence has gaps or repeats");
}

pub fn succeeded(record: &RunRecord) -> bool {
    record.status == RunStatus::Success
}

/// A query DuckDB runs for minutes unless interrupted.
pub const ENDLESS: &str =
    "SELECT count(*) AS n FROM range(300000) a, range(300000) b WHERE a.range + b.range < 0";

impl Harness {
    /// Deletes a quality test of `layer/name`.
    pub fn remove_test(&self, pipeline: &str, test: &str) {
        std::fs::remove_file(
            self.path()
                .join(format!("pipelines/{pipeline}/tests/quality/{test}.sql")),
        )
        .unwrap();
    }
}

/// Publishes `bronze.slow` once, then runs an endless query on it and
/// cancels it once it executes. Returns how long the cancel took to end the
/// run, the run's record, and the snapshot main had before.
pub async fn cancel_a_running_query(
    h: &Harness,
    executor: &dyn Executor,
) -> (Duration, RunRecord, Option<i64>) {
    h.pipeline("bronze.slow", "SELECT 1 AS n");
    let request = || rat_core::RunRequest::pipeline("bronze.slow".parse().unwrap());
    let first = executor.submit(request()).await.unwrap();
    assert!(succeeded(
        &wait_for_end(executor, &first, Duration::from_secs(60)).await
    ));
    let published = h.main_snapshot("bronze.slow").await;
    h.pipeline("bronze.slow", ENDLESS);
    let run = executor.submit(request()).await.unwrap();
    wait_until(executor, &run, Duration::from_secs(30), |r| {
        r.phase == Some(rat_core::Phase::Execute)
    })
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let asked = Instant::now();
    executor.cancel(&run).await.unwrap();
    let record = wait_for_end(executor, &run, Duration::from_secs(10)).await;
    (asked.elapsed(), record, published)
}
