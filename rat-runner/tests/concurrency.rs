//! Concurrent writers: commits are compare-and-swap, losers re-plan, no row
//! is lost.
#![allow(clippy::unwrap_used)]

mod common;

use std::sync::Arc;

use common::{MemoryLog, TestProject, open_engine};
use rat_core::{RunContext, RunEngine, RunSpec, RunStatus, TableRef};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn eight_concurrent_append_only_runs_lose_no_rows() {
    let p = TestProject::new().await;
    p.write(
        "pipelines/bronze/hits/pipeline.sql",
        "-- @merge_strategy: append_only\nSELECT i AS n, '{{ run_started_at }}' AS started FROM range(1000) t(i)",
    );
    let table: TableRef = "bronze.hits".parse().unwrap();
    // Each run has its own engine and catalog connection pool, as separate
    // processes would; they race from the table's creation on.
    let mut handles = Vec::new();
    for _ in 0..8 {
        let engine = open_engine(p.path()).await;
        let table = table.clone();
        handles.push(tokio::spawn(async move {
            let log = MemoryLog::default();
            let ctx = RunContext {
                cancel: Default::default(),
                log: Arc::new(log.clone()),
            };
            let result = engine.execute(RunSpec::new(table), ctx).await;
            (result, log)
        }));
    }
    let mut conflicts = 0;
    for h in handles {
        let (result, log) = h.await.unwrap();
        assert_eq!(result.status, RunStatus::Success, "{:?}", result.error);
        conflicts += log
            .0
            .lock()
            .unwrap()
            .iter()
            .filter(|(_, m)| m.contains("commit conflict"))
            .count();
    }
    assert_eq!(p.scalar("SELECT count(*) FROM bronze.hits").await, 8000);
    let loaded = p.load("bronze.hits").await;
    assert_eq!(rat_runner::table::history(&loaded).len(), 8);
    assert_eq!(p.refs("bronze.hits").await, ["main"]);
    // With eight writers at once, some must have lost a race and retried.
    assert!(
        conflicts > 0,
        "no conflict observed: the race was not exercised"
    );
}
