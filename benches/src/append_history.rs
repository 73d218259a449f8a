//! What history costs an appending table: `runs` (default 1,000)
//! `append_only` runs of 100 rows into one table with the defaults on,
//! each through a freshly opened engine (nothing cached between runs, as
//! for a `rat run` process). Target: the p50 of the last ten runs ≤ 1.2×
//! that of runs 11–20 (manifest merging keeps every commit bounded).
//! Then `rat maintain` with the defaults (compaction; nothing is old
//! enough to expire) and as if eight days later (expiry, orphans): files
//! and bytes before and after, and a full scan before and after
//! compaction.

use std::time::{Duration, Instant};

use anyhow::{Result, ensure};
use chrono::Utc;
use rat_core::{MaintenanceSettings, TableRef};
use rat_runner::maintain::{Footprint, MaintainOptions, maintain};
use rat_runner::query::{QueryOptions, query};

use crate::report::{median, table};
use crate::setup::BenchProject;

const PIPELINE: &str = "-- @merge_strategy: append_only\n\
    SELECT (epoch_us(now()) * 1000 + i) AS id, 'event ' || i AS v, now() AS at FROM range(100) t(i)";
const SCAN: &str = "SELECT count(*) AS n, sum(id % 1000) AS s, max(v) AS v FROM bronze.events";

pub(crate) async fn run(runs: usize, scans: usize) -> Result<()> {
    ensure!(runs >= 40, "--runs must be at least 40");
    let project = BenchProject::new()?;
    project.write("pipelines/bronze/events/pipeline.sql", PIPELINE)?;
    let mut times = Vec::with_capacity(runs);
    for i in 0..runs {
        let engine = project.engine().await?;
        let (elapsed, _) = project.run(&engine, "bronze.events").await?;
        times.push(elapsed);
        if (i + 1) % 100 == 0 || std::env::var_os("RAT_BENCH_EVERY_RUN").is_some() {
            eprintln!("run {}: {} ms", i + 1, ms(elapsed));
        }
    }
    let early = median(&times[10..20]);
    let late = median(&times[runs - 10..]);
    let ratio = late.as_secs_f64() / early.as_secs_f64();
    println!("\n{runs} append_only runs of 100 rows into one table, p50 per run:\n");
    table(
        &["runs", "p50 ms", "ratio", "target"],
        &[
            vec!["11–20".into(), ms(early), "1.00".into(), "-".into()],
            vec![
                format!("{}–{runs}", runs - 9),
                ms(late),
                format!("{ratio:.2}"),
                "≤ 1.2".into(),
            ],
        ],
    );

    let engine = project.engine().await?;
    let catalog = engine.catalog().clone();
    let target: TableRef = "bronze.events".parse()?;
    let scan = |label: &'static str| {
        let catalog = catalog.clone();
        async move {
            let mut samples = Vec::with_capacity(scans);
            for _ in 0..scans {
                let started = Instant::now();
                let out = query(catalog.as_ref(), SCAN, &QueryOptions::default()).await?;
                samples.push(started.elapsed());
                ensure!(
                    out.rows[0][0] == (runs * 100) as u64,
                    "{label}: {:?}",
                    out.rows
                );
            }
            Ok::<Duration, anyhow::Error>(median(&samples))
        }
    };
    let scan_before = scan("before").await?;
    let now = maintain(catalog.as_ref(), &target, &MaintainOptions::default()).await?;
    let scan_after = scan("after").await?;
    let settings = MaintenanceSettings::default();
    let later = maintain(
        catalog.as_ref(),
        &target,
        &MaintainOptions::new(settings).at(Utc::now() + chrono::Duration::days(8)),
    )
    .await?;
    println!("\n`rat maintain` with the defaults, then as if eight days later:\n");
    table(
        &[
            "state",
            "snapshots",
            "data files",
            "data MB",
            "metadata files",
            "metadata MB",
        ],
        &[
            footprint("after the runs", now.before),
            footprint("maintained now", now.after),
            footprint("8 days later", later.after),
        ],
    );
    println!(
        "\ncompacted {} files into {}; expired {} snapshots; removed {} files",
        now.compacted.iter().map(|c| c.files_in).sum::<usize>(),
        now.compacted.iter().map(|c| c.files_out).sum::<usize>(),
        later.expired_snapshots.len(),
        now.removed_files.len() + later.removed_files.len()
    );
    let speedup = scan_before.as_secs_f64() / scan_after.as_secs_f64();
    println!("\nfull scan ({SCAN}), p50 of {scans}:\n");
    table(
        &["table", "p50 ms", "speed-up"],
        &[
            vec![
                format!("{runs} small files"),
                ms(scan_before),
                "1.00".into(),
            ],
            vec!["compacted".into(), ms(scan_after), format!("{speedup:.1}×")],
        ],
    );
    Ok(())
}

fn ms(d: Duration) -> String {
    format!("{:.1}", d.as_secs_f64() * 1000.0)
}

fn footprint(label: &str, f: Footprint) -> Vec<String> {
    let mb = |b: u64| format!("{:.2}", b as f64 / 1e6);
    vec![
        label.into(),
        f.snapshots.to_string(),
        f.data_files.to_string(),
        mb(f.data_bytes),
        f.metadata_files.to_string(),
        mb(f.metadata_bytes),
    ]
}
