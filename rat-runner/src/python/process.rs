//! One Python pipeline run in its own interpreter: started with a clean
//! environment in a temporary folder, fed its context, its output lines
//! forwarded to the run's log, its `result` stream loaded into the run's
//! DuckDB session, stopped by SIGTERM then SIGKILL when the run is.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rat_core::{Error, ErrorKind, LogLevel, Result, SharedLogSink};
use serde::{Deserialize, Serialize};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::process::Child;
use tokio_util::sync::CancellationToken;

use super::result;
use super::worker::WorkerPool;
use crate::duck::DuckSession;

/// How long a stopped script has between SIGTERM and SIGKILL.
const GRACE: Duration = Duration::from_secs(5);

/// The unit separator starting the bootstrap's messages for rat.
const MARK: char = '\u{1f}';

/// What the bootstrap builds the script's globals from. Its `Debug` leaves
/// out the S3 access statements (they hold credentials).
#[derive(Clone, Serialize)]
pub struct ScriptContext {
    /// The script's key (tracebacks name it).
    pub file: String,
    /// The script.
    pub source: String,
    /// `this`: `"ns.layer.name"`.
    pub this: String,
    /// `run_started_at`, ISO-8601 UTC.
    pub run_started_at: String,
    /// `is_incremental`.
    pub is_incremental: bool,
    /// `watermark_value`.
    pub watermark_value: Option<String>,
    /// `config`: the effective settings.
    pub config: serde_json::Value,
    /// Statements giving the script's DuckDB the run's S3 access (httpfs,
    /// secrets with the namespace's scoped credentials); `None` for local
    /// files. Sent on the pipe only.
    pub access_sql: Option<String>,
    /// Statements making the views `ref()` and `landing_zone()` name, over
    /// the files the run resolved.
    pub views_sql: String,
    /// `ref()` argument → the view it names.
    pub refs: BTreeMap<String, String>,
    /// `landing_zone()` argument → the view it names.
    pub landing_zones: BTreeMap<String, String>,
    /// Resources of the script's DuckDB connection.
    pub duckdb: DuckSettings,
    /// The interpreter's address-space limit in bytes (the run's ceiling).
    pub address_space_limit: Option<u64>,
}

impl std::fmt::Debug for ScriptContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ScriptContext")
            .field("file", &self.file)
            .field("this", &self.this)
            .field("refs", &self.refs)
            .field("landing_zones", &self.landing_zones)
            .field(
                "access_sql",
                &self.access_sql.as_ref().map(|_| "<redacted>"),
            )
            .finish_non_exhaustive()
    }
}

/// Resources of the script's own DuckDB connection (the run's limits).
#[derive(Debug, Clone, Default, Serialize)]
pub struct DuckSettings {
    /// Worker threads.
    pub threads: Option<usize>,
    /// DuckDB's `memory_limit`.
    pub memory_limit: Option<String>,
}

/// The failure the bootstrap reports.
#[derive(Debug, Deserialize)]
struct Reported {
    kind: String,
    message: String,
    line: Option<usize>,
    traceback: Option<String>,
}

/// The environment every interpreter gets: enough to find programs and
/// decode text, nothing of rat's own (no credentials, no `RAT_*`).
pub(super) fn base_env() -> Vec<(String, String)> {
    let mut env = vec![
        ("PYTHONUNBUFFERED".to_owned(), "1".to_owned()),
        ("PYTHONDONTWRITEBYTECODE".to_owned(), "1".to_owned()),
    ];
    for name in ["PATH", "LANG", "LC_ALL", "TZ"] {
        if let Ok(value) = std::env::var(name) {
            env.push((name.to_owned(), value));
        }
    }
    env
}

/// Runs `context`'s script in a worker of `pool` and loads its `result`
/// into `session` as [`RESULT_TABLE`](super::RESULT_TABLE). Returns the
/// rows loaded.
///
/// The script's lines reach `log`; an exception fails with its traceback
/// and the script's line; `cancel` stops the interpreter (SIGTERM, then
/// SIGKILL after a grace period).
pub async fn run_script(
    pool: &WorkerPool,
    context: &ScriptContext,
    session: &DuckSession,
    log: SharedLogSink,
    cancel: &CancellationToken,
) -> Result<u64> {
    let mut worker = pool.take()?;
    log.log(
        LogLevel::Info,
        if worker.warm {
            format!(
                "a warm Python worker runs the script (started {} ms before)",
                worker.started.elapsed().as_millis()
            )
        } else {
            "a new Python worker runs the script (none was warm)".to_owned()
        },
    );
    let child = &mut worker.child;
    let input = serde_json::to_vec(context)
        .map_err(|e| Error::internal(format!("cannot encode the script's context: {e}")))?;
    let mut stdin = child.stdin.take().expect("piped stdin");
    let feed = tokio::spawn(async move {
        let _ = stdin.write_all(&input).await;
    });
    let reported = Arc::new(Mutex::new(None));
    let lines = forward_lines(child, log, Arc::clone(&reported));
    let stdout = child.stdout.take().expect("piped stdout");
    let stream = std::fs::File::from(
        stdout
            .into_owned_fd()
            .map_err(|e| Error::internal(format!("cannot read the script's result: {e}")))?,
    );
    let loaded = tokio::select! {
        loaded = result::load(session, stream) => loaded,
        _ = cancel.cancelled() => {
            stop(child).await;
            return Err(Error::new(ErrorKind::Cancelled, "run cancelled"));
        }
    };
    let status = tokio::select! {
        status = child.wait() => status,
        _ = cancel.cancelled() => {
            stop(child).await;
            return Err(Error::new(ErrorKind::Cancelled, "run cancelled"));
        }
    }
    .map_err(|e| Error::internal(format!("waiting for Python: {e}")))?;
    let _ = feed.await;
    let _ = lines.await;
    let file = context.file.as_str();
    if let Some(reported) = reported.lock().expect("report").take() {
        return Err(script_error(reported, file));
    }
    // A killed interpreter leaves the stream cut short: the kill is the
    // cause. A failed load closes the pipe, and the interpreter exits for
    // that: the load's error is the cause.
    if std::os::unix::process::ExitStatusExt::signal(&status).is_some() {
        return Err(exit_error(status, file));
    }
    let rows = loaded.map_err(|e| e.with_context("file", file))?;
    if !status.success() {
        return Err(exit_error(status, file));
    }
    Ok(rows)
}

/// Forwards the interpreter's stderr to `log` and keeps its failure report.
fn forward_lines(
    child: &mut Child,
    log: SharedLogSink,
    reported: Arc<Mutex<Option<Reported>>>,
) -> tokio::task::JoinHandle<()> {
    let stderr = child.stderr.take().expect("piped stderr");
    tokio::spawn(async move {
        let mut lines = BufReader::new(stderr).lines();
        while let Ok(Some(line)) = lines.next_line().await {
            let Some(message) = line.strip_prefix(MARK) else {
                log.log(LogLevel::Info, line);
                continue;
            };
            let mut parts = message.splitn(3, MARK);
            match (parts.next(), parts.next(), parts.next()) {
                (Some("rat-log"), Some(level), Some(text)) => {
                    log.log(python_level(level), text.to_owned());
                }
                (Some("rat-error"), Some(json), None) => {
                    if let Ok(r) = serde_json::from_str::<Reported>(json) {
                        *reported.lock().expect("report") = Some(r);
                    }
                }
                _ => log.log(LogLevel::Info, line),
            }
        }
    })
}

fn python_level(level: &str) -> LogLevel {
    match level {
        "DEBUG" => LogLevel::Debug,
        "WARNING" => LogLevel::Warn,
        "ERROR" | "CRITICAL" => LogLevel::Error,
        _ => LogLevel::Info,
    }
}

fn script_error(reported: Reported, file: &str) -> Error {
    let kind = match reported.kind.as_str() {
        "script" => ErrorKind::Query,
        "setup" => ErrorKind::Storage,
        _ => ErrorKind::InvalidInput,
    };
    let message = match &reported.traceback {
        Some(trace) => format!("{}\n{}", reported.message, trace.trim_end()),
        None => reported.message,
    };
    let error = Error::new(kind, message).with_context("file", file);
    let error = match reported.line {
        Some(line) => error.with_context("line", line),
        None => error,
    };
    if reported.kind == "environment" {
        error.with_context("field", "python")
    } else {
        error
    }
}

fn exit_error(status: std::process::ExitStatus, file: &str) -> Error {
    use std::os::unix::process::ExitStatusExt;
    let how = match status.signal() {
        Some(9) => "was killed (signal 9; out of memory?)".to_owned(),
        Some(signal) => format!("was killed by signal {signal}"),
        None => format!("exited with status {}", status.code().unwrap_or(-1)),
    };
    Error::new(
        ErrorKind::Executor,
        format!("the Python process {how} before finishing the script"),
    )
    .with_context("file", file)
}

/// SIGTERM, then SIGKILL if the interpreter is still there after [`GRACE`].
async fn stop(child: &mut Child) {
    if let Some(pid) = child
        .id()
        .and_then(|p| rustix::process::Pid::from_raw(p as i32))
    {
        let _ = rustix::process::kill_process(pid, rustix::process::Signal::TERM);
        if tokio::time::timeout(GRACE, child.wait()).await.is_ok() {
            return;
        }
    }
    let _ = child.kill().await;
}
