//! One DuckDB database per run, driven from async code without blocking the
//! runtime, interruptible for cancellation and per-query timeouts.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use duckdb::{Config, Connection, InterruptHandle};
use rat_core::{Error, ErrorKind, Result, S3Access};

use super::remote::{AccessStatements, Grant, httpfs_missing, load_httpfs_sql, secret_error};

/// Resource limits of a run's database.
#[derive(Debug, Clone, Default)]
pub struct SessionLimits {
    /// Worker threads (DuckDB's default: all cores).
    pub threads: Option<usize>,
    /// DuckDB `memory_limit`, e.g. `"2GB"`.
    pub memory_limit: Option<String>,
    /// Under which folder DuckDB spills when over the memory limit (the
    /// system's temp folder when `None`); each session spills into a
    /// folder of its own there.
    pub temp_directory: Option<String>,
}

/// A session's own spill folder, removed with the session. DuckDB names
/// its spill files alike in every database, so two sessions sharing a
/// folder (its default is `.tmp` in the working directory) read each
/// other's blocks: concurrent runs over the memory limit corrupt each
/// other's data.
struct SpillDir(std::path::PathBuf);

impl SpillDir {
    fn new(limits: &SessionLimits) -> Self {
        let base = limits
            .temp_directory
            .as_ref()
            .map(std::path::PathBuf::from)
            .unwrap_or_else(|| std::env::temp_dir().join("rat-spill"));
        let dir = base.join(format!("duck-{}", uuid::Uuid::new_v4().simple()));
        // DuckDB makes only the last level, on first spill; a folder it
        // cannot make fails that statement with its path.
        let _ = std::fs::create_dir_all(&dir);
        Self(dir)
    }
}

impl Drop for SpillDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// An in-memory DuckDB database owned by one run.
///
/// Calls run on tokio's blocking pool one at a time. [`DuckSession::cancel`]
/// stops the statement in flight and refuses later ones;
/// [`DuckSession::run_with_timeout`] interrupts its own statement only,
/// never a later one.
///
/// DuckDB clears a pending interrupt when a statement begins, so an
/// interrupt that lands just before a statement starts is lost: whoever
/// stops a statement keeps interrupting until it is over.
#[derive(Clone)]
pub struct DuckSession {
    conn: Arc<Mutex<Connection>>,
    interrupt: Arc<InterruptHandle>,
    /// Numbers statements as they start.
    next_statement: Arc<AtomicU64>,
    /// The statement executing now (0: none).
    running: Arc<AtomicU64>,
    /// Set by [`DuckSession::cancel`]: no statement starts any more.
    cancelled: Arc<AtomicBool>,
    /// Remote locations statements may read, see [`DuckSession::grant_s3`].
    grants: Arc<tokio::sync::Mutex<Vec<Grant>>>,
    /// Last: removed after the database is closed (held, never read).
    _spill: Arc<SpillDir>,
}

/// How often a stop is repeated until the statement is over.
pub const INTERRUPT_REPEAT: Duration = Duration::from_millis(20);

impl std::fmt::Debug for DuckSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DuckSession").finish_non_exhaustive()
    }
}

impl DuckSession {
    /// Opens a fresh in-memory database with `limits`, UTC time zone, no
    /// extension auto-loading from the network and no persistent secrets.
    pub fn open(limits: &SessionLimits) -> Result<Self> {
        let mut config = Config::default()
            .with("autoinstall_known_extensions", "false")
            .and_then(|c| c.with("autoload_known_extensions", "false"))
            // Secrets live in memory only: nothing is read from or written
            // to ~/.duckdb (and a locked-down session could not).
            .and_then(|c| c.with("allow_persistent_secrets", "false"))
            .map_err(|e| duck_error("cannot configure DuckDB", e))?;
        if let Some(threads) = limits.threads {
            let threads = i64::try_from(threads.max(1)).unwrap_or(1);
            config = config
                .threads(threads)
                .map_err(|e| duck_error("invalid thread count", e))?;
        }
        if let Some(limit) = &limits.memory_limit {
            config = config
                .max_memory(limit)
                .map_err(|e| duck_error("invalid memory_limit", e))?;
        }
        let spill = SpillDir::new(limits);
        config = config
            .with("temp_directory", spill.0.to_string_lossy())
            .map_err(|e| duck_error("invalid temp_directory", e))?;
        let conn = Connection::open_in_memory_with_flags(config)
            .map_err(|e| duck_error("cannot open DuckDB", e))?;
        conn.execute_batch("SET TimeZone = 'UTC';")
            .map_err(|e| duck_error("cannot configure DuckDB", e))?;
        super::functions::register(&conn)
            .map_err(|e| duck_error("cannot register rat's SQL functions", e))?;
        let interrupt = conn.interrupt_handle();
        Ok(Self {
            conn: Arc::new(Mutex::new(conn)),
            interrupt,
            next_statement: Arc::new(AtomicU64::new(1)),
            running: Arc::new(AtomicU64::new(0)),
            cancelled: Arc::new(AtomicBool::new(false)),
            grants: Arc::default(),
            _spill: Arc::new(spill),
        })
    }

    /// Lets statements read and write under `scope` (an `s3://bucket/prefix`)
    /// with `access`. Loads httpfs on first use; granting a scope again
    /// with other access replaces it, with the same access does nothing.
    /// The secret is renewed before each statement that would otherwise
    /// start with credentials near expiry.
    pub async fn grant_s3(&self, scope: &str, access: &S3Access) -> Result<()> {
        let scope = scope.trim_end_matches('/').to_owned();
        let mut grants = self.grants.lock().await;
        if grants
            .iter()
            .any(|g| g.scope == scope && g.same_access(access))
        {
            return Ok(());
        }
        let first = grants.is_empty();
        let index = grants
            .iter()
            .position(|g| g.scope == scope)
            .unwrap_or(grants.len());
        let mut grant = Grant {
            scope: scope.clone(),
            secret_name: format!("rat_s3_{index}"),
            access: access.clone(),
            renew_at: None,
        };
        let (sql, renew_at) = grant.secret_sql().await?;
        grant.renew_at = renew_at;
        // Not `run`: renewing takes the grants this call holds.
        self.run_statement(None, move |c| {
            if first {
                c.execute_batch(&load_httpfs_sql())
                    .map_err(httpfs_missing)?;
            }
            c.execute_batch(&sql).map_err(|e| secret_error(&scope, e))
        })
        .await?;
        if index == grants.len() {
            grants.push(grant);
        } else {
            grants[index] = grant;
        }
        Ok(())
    }

    /// The statements that give another DuckDB of the same version this
    /// session's S3 access (httpfs and a secret per granted scope, with
    /// credentials fresh now), and when they are due for renewal; `None`
    /// when nothing was granted. They hold credentials: they go to a
    /// script's own process on a pipe, never to a log or an error.
    pub(crate) async fn access_statements(&self) -> Result<Option<AccessStatements>> {
        let grants = self.grants.lock().await;
        if grants.is_empty() {
            return Ok(None);
        }
        let mut sql = format!("{};\n", load_httpfs_sql());
        let mut renew_at: Option<DateTime<Utc>> = None;
        for grant in grants.iter() {
            let (secret, at) = grant.secret_sql().await?;
            sql.push_str(&secret);
            sql.push_str(";\n");
            renew_at = match (renew_at, at) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
        }
        Ok(Some(AccessStatements { sql, renew_at }))
    }

    /// Secrets whose credentials are due for renewal, as statements.
    async fn renewals(&self) -> Result<Vec<(String, String)>> {
        let mut grants = self.grants.lock().await;
        let now = Utc::now();
        let mut out = Vec::new();
        for grant in grants.iter_mut() {
            if grant.renew_at.is_some_and(|at| now >= at) {
                let (sql, renew_at) = grant.secret_sql().await?;
                grant.renew_at = renew_at;
                out.push((grant.scope.clone(), sql));
            }
        }
        Ok(out)
    }

    /// Runs `f` with the connection on the blocking pool.
    pub async fn run<T, F>(&self, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T> + Send + 'static,
    {
        self.run_numbered(None, f).await
    }

    /// Runs `f`, telling `number` (when given) which statement number it got.
    async fn run_numbered<T, F>(&self, number: Option<Arc<AtomicU64>>, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T> + Send + 'static,
    {
        let renewals = self.renewals().await?;
        self.run_statement(number, move |c| {
            for (scope, sql) in renewals {
                c.execute_batch(&sql).map_err(|e| secret_error(&scope, e))?;
            }
            f(c)
        })
        .await
    }

    async fn run_statement<T, F>(&self, number: Option<Arc<AtomicU64>>, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T> + Send + 'static,
    {
        let conn = Arc::clone(&self.conn);
        let next = Arc::clone(&self.next_statement);
        let running = Arc::clone(&self.running);
        let cancelled = Arc::clone(&self.cancelled);
        tokio::task::spawn_blocking(move || {
            let guard = conn
                .lock()
                .map_err(|_| Error::internal("DuckDB connection poisoned by an earlier panic"))?;
            if cancelled.load(Ordering::SeqCst) {
                return Err(Error::new(ErrorKind::Cancelled, "run cancelled"));
            }
            let id = next.fetch_add(1, Ordering::SeqCst);
            if let Some(number) = number {
                number.store(id, Ordering::SeqCst);
            }
            running.store(id, Ordering::SeqCst);
            let result = f(&guard);
            running.store(0, Ordering::SeqCst);
            result
        })
        .await
        .map_err(|e| Error::internal(format!("DuckDB task failed: {e}")))?
    }

    /// Like [`run`](Self::run), but interrupts the statement after `timeout`
    /// and reports [`ErrorKind::Timeout`].
    pub async fn run_with_timeout<T, F>(&self, timeout: Duration, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T> + Send + 'static,
    {
        let mine = Arc::new(AtomicU64::new(0));
        let fired = Arc::new(AtomicBool::new(false));
        let watchdog = {
            let session = self.clone();
            let mine = Arc::clone(&mine);
            let fired = Arc::clone(&fired);
            tokio::spawn(async move {
                tokio::time::sleep(timeout).await;
                // Only our statement, for as long as it runs.
                loop {
                    let id = mine.load(Ordering::SeqCst);
                    if id != 0 && session.running.load(Ordering::SeqCst) == id {
                        fired.store(true, Ordering::SeqCst);
                        session.interrupt.interrupt();
                    }
                    tokio::time::sleep(INTERRUPT_REPEAT).await;
                }
            })
        };
        let result = self.run_numbered(Some(mine), f).await;
        watchdog.abort();
        match result {
            Err(e) if fired.load(Ordering::SeqCst) && e.kind() == ErrorKind::Query => {
                Err(Error::new(
                    ErrorKind::Timeout,
                    format!("query exceeded its {}s time limit", timeout.as_secs_f64()),
                ))
            }
            other => other,
        }
    }

    /// Stops the statement in flight and refuses every later one. Call it
    /// again until the caller's work ends: a stop that lands just before a
    /// statement starts is cleared by DuckDB.
    pub fn cancel(&self) {
        self.cancelled.store(true, Ordering::SeqCst);
        if self.running.load(Ordering::SeqCst) != 0 {
            self.interrupt.interrupt();
        }
    }
}

/// Wraps a DuckDB error; a refusal of the [sandbox](super::Sandbox) is
/// invalid input naming what was refused.
pub fn duck_error(message: &str, err: duckdb::Error) -> Error {
    let text = clean_message(&err);
    if let Some(refused) = super::sandbox::refusal(&text) {
        return refused;
    }
    let err = Error::new(ErrorKind::Query, format!("{message}: {text}"));
    match reported_line(&text) {
        Some(line) => err.with_context("line", line),
        None => err,
    }
}

/// The line DuckDB names in `LINE n:` under a binder or parser message.
fn reported_line(text: &str) -> Option<usize> {
    text.lines()
        .find_map(|l| l.trim_start().strip_prefix("LINE ")?.split_once(':'))
        .and_then(|(n, _)| n.trim().parse().ok())
}

/// DuckDB messages carry the error class on the first line and sometimes a
/// caret diagram; keep them intact but trim trailing space.
fn clean_message(err: &duckdb::Error) -> String {
    err.to_string().trim_end().to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_duckdb_error_names_the_line_it_reports() {
        let s = DuckSession::open(&SessionLimits::default()).unwrap();
        let err = s
            .run(|c| {
                c.prepare("SELECT 1 AS a,\n  nope\nFROM range(3)")
                    .map(|_| ())
                    .map_err(|e| duck_error("query failed", e))
            })
            .await
            .unwrap_err();
        assert_eq!(err.context("line"), Some("2"), "{err}");
        assert_eq!(reported_line("Binder Error: x"), None);
    }

    const ENDLESS: &str = "SELECT count(*) FROM range(100000000) a, range(100000000) b";

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_stop_landing_just_before_a_statement_is_repeated_until_it_holds() {
        let s = DuckSession::open(&SessionLimits::default()).unwrap();
        let early = s.clone();
        let query = s.run(move |c| {
            // The stop lands after the session let the statement in but
            // before DuckDB began it, which clears it: the window that hung.
            early.cancel();
            c.query_row(ENDLESS, [], |r| r.get::<_, i64>(0))
                .map_err(|e| duck_error("q", e))
        });
        // What the engine does once cancelled: stop again and again (here
        // from the moment the statement is in, so only repetition can help).
        let repeat = {
            let s = s.clone();
            tokio::spawn(async move {
                while s.running.load(Ordering::SeqCst) == 0 {
                    tokio::task::yield_now().await;
                }
                loop {
                    s.cancel();
                    tokio::time::sleep(INTERRUPT_REPEAT).await;
                }
            })
        };
        let outcome = tokio::time::timeout(Duration::from_secs(10), query).await;
        repeat.abort();
        let err = outcome
            .expect("the statement was never stopped")
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Query, "{err}");
        // Cancelled sessions refuse new statements.
        let err = s
            .run(|c| c.execute_batch("SELECT 1").map_err(|e| duck_error("q", e)))
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Cancelled);
    }

    #[tokio::test]
    async fn timeout_interrupts_only_its_query() {
        let s = DuckSession::open(&SessionLimits {
            threads: Some(1),
            ..Default::default()
        })
        .unwrap();
        let err = s
            .run_with_timeout(Duration::from_millis(200), |c| {
                c.query_row(
                    "SELECT count(*) FROM range(100000000) a, range(100000000) b",
                    [],
                    |r| r.get::<_, i64>(0),
                )
                .map_err(|e| duck_error("q", e))
            })
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Timeout, "{err}");
        // A fast query with a timeout that fires later does not disturb the next query.
        s.run_with_timeout(Duration::from_millis(50), |c| {
            c.execute_batch("SELECT 1").map_err(|e| duck_error("q", e))
        })
        .await
        .unwrap();
        tokio::time::sleep(Duration::from_millis(100)).await;
        let n: i64 = s
            .run(|c| {
                c.query_row("SELECT 42", [], |r| r.get(0))
                    .map_err(|e| duck_error("q", e))
            })
            .await
            .unwrap();
        assert_eq!(n, 42);
    }
}
