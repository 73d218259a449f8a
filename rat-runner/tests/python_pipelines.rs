//! Python pipelines (`pipeline.py`) through the real engine and the test
//! venv's interpreter: the original system's contract, the DAG with SQL
//! pipelines, incremental runs, and every failure named with nothing
//! published.
#![allow(clippy::unwrap_used)]

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::{MemoryLog, TestProject};
use rat_core::{
    ErrorKind, LogLevel, RunContext, RunEngine, RunResult, RunSpec, RunStatus, TableRef,
};
use rat_runner::python::PythonConfig;
use rat_runner::{Engine, EngineConfig};
use serde_json::json;

/// The original system's demo contract, unchanged.
const DEMO: &str = "\
# @merge_strategy: full_refresh
# @description: customers from a Python dict
import pyarrow as pa

log.info(f\"building {this} at {run_started_at}\")
result = pa.Table.from_pydict({
    'id': [1, 2, 3],
    'name': ['ann', 'bob', 'cy'],
    'score': [1.5, 2.5, None],
})
";

#[tokio::test]
async fn the_original_demo_becomes_a_table_pyiceberg_reads() {
    let p = TestProject::new().await;
    p.write("pipelines/bronze/customers/pipeline.py", DEMO);
    let results = p.run_ok(&[]).await;
    assert_eq!(results[0].rows_written, 3);
    assert_eq!(
        results[0].strategy,
        Some(rat_core::MergeStrategy::FullRefresh)
    );
    let out = p.python(
        r#"
import json, os
from pyiceberg.catalog.sql import SqlCatalog
cwd = os.getcwd()
catalog = SqlCatalog("rat", uri=f"sqlite:///{cwd}/.rat/catalog.db", warehouse=f"file://{cwd}/.rat/warehouse")
t = catalog.load_table("default.bronze.customers")
print(json.dumps(t.scan().to_arrow().sort_by("id").to_pylist()))
"#,
    );
    assert_eq!(
        out,
        json!([
            {"id": 1, "name": "ann", "score": 1.5},
            {"id": 2, "name": "bob", "score": 2.5},
            {"id": 3, "name": "cy", "score": null},
        ])
    );
    assert_eq!(p.refs("bronze.customers").await, ["main"]);
}

#[tokio::test]
async fn python_and_sql_pipelines_read_each_other_in_dag_order() {
    let p = TestProject::new().await;
    p.write(
        "pipelines/bronze/orders/pipeline.sql",
        "SELECT i AS id, i * 10 AS amount FROM range(1, 6) t(i)",
    );
    // Python reads a SQL table; SQL reads the Python one.
    p.write(
        "pipelines/silver/big_orders/pipeline.py",
        "# @merge_strategy: full_refresh\n\
         result = duckdb_conn.sql(f\"SELECT id, amount FROM {ref('bronze.orders')} WHERE amount >= 30\").arrow()\n",
    );
    p.write(
        "pipelines/gold/total/pipeline.sql",
        "SELECT sum(amount) AS total, count(*) AS n FROM {{ ref('silver.big_orders') }}",
    );
    let plan = p.plan(&[]).await.unwrap();
    let order: Vec<String> = plan.order.iter().map(TableRef::short).collect();
    assert_eq!(order, ["bronze.orders", "silver.big_orders", "gold.total"]);
    p.run_ok(&[]).await;
    let out = p.query("SELECT total, n FROM gold.total").await;
    assert_eq!(out.rows, vec![vec![json!(120), json!(3)]]);
}

#[tokio::test]
async fn incremental_scripts_get_the_watermark() {
    let p = TestProject::new().await;
    p.write(
        "pipelines/bronze/events/pipeline.py",
        "# @merge_strategy: incremental\n\
         # @unique_key: id\n\
         # @watermark_column: id\n\
         start = int(watermark_value) + 1 if is_incremental else 1\n\
         log.warning(f'from {start}')\n\
         result = pa.table({'id': pa.array(range(start, start + 3), pa.int64())})\n",
    );
    p.run_ok(&[]).await;
    p.run_ok(&[]).await;
    let out = p
        .query("SELECT count(*), min(id), max(id) FROM bronze.events")
        .await;
    assert_eq!(out.rows, vec![vec![json!(6), json!(1), json!(6)]]);
}

#[tokio::test]
async fn script_output_reaches_the_run_log_with_its_level() {
    let p = TestProject::new().await;
    p.write(
        "pipelines/bronze/chatty/pipeline.py",
        "import logging, sys\n\
         print('plain print')\n\
         logging.getLogger('lib').warning('from a library')\n\
         log.error('from the pipeline')\n\
         print('to stderr', file=sys.stderr)\n\
         result = pa.table({'a': [1]})\n",
    );
    let log = MemoryLog::default();
    let r = run_with(&p.engine, &p, "bronze.chatty", log.clone(), None).await;
    assert_eq!(r.status, RunStatus::Success, "{:?}", r.error);
    let lines = log.0.lock().unwrap().clone();
    for (level, text) in [
        (LogLevel::Info, "plain print"),
        (LogLevel::Warn, "from a library"),
        (LogLevel::Error, "from the pipeline"),
        (LogLevel::Info, "to stderr"),
    ] {
        assert!(
            lines.iter().any(|(l, m)| *l == level && m == text),
            "{level:?} {text} not in {lines:?}"
        );
    }
}

/// A failed run: its error, and nothing of it readable.
async fn fails(p: &TestProject, table: &str, kind: ErrorKind, needle: &str) -> RunResult {
    let r = run_with(&p.engine, p, table, MemoryLog::default(), None).await;
    assert_ne!(r.status, RunStatus::Success);
    let err = r.error.clone().unwrap();
    assert_eq!(err.error_kind(), kind, "{err:?}");
    assert!(err.message.contains(needle), "{needle:?} not in {err:?}");
    assert!(
        p.engine
            .catalog()
            .load_table(&table.parse().unwrap())
            .await
            .map(|t| t.main_snapshot_id().is_none())
            .unwrap_or(true),
        "{table} was published"
    );
    r
}

#[tokio::test]
async fn script_failures_are_named_and_publish_nothing() {
    let p = TestProject::new().await;
    let script = |name: &str, body: &str| {
        p.write(&format!("pipelines/bronze/{name}/pipeline.py"), body);
    };
    script("no_result", "x = 1\n");
    script("wrong_type", "result = {'a': [1]}\n");
    script(
        "raises",
        "# @merge_strategy: full_refresh\n\ndef load():\n    raise ValueError('the API said no')\n\nload()\n",
    );
    script(
        "killed",
        "import os, signal\nos.kill(os.getpid(), signal.SIGKILL)\n",
    );
    fails(
        &p,
        "bronze.no_result",
        ErrorKind::InvalidInput,
        "did not set `result`",
    )
    .await;
    fails(&p, "bronze.wrong_type", ErrorKind::InvalidInput, "not dict").await;
    let r = fails(
        &p,
        "bronze.raises",
        ErrorKind::Query,
        "ValueError: the API said no",
    )
    .await;
    let err = r.error.unwrap();
    assert_eq!(
        err.file.as_deref(),
        Some("pipelines/bronze/raises/pipeline.py")
    );
    assert!(err.message.contains("line: 4"), "{}", err.message);
    assert!(
        err.message.contains("in load"),
        "traceback: {}",
        err.message
    );
    fails(&p, "bronze.killed", ErrorKind::Executor, "killed").await;
}

#[tokio::test]
async fn bad_scripts_fail_at_plan_with_file_and_line() {
    for (body, needle, line) in [
        ("x = 1\nresult = (\n", "syntax error", "2"),
        (
            "name = 'bronze.a'\n\nresult = duckdb_conn.sql(f'SELECT * FROM {ref(name)}')\n",
            "literal name",
            "3",
        ),
        ("t = ref('not a table!')\n", "ref('not a table!')", "1"),
    ] {
        let p = TestProject::new().await;
        p.write("pipelines/bronze/a/pipeline.sql", "SELECT 1 AS x");
        p.write("pipelines/silver/bad/pipeline.py", body);
        let err = p.plan(&[]).await.unwrap_err();
        assert!(err.message().contains(needle), "{needle}: {err}");
        assert_eq!(
            err.context("file"),
            Some("pipelines/silver/bad/pipeline.py")
        );
        assert_eq!(err.context("line"), Some(line), "{err}");
    }
}

#[tokio::test]
async fn an_interpreter_without_pyarrow_is_named_with_the_fix() {
    let p = TestProject::new().await;
    p.write("pipelines/bronze/customers/pipeline.py", DEMO);
    // A bare venv: its own interpreter, no packages.
    let bare = p.path().join(".bare-venv");
    let made = std::process::Command::new(common::python_bin())
        .args(["-m", "venv", "--without-pip"])
        .arg(&bare)
        .status()
        .unwrap();
    assert!(made.success());
    let engine = Engine::with_config(
        p.engine.storage().clone(),
        p.engine.catalog().clone(),
        EngineConfig {
            python: PythonConfig::new(bare.join("bin/python")),
            ..EngineConfig::default()
        },
    );
    let r = run_with(&engine, &p, "bronze.customers", MemoryLog::default(), None).await;
    let err = r.error.unwrap();
    assert_eq!(err.error_kind(), ErrorKind::InvalidInput);
    assert!(
        err.message.contains("cannot import pyarrow and duckdb")
            && err.message.contains("pip install pyarrow duckdb"),
        "{}",
        err.message
    );
    let missing = Engine::with_config(
        p.engine.storage().clone(),
        p.engine.catalog().clone(),
        EngineConfig {
            python: PythonConfig::new("/no/such/python3"),
            ..EngineConfig::default()
        },
    );
    let r = run_with(&missing, &p, "bronze.customers", MemoryLog::default(), None).await;
    let err = r.error.unwrap();
    assert!(
        err.message
            .contains("cannot start Python '/no/such/python3'"),
        "{}",
        err.message
    );
}

const SLEEPER: &str = "# @merge_strategy: full_refresh\nimport time\nlog.info('sleeping')\ntime.sleep(120)\nresult = pa.table({'a': [1]})\n";

#[tokio::test]
async fn a_timeout_stops_the_script_and_publishes_nothing() {
    let p = TestProject::new().await;
    p.write("pipelines/bronze/slow/pipeline.py", SLEEPER);
    let started = std::time::Instant::now();
    let r = run_with(
        &p.engine,
        &p,
        "bronze.slow",
        MemoryLog::default(),
        Some(Duration::from_secs(2)),
    )
    .await;
    assert_eq!(r.status, RunStatus::Failed, "{:?}", r.error);
    assert_eq!(r.error.unwrap().error_kind(), ErrorKind::Timeout);
    assert!(started.elapsed() < Duration::from_secs(60), "not stopped");
    assert!(
        p.engine
            .catalog()
            .load_table(&"bronze.slow".parse().unwrap())
            .await
            .is_err()
    );
}

#[tokio::test]
async fn cancelling_mid_script_stops_it_and_leaves_main_alone() {
    let p = TestProject::new().await;
    p.write(
        "pipelines/bronze/slow/pipeline.py",
        "# @merge_strategy: full_refresh\nresult = pa.table({'a': [1, 2]})\n",
    );
    p.run_ok(&[]).await;
    let before = p.load("bronze.slow").await.main_snapshot_id();
    p.write("pipelines/bronze/slow/pipeline.py", SLEEPER);
    let log = MemoryLog::default();
    let ctx = RunContext {
        cancel: Default::default(),
        log: Arc::new(log.clone()),
    };
    let cancel = ctx.cancel.clone();
    let spec = RunSpec {
        project: p.source.clone(),
        ..RunSpec::new("bronze.slow".parse().unwrap())
    };
    let run = tokio::spawn({
        let engine = p.engine.clone();
        async move { engine.execute(spec, ctx).await }
    });
    // Cancel once the script is really running: its own log line says so.
    while !log.0.lock().unwrap().iter().any(|(_, m)| m == "sleeping") {
        assert!(!run.is_finished(), "the run ended early");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    cancel.cancel();
    let r = tokio::time::timeout(Duration::from_secs(60), run)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(r.status, RunStatus::Cancelled, "{:?}", r.error);
    assert_eq!(p.load("bronze.slow").await.main_snapshot_id(), before);
    assert_eq!(p.refs("bronze.slow").await, ["main"]);
    assert_eq!(p.scalar("SELECT count(*) FROM bronze.slow").await, 2);
}

async fn run_with(
    engine: &Engine,
    p: &TestProject,
    table: &str,
    log: MemoryLog,
    timeout: Option<Duration>,
) -> RunResult {
    let mut spec = RunSpec {
        project: p.source.clone(),
        ..RunSpec::new(table.parse().unwrap())
    };
    spec.limits.timeout = timeout;
    let ctx = RunContext {
        cancel: Default::default(),
        log: Arc::new(log),
    };
    engine.execute(spec, ctx).await
}

#[tokio::test]
async fn warm_workers_run_one_script_each() {
    let p = TestProject::new().await;
    p.write(
        "pipelines/bronze/pids/pipeline.py",
        "# @merge_strategy: append_only\nimport os\nresult = pa.table({'pid': [os.getpid()]})\n",
    );
    let mut logs = Vec::new();
    for run in 0..3 {
        if run > 0 {
            // The waiting worker says when its imports are done.
            assert!(
                p.engine
                    .python_workers()
                    .wait_ready(Duration::from_secs(120))
                    .await
            );
        }
        let log = MemoryLog::default();
        let r = run_with(&p.engine, &p, "bronze.pids", log.clone(), None).await;
        assert_eq!(r.status, RunStatus::Success, "{:?}", r.error);
        // One worker waits for the next script.
        assert_eq!(p.engine.python_workers().idle(), 1);
        logs.push(log.0.lock().unwrap().clone());
    }
    let said = |lines: &Vec<(LogLevel, String)>, what: &str| {
        lines.iter().any(|(_, m)| m.starts_with(what))
    };
    assert!(said(&logs[0], "a new Python worker"), "{:?}", logs[0]);
    assert!(
        said(&logs[1], "a warm Python worker runs the script (ready;"),
        "{:?}",
        logs[1]
    );
    assert!(
        said(&logs[2], "a warm Python worker runs the script (ready;"),
        "{:?}",
        logs[2]
    );
    // Never reused: three runs, three processes.
    let out = p.query("SELECT count(DISTINCT pid) FROM bronze.pids").await;
    assert_eq!(out.rows, vec![vec![json!(3)]]);
}

#[tokio::test]
async fn relations_readers_and_dataframes_are_results_too() {
    let p = TestProject::new().await;
    for (name, body) in [
        ("relation", "result = duckdb_conn.sql('SELECT 42 AS n')"),
        (
            "reader",
            "t = pa.table({'n': [42]})\nresult = pa.RecordBatchReader.from_batches(t.schema, t.to_batches())",
        ),
        (
            "frame",
            "import pandas as pd\nresult = pd.DataFrame({'n': [42]})",
        ),
    ] {
        p.write(
            &format!("pipelines/bronze/{name}/pipeline.py"),
            &format!("# @merge_strategy: full_refresh\n{body}\n"),
        );
    }
    p.run_ok(&[]).await;
    for name in ["relation", "reader", "frame"] {
        assert_eq!(
            p.scalar(&format!("SELECT n FROM bronze.{name}")).await,
            42,
            "{name}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_script_previews_in_its_interpreter_and_writes_nothing() {
    let p = TestProject::new().await;
    p.write("pipelines/bronze/customers/pipeline.py", DEMO);
    let table: TableRef = "bronze.customers".parse().unwrap();
    let pipeline = rat_core::Project::load_pipeline(p.engine.storage().as_ref(), &p.source, &table)
        .await
        .unwrap();
    let limits = rat_runner::preview::DryRunLimits {
        max_rows: 2,
        ..Default::default()
    };
    let preview = p.engine.preview_pipeline(&pipeline, limits).await.unwrap();
    assert_eq!(preview.output.columns, ["id", "name", "score"]);
    assert_eq!(
        preview.output.rows,
        [
            [json!(1), json!("ann"), json!(1.5)],
            [json!(2), json!("bob"), json!(2.5)]
        ]
    );
    assert!(preview.output.truncated);
    assert_eq!(preview.compiled.compiled_sql, None);
    assert!(
        preview
            .log
            .iter()
            .any(|l| l.message.contains("building default.bronze.customers")),
        "{:?}",
        preview.log
    );
    let err = p.engine.catalog().load_table(&table).await.unwrap_err();
    assert_eq!(
        err.kind(),
        ErrorKind::NotFound,
        "a preview creates no table"
    );
}

#[tokio::test]
async fn every_starter_runs_twice_in_both_languages() {
    use rat_core::project::{Language, MergeStrategy, PipelineFiles};
    let p = TestProject::new().await;
    for language in [Language::Sql, Language::Python] {
        for strategy in MergeStrategy::ALL {
            let files = PipelineFiles::starter(language, strategy);
            let (file, code) = files.code().unwrap();
            let name = format!("{language:?}_{}", strategy.as_str()).to_lowercase();
            p.write(&format!("pipelines/bronze/{name}/{file}"), code);
        }
    }
    let first = p.run_ok(&[]).await;
    assert_eq!(first.len(), 12);
    assert!(first.iter().all(|r| r.rows_written == 1), "{first:?}");
    // Again: each merges into what it wrote (scd2 sees no change).
    let again = p.run_ok(&[]).await;
    for r in &again {
        let scd2 = r.strategy == Some(rat_core::MergeStrategy::Scd2);
        assert_eq!(r.rows_written, if scd2 { 0 } else { 1 }, "{r:?}");
    }
}
