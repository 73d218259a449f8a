//! `rat run [PIPELINE...]`: validate everything, then run in DAG order.

use std::collections::BTreeSet;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};
use rat_core::{
    LogLevel, LogSink, ProjectSource, Result, RunContext, RunEngine, RunResult, RunSpec, RunStatus,
    TableRef, TestOutcome,
};
use serde::Serialize;
use tokio_util::sync::CancellationToken;

use crate::output::{EXIT_FAILURE, EXIT_OK, interactive, print_json};

/// What `rat run --json` prints.
#[derive(Serialize)]
struct RunReport {
    status: RunStatus,
    runs: Vec<RunResult>,
    skipped: Vec<TableRef>,
}

pub(crate) async fn run(
    project: &Path,
    pipelines: &[String],
    json: bool,
    verbose: u8,
) -> Result<u8> {
    let engine = crate::workspace::open(project).await?;
    let source = ProjectSource::embedded();
    let targets = pipelines
        .iter()
        .map(|p| TableRef::parse(p, source.namespace.as_str()))
        .collect::<Result<Vec<_>>>()?;
    let plan = engine.plan(&source, &targets).await?;

    let cancel = CancellationToken::new();
    let on_ctrl_c = {
        let cancel = cancel.clone();
        tokio::spawn(async move {
            if tokio::signal::ctrl_c().await.is_ok() {
                cancel.cancel();
            }
        })
    };

    let started = Instant::now();
    let mut runs: Vec<RunResult> = Vec::new();
    let mut skipped: Vec<TableRef> = Vec::new();
    let mut failed: BTreeSet<TableRef> = BTreeSet::new();
    for table in &plan.order {
        let blocked = plan
            .upstream_in_plan(table)
            .into_iter()
            .find(|u| failed.contains(u));
        if cancel.is_cancelled() || blocked.is_some() {
            if !json {
                let why = blocked.map_or("cancelled".to_owned(), |u| {
                    format!("upstream {} failed", u.short())
                });
                println!("- {:<32} skipped ({why})", table.to_string());
            }
            failed.insert(table.clone());
            skipped.push(table.clone());
            continue;
        }
        let progress = Progress::start(table, json);
        let ctx = RunContext {
            cancel: cancel.clone(),
            log: Arc::new(progress.sink(verbose)),
        };
        let result = engine.execute(RunSpec::new(table.clone()), ctx).await;
        progress.finish();
        if result.status != RunStatus::Success {
            failed.insert(table.clone());
        }
        if !json {
            print_result(&result);
        }
        runs.push(result);
    }
    on_ctrl_c.abort();

    let all_ok = failed.is_empty();
    if json {
        print_json(&RunReport {
            status: if all_ok {
                RunStatus::Success
            } else {
                RunStatus::Failed
            },
            runs,
            skipped,
        });
    } else {
        let ok = runs
            .iter()
            .filter(|r| r.status == RunStatus::Success)
            .count();
        println!(
            "\n{ok} succeeded, {} failed, {} skipped in {:.1}s",
            runs.len() - ok,
            skipped.len(),
            started.elapsed().as_secs_f64()
        );
    }
    Ok(if all_ok { EXIT_OK } else { EXIT_FAILURE })
}

/// A spinner on stderr while a run is in progress (terminals only).
struct Progress {
    bar: Option<ProgressBar>,
}

impl Progress {
    fn start(table: &TableRef, json: bool) -> Self {
        if json || !interactive() {
            return Self { bar: None };
        }
        let bar = ProgressBar::new_spinner();
        if let Ok(style) =
            ProgressStyle::with_template("{spinner} {prefix:.bold} {wide_msg} [{elapsed}]")
        {
            bar.set_style(style);
        }
        bar.set_prefix(table.to_string());
        bar.enable_steady_tick(Duration::from_millis(100));
        Self { bar: Some(bar) }
    }

    fn sink(&self, verbose: u8) -> CliLog {
        CliLog {
            bar: self.bar.clone(),
            verbose,
        }
    }

    fn finish(self) {
        if let Some(bar) = self.bar {
            bar.finish_and_clear();
        }
    }
}

/// Shows a run's log: progress in the spinner, warnings and errors above it.
#[derive(Debug)]
struct CliLog {
    bar: Option<ProgressBar>,
    verbose: u8,
}

impl LogSink for CliLog {
    fn log(&self, level: LogLevel, message: String) {
        let shown = match level {
            LogLevel::Debug => self.verbose >= 2,
            LogLevel::Info => self.verbose >= 1,
            LogLevel::Warn | LogLevel::Error => false,
        };
        if let Some(bar) = &self.bar {
            if level >= LogLevel::Info {
                bar.set_message(message.clone());
            }
            if shown {
                bar.println(format!("  {message}"));
            }
        } else if shown {
            eprintln!("  {message}");
        }
    }
}

fn print_result(r: &RunResult) {
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
