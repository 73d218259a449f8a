//! ProcessExecutor with the real rat-runner binary: results, logs, limits,
//! cancellation, timeouts, a runner killed mid-write, adoption after a
//! crash of the executor.
#![allow(clippy::unwrap_used)]

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::StreamExt;

use common::{
    ENDLESS, Harness, assert_contiguous, cancel_a_running_query, follow_all, succeeded,
    wait_for_end, wait_until,
};
use rat_core::{Executor, Phase, RunLimits, RunRequest, RunStatus, RunStore, Transition};
use rat_executor::{PoolConfig, ProcessId};
use serde_json::json;

fn request(table: &str) -> RunRequest {
    RunRequest::pipeline(table.parse().unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_runner_process_reports_its_result_logs_and_limits() {
    let h = Harness::new().await;
    h.pipeline(
        "bronze.settings",
        "SELECT current_setting('memory_limit') AS memory, current_setting('threads') AS threads",
    );
    let executor = h.process(PoolConfig::default()).await;
    let limits = RunLimits {
        memory_limit: Some("300MB".into()),
        threads: Some(1),
        timeout: Some(Duration::from_secs(60)),
    };
    let run = executor
        .submit(request("bronze.settings").with_limits(limits))
        .await
        .unwrap();
    let logs = follow_all(&executor, &run, 0).await;
    let record = wait_for_end(&executor, &run, Duration::from_secs(60)).await;
    assert!(succeeded(&record), "{:?}", record.error);
    assert_eq!(record.executor, "process");
    assert!(record.handle.as_deref().unwrap().starts_with("pid:"));
    assert_eq!(record.result.as_ref().unwrap().rows_written, 1);
    assert_contiguous(&logs);
    assert!(
        logs.iter()
            .any(|l| l.message.contains("published snapshot"))
    );
    let out = rat_runner::query::query(
        h.engine.catalog().as_ref(),
        "SELECT * FROM bronze.settings",
        &Default::default(),
    )
    .await
    .unwrap();
    // DuckDB reports 300MB in MiB.
    assert_eq!(out.rows[0], [json!("286.1 MiB"), json!(1)]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn cancel_stops_a_runner_within_a_second() {
    let h = Harness::new().await;
    let executor = h.process(PoolConfig::default()).await;
    let (took, record, published) = cancel_a_running_query(&h, &executor).await;
    assert_eq!(record.status, RunStatus::Cancelled, "{:?}", record.error);
    assert!(took < Duration::from_secs(1), "cancel took {took:?}");
    assert_eq!(h.main_snapshot("bronze.slow").await, published);
    assert_eq!(h.refs("bronze.slow").await, ["main"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_run_past_its_time_limit_fails() {
    let h = Harness::new().await;
    h.pipeline("bronze.slow", ENDLESS);
    let executor = h.process(PoolConfig::default()).await;
    let limits = RunLimits {
        timeout: Some(Duration::from_secs(1)),
        ..RunLimits::default()
    };
    let started = Instant::now();
    let run = executor
        .submit(request("bronze.slow").with_limits(limits))
        .await
        .unwrap();
    let record = wait_for_end(&executor, &run, Duration::from_secs(20)).await;
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "took {:?}",
        started.elapsed()
    );
    assert_eq!(record.status, RunStatus::Failed);
    let error = record.error.unwrap();
    assert_eq!(error.kind, "timeout");
    assert!(error.message.contains("time limit of 1s"), "{error:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_runner_killed_mid_write_fails_the_run_and_leaves_no_branch() {
    let h = Harness::new().await;
    h.pipeline("silver.t", "SELECT 1 AS n");
    let executor = h.process(PoolConfig::default()).await;
    let first = executor.submit(request("silver.t")).await.unwrap();
    assert!(succeeded(
        &wait_for_end(&executor, &first, Duration::from_secs(60)).await
    ));
    let published = h.main_snapshot("silver.t").await;

    // A slow quality test keeps the run on its branch, after the write.
    h.pipeline("silver.t", "SELECT 2 AS n");
    h.write(
        "pipelines/silver/t/tests/quality/slow.sql",
        &format!("SELECT * FROM ({ENDLESS}) WHERE n > 0"),
    );
    let limits = RunLimits {
        memory_limit: Some("256MB".into()),
        ..RunLimits::default()
    };
    let run = executor
        .submit(request("silver.t").with_limits(limits))
        .await
        .unwrap();
    let record = wait_until(&executor, &run, Duration::from_secs(60), |r| {
        r.phase == Some(Phase::Test)
    })
    .await;
    assert!(
        h.refs("silver.t").await.contains(&run.branch()),
        "the run should be on its branch"
    );
    let pid: ProcessId = record.handle.unwrap().parse().unwrap();
    // The OS memory limit reached the runner.
    let limits = std::fs::read_to_string(format!("/proc/{}/limits", pid.pid)).unwrap();
    let address_space = limits
        .lines()
        .find(|l| l.starts_with("Max address space"))
        .unwrap();
    assert!(!address_space.contains("unlimited"), "{address_space}");

    std::process::Command::new("kill")
        .args(["-9", &pid.pid.to_string()])
        .status()
        .unwrap();
    let record = wait_for_end(&executor, &run, Duration::from_secs(60)).await;
    assert_eq!(record.status, RunStatus::Failed);
    let message = record.error.unwrap().message;
    assert!(
        message.contains("killed (SIGKILL) during test"),
        "{message}"
    );
    assert!(message.contains("branch was removed"), "{message}");
    assert_eq!(h.main_snapshot("silver.t").await, published, "main moved");
    assert_eq!(h.refs("silver.t").await, ["main"]);

    // The next run of the table works and leaves only main.
    h.remove_test("silver/t", "slow");
    let next = executor.submit(request("silver.t")).await.unwrap();
    assert!(succeeded(
        &wait_for_end(&executor, &next, Duration::from_secs(60)).await
    ));
    assert_eq!(h.refs("silver.t").await, ["main"]);

    // The killed run's files (data, manifests, list) go with maintenance,
    // which asks the run store: a failed run's files go at once.
    let table: rat_core::TableRef = "silver.t".parse().unwrap();
    let of_run = |files: &[rat_runner::table::ListedFile]| -> Vec<String> {
        files
            .iter()
            .filter(|f| f.path.contains(run.as_str()))
            .map(|f| f.path.clone())
            .collect()
    };
    let loaded = h.engine.catalog().load_table(&table).await.unwrap();
    let before = rat_runner::table::list_table_files(&loaded).await.unwrap();
    assert!(!of_run(&before).is_empty(), "the killed run wrote files");
    let store: Arc<dyn RunStore> = h.store.clone();
    let options = rat_runner::maintain::MaintainOptions::default().with_run_store(store);
    rat_runner::maintain::maintain(h.engine.catalog().as_ref(), &table, &options)
        .await
        .unwrap();
    let loaded = h.engine.catalog().load_table(&table).await.unwrap();
    let after = rat_runner::table::list_table_files(&loaded).await.unwrap();
    assert_eq!(
        of_run(&after),
        Vec::<String>::new(),
        "files of the killed run remain"
    );
}

/// Starts `table` on an executor that then dies: it lives on a runtime of
/// its own, shut down once the run executes, so its tasks stop as a crashed
/// process's would while its runner lives on. The record is made to name a
/// dead owner (the test process itself is alive).
async fn start_then_crash(h: &Harness, table: &str) -> (rat_core::RunId, ProcessId) {
    let config = h.process_config();
    let db = h.path().join(".rat/runs.db");
    let root = h.path().to_owned();
    let table = table.to_owned();
    let (run, runner) = std::thread::spawn(move || {
        let rt = tokio::runtime::Runtime::new().unwrap();
        let out = rt.block_on(async move {
            let store = std::sync::Arc::new(rat_executor::SqliteRunStore::open(db).await.unwrap());
            let storage =
                std::sync::Arc::new(rat_runner::storage::LocalStorage::new(root).unwrap());
            let first =
                rat_executor::ProcessExecutor::start(config, store, storage, PoolConfig::default())
                    .await
                    .unwrap();
            let limits = RunLimits {
                threads: Some(1),
                ..RunLimits::default()
            };
            let run = first
                .submit(request(&table).with_limits(limits))
                .await
                .unwrap();
            let record = wait_until(&first, &run, Duration::from_secs(60), |r| {
                r.phase == Some(Phase::Execute)
            })
            .await;
            (run, record.handle.unwrap().parse::<ProcessId>().unwrap())
        });
        rt.shutdown_background();
        out
    })
    .join()
    .unwrap();
    let me = ProcessId::current();
    let dead = ProcessId {
        pid: me.pid,
        start: me.start + 1,
    };
    h.store
        .transition(
            &run,
            Transition::Adopted {
                owner: dead.to_string(),
            },
        )
        .await
        .unwrap();
    (run, runner)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_restarted_executor_adopts_a_live_runner_and_completes_its_log() {
    let h = Harness::new().await;
    h.pipeline(
        "bronze.long",
        "SELECT sum(i) AS s FROM range(800000000) t(i)",
    );
    let (run, runner) = start_then_crash(&h, "bronze.long").await;
    assert!(runner.is_alive(), "the runner should outlive its executor");

    let second = h.process(PoolConfig::default()).await;
    let record = wait_for_end(&second, &run, Duration::from_secs(120)).await;
    assert!(succeeded(&record), "{:?}", record.error);
    assert_eq!(
        h.store.get(&run).await.unwrap().owner,
        Some(rat_executor::Owner::current().to_string())
    );
    let logs = h.stored_logs(&run).await;
    assert_contiguous(&logs);
    assert!(
        logs.iter()
            .any(|l| l.message.contains("published snapshot")),
        "{logs:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_runner_that_finished_while_no_executor_ran_is_recorded() {
    let h = Harness::new().await;
    h.pipeline(
        "bronze.quick",
        "SELECT sum(i) AS s FROM range(50000000) t(i)",
    );
    let (run, runner) = start_then_crash(&h, "bronze.quick").await;
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while runner.is_alive() {
        assert!(
            std::time::Instant::now() < deadline,
            "the runner never finished"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(h.store.get(&run).await.unwrap().status, RunStatus::Running);
    let second = h.process(PoolConfig::default()).await;
    let record = wait_for_end(&second, &run, Duration::from_secs(30)).await;
    assert!(succeeded(&record), "{:?}", record.error);
    assert_eq!(record.result.unwrap().rows_written, 1);
    assert_contiguous(&h.stored_logs(&run).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_pruned_run_loses_its_folder_and_a_kept_one_keeps_it() {
    let h = Harness::new().await;
    h.pipeline("bronze.one", "SELECT 1 AS n");
    let executor = h.process(PoolConfig::default()).await;
    let mut runs = Vec::new();
    for _ in 0..3 {
        let run = executor.submit(request("bronze.one")).await.unwrap();
        let record = wait_for_end(&executor, &run, Duration::from_secs(60)).await;
        assert!(succeeded(&record), "{:?}", record.error);
        runs.push(run);
    }
    let folder = |run: &rat_core::RunId| h.path().join(".rat/runs").join(run.as_str());
    assert!(runs.iter().all(|r| folder(r).join("input.json").exists()));
    let retention = rat_core::RunRetention {
        keep_runs: 1,
        ..Default::default()
    };
    let mut pruned = h.store.prune(&retention, chrono::Utc::now()).await.unwrap();
    pruned.sort();
    assert_eq!(pruned, runs[..2], "the two oldest runs are pruned");
    executor.forget(&pruned).await.unwrap();
    assert!(!folder(&runs[0]).exists() && !folder(&runs[1]).exists());
    assert!(
        folder(&runs[2]).join("input.json").exists(),
        "the kept run keeps its folder"
    );
    // Forgetting again (nothing left) is not an error.
    executor.forget(&pruned).await.unwrap();
}

/// 20M rows of about 50 bytes (~1 GB as Arrow) streamed by a script's
/// `RecordBatchReader`: the run stays under a 1 GB memory limit (DuckDB's,
/// and the runner's and the interpreter's address-space ceiling), so the
/// result was never whole in either process.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_streamed_python_result_larger_than_the_memory_limit_is_written() {
    let h = Harness::new().await;
    h.write(
        "pipelines/bronze/stream/pipeline.py",
        "# @merge_strategy: full_refresh\n\
         import pyarrow.compute as pc\n\
         BATCH = 500_000\n\
         schema = pa.schema([('id', pa.int64()), ('label', pa.string())])\n\
         def batches():\n\
         \x20   for start in range(0, 20_000_000, BATCH):\n\
         \x20       ids = pa.array(range(start, start + BATCH), pa.int64())\n\
         \x20       labels = pc.binary_join_element_wise('row-', pc.cast(ids, pa.string()), '-' + 'x' * 30, '')\n\
         \x20       yield pa.record_batch([ids, labels], schema=schema)\n\
         result = pa.RecordBatchReader.from_batches(schema, batches())\n",
    );
    // The runner's interpreter: $RAT_PYTHON (scripts/env.sh names the
    // test venv's), as a server's runners get it.
    let executor = h.process(PoolConfig::default()).await;
    let limits = RunLimits {
        memory_limit: Some("1GB".into()),
        threads: Some(2),
        timeout: Some(Duration::from_secs(600)),
    };
    let run = executor
        .submit(request("bronze.stream").with_limits(limits))
        .await
        .unwrap();
    let logs = follow_all(&executor, &run, 0).await;
    let record = wait_for_end(&executor, &run, Duration::from_secs(600)).await;
    assert!(succeeded(&record), "{:?}", record.error);
    assert_eq!(record.result.as_ref().unwrap().rows_written, 20_000_000);
    // The interpreter's own peak: the whole result would be over 1 GB.
    let peak: u64 = logs
        .iter()
        .find_map(|l| {
            l.message
                .strip_prefix("the script's process peaked at ")?
                .strip_suffix(" MiB resident")?
                .parse()
                .ok()
        })
        .expect("the script reports its peak");
    assert!(peak < 1024, "the script's process peaked at {peak} MiB");
    let out = rat_runner::query::query(
        h.engine.catalog().as_ref(),
        "SELECT count(*), count(DISTINCT id), max(length(label)) FROM bronze.stream",
        &Default::default(),
    )
    .await
    .unwrap();
    assert_eq!(
        out.rows[0],
        [json!(20_000_000), json!(20_000_000), json!(43)]
    );
}

/// Submits `table`, follows its log to the end and returns the record and
/// the log's messages.
async fn run_to_end(
    executor: &rat_executor::ProcessExecutor,
    table: &str,
) -> (rat_core::RunRecord, Vec<String>) {
    let run = executor.submit(request(table)).await.unwrap();
    let logs = follow_all(executor, &run, 0).await;
    let record = wait_for_end(executor, &run, Duration::from_secs(300)).await;
    (record, logs.into_iter().map(|l| l.message).collect())
}

/// A strict server's Python runs: the first starts its interpreter (the
/// executor starts none before a Python run asks), the next ones take a
/// warm worker the executor keeps, one script per worker process; a
/// cancelled script on a taken worker is stopped with it.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn python_runs_take_the_warm_workers_the_executor_keeps() {
    let h = Harness::new().await;
    h.write(
        "pipelines/bronze/pids/pipeline.py",
        "# @merge_strategy: append_only\nimport os\nresult = pa.table({'pid': [os.getpid()]})\n",
    );
    let executor = h.process(PoolConfig::default()).await;
    assert!(!executor.python_worker_ready(Duration::ZERO).await);
    let said = |logs: &[String], what: &str| logs.iter().any(|m| m.starts_with(what));

    let (record, logs) = run_to_end(&executor, "bronze.pids").await;
    assert!(succeeded(&record), "{:?}", record.error);
    assert!(
        said(&logs, "a new Python worker runs the script"),
        "{logs:?}"
    );
    for _ in 0..2 {
        assert!(executor.python_worker_ready(Duration::from_secs(120)).await);
        let (record, logs) = run_to_end(&executor, "bronze.pids").await;
        assert!(succeeded(&record), "{:?}", record.error);
        assert!(
            said(
                &logs,
                "a warm Python worker of the server's runs the script (ready;"
            ),
            "{logs:?}"
        );
    }
    let out = rat_runner::query::query(
        h.engine.catalog().as_ref(),
        "SELECT count(*), count(DISTINCT pid) FROM bronze.pids",
        &Default::default(),
    )
    .await
    .unwrap();
    assert_eq!(out.rows[0], [json!(3), json!(3)]);

    // Cancelled mid-script on a taken worker: the worker goes too.
    h.write(
        "pipelines/bronze/sleeper/pipeline.py",
        "# @merge_strategy: full_refresh\nimport os, time\nlog.info(f'pid {os.getpid()}')\ntime.sleep(300)\nresult = pa.table({'a': [1]})\n",
    );
    assert!(executor.python_worker_ready(Duration::from_secs(120)).await);
    let run = executor.submit(request("bronze.sleeper")).await.unwrap();
    let mut lines = executor
        .logs(
            &run,
            rat_core::LogCursor {
                from_seq: 0,
                follow: true,
            },
        )
        .await
        .unwrap();
    let pid = loop {
        let line = lines.next().await.expect("the script logs its pid");
        if let Some(pid) = line
            .message
            .strip_prefix("pid ")
            .and_then(|p| p.parse::<i32>().ok())
        {
            break pid;
        }
    };
    drop(lines);
    assert!(std::path::Path::new(&format!("/proc/{pid}")).exists());
    executor.cancel(&run).await.unwrap();
    let record = wait_for_end(&executor, &run, Duration::from_secs(60)).await;
    assert_eq!(record.status, RunStatus::Cancelled, "{:?}", record.error);
    assert!(
        !std::path::Path::new(&format!("/proc/{pid}")).exists(),
        "the cancelled script's worker {pid} still exists"
    );
    assert_eq!(h.main_snapshot("bronze.sleeper").await, None);
}
