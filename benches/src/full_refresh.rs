//! `full_refresh` of a transform over N generated rows: rat's whole run
//! (compile, DuckDB COPY to Parquet with field ids, manifests, branch commit,
//! publish) against DuckDB alone writing the same SELECT to Parquet with
//! `COPY ... TO`. Target: ratio ≤ 1.3.

use std::time::{Duration, Instant};

use anyhow::Result;

use crate::report::{median, table};
use crate::setup::BenchProject;

/// The bronze table of `{rows}` generated rows.
pub(crate) const BRONZE: &str = "SELECT i AS id, i % 10007 AS customer_id, ((i * 7919) % 100000) / 100.0 AS amount, \
     'sku_' || (i % 5000) AS sku, TIMESTAMP '2024-01-01' + to_seconds(i) AS ts \
     FROM range({rows}) t(i)";

/// The transform: a silver table computed from a bronze table of N rows.
pub(crate) const TRANSFORM: &str = "SELECT id, customer_id, amount * 1.19 AS gross, upper(sku) AS sku, \
     CAST(ts AS DATE) AS day, amount > 500 AS large \
     FROM {source} WHERE id % 10 <> 0";

pub(crate) async fn run(rows: usize, repeat: usize) -> Result<()> {
    let project = BenchProject::new()?;
    project.write(
        "pipelines/bronze/events/pipeline.sql",
        &BRONZE.replace("{rows}", &rows.to_string()),
    )?;
    project.write(
        "pipelines/silver/events/pipeline.sql",
        &TRANSFORM.replace("{source}", "{{ ref('bronze.events') }}"),
    )?;
    let engine = project.engine().await?;
    let run = |table: &'static str| {
        let engine = engine.clone();
        let project = &project;
        async move {
            let (t, r) = project.run(&engine, table).await?;
            Ok::<_, anyhow::Error>((t, r.rows_written))
        }
    };
    eprintln!("generating bronze.events with {rows} rows ...");
    run("bronze.events").await?;

    // The baseline reads the same committed files DuckDB-natively.
    let bronze =
        rat_core::Catalog::load_table(engine.catalog().as_ref(), &"bronze.events".parse()?).await?;
    let files = rat_runner::table::snapshot_files(&bronze, bronze.main_snapshot_id()).await?;
    let paths: Vec<String> = files
        .paths()
        .iter()
        .map(|p| rat_runner::duck::engine_path(p).to_owned())
        .collect();
    let source = format!("read_parquet({})", rat_runner::duck::string_list(&paths));
    let baseline_sql = TRANSFORM.replace("{source}", &source);
    let out_dir = project.path().join("baseline");
    std::fs::create_dir_all(&out_dir)?;

    let mut rat_times = Vec::new();
    let mut duck_times = Vec::new();
    let mut written = 0;
    for i in 0..repeat {
        let (t, n) = run("silver.events").await?;
        rat_times.push(t);
        written = n;
        let target = out_dir.join(format!("out-{i}.parquet"));
        duck_times.push(duckdb_copy(&baseline_sql, &target)?);
        std::fs::remove_file(&target)?;
    }
    let (rat, duck) = (median(&rat_times), median(&duck_times));
    let rate = |d: Duration| format!("{:.2} M", written as f64 / d.as_secs_f64() / 1e6);
    println!(
        "\nfull_refresh of a transform over {rows} rows ({written} rows out), median of {repeat}:\n"
    );
    table(
        &["engine", "seconds", "rows/s", "ratio to DuckDB"],
        &[
            vec![
                "rat full_refresh".into(),
                format!("{:.3}", rat.as_secs_f64()),
                rate(rat),
                format!("{:.2}", rat.as_secs_f64() / duck.as_secs_f64()),
            ],
            vec![
                "DuckDB COPY TO".into(),
                format!("{:.3}", duck.as_secs_f64()),
                rate(duck),
                "1.00".into(),
            ],
        ],
    );
    println!("\ntarget: ratio <= 1.30");
    Ok(())
}

/// DuckDB alone: the same SELECT straight to one Parquet file, same codec.
fn duckdb_copy(select: &str, target: &std::path::Path) -> Result<Duration> {
    let conn = duckdb::Connection::open_in_memory()?;
    let started = Instant::now();
    conn.execute_batch(&format!(
        "COPY ({select}) TO '{}' (FORMAT parquet, COMPRESSION zstd)",
        target.display()
    ))?;
    Ok(started.elapsed())
}
