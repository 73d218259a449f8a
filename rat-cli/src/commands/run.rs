//! `rat run [PIPELINE...]`: validate everything, then run through an
//! executor in DAG order — independent pipelines at once, up to the number
//! of workers; a failure skips what depends on it.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::StreamExt;
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use rat_core::{
    ErrorKind, Executor, LogCursor, LogLevel, ProjectSource, Result, RunId, RunLimits, RunRecord,
    RunRequest, RunStatus, TableRef, TestOutcome,
};
use serde::Serialize;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::Target;
use crate::output::{EXIT_FAILURE, EXIT_OK, interactive, print_json};
use crate::workspace::Workspace;

/// What to run, upstream first, and what each depends on among them.
type Planned = (Vec<TableRef>, BTreeMap<TableRef, BTreeSet<TableRef>>);

/// The plan from a server's lineage: `targets` (all when empty) in its
/// order, each with its upstream (transitively) among them.
fn remote_plan(lineage: rat_server::api::Lineage, targets: &[TableRef]) -> Result<Planned> {
    for t in targets {
        if !lineage.nodes.contains(t) {
            return Err(rat_core::Error::not_found(format!(
                "no pipeline '{t}' on the server"
            )));
        }
    }
    let order: Vec<TableRef> = lineage
        .nodes
        .iter()
        .filter(|n| targets.is_empty() || targets.contains(n))
        .cloned()
        .collect();
    let mut direct: BTreeMap<&TableRef, Vec<&TableRef>> = BTreeMap::new();
    for edge in &lineage.edges {
        direct.entry(&edge.to).or_default().push(&edge.from);
    }
    let planned: BTreeSet<&TableRef> = order.iter().collect();
    let mut upstream = BTreeMap::new();
    for table in &order {
        let mut seen = BTreeSet::new();
        let mut stack: Vec<&TableRef> = direct.get(table).cloned().unwrap_or_default();
        while let Some(t) = stack.pop() {
            if seen.insert(t.clone()) {
                stack.extend(direct.get(t).cloned().unwrap_or_default());
            }
        }
        seen.retain(|t| planned.contains(t));
        upstream.insert(table.clone(), seen);
    }
    Ok((order, upstream))
}

/// How to run.
#[derive(Debug, Clone)]
pub(crate) struct RunOptions {
    pub(crate) pipelines: Vec<String>,
    pub(crate) isolate: bool,
    pub(crate) workers: usize,
    pub(crate) limits: RunLimits,
}

/// What `rat run --json` prints.
#[derive(Serialize)]
struct RunReport {
    status: RunStatus,
    runs: Vec<RunRecord>,
    skipped: Vec<TableRef>,
}

pub(crate) async fn run(
    target: &Target,
    options: RunOptions,
    json: bool,
    verbose: u8,
) -> Result<u8> {
    let source = ProjectSource::embedded();
    let targets = options
        .pipelines
        .iter()
        .map(|p| TableRef::parse(p, source.namespace.as_str()))
        .collect::<Result<Vec<_>>>()?;
    options.limits.validate()?;
    let ((order, upstream), executor): (Planned, Arc<dyn Executor>) = match target {
        Target::Local(place) => {
            let ws = Workspace::open(place).await?;
            let plan = ws.engine.plan(&source, &targets).await?;
            let upstream = plan
                .order
                .iter()
                .map(|t| (t.clone(), plan.upstream_in_plan(t)))
                .collect();
            let executor = ws.executor(options.isolate, options.workers).await?;
            ((plan.order.clone(), upstream), executor)
        }
        Target::Remote(client) => {
            if options.isolate {
                return Err(rat_core::Error::invalid(
                    "--isolate chooses a local executor; a server runs pipelines its own way",
                )
                .with_context("field", "--isolate"));
            }
            let namespace = targets
                .first()
                .map_or(source.namespace.to_string(), |t| t.namespace.to_string());
            let lineage = client.lineage(&namespace).await?;
            (remote_plan(lineage, &targets)?, Arc::new(client.clone()))
        }
    };

    let cancel = CancellationToken::new();
    let on_ctrl_c = {
        let cancel = cancel.clone();
        tokio::spawn(async move {
            if tokio::signal::ctrl_c().await.is_ok() {
                cancel.cancel();
            }
        })
    };
    let bars = MultiProgress::with_draw_target(if json || !interactive() {
        ProgressDrawTarget::hidden()
    } else {
        ProgressDrawTarget::stderr()
    });

    let started = Instant::now();
    let (done_tx, mut done_rx) = mpsc::unbounded_channel::<(TableRef, RunId)>();
    let mut waiting: Vec<TableRef> = order.clone();
    let mut running: HashMap<TableRef, RunId> = HashMap::new();
    let mut finished: BTreeSet<TableRef> = BTreeSet::new();
    let mut failed: BTreeSet<TableRef> = BTreeSet::new();
    let mut records: Vec<RunRecord> = Vec::new();
    let mut skipped: Vec<TableRef> = Vec::new();
    let mut cancel_sent = false;
    loop {
        // Start what is ready, upstream first, while workers are free.
        let mut i = 0;
        while i < waiting.len() {
            let table = waiting[i].clone();
            let upstream = upstream.get(&table).cloned().unwrap_or_default();
            let blocked = upstream.iter().find(|u| failed.contains(*u)).cloned();
            if cancel.is_cancelled() || blocked.is_some() {
                if !json {
                    let why = blocked.map_or("cancelled".to_owned(), |u| {
                        format!("upstream {} failed", u.short())
                    });
                    bars.suspend(|| println!("- {:<32} skipped ({why})", table.to_string()));
                }
                failed.insert(table.clone());
                skipped.push(table);
                waiting.remove(i);
                continue;
            }
            let ready = upstream.iter().all(|u| finished.contains(u));
            if !ready || running.len() >= options.workers {
                i += 1;
                continue;
            }
            let request = RunRequest::pipeline(table.clone()).with_limits(options.limits.clone());
            match executor.submit(request).await {
                Ok(run) => {
                    let bar = spinner(&bars, &table);
                    tokio::spawn(follow(
                        executor.clone(),
                        table.clone(),
                        run.clone(),
                        bar,
                        verbose,
                        done_tx.clone(),
                    ));
                    running.insert(table, run);
                    waiting.remove(i);
                }
                Err(e) if e.kind() == ErrorKind::QueueFull => break,
                Err(e) => return Err(e),
            }
        }
        if running.is_empty() {
            break;
        }
        tokio::select! {
            Some((table, run)) = done_rx.recv() => {
                running.remove(&table);
                let record = executor.status(&run).await?;
                if record.status != RunStatus::Success {
                    failed.insert(table.clone());
                }
                finished.insert(table);
                if !json {
                    bars.suspend(|| print_record(&record));
                }
                records.push(record);
            }
            _ = cancel.cancelled(), if !cancel_sent => {
                cancel_sent = true;
                for run in running.values() {
                    let _ = executor.cancel(run).await;
                }
            }
        }
    }
    on_ctrl_c.abort();

    let all_ok = failed.is_empty();
    // Runs finish in any order; report them in plan order.
    let position = |t: &TableRef| order.iter().position(|o| o == t);
    records.sort_by_key(|r| position(&r.table));
    if json {
        print_json(&RunReport {
            status: if all_ok {
                RunStatus::Success
            } else {
                RunStatus::Failed
            },
            runs: records,
            skipped,
        });
    } else {
        let ok = records
            .iter()
            .filter(|r| r.status == RunStatus::Success)
            .count();
        println!(
            "\n{ok} succeeded, {} failed, {} skipped in {:.1}s",
            records.len() - ok,
            skipped.len(),
            started.elapsed().as_secs_f64()
        );
    }
    Ok(if all_ok { EXIT_OK } else { EXIT_FAILURE })
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

/// Follows one run's log to its end: progress in the spinner, details with
/// `-v`; then reports the run as done.
async fn follow(
    executor: Arc<dyn Executor>,
    table: TableRef,
    run: RunId,
    bar: ProgressBar,
    verbose: u8,
    done: mpsc::UnboundedSender<(TableRef, RunId)>,
) {
    let cursor = LogCursor {
        from_seq: 0,
        follow: true,
    };
    if let Ok(mut lines) = executor.logs(&run, cursor).await {
        while let Some(line) = lines.next().await {
            if line.level >= LogLevel::Info {
                bar.set_message(line.message.clone());
            }
            let shown = match line.level {
                LogLevel::Debug => verbose >= 2,
                _ => verbose >= 1,
            };
            if shown {
                bar.suspend(|| eprintln!("  {} {}", table.short(), line.message));
            }
        }
    }
    bar.finish_and_clear();
    let _ = done.send((table, run));
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
