//! A 1% upsert (`incremental`) into a table partitioned by day, against
//! rewriting the whole table (`full_refresh` of the same rows into the same
//! partitioning). Target: the upsert ≥ 5× faster, rewriting only the files of
//! the touched partitions.

use std::time::Duration;

use anyhow::{Result, ensure};

use crate::report::{median, table};
use crate::setup::BenchProject;

/// 100 days; ids grow with time, as event ids do.
const DAYS: usize = 100;

pub(crate) async fn run(rows: usize, repeat: usize) -> Result<()> {
    let per_day = rows / DAYS;
    let changed = rows / 100;
    let generate = |filter: &str, version: &str| {
        format!(
            "SELECT i AS id, TIMESTAMP '2024-01-01' + to_microseconds((i // {per_day}) * 86400000000 + i % 86400000000) AS at, \
             'customer_' || (i % 9973) AS customer, {version} AS version FROM range({rows}) t(i) {filter}"
        )
    };
    let partitioned = "-- @partition_by: [{column: at, transform: day}]\n";
    let project = BenchProject::new()?;
    project.write(
        "pipelines/silver/upserted/pipeline.sql",
        &format!(
            "-- @merge_strategy: incremental\n-- @unique_key: id\n{partitioned}{}",
            generate("", "'0'")
        ),
    )?;
    project.write(
        "pipelines/silver/rewritten/pipeline.sql",
        &format!(
            "-- @merge_strategy: full_refresh\n{partitioned}{}",
            generate("", "'0'")
        ),
    )?;
    let engine = project.engine().await?;
    eprintln!("loading {rows} rows into both tables ...");
    project.run(&engine, "silver.upserted").await?;
    project.run(&engine, "silver.rewritten").await?;

    // From now on: the newest 1% of rows change (late updates of recent days).
    let recent = format!("WHERE i >= {}", rows - changed);
    project.write(
        "pipelines/silver/upserted/pipeline.sql",
        &format!(
            "-- @merge_strategy: incremental\n-- @unique_key: id\n{partitioned}{}",
            generate(&recent, "'{{ run_started_at }}'")
        ),
    )?;
    project.write(
        "pipelines/silver/rewritten/pipeline.sql",
        &format!(
            "-- @merge_strategy: full_refresh\n{partitioned}\
             SELECT * REPLACE (CASE WHEN id >= {} THEN '{{{{ run_started_at }}}}' ELSE version END AS version) FROM ({})",
            rows - changed,
            generate("", "'0'")
        ),
    )?;
    let (mut upsert_times, mut full_times) = (Vec::new(), Vec::new());
    let mut rewritten = (0, 0);
    for _ in 0..repeat {
        let (t, r) = project.run(&engine, "silver.upserted").await?;
        upsert_times.push(t);
        let loaded = engine
            .catalog()
            .load_table(&"silver.upserted".parse()?)
            .await?;
        let summary = loaded
            .metadata
            .snapshot_by_id(r.snapshot_id.unwrap_or_default())
            .map(|s| s.summary().additional_properties.clone())
            .unwrap_or_default();
        let num = |k: &str| {
            summary
                .get(k)
                .and_then(|v| v.parse::<u64>().ok())
                .unwrap_or(0)
        };
        rewritten = (num("deleted-data-files"), num("total-data-files"));
        ensure!(
            num("total-records") == rows as u64,
            "the upsert changed the row count"
        );
        let (t, _) = project.run(&engine, "silver.rewritten").await?;
        full_times.push(t);
    }
    let (upsert, full) = (median(&upsert_times), median(&full_times));
    let secs = |d: Duration| format!("{:.3}", d.as_secs_f64());
    println!(
        "\nincremental upsert of {changed} rows (1%) into {rows} rows partitioned by day ({DAYS} days), median of {repeat}:\n"
    );
    table(
        &[
            "write",
            "seconds",
            "files rewritten / total",
            "speed-up vs rewrite",
        ],
        &[
            vec![
                "rat incremental (1%)".into(),
                secs(upsert),
                format!("{} / {}", rewritten.0, rewritten.1),
                format!("{:.1}x", full.as_secs_f64() / upsert.as_secs_f64()),
            ],
            vec![
                "rewrite the table (full_refresh)".into(),
                secs(full),
                format!("{DAYS} / {DAYS}"),
                "1.0x".into(),
            ],
        ],
    );
    println!("\ntarget: upsert >= 5x faster, rewriting only the touched partitions' files");
    Ok(())
}
