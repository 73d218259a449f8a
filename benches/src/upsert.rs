//! A 1% upsert (`incremental`) into a table partitioned by day, against
//! rewriting the whole table (`full_refresh` of the same rows into the same
//! partitioning). Target: the upsert ≥ 5× faster, rewriting only the files of
//! the touched partitions. Then `consecutive` more upserts (default 30):
//! the touched partitions keep one file each, so the table's file count
//! never grows, and the p50 of the last five stays within 1.2× of the first
//! five.

use std::time::Duration;

use anyhow::{Result, ensure};

use crate::report::{median, table};
use crate::setup::BenchProject;

/// 100 days; ids grow with time, as event ids do.
const DAYS: usize = 100;

pub(crate) async fn run(rows: usize, repeat: usize, consecutive: usize) -> Result<()> {
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
    let initial_files = upsert_files(&engine).await?;
    for _ in 0..repeat {
        let (t, counts) = upsert_once(&project, &engine, rows).await?;
        upsert_times.push(t);
        rewritten = counts;
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
    consecutive_upserts(&project, &engine, rows, consecutive, initial_files).await
}

/// `count` more upserts in a row: the table's file count must not grow
/// (one file per touched partition, no compaction), and the time must not
/// either.
async fn consecutive_upserts(
    project: &BenchProject,
    engine: &rat_runner::Engine,
    rows: usize,
    count: usize,
    initial_files: u64,
) -> Result<()> {
    if count < 10 {
        return Ok(());
    }
    let mut times = Vec::with_capacity(count);
    for i in 0..count {
        let (t, (_, files)) = upsert_once(project, engine, rows).await?;
        ensure!(
            files == initial_files,
            "upsert {}: the table holds {files} files, it held {initial_files}",
            i + 1
        );
        times.push(t);
    }
    let (first, last) = (median(&times[..5]), median(&times[count - 5..]));
    let ratio = last.as_secs_f64() / first.as_secs_f64();
    println!("\n{count} consecutive 1% upserts, no compaction in between:\n");
    table(
        &["upserts", "p50 seconds", "ratio", "data files", "target"],
        &[
            vec![
                "1–5".into(),
                format!("{:.3}", first.as_secs_f64()),
                "1.00".into(),
                initial_files.to_string(),
                "-".into(),
            ],
            vec![
                format!("{}–{count}", count - 4),
                format!("{:.3}", last.as_secs_f64()),
                format!("{ratio:.2}"),
                initial_files.to_string(),
                "≤ 1.2, files unchanged".into(),
            ],
        ],
    );
    Ok(())
}

/// One upsert of `silver.upserted`: its time, and the files it deleted and
/// the table's files after it (from its snapshot's summary).
async fn upsert_once(
    project: &BenchProject,
    engine: &rat_runner::Engine,
    rows: usize,
) -> Result<(Duration, (u64, u64))> {
    let (t, r) = project.run(engine, "silver.upserted").await?;
    let summary = snapshot_summary(engine, r.snapshot_id.unwrap_or_default()).await?;
    let num = |k: &str| {
        summary
            .get(k)
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0)
    };
    ensure!(
        num("total-records") == rows as u64,
        "the upsert changed the row count"
    );
    Ok((t, (num("deleted-data-files"), num("total-data-files"))))
}

/// The data files of `silver.upserted` now.
async fn upsert_files(engine: &rat_runner::Engine) -> Result<u64> {
    let loaded = upserted(engine).await?;
    Ok(
        summary_of(&loaded, loaded.main_snapshot_id().unwrap_or_default())
            .get("total-data-files")
            .and_then(|v| v.parse().ok())
            .unwrap_or(0),
    )
}

async fn snapshot_summary(
    engine: &rat_runner::Engine,
    snapshot_id: i64,
) -> Result<std::collections::HashMap<String, String>> {
    Ok(summary_of(&upserted(engine).await?, snapshot_id))
}

async fn upserted(engine: &rat_runner::Engine) -> Result<rat_core::LoadedTable> {
    Ok(engine
        .catalog()
        .load_table(&"silver.upserted".parse()?)
        .await?)
}

fn summary_of(
    loaded: &rat_core::LoadedTable,
    snapshot_id: i64,
) -> std::collections::HashMap<String, String> {
    loaded
        .metadata
        .snapshot_by_id(snapshot_id)
        .map(|s| s.summary().additional_properties.clone())
        .unwrap_or_default()
}
