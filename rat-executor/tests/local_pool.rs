//! LocalExecutor against the real engine: bounded concurrency, the queue
//! limit, cancellation, live logs, reconciliation.
#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use chrono::{DateTime, Utc};
use common::{
    ENDLESS, Harness, assert_contiguous, cancel_a_running_query, follow_all, succeeded,
    wait_for_end, wait_until,
};
use rat_core::{
    ErrorKind, Executor, Phase, RunError, RunId, RunLimits, RunRecord, RunRequest, RunStatus,
    RunStore, Transition,
};
use rat_executor::{Owner, PoolConfig, ProcessId};

fn pool(workers: usize, queue: usize) -> PoolConfig {
    PoolConfig {
        workers,
        queue,
        ..PoolConfig::default()
    }
}

/// The most runs whose [started, finished] intervals overlap at any moment.
fn max_overlap(records: &[RunRecord]) -> usize {
    let spans: Vec<(DateTime<Utc>, DateTime<Utc>)> = records
        .iter()
        .map(|r| (r.started_at.unwrap(), r.finished_at.unwrap()))
        .collect();
    spans
        .iter()
        .map(|(at, _)| spans.iter().filter(|(s, f)| s <= at && at < f).count())
        .max()
        .unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn twenty_submissions_four_workers_bounded_queue() {
    let h = Harness::new().await;
    for i in 0..20 {
        h.pipeline(
            &format!("bronze.t{i:02}"),
            "SELECT sum(i) AS s FROM range(150000000) t(i)",
        );
    }
    let executor = h.local(pool(4, 8)).await;
    let limits = RunLimits {
        threads: Some(1),
        ..RunLimits::default()
    };
    let (mut accepted, mut refused) = (Vec::new(), 0);
    for i in 0..20 {
        let request = RunRequest::pipeline(format!("bronze.t{i:02}").parse().unwrap())
            .with_limits(limits.clone());
        match executor.submit(request).await {
            Ok(run) => accepted.push(run),
            Err(e) => {
                assert_eq!(e.kind(), ErrorKind::QueueFull, "{e}");
                assert!(e.is_retryable());
                refused += 1;
            }
        }
    }
    assert!(refused > 0, "the queue never filled");
    assert_eq!(accepted.len() + refused, 20);
    let mut records = Vec::new();
    for run in &accepted {
        records.push(wait_for_end(&executor, run, Duration::from_secs(120)).await);
    }
    assert!(records.iter().all(succeeded), "{records:?}");
    // Every accepted run has a durable record; refused ones left none.
    let stored = h.store.list(&Default::default()).await.unwrap();
    assert_eq!(stored.len(), accepted.len());
    let overlap = max_overlap(&records);
    assert!(overlap <= 4, "{overlap} runs overlapped with 4 workers");
    assert_eq!(overlap, 4, "the pool never used its 4 workers at once");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn cancel_interrupts_a_running_query_within_a_second() {
    let h = Harness::new().await;
    let executor = h.local(pool(2, 4)).await;
    let (took, record, published) = cancel_a_running_query(&h, &executor).await;
    assert_eq!(record.status, RunStatus::Cancelled, "{:?}", record.error);
    assert!(took < Duration::from_secs(1), "cancel took {took:?}");
    assert_eq!(
        h.main_snapshot("bronze.slow").await,
        published,
        "main moved"
    );
    assert_eq!(h.refs("bronze.slow").await, ["main"]);
    // Cancelling again is a conflict: the run already ended.
    let err = executor.cancel(&record.run_id).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Conflict);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn cancel_after_the_branch_was_written_removes_it() {
    let h = Harness::new().await;
    h.pipeline("silver.t", "SELECT 1 AS n");
    let executor = h.local(pool(2, 4)).await;
    let first = executor
        .submit(RunRequest::pipeline("silver.t".parse().unwrap()))
        .await
        .unwrap();
    assert!(succeeded(
        &wait_for_end(&executor, &first, Duration::from_secs(30)).await
    ));
    let published = h.main_snapshot("silver.t").await;
    h.write(
        "pipelines/silver/t/tests/quality/slow.sql",
        &format!("SELECT * FROM ({ENDLESS}) WHERE n > 0"),
    );
    let run = executor
        .submit(RunRequest::pipeline("silver.t".parse().unwrap()))
        .await
        .unwrap();
    wait_until(&executor, &run, Duration::from_secs(30), |r| {
        r.phase == Some(Phase::Test)
    })
    .await;
    assert!(h.refs("silver.t").await.contains(&run.branch()));
    executor.cancel(&run).await.unwrap();
    let record = wait_for_end(&executor, &run, Duration::from_secs(5)).await;
    assert_eq!(record.status, RunStatus::Cancelled);
    assert_eq!(h.main_snapshot("silver.t").await, published);
    assert_eq!(h.refs("silver.t").await, ["main"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_cancel_request_through_the_store_reaches_the_owner() {
    let h = Harness::new().await;
    h.pipeline("bronze.slow", ENDLESS);
    let executor = h.local(pool(1, 1)).await;
    let run = executor
        .submit(RunRequest::pipeline("bronze.slow".parse().unwrap()))
        .await
        .unwrap();
    wait_until(&executor, &run, Duration::from_secs(30), |r| {
        r.phase == Some(Phase::Execute)
    })
    .await;
    // What `rat cancel` does from another process.
    h.store.request_cancel(&run).await.unwrap();
    let record = wait_for_end(&executor, &run, Duration::from_secs(5)).await;
    assert_eq!(record.status, RunStatus::Cancelled);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn logs_arrive_live_in_order_and_late_followers_get_the_backlog() {
    let h = Harness::new().await;
    h.pipeline("silver.s", "SELECT sum(i) AS s FROM range(80000000) t(i)");
    for i in 0..5 {
        h.write(
            &format!("pipelines/silver/s/tests/quality/t{i}.sql"),
            "SELECT * FROM {{ this }} WHERE s < 0",
        );
    }
    let executor = h.local(pool(2, 4)).await;
    let run = executor
        .submit(RunRequest::pipeline("silver.s".parse().unwrap()))
        .await
        .unwrap();
    let early = {
        let run = run.clone();
        let exec = &executor;
        async move { follow_all(exec, &run, 0).await }
    };
    let late = async {
        wait_until(&executor, &run, Duration::from_secs(30), |r| {
            r.phase == Some(Phase::Execute)
        })
        .await;
        follow_all(&executor, &run, 0).await
    };
    let (early, late) = tokio::join!(early, late);
    assert!(early.len() > 10, "{early:?}");
    assert_contiguous(&early);
    assert_eq!(
        late, early,
        "a late follower must see the same lines, backlog first"
    );
    let record = wait_for_end(&executor, &run, Duration::from_secs(5)).await;
    assert!(succeeded(&record));
    // The store holds the same log once the run ended.
    let stored: Vec<(u64, String)> = h
        .stored_logs(&run)
        .await
        .into_iter()
        .map(|l| (l.seq, l.message))
        .collect();
    let seen: Vec<(u64, String)> = early.into_iter().map(|l| (l.seq, l.message)).collect();
    assert_eq!(stored, seen);
    // A follower starting in the middle gets exactly the rest.
    let tail = follow_all(&executor, &run, 5).await;
    assert_eq!(tail.first().map(|l| l.seq), Some(5));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn finished_runs_leave_memory_but_not_the_store() {
    let h = Harness::new().await;
    h.pipeline("bronze.a", "SELECT 1 AS n");
    let executor = h
        .local(PoolConfig {
            ttl: Duration::from_millis(50),
            ..PoolConfig::default()
        })
        .await;
    let run = executor
        .submit(RunRequest::pipeline("bronze.a".parse().unwrap()))
        .await
        .unwrap();
    let record = wait_for_end(&executor, &run, Duration::from_secs(30)).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(
        executor.status(&run).await.unwrap(),
        h.store.get(&run).await.unwrap()
    );
    assert_eq!(h.store.get(&run).await.unwrap().status, record.status);
    let logs = follow_all(&executor, &run, 0).await;
    assert_contiguous(&logs);
    assert!(logs.last().unwrap().message.contains("succeeded"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn submissions_are_validated_before_they_are_accepted() {
    let h = Harness::new().await;
    h.pipeline("bronze.a", "-- @merge_strategy: upsert\nSELECT 1 AS n");
    let executor = h.local(PoolConfig::default()).await;
    let err = executor
        .submit(RunRequest::pipeline("bronze.a".parse().unwrap()))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidInput);
    assert!(
        err.to_string().contains("pipelines/bronze/a/pipeline.sql"),
        "{err}"
    );
    let err = executor
        .submit(RunRequest::pipeline("bronze.missing".parse().unwrap()))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound);
    let bad_limits = RunLimits {
        memory_limit: Some("lots".into()),
        ..RunLimits::default()
    };
    h.pipeline("bronze.a", "SELECT 1 AS n");
    let err = executor
        .submit(RunRequest::pipeline("bronze.a".parse().unwrap()).with_limits(bad_limits))
        .await
        .unwrap_err();
    assert_eq!(err.context("field"), Some("memory_limit"));
    assert!(
        h.store.list(&Default::default()).await.unwrap().is_empty(),
        "refused runs left records"
    );
    assert_eq!(
        executor
            .status(&RunId::generate())
            .await
            .unwrap_err()
            .kind(),
        ErrorKind::NotFound
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn runs_of_a_crashed_local_owner_are_marked_failed_on_start() {
    let h = Harness::new().await;
    h.pipeline("bronze.a", "SELECT 1 AS n");
    // A record as a process that died mid-run would have left it; the owner
    // has our pid but another start time, as after a pid reuse.
    let me = ProcessId::current();
    let dead = ProcessId {
        pid: me.pid,
        start: me.start + 1,
    };
    let mut record = RunRecord::pending(RunId::generate(), "bronze.a".parse().unwrap(), "local");
    record.owner = Some(dead.to_string());
    h.store.insert(&record).await.unwrap();
    h.store
        .transition(
            &record.run_id,
            Transition::Started {
                at: Utc::now(),
                owner: dead.to_string(),
            },
        )
        .await
        .unwrap();
    // A live owner's run and another executor kind's run are left alone.
    let mut alive = RunRecord::pending(RunId::generate(), "bronze.a".parse().unwrap(), "local");
    alive.owner = Some(me.to_string());
    h.store.insert(&alive).await.unwrap();
    let mut other = RunRecord::pending(RunId::generate(), "bronze.a".parse().unwrap(), "process");
    other.owner = Some(dead.to_string());
    h.store.insert(&other).await.unwrap();
    // A dead process id means nothing on another host: its executor there
    // may well be running it (servers sharing one PostgreSQL).
    let mut remote = RunRecord::pending(RunId::generate(), "bronze.a".parse().unwrap(), "local");
    remote.owner = Some(format!("{dead}@another-machine"));
    h.store.insert(&remote).await.unwrap();
    // The same dead process named on this host is judged like before.
    let here = Owner {
        process: dead,
        host: Owner::current().host,
    };
    let mut local_dead =
        RunRecord::pending(RunId::generate(), "bronze.a".parse().unwrap(), "local");
    local_dead.owner = Some(here.to_string());
    h.store.insert(&local_dead).await.unwrap();

    let _executor = h.local(PoolConfig::default()).await;
    let got = h.store.get(&record.run_id).await.unwrap();
    assert_eq!(got.status, RunStatus::Failed);
    let error: RunError = got.error.unwrap();
    assert!(error.message.contains("executor restarted"), "{error:?}");
    assert_eq!(
        h.store.get(&alive.run_id).await.unwrap().status,
        RunStatus::Pending
    );
    assert_eq!(
        h.store.get(&other.run_id).await.unwrap().status,
        RunStatus::Pending
    );
    assert_eq!(
        h.store.get(&remote.run_id).await.unwrap().status,
        RunStatus::Pending
    );
    assert_eq!(
        h.store.get(&local_dead.run_id).await.unwrap().status,
        RunStatus::Failed
    );
}
