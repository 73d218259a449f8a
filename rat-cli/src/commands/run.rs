//! `rat run [PIPELINE...]`: submits the selection as one batch (validated
//! as a whole, then run in DAG order by the platform, skipping what depends
//! on a failure) and follows it: a spinner per running pipeline, a line per
//! finished one, a summary. Ctrl-C cancels the batch.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::StreamExt;
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use rat_core::{
    ItemState, LogLevel, Result, RunLimits, RunRecord, RunStatus, TableRef, TestOutcome,
};
use rat_server::api::{BatchRequest, PlatformApi};
use serde::Serialize;

use crate::output::{EXIT_FAILURE, EXIT_OK, interactive, print_json};

/// How often the batch is read while it runs.
const POLL: Duration = Duration::from_millis(100);

/// What to run.
#[derive(Debug, Clone)]
pub(crate) struct RunOptions {
    pub(crate) pipelines: Vec<String>,
    pub(crate) namespace: Option<String>,
    pub(crate) downstream: bool,
    pub(crate) workers: Option<usize>,
    pub(crate) limits: RunLimits,
}

/// What `rat run --json` prints.
#[derive(Serialize)]
struct RunReport {
    batch: String,
    status: RunStatus,
    runs: Vec<RunRecord>,
    skipped: Vec<TableRef>,
}

pub(crate) async fn run(
    api: Arc<dyn PlatformApi>,
    options: RunOptions,
    json: bool,
    verbose: u8,
) -> Result<u8> {
    // A namespace named by the pipelines themselves is theirs.
    let namespace = options.namespace.clone().or_else(|| {
        let first = options.pipelines.first()?;
        let table = TableRef::parse(first, rat_core::DEFAULT_NAMESPACE).ok()?;
        (first.matches('.').count() == 2).then(|| table.namespace.to_string())
    });
    let request = BatchRequest {
        all: options.pipelines.is_empty(),
        pipelines: options.pipelines,
        namespace,
        downstream: options.downstream,
        limits: options.limits,
        parallel: options.workers,
    };
    let started = Instant::now();
    let submitted = api.submit_batch(&request).await?;
    let bars = MultiProgress::with_draw_target(if json || !interactive() {
        ProgressDrawTarget::hidden()
    } else {
        ProgressDrawTarget::stderr()
    });
    let mut followed: HashMap<usize, ProgressBar> = HashMap::new();
    let mut reported: BTreeSet<usize> = BTreeSet::new();
    let mut records: Vec<(usize, RunRecord)> = Vec::new();
    let mut cancel_sent = false;
    let ctrl_c = tokio::signal::ctrl_c();
    tokio::pin!(ctrl_c);
    let batch = loop {
        let batch = api.batch(&submitted.id).await?;
        for (index, item) in batch.items.iter().enumerate() {
            match (item.state, &item.run_id) {
                (ItemState::Running, Some(run)) if !followed.contains_key(&index) => {
                    let bar = spinner(&bars, &item.table);
                    tokio::spawn(follow(api.clone(), run.clone(), bar.clone(), verbose));
                    followed.insert(index, bar);
                }
                (ItemState::Finished, Some(run)) if reported.insert(index) => {
                    if let Some(bar) = followed.get(&index) {
                        bar.finish_and_clear();
                    }
                    let record = api.run(run).await?;
                    if !json {
                        bars.suspend(|| print_record(&record));
                    }
                    records.push((index, record));
                }
                (ItemState::Skipped, _) if reported.insert(index) && !json => {
                    let why = item.reason.as_deref().unwrap_or("skipped");
                    bars.suspend(|| println!("- {:<32} skipped ({why})", item.table.to_string()));
                }
                _ => {}
            }
        }
        if batch.status.is_terminal() {
            break batch;
        }
        tokio::select! {
            _ = tokio::time::sleep(POLL) => {}
            _ = &mut ctrl_c, if !cancel_sent => {
                cancel_sent = true;
                // It may have ended meanwhile.
                let _ = api.cancel_batch(&submitted.id).await;
            }
        }
    };
    for bar in followed.values() {
        bar.finish_and_clear();
    }
    records.sort_by_key(|(index, _)| *index);
    let skipped: Vec<TableRef> = batch.tables_in(ItemState::Skipped).cloned().collect();
    let succeeded = batch.status == RunStatus::Success;
    if json {
        print_json(&RunReport {
            batch: batch.id.clone(),
            status: batch.status,
            runs: records.into_iter().map(|(_, r)| r).collect(),
            skipped,
        });
    } else {
        let ok = records
            .iter()
            .filter(|(_, r)| r.status == RunStatus::Success)
            .count();
        println!(
            "\n{ok} succeeded, {} failed, {} skipped in {:.1}s",
            records.len() - ok,
            skipped.len(),
            started.elapsed().as_secs_f64()
        );
    }
    Ok(if succeeded { EXIT_OK } else { EXIT_FAILURE })
}

fn spinner(bars: &MultiProgress, table: &TableRef) -> ProgressBar {
    let bar = bars.add(ProgressBar::new_spinner());
    if let Ok(style) =
        ProgressStyle::with_template("{spinner} {prefix:.bold} {wide_msg} [{elapsed}]")
    {
        bar.set_style(style);
    }
    bar.set_prefix(table.to_string());
    bar.enable_steady_tick(Duration::from_millis(100));
    bar
}

/// Follows one run's log to its end: progress in the spinner, details
/// with `-v`.
async fn follow(api: Arc<dyn PlatformApi>, run: rat_core::RunId, bar: ProgressBar, verbose: u8) {
    let Ok(mut lines) = api.follow_logs(&run, 0).await else {
        return;
    };
    while let Some(line) = lines.next().await {
        if line.level >= LogLevel::Info {
            bar.set_message(line.message.clone());
        }
        let shown = match line.level {
            LogLevel::Debug => verbose >= 2,
            _ => verbose >= 1,
        };
        if shown {
            let table = bar.prefix();
            bar.suspend(|| eprintln!("  {table} {}", line.message));
        }
    }
}

fn print_record(record: &RunRecord) {
    let Some(r) = &record.result else {
        let why = record
            .error
            .as_ref()
            .map_or("no result", |e| e.message.as_str());
        println!(
            "✗ {:<32} {}: {why}",
            record.table.to_string(),
            record.status
        );
        return;
    };
    let mark = match r.status {
        RunStatus::Success if r.warnings.is_empty() => "✓",
        RunStatus::Success => "!",
        RunStatus::Cancelled => "-",
        _ => "✗",
    };
    let secs = r.millis() as f64 / 1000.0;
    match &r.error {
        None => println!(
            "{mark} {:<32} {:<13} {:>10} rows  {secs:>6.1}s",
            r.table.to_string(),
            r.strategy.map(|s| s.to_string()).unwrap_or_default(),
            r.rows_written,
        ),
        Some(e) => println!(
            "{mark} {:<32} {}: {}",
            r.table.to_string(),
            r.status,
            e.message
        ),
    }
    for q in r
        .quality
        .iter()
        .filter(|q| q.outcome != TestOutcome::Passed)
    {
        let what = match q.outcome {
            TestOutcome::Errored => format!("errored: {}", q.message.as_deref().unwrap_or("")),
            _ => format!("{} violating rows", q.violations),
        };
        println!("    {} {}: {what}", q.severity, q.name);
        for row in &q.sample.rows {
            let cells: Vec<String> = q
                .sample
                .columns
                .iter()
                .zip(row)
                .map(|(c, v)| format!("{c}={}", v.as_deref().unwrap_or("NULL")))
                .collect();
            println!("      {}", cells.join(", "));
        }
        if let Some(fix) = &q.remediation {
            println!("      remediation: {fix}");
        }
    }
    for w in r.warnings.iter().filter(|w| !w.starts_with("quality test")) {
        println!("    warning: {w}");
    }
}
