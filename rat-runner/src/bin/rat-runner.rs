//! `rat-runner`: runs one pipeline and exits — the unit of isolation of the
//! process executor and of an ECS task.
//!
//! ```text
//! rat-runner --spec FILE      (or --spec - for stdin, --spec env:NAME for
//!                             an environment variable, RAT_RUNNER_INPUT in
//!                             a container): a RunnerInput as JSON
//! rat-runner --spec FILE --abandon
//!                             remove the branch of that run, if left behind
//! rat-runner python-worker --dir DIR [--python PYTHON]
//!                             become a warm Python worker in DIR, for a
//!                             runner of the same executor to claim
//! rat-runner --check          what a run needs loads: DuckDB with httpfs,
//!                             Python with pyarrow and duckdb (unless
//!                             --no-python); one JSON line, exit 0 or 2 (an
//!                             image's health check)
//! ```
//!
//! Protocol ([`rat_core::runner`]): one JSON object per line on stderr
//! while running —
//! `{"type":"log","seq":0,"at":"…","level":"info","message":"…"}`,
//! `{"type":"phase","phase":"execute"}` or `{"type":"error",...}`; the
//! `RunResult` as one JSON line on stdout at the end. Exit codes: 0 the run
//! succeeded; 1 it failed or was cancelled (the result says why); 2 the
//! input was invalid or the runner could not start (no result). SIGTERM
//! and SIGINT cancel the run: the
//! engine stops its query, removes the branch and still reports a result.
//! With `limits.memory_limit`, DuckDB gets that limit and the process an
//! address-space limit above it, so runaway memory ends the run, not the host.

use std::io::{Read, Write};
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use rat_core::runner::{RunnerEvent, RunnerExit, RunnerLine};
use rat_core::{
    Error, ErrorKind, LogLevel, LogRecord, LogSink, Phase, RunContext, RunEngine, RunnerInput,
};
use rat_runner::python::PythonConfig;
use rat_runner::{Engine, EngineConfig};
use tokio_util::sync::CancellationToken;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("--check") {
        std::process::exit(check(&args[1..]).code());
    }
    if args.first().map(String::as_str) == Some("python-worker") {
        let error = python_worker(&args[1..]);
        emit_error(&error);
        std::process::exit(RunnerExit::Invalid.code());
    }
    let exit = match read_input() {
        Ok((input, abandon)) => run(input, abandon),
        Err(e) => {
            emit_error(&e);
            RunnerExit::Invalid
        }
    };
    std::process::exit(exit.code());
}

/// `--check [--no-python]`: loads what runs need and says what it found.
fn check(args: &[String]) -> RunnerExit {
    let python = match args {
        [] => true,
        [flag] if flag == "--no-python" => false,
        _ => {
            emit_error(&Error::invalid("usage: rat-runner --check [--no-python]"));
            return RunnerExit::Invalid;
        }
    };
    let found = rat_runner::duck::check_httpfs().and_then(|duckdb| {
        let python = match python {
            true => Some(PythonConfig::from_env().check()?),
            false => None,
        };
        Ok(serde_json::json!({"duckdb": duckdb, "httpfs": true, "python": python}))
    });
    match found {
        Ok(found) => {
            println!("{found}");
            RunnerExit::Succeeded
        }
        Err(e) => {
            emit_error(&e);
            RunnerExit::Invalid
        }
    }
}

/// `python-worker --dir DIR [--python PYTHON]`: returns only on failure.
fn python_worker(args: &[String]) -> Error {
    let usage = || Error::invalid("usage: rat-runner python-worker --dir DIR [--python PYTHON]");
    let value = |flag: &str| {
        args.iter()
            .position(|a| a == flag)
            .and_then(|at| args.get(at + 1))
    };
    let Some(dir) = value("--dir") else {
        return usage();
    };
    if args.len() != if value("--python").is_some() { 4 } else { 2 } {
        return usage();
    }
    let python = value("--python").map_or_else(PythonConfig::from_env, PythonConfig::new);
    rat_runner::python::exec_worker(&python, std::path::Path::new(dir))
}

fn read_input() -> Result<(RunnerInput, bool), Error> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let usage = || Error::invalid("usage: rat-runner --spec FILE|-|env:NAME [--abandon]");
    let spec_at = args.iter().position(|a| a == "--spec").ok_or_else(usage)?;
    let source = args.get(spec_at + 1).ok_or_else(usage)?;
    let abandon = args.iter().any(|a| a == "--abandon");
    if args
        .iter()
        .any(|a| !matches!(a.as_str(), "--spec" | "--abandon") && a != source)
    {
        return Err(usage());
    }
    let mut text = String::new();
    if source == "-" {
        std::io::stdin().read_to_string(&mut text)?;
    } else if let Some(name) = source.strip_prefix("env:") {
        // How a container gets its run: an environment override.
        text = std::env::var(name).map_err(|_| {
            Error::invalid(format!("environment variable {name} holds no runner input"))
        })?;
    } else {
        text = std::fs::read_to_string(source)
            .map_err(|e| Error::invalid(format!("cannot read spec file '{source}': {e}")))?;
    }
    let input: RunnerInput = serde_json::from_str(&text)
        .map_err(|e| Error::invalid(format!("invalid runner input: {e}")))?;
    input.spec.limits.validate()?;
    Ok((input, abandon))
}

fn run(input: RunnerInput, abandon: bool) -> RunnerExit {
    if let Err(e) = limit_memory(&input) {
        emit_error(&e);
        return RunnerExit::Invalid;
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            emit_error(&Error::internal(format!("cannot start runtime: {e}")));
            return RunnerExit::Invalid;
        }
    };
    runtime.block_on(async move {
        let config = EngineConfig {
            sql_access: input.sql_access,
            // One run per process: a warm worker of its own would import for
            // nothing; its executor may share one of its own.
            python: PythonConfig {
                warm_workers: 0,
                shared_workers: input.python_workers.clone(),
                ..input
                    .python
                    .clone()
                    .map(PythonConfig::new)
                    .unwrap_or_default()
            },
            ..EngineConfig::default()
        };
        let engine = match Engine::open(&input.lakehouse, config).await {
            Ok(e) => e,
            Err(e) => {
                emit_error(&e);
                return RunnerExit::Invalid;
            }
        };
        if abandon {
            return match rat_runner::table::abandon_run(engine.catalog().as_ref(), &input.spec)
                .await
            {
                Ok(()) => RunnerExit::Succeeded,
                Err(e) => {
                    emit_error(&e);
                    RunnerExit::Failed
                }
            };
        }
        let cancel = CancellationToken::new();
        tokio::spawn(cancel_on_signals(cancel.clone()));
        let ctx = RunContext {
            cancel,
            log: Arc::new(StderrLog::default()),
        };
        let result = engine.execute(input.spec, ctx).await;
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "{}", RunnerLine::result_line(&result));
        let _ = out.flush();
        RunnerExit::of(result.status)
    })
}

async fn cancel_on_signals(cancel: CancellationToken) {
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut term), Ok(mut int)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) else {
        return;
    };
    tokio::select! {
        _ = term.recv() => {}
        _ = int.recv() => {}
    }
    cancel.cancel();
}

/// The run's address-space ceiling (see `RunLimits::address_space_ceiling`).
fn limit_memory(input: &RunnerInput) -> Result<(), Error> {
    let Some(ceiling) = input.spec.limits.address_space_ceiling()? else {
        return Ok(());
    };
    rlimit::setrlimit(rlimit::Resource::AS, ceiling, ceiling).map_err(|e| {
        Error::new(
            ErrorKind::Internal,
            format!("cannot set the memory limit: {e}"),
        )
    })
}

/// Log lines as JSON on stderr, numbered from 0.
#[derive(Debug, Default)]
struct StderrLog {
    seq: AtomicU64,
    /// Keeps concurrent lines whole.
    lock: Mutex<()>,
}

impl StderrLog {
    fn write(&self, event: &RunnerEvent) {
        let _guard = self.lock.lock();
        let mut err = std::io::stderr().lock();
        let _ = writeln!(err, "{}", event.to_line());
    }
}

impl LogSink for StderrLog {
    fn log(&self, level: LogLevel, message: String) {
        let seq = self.seq.fetch_add(1, Ordering::SeqCst);
        self.write(&RunnerEvent::Log(LogRecord::now(seq, level, message)));
    }

    fn phase(&self, phase: Phase) {
        self.write(&RunnerEvent::Phase { phase });
    }
}

fn emit_error(err: &Error) {
    eprintln!("{}", RunnerEvent::error(err).to_line());
}
