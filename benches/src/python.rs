//! Python pipelines: a tiny (10-row) script end to end on a warm worker vs
//! a cold interpreter, interleaved in the same process (target: warm p50 <
//! 150 ms); and `rows` rows from a script vs the same rows from SQL, both
//! written the same way (target: ratio ≤ 1.5).
//!
//! Each run starts once the warm engine's waiting worker says its imports
//! are done (about a second of CPU), as a scheduled pipeline's would be:
//! no import competes with the run measured, warm or cold.

use std::time::Duration;

use std::sync::Arc;

use anyhow::Result;
use rat_core::LakehouseConfig;
use rat_executor::{PoolConfig, ProcessConfig, ProcessExecutor, SqliteRunStore};
use rat_runner::python::PythonConfig;

use crate::executors;
use crate::report::{median, percentiles, table};
use crate::setup::BenchProject;

const TINY: &str = "# @merge_strategy: full_refresh\n\
    result = pa.table({'n': list(range(10)), 'label': [f'row {i}' for i in range(10)]})\n";

/// The longest wait for a worker's imports.
const IMPORTS: Duration = Duration::from_secs(120);

pub(crate) async fn run(runs: usize, rows: usize, repeat: usize) -> Result<()> {
    let project = BenchProject::new()?;
    project.write("pipelines/bronze/tiny/pipeline.py", TINY)?;
    let rows_sql = format!("SELECT i AS id, 'row ' || i AS label FROM range({rows}) t(i)");
    project.write(
        "pipelines/bronze/from_sql/pipeline.sql",
        &format!("-- @merge_strategy: full_refresh\n{rows_sql}"),
    )?;
    project.write(
        "pipelines/bronze/from_python/pipeline.py",
        &format!("# @merge_strategy: full_refresh\nresult = duckdb_conn.sql(\"{rows_sql}\")\n"),
    )?;
    let warm = project.engine().await?;
    let cold = warm.with_python(PythonConfig {
        warm_workers: 0,
        ..warm.config().python.clone()
    });
    println!(
        "\nPython pipelines ({}):",
        warm.config().python.interpreter.display()
    );

    // First runs create the tables.
    project.run(&cold, "bronze.tiny").await?;
    project.run(&warm, "bronze.tiny").await?;
    let (mut warm_times, mut cold_times) = (Vec::new(), Vec::new());
    let ready = || async {
        anyhow::ensure!(
            warm.python_workers().wait_ready(IMPORTS).await,
            "no warm Python worker finished its imports within {IMPORTS:?}"
        );
        Ok(())
    };
    for _ in 0..runs {
        ready().await?;
        cold_times.push(project.run(&cold, "bronze.tiny").await?.0);
        ready().await?;
        warm_times.push(project.run(&warm, "bronze.tiny").await?.0);
    }
    let (warm_p50, cold_p50) = (median(&warm_times), median(&cold_times));
    println!("\na 10-row script end to end, {runs} runs each, p50 ms:\n");
    table(
        &["interpreter", "p50 ms", "vs cold", "target"],
        &[
            vec!["cold".into(), ms(cold_p50), "1.00".into(), "-".into()],
            vec![
                "warm".into(),
                ms(warm_p50),
                format!("{:.2}", ratio(warm_p50, cold_p50)),
                "< 150 ms".into(),
            ],
        ],
    );

    per_process(&project, runs).await?;

    let (mut python_times, mut sql_times) = (Vec::new(), Vec::new());
    for _ in 0..repeat {
        sql_times.push(project.run(&warm, "bronze.from_sql").await?.0);
        python_times.push(project.run(&warm, "bronze.from_python").await?.0);
    }
    let (python_p50, sql_p50) = (median(&python_times), median(&sql_times));
    println!("\n{rows} rows written, {repeat} runs each, p50 ms:\n");
    table(
        &["from", "p50 ms", "ratio", "target"],
        &[
            vec!["SQL".into(), ms(sql_p50), "1.00".into(), "-".into()],
            vec![
                "Python (Arrow IPC)".into(),
                ms(python_p50),
                format!("{:.2}", ratio(python_p50, sql_p50)),
                "≤ 1.5".into(),
            ],
        ],
    );
    Ok(())
}

/// The tiny script as a strict server runs it: a `rat-runner` process per
/// run, taking a warm worker its executor keeps, vs starting its own
/// interpreter; interleaved, each run once a warm worker is ready.
async fn per_process(project: &BenchProject, runs: usize) -> Result<()> {
    let storage = project.engine().await?.storage().clone();
    // Each executor its own run store: executors sharing one share runs.
    let start = |workers: usize, name: &str| {
        let (storage, runs) = (storage.clone(), project.path().join(".rat").join(name));
        async move {
            let store = Arc::new(SqliteRunStore::open(runs.join("runs.db")).await?);
            let mut config = ProcessConfig::new(
                executors::runner()?,
                LakehouseConfig::embedded(project.path()),
                runs,
            );
            config.python_workers = workers;
            let executor =
                ProcessExecutor::start(config, store.clone(), storage, PoolConfig::default())
                    .await?;
            Ok::<_, anyhow::Error>((executor, store))
        }
    };
    let (warm, warm_store) = start(1, "runs-warm").await?;
    let (cold, cold_store) = start(0, "runs-cold").await?;
    let ready = || async {
        anyhow::ensure!(
            warm.python_worker_ready(IMPORTS).await,
            "the executor's Python worker did not finish its imports within {IMPORTS:?}"
        );
        Ok(())
    };
    // The first run asks for a worker: the executor keeps one from then.
    executors::measure(&warm, warm_store.as_ref()).await?;
    let (mut warm_times, mut cold_times) = (Vec::new(), Vec::new());
    for _ in 0..runs {
        ready().await?;
        cold_times.push(executors::measure(&cold, cold_store.as_ref()).await?.1);
        ready().await?;
        warm_times.push(executors::measure(&warm, warm_store.as_ref()).await?.1);
    }
    let p50 = |times: &mut Vec<f64>| percentiles(times).0;
    let (warm_p50, cold_p50) = (p50(&mut warm_times), p50(&mut cold_times));
    println!(
        "
the 10-row script per process (a strict server), {runs} runs each, p50 ms:
"
    );
    table(
        &["runner's interpreter", "p50 ms", "vs cold"],
        &[
            vec![
                "its own (cold)".into(),
                format!("{cold_p50:.1}"),
                "1.00".into(),
            ],
            vec![
                "the executor's warm worker".into(),
                format!("{warm_p50:.1}"),
                format!("{:.2}", warm_p50 / cold_p50),
            ],
        ],
    );
    Ok(())
}

fn ratio(a: Duration, b: Duration) -> f64 {
    a.as_secs_f64() / b.as_secs_f64()
}

fn ms(d: Duration) -> String {
    format!("{:.1}", d.as_secs_f64() * 1000.0)
}
