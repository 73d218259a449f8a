//! One Python pipeline run in its own interpreter: started with a clean
//! environment in a temporary folder, fed its context, its output lines
//! forwarded to the run's log, its `result` stream loaded into the run's
//! DuckDB session, stopped by SIGTERM then SIGKILL when the run is.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use rat_core::{Error, ErrorKind, LogLevel, Result, SharedLogSink};
use serde::{Deserialize, Serialize};
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWrite, AsyncWriteExt, BufReader};
use tokio_util::sync::CancellationToken;

use super::result;
use super::worker::{Pipes, Worker, WorkerPool};
use crate::duck::DuckSession;

/// How long a stopped script has between SIGTERM and SIGKILL.
const GRACE: Duration = Duration::from_secs(5);

/// The shortest time between two renewals of a script's S3 access.
const MIN_RENEWAL: Duration = Duration::from_secs(1);

/// The unit separator starting the bootstrap's messages for rat.
const MARK: char = '\u{1f}';

/// What the bootstrap builds the script's globals from, besides the run's
/// S3 access, which [`run_script`] takes from the session.
#[derive(Debug, Clone, Serialize)]
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

/// The first line the bootstrap reads: the context and the statements
/// giving the script's DuckDB the run's S3 access (httpfs, secrets with the
/// namespace's scoped credentials; `None` for local files). Sent on the
/// pipe only, never logged.
#[derive(Serialize)]
struct Handover<'a> {
    #[serde(flatten)]
    context: &'a ScriptContext,
    access_sql: Option<&'a str>,
}

/// A later line: the same access with credentials renewed.
#[derive(Serialize)]
struct Renewal<'a> {
    access_sql: &'a str,
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
    let access = session.access_statements().await?;
    let mut input = serde_json::to_vec(&Handover {
        context,
        access_sql: access.as_ref().map(|a| a.sql.as_str()),
    })
    .map_err(|e| Error::internal(format!("cannot encode the script's context: {e}")))?;
    input.push(b'\n');
    let mut worker = pool.take()?;
    // Once the script is over, whatever its end, a replacement starts.
    let _top_up = TopUpOnDrop(pool);
    log.log(LogLevel::Info, worker.describe());
    let Pipes {
        mut stdin,
        stdout,
        stderr,
    } = worker.pipes()?;
    let renew_at = access.and_then(|a| a.renew_at);
    let (renewing, renew_log) = (session.clone(), log.clone());
    // Ends with the run, however it ends (it holds the session).
    let _feed = AbortOnDrop(tokio::spawn(async move {
        if stdin.write_all(&input).await.is_ok() {
            renew_access(stdin, &renewing, renew_at, &renew_log).await;
        }
    }));
    let reported = Arc::new(Mutex::new(None));
    let lines = forward_lines(stderr, log, Arc::clone(&reported));
    let loaded = tokio::select! {
        loaded = result::load(session, stdout) => loaded,
        _ = cancel.cancelled() => {
            stop(&mut worker).await;
            return Err(Error::new(ErrorKind::Cancelled, "run cancelled"));
        }
    };
    let status = tokio::select! {
        status = worker.wait() => status,
        _ = cancel.cancelled() => {
            stop(&mut worker).await;
            return Err(Error::new(ErrorKind::Cancelled, "run cancelled"));
        }
    }
    .map_err(|e| Error::internal(format!("waiting for Python: {e}")))?;
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

/// Tops its pool up when dropped.
struct TopUpOnDrop<'a>(&'a WorkerPool);

impl Drop for TopUpOnDrop<'_> {
    fn drop(&mut self) {
        self.0.top_up();
    }
}

/// A task aborted when this is dropped.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Sends the script renewed S3 access each time its credentials are due,
/// until the run ends (the task is aborted) or the script's stdin closes.
async fn renew_access(
    mut stdin: Box<dyn AsyncWrite + Send + Unpin>,
    session: &DuckSession,
    mut renew_at: Option<DateTime<Utc>>,
    log: &SharedLogSink,
) {
    while let Some(at) = renew_at {
        // Never more often than MIN_RENEWAL, whatever a provider says.
        let wait = (at - Utc::now()).to_std().unwrap_or_default();
        tokio::time::sleep(wait.max(MIN_RENEWAL)).await;
        let access = match session.access_statements().await {
            Ok(Some(access)) => access,
            Ok(None) => return,
            Err(e) => {
                log.log(
                    LogLevel::Warn,
                    format!("cannot renew the script's S3 access: {e}"),
                );
                return;
            }
        };
        let mut line = serde_json::to_vec(&Renewal {
            access_sql: &access.sql,
        })
        .expect("a string encodes");
        line.push(b'\n');
        if stdin.write_all(&line).await.is_err() {
            return;
        }
        renew_at = access.renew_at;
    }
}

/// Forwards the interpreter's stderr to `log` and keeps its failure report.
fn forward_lines(
    stderr: Box<dyn AsyncRead + Send + Unpin>,
    log: SharedLogSink,
    reported: Arc<Mutex<Option<Reported>>>,
) -> tokio::task::JoinHandle<()> {
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
                (Some("rat-ready"), Some(_), None) => {}
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
async fn stop(worker: &mut Worker) {
    worker.signal(rustix::process::Signal::TERM);
    if tokio::time::timeout(GRACE, worker.wait()).await.is_err() {
        worker.kill().await;
    }
}
