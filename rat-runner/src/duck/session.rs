//! One DuckDB database per run, driven from async code without blocking the
//! runtime, interruptible for cancellation and per-query timeouts.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use duckdb::{Config, Connection, InterruptHandle};
use rat_core::{Error, ErrorKind, Result};

/// Resource limits of a run's database.
#[derive(Debug, Clone, Default)]
pub struct SessionLimits {
    /// Worker threads (DuckDB's default: all cores).
    pub threads: Option<usize>,
    /// DuckDB `memory_limit`, e.g. `"2GB"`.
    pub memory_limit: Option<String>,
    /// Where DuckDB spills when over the memory limit.
    pub temp_directory: Option<String>,
}

/// An in-memory DuckDB database owned by one run.
///
/// Calls run on tokio's blocking pool one at a time. [`DuckSession::interrupt`]
/// stops the query in flight; [`DuckSession::run_with_timeout`] interrupts its
/// own query only, never a later one.
#[derive(Clone)]
pub struct DuckSession {
    conn: Arc<Mutex<Connection>>,
    interrupt: Arc<InterruptHandle>,
    /// Incremented when a query starts; a timeout interrupts only the query
    /// whose number it captured.
    query_seq: Arc<AtomicU64>,
}

impl std::fmt::Debug for DuckSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DuckSession").finish_non_exhaustive()
    }
}

impl DuckSession {
    /// Opens a fresh in-memory database with `limits`, UTC time zone and
    /// no extension auto-loading from the network.
    pub fn open(limits: &SessionLimits) -> Result<Self> {
        let mut config = Config::default()
            .with("autoinstall_known_extensions", "false")
            .and_then(|c| c.with("autoload_known_extensions", "false"))
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
        if let Some(dir) = &limits.temp_directory {
            config = config
                .with("temp_directory", dir)
                .map_err(|e| duck_error("invalid temp_directory", e))?;
        }
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
            query_seq: Arc::new(AtomicU64::new(0)),
        })
    }

    /// Runs `f` with the connection on the blocking pool.
    pub async fn run<T, F>(&self, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T> + Send + 'static,
    {
        let conn = Arc::clone(&self.conn);
        let seq = Arc::clone(&self.query_seq);
        tokio::task::spawn_blocking(move || {
            let guard = conn
                .lock()
                .map_err(|_| Error::internal("DuckDB connection poisoned by an earlier panic"))?;
            seq.fetch_add(1, Ordering::SeqCst);
            f(&guard)
        })
        .await
        .map_err(|e| Error::internal(format!("DuckDB task failed: {e}")))?
    }

    /// Like [`run`](Self::run), but interrupts the query after `timeout`
    /// and reports [`ErrorKind::Timeout`].
    pub async fn run_with_timeout<T, F>(&self, timeout: Duration, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T> + Send + 'static,
    {
        let started = Arc::new(AtomicU64::new(u64::MAX));
        let started_in = Arc::clone(&started);
        let seq = Arc::clone(&self.query_seq);
        let wrapped = move |conn: &Connection| {
            started_in.store(seq.load(Ordering::SeqCst), Ordering::SeqCst);
            f(conn)
        };
        let watchdog = {
            let interrupt = Arc::clone(&self.interrupt);
            let seq = Arc::clone(&self.query_seq);
            let started = Arc::clone(&started);
            tokio::spawn(async move {
                tokio::time::sleep(timeout).await;
                // Only interrupt if our query is still the one running.
                if started.load(Ordering::SeqCst) == seq.load(Ordering::SeqCst) {
                    interrupt.interrupt();
                    true
                } else {
                    false
                }
            })
        };
        let result = self.run(wrapped).await;
        let fired = if watchdog.is_finished() {
            watchdog.await.unwrap_or(false)
        } else {
            watchdog.abort();
            false
        };
        match result {
            Err(e) if fired && e.kind() == ErrorKind::Query => Err(Error::new(
                ErrorKind::Timeout,
                format!("query exceeded its {}s time limit", timeout.as_secs_f64()),
            )),
            other => other,
        }
    }

    /// Interrupts the query in flight, if any.
    pub fn interrupt(&self) {
        self.interrupt.interrupt();
    }
}

/// Wraps a DuckDB error.
pub fn duck_error(message: &str, err: duckdb::Error) -> Error {
    Error::new(
        ErrorKind::Query,
        format!("{message}: {}", clean_message(&err)),
    )
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
