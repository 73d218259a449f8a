//! Python pipelines: a tiny (10-row) script end to end on a warm worker vs
//! a cold interpreter, interleaved in the same process (target: warm p50 <
//! 150 ms); and `rows` rows from a script vs the same rows from SQL, both
//! written the same way (target: ratio ≤ 1.5).
//!
//! Runs come one second apart, as scheduled pipelines do: a warm worker
//! pays its imports (about a second of CPU) while nothing asks for it.

use std::time::Duration;

use anyhow::Result;
use rat_runner::python::PythonConfig;

use crate::report::{median, table};
use crate::setup::BenchProject;

const TINY: &str = "# @merge_strategy: full_refresh\n\
    result = pa.table({'n': list(range(10)), 'label': [f'row {i}' for i in range(10)]})\n";

/// Time between runs of the tiny pipeline.
const SPACING: Duration = Duration::from_secs(1);

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
    for _ in 0..runs {
        tokio::time::sleep(SPACING).await;
        cold_times.push(project.run(&cold, "bronze.tiny").await?.0);
        tokio::time::sleep(SPACING).await;
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

fn ratio(a: Duration, b: Duration) -> f64 {
    a.as_secs_f64() / b.as_secs_f64()
}

fn ms(d: Duration) -> String {
    format!("{:.1}", d.as_secs_f64() * 1000.0)
}
