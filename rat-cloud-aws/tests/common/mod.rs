//! Shared by the ECS tests: a project with one pipeline, a run store, the
//! lakehouse configuration runners would get (with a secret reference
//! whose value must never leave this process), and waiting helpers.
#![allow(dead_code, unreachable_pub, clippy::unwrap_used, clippy::expect_used)]

pub mod fault_server;
pub mod moto;

use std::sync::Arc;
use std::time::{Duration, Instant};

use rat_core::{
    Executor, LakehouseConfig, LogLevel, LogRecord, RunId, RunRecord, RunResult, RunStatus,
    RunStore, TableRef,
};
use rat_executor::SqliteRunStore;

/// The secret the lakehouse configuration refers to (by a file here, by a
/// variable ECS fills from Secrets Manager in a task); asserted absent from
/// every request, log line and Debug output.
pub const SECRET_VARIABLE: &str = "RAT_TEST_ECS_CATALOG_TOKEN";
pub const SECRET_VALUE: &str = "s3cr3t-catalog-token-3c1f9a";

pub struct Project {
    pub dir: tempfile::TempDir,
    pub store: Arc<SqliteRunStore>,
    pub storage: Arc<dyn rat_core::Storage>,
    pub lakehouse: LakehouseConfig,
}

impl Project {
    pub async fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        // The executor's machine holds the secret (as a server would); only
        // its reference may travel.
        let secret = dir.path().join("catalog-token");
        std::fs::write(&secret, SECRET_VALUE).unwrap();
        for layer in ["bronze", "silver"] {
            let path = dir
                .path()
                .join(format!("pipelines/{layer}/orders/pipeline.sql"));
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, "SELECT 1 AS id").unwrap();
        }
        let store = Arc::new(
            SqliteRunStore::open(dir.path().join("runs.db"))
                .await
                .unwrap(),
        );
        let storage = Arc::new(rat_runner::storage::LocalStorage::new(dir.path()).unwrap());
        let yaml = format!(
            "storage: {{type: s3, bucket: lake, region: us-east-1}}\n\
             catalog:\n  type: rest\n  uri: https://catalog.example\n  warehouse: lake\n  \
             auth: {{type: bearer, token: {{file: {}}}}}\n",
            secret.display()
        );
        let lakehouse = LakehouseConfig::from_yaml(&yaml, dir.path(), std::iter::empty()).unwrap();
        Self {
            dir,
            store,
            storage,
            lakehouse,
        }
    }

    pub fn store(&self) -> Arc<dyn RunStore> {
        self.store.clone()
    }

    pub async fn logs(&self, run: &RunId) -> Vec<LogRecord> {
        self.store.logs(run, 0, 10_000).await.unwrap()
    }
}

pub fn table(name: &str) -> TableRef {
    name.parse().unwrap()
}

/// Polls `check` every 50 ms until it holds or `limit` passes.
pub async fn wait_for<T, F, Fut>(what: &str, limit: Duration, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let start = Instant::now();
    loop {
        if let Some(v) = check().await {
            return v;
        }
        assert!(start.elapsed() < limit, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

pub async fn wait_for_end(executor: &dyn Executor, run: &RunId) -> RunRecord {
    wait_for("the run to end", Duration::from_secs(60), || async {
        let record = executor.status(run).await.unwrap();
        record.status.is_terminal().then_some(record)
    })
    .await
}

/// Log lines as a runner prints them, numbered `from..from + count`.
pub fn runner_lines(from: u64, count: u64) -> Vec<String> {
    (from..from + count)
        .map(|seq| {
            serde_json::json!({
                "type": "log", "seq": seq, "at": "2026-11-22T10:00:00Z",
                "level": "info", "message": format!("line {seq}")
            })
            .to_string()
        })
        .collect()
}

/// The result line a runner prints at the end of a successful run.
pub fn result_line(run: &RunId, table: &TableRef) -> String {
    let now = chrono::Utc::now();
    let result = RunResult {
        run_id: run.clone(),
        table: table.clone(),
        status: RunStatus::Success,
        phase: rat_core::Phase::Publish,
        strategy: None,
        started_at: now,
        finished_at: now,
        timings: Vec::new(),
        rows_written: 1,
        base_snapshot_id: None,
        snapshot_id: Some(1),
        quality: Vec::new(),
        warnings: Vec::new(),
        error: None,
    };
    serde_json::to_string(&result).unwrap()
}

pub fn assert_lines(logs: &[LogRecord], expected: u64) {
    let seqs: Vec<u64> = logs.iter().map(|l| l.seq).collect();
    assert_eq!(
        seqs,
        (0..expected).collect::<Vec<_>>(),
        "no gap, no duplicate"
    );
    for line in logs {
        assert_eq!(line.message, format!("line {}", line.seq));
        assert_eq!(line.level, LogLevel::Info);
    }
}
