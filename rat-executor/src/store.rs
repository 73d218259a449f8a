//! [`SqliteRunStore`]: run records and logs in an embedded SQLite file
//! (separate from the Iceberg catalog).

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use rat_core::{
    Error, ErrorKind, LogRecord, Result, RunError, RunFilter, RunId, RunRecord, RunStore, TableRef,
    Transition,
};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteRow,
    SqliteSynchronous,
};
use sqlx::{QueryBuilder, Row, Sqlite};

/// Default number of log lines kept per run.
pub const DEFAULT_STORED_LOG_LINES: u64 = 10_000;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS runs (
    run_id TEXT PRIMARY KEY,
    table_ref TEXT NOT NULL,
    status TEXT NOT NULL,
    phase TEXT,
    submitted_at TEXT NOT NULL,
    started_at TEXT,
    finished_at TEXT,
    executor TEXT NOT NULL,
    owner TEXT,
    handle TEXT,
    cancel_requested INTEGER NOT NULL DEFAULT 0,
    error TEXT,
    result TEXT
);
CREATE INDEX IF NOT EXISTS runs_by_status ON runs (status);
CREATE INDEX IF NOT EXISTS runs_by_table ON runs (table_ref, run_id);
CREATE TABLE IF NOT EXISTS schedules (
    id TEXT PRIMARY KEY,
    pipeline TEXT NOT NULL,
    trigger TEXT NOT NULL,
    enabled INTEGER NOT NULL,
    next_fire_at TEXT,
    last_fired_at TEXT,
    last_run_id TEXT,
    last_upstream_run TEXT,
    created_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS scheduler_lease (
    name TEXT PRIMARY KEY,
    owner TEXT NOT NULL,
    expires_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS run_logs (
    run_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    at TEXT NOT NULL,
    level TEXT NOT NULL,
    message TEXT NOT NULL,
    PRIMARY KEY (run_id, seq)
);
";

const NOT_TERMINAL: &str = "status IN ('pending', 'running')";

/// Run records in SQLite (WAL mode, safe for several processes).
///
/// ```no_run
/// # async fn demo() -> rat_core::Result<()> {
/// let store = rat_executor::SqliteRunStore::open(".rat/runs.db").await?;
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct SqliteRunStore {
    pub(crate) pool: SqlitePool,
    max_log_lines: u64,
}

impl SqliteRunStore {
    /// Opens (creating if needed) the store at `path`.
    pub async fn open(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent)?;
        }
        let options = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(Duration::from_secs(30));
        let pool = SqlitePoolOptions::new()
            .max_connections(4)
            .connect_with(options)
            .await
            .map_err(|e| db_error("cannot open the run store", e))?;
        sqlx::raw_sql(SCHEMA)
            .execute(&pool)
            .await
            .map_err(|e| db_error("cannot create the run store tables", e))?;
        Ok(Self {
            pool,
            max_log_lines: DEFAULT_STORED_LOG_LINES,
        })
    }

    /// Keeps at most `lines` log lines per run.
    pub fn with_max_log_lines(mut self, lines: u64) -> Self {
        self.max_log_lines = lines.max(1);
        self
    }

    /// Runs an UPDATE guarded by "not terminal"; no row means the run is
    /// unknown (NotFound) or already ended (Conflict).
    async fn guarded<'a>(&self, run: &'a RunId, mut query: QueryBuilder<'a, Sqlite>) -> Result<()> {
        query.push(" WHERE run_id = ");
        query.push_bind(run.as_str());
        query.push(" AND ");
        query.push(NOT_TERMINAL);
        let updated = query
            .build()
            .execute(&self.pool)
            .await
            .map_err(|e| db_error("cannot update the run", e))?
            .rows_affected();
        if updated == 1 {
            return Ok(());
        }
        let record = self.get(run).await?;
        Err(Error::new(
            ErrorKind::Conflict,
            format!("run {run} already ended ({})", record.status),
        )
        .with_retryable(false))
    }
}

#[async_trait]
impl RunStore for SqliteRunStore {
    async fn insert(&self, r: &RunRecord) -> Result<()> {
        sqlx::query(
            "INSERT INTO runs (run_id, table_ref, status, phase, submitted_at, started_at, finished_at, \
             executor, owner, handle, cancel_requested, error, result) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(r.run_id.as_str())
        .bind(r.table.to_string())
        .bind(r.status.as_str())
        .bind(r.phase.map(|p| p.to_string()))
        .bind(time(r.submitted_at))
        .bind(r.started_at.map(time))
        .bind(r.finished_at.map(time))
        .bind(&r.executor)
        .bind(&r.owner)
        .bind(&r.handle)
        .bind(r.cancel_requested)
        .bind(r.error.as_ref().map(json).transpose()?)
        .bind(r.result.as_ref().map(json).transpose()?)
        .execute(&self.pool)
        .await
        .map_err(|e| db_error("cannot record the run", e))?;
        Ok(())
    }

    async fn transition(&self, run: &RunId, transition: Transition) -> Result<()> {
        let mut q = QueryBuilder::<Sqlite>::new("UPDATE runs SET ");
        match transition {
            Transition::Started { at, owner } => {
                q.push("status = 'running', started_at = ");
                q.push_bind(time(at));
                q.push(", owner = ");
                q.push_bind(owner);
            }
            Transition::Phase(phase) => {
                q.push("phase = ");
                q.push_bind(phase.to_string());
            }
            Transition::Handle(handle) => {
                q.push("handle = ");
                q.push_bind(handle);
            }
            Transition::Adopted { owner } => {
                q.push("owner = ");
                q.push_bind(owner);
            }
            Transition::Finished(result) => {
                q.push("status = ");
                q.push_bind(result.status.as_str());
                q.push(", phase = ");
                q.push_bind(result.phase.to_string());
                q.push(", started_at = COALESCE(started_at, ");
                q.push_bind(time(result.started_at));
                q.push("), finished_at = ");
                q.push_bind(time(result.finished_at));
                q.push(", error = ");
                q.push_bind(result.error.as_ref().map(json).transpose()?);
                q.push(", result = ");
                q.push_bind(json(&*result)?);
            }
            Transition::Aborted { status, error, at } => {
                if !status.is_terminal() {
                    return Err(Error::internal(
                        "an aborted run must end failed or cancelled",
                    ));
                }
                q.push("status = ");
                q.push_bind(status.as_str());
                q.push(", finished_at = ");
                q.push_bind(time(at));
                q.push(", error = ");
                q.push_bind(json(&error)?);
            }
        }
        self.guarded(run, q).await
    }

    async fn request_cancel(&self, run: &RunId) -> Result<()> {
        self.guarded(
            run,
            QueryBuilder::new("UPDATE runs SET cancel_requested = 1"),
        )
        .await
    }

    async fn forget(&self, run: &RunId) -> Result<()> {
        sqlx::query("DELETE FROM runs WHERE run_id = ? AND status = 'pending'")
            .bind(run.as_str())
            .execute(&self.pool)
            .await
            .map_err(|e| db_error("cannot delete the run", e))?;
        Ok(())
    }

    async fn get(&self, run: &RunId) -> Result<RunRecord> {
        let row = sqlx::query("SELECT * FROM runs WHERE run_id = ?")
            .bind(run.as_str())
            .fetch_optional(&self.pool)
            .await
            .map_err(|e| db_error("cannot read the run", e))?
            .ok_or_else(|| Error::not_found(format!("no run {run}")))?;
        record(&row)
    }

    async fn list(&self, filter: &RunFilter) -> Result<Vec<RunRecord>> {
        let mut q = QueryBuilder::<Sqlite>::new("SELECT * FROM runs WHERE 1 = 1");
        if let Some(table) = &filter.table {
            q.push(" AND table_ref = ");
            q.push_bind(table.to_string());
        }
        if let Some(pattern) = filter.table_pattern() {
            q.push(" AND table_ref LIKE ");
            q.push_bind(pattern);
            q.push(" ESCAPE '\\'");
        }
        if !filter.statuses.is_empty() {
            q.push(" AND status IN (");
            let mut list = q.separated(", ");
            for s in &filter.statuses {
                list.push_bind(s.as_str());
            }
            q.push(")");
        }
        // Run ids are time-ordered (UUIDv7): newest first.
        q.push(" ORDER BY run_id DESC LIMIT ");
        q.push_bind(i64::from(filter.limit.unwrap_or(100)));
        q.push(" OFFSET ");
        q.push_bind(i64::from(filter.offset));
        let rows = q
            .build()
            .fetch_all(&self.pool)
            .await
            .map_err(|e| db_error("cannot list runs", e))?;
        rows.iter().map(record).collect()
    }

    async fn unfinished(&self) -> Result<Vec<RunRecord>> {
        let rows = sqlx::query(&format!(
            "SELECT * FROM runs WHERE {NOT_TERMINAL} ORDER BY run_id"
        ))
        .fetch_all(&self.pool)
        .await
        .map_err(|e| db_error("cannot list runs", e))?;
        rows.iter().map(record).collect()
    }

    async fn append_logs(&self, run: &RunId, records: &[LogRecord]) -> Result<()> {
        if records.is_empty() {
            return Ok(());
        }
        let mut tx = self
            .pool
            .begin()
            .await
            .map_err(|e| db_error("cannot store logs", e))?;
        for chunk in records.chunks(200) {
            let mut q = QueryBuilder::<Sqlite>::new(
                "INSERT OR IGNORE INTO run_logs (run_id, seq, at, level, message) ",
            );
            q.push_values(chunk, |mut row, r| {
                row.push_bind(run.as_str())
                    .push_bind(r.seq as i64)
                    .push_bind(time(r.at))
                    .push_bind(level_name(r.level))
                    .push_bind(&r.message);
            });
            q.build()
                .execute(&mut *tx)
                .await
                .map_err(|e| db_error("cannot store logs", e))?;
        }
        let newest = records.iter().map(|r| r.seq).max().unwrap_or(0);
        sqlx::query("DELETE FROM run_logs WHERE run_id = ? AND seq < ?")
            .bind(run.as_str())
            .bind(newest.saturating_sub(self.max_log_lines - 1) as i64)
            .execute(&mut *tx)
            .await
            .map_err(|e| db_error("cannot trim logs", e))?;
        tx.commit()
            .await
            .map_err(|e| db_error("cannot store logs", e))
    }

    async fn logs(&self, run: &RunId, from_seq: u64, limit: u32) -> Result<Vec<LogRecord>> {
        let rows = sqlx::query(
            "SELECT seq, at, level, message FROM run_logs WHERE run_id = ? AND seq >= ? ORDER BY seq LIMIT ?",
        )
        .bind(run.as_str())
        .bind(from_seq as i64)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await
        .map_err(|e| db_error("cannot read logs", e))?;
        rows.iter()
            .map(|row| {
                Ok(LogRecord {
                    seq: row.get::<i64, _>("seq").max(0) as u64,
                    at: parse_time(row.get("at"))?,
                    level: serde_json::from_value(serde_json::Value::String(row.get("level")))
                        .map_err(|e| corrupt("level", e))?,
                    message: row.get("message"),
                })
            })
            .collect()
    }
}

fn record(row: &SqliteRow) -> Result<RunRecord> {
    let opt_time = |name: &str| -> Result<Option<DateTime<Utc>>> {
        row.get::<Option<String>, _>(name)
            .map(parse_time)
            .transpose()
    };
    let status: String = row.get("status");
    Ok(RunRecord {
        run_id: row.get::<String, _>("run_id").parse()?,
        table: TableRef::from_str(&row.get::<String, _>("table_ref"))?,
        status: serde_json::from_value(serde_json::Value::String(status))
            .map_err(|e| corrupt("status", e))?,
        phase: row
            .get::<Option<String>, _>("phase")
            .map(|p| {
                serde_json::from_value(serde_json::Value::String(p))
                    .map_err(|e| corrupt("phase", e))
            })
            .transpose()?,
        submitted_at: parse_time(row.get("submitted_at"))?,
        started_at: opt_time("started_at")?,
        finished_at: opt_time("finished_at")?,
        executor: row.get("executor"),
        owner: row.get("owner"),
        handle: row.get("handle"),
        cancel_requested: row.get::<i64, _>("cancel_requested") != 0,
        error: from_json::<RunError>(row.get("error"))?,
        result: from_json(row.get("result"))?,
    })
}

fn from_json<T: serde::de::DeserializeOwned>(text: Option<String>) -> Result<Option<T>> {
    text.map(|t| serde_json::from_str(&t).map_err(|e| corrupt("json", e)))
        .transpose()
}

pub(crate) fn json<T: serde::Serialize + ?Sized>(value: &T) -> Result<String> {
    serde_json::to_string(value).map_err(|e| Error::internal(format!("cannot encode: {e}")))
}

pub(crate) fn time(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
}

pub(crate) fn parse_time(text: String) -> Result<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(&text)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| corrupt("time", e))
}

fn level_name(level: rat_core::LogLevel) -> String {
    serde_json::to_value(level)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_else(|| "info".into())
}

pub(crate) fn corrupt(what: &str, err: impl std::fmt::Display) -> Error {
    Error::internal(format!("the run store holds an invalid {what}: {err}"))
}

pub(crate) fn db_error(message: &str, err: sqlx::Error) -> Error {
    Error::new(ErrorKind::Storage, message).with_source(err)
}

#[cfg(test)]
mod tests {
    use rat_core::{LogLevel, Phase, RunStatus};

    use super::*;

    async fn store() -> (tempfile::TempDir, SqliteRunStore) {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteRunStore::open(dir.path().join("runs.db"))
            .await
            .unwrap();
        (dir, store.with_max_log_lines(5))
    }

    #[tokio::test]
    async fn a_run_ends_once() {
        let (_dir, s) = store().await;
        let r = RunRecord::pending(RunId::generate(), "bronze.a".parse().unwrap(), "local");
        s.insert(&r).await.unwrap();
        s.transition(
            &r.run_id,
            Transition::Started {
                at: Utc::now(),
                owner: "pid:1:1".into(),
            },
        )
        .await
        .unwrap();
        s.transition(&r.run_id, Transition::Phase(Phase::Execute))
            .await
            .unwrap();
        let aborted = Transition::Aborted {
            status: RunStatus::Failed,
            error: RunError::new(ErrorKind::Internal, "boom"),
            at: Utc::now(),
        };
        s.transition(&r.run_id, aborted.clone()).await.unwrap();
        let err = s.transition(&r.run_id, aborted).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Conflict);
        assert_eq!(
            s.request_cancel(&r.run_id).await.unwrap_err().kind(),
            ErrorKind::Conflict
        );
        let got = s.get(&r.run_id).await.unwrap();
        assert_eq!(got.status, RunStatus::Failed);
        assert_eq!(got.phase, Some(Phase::Execute));
        assert_eq!(got.error.unwrap().message, "boom");
        assert!(s.unfinished().await.unwrap().is_empty());
        let missing = s.get(&RunId::generate()).await.unwrap_err();
        assert_eq!(missing.kind(), ErrorKind::NotFound);
    }

    #[tokio::test]
    async fn logs_are_bounded_and_deduplicated() {
        let (_dir, s) = store().await;
        let run = RunId::generate();
        let line = |seq| LogRecord {
            seq,
            at: Utc::now(),
            level: LogLevel::Warn,
            message: format!("line {seq}"),
        };
        s.append_logs(&run, &(0..4).map(line).collect::<Vec<_>>())
            .await
            .unwrap();
        s.append_logs(&run, &(2..8).map(line).collect::<Vec<_>>())
            .await
            .unwrap();
        let logs = s.logs(&run, 0, 100).await.unwrap();
        assert_eq!(
            logs.iter().map(|l| l.seq).collect::<Vec<_>>(),
            [3, 4, 5, 6, 7]
        );
        assert_eq!(logs[0].level, LogLevel::Warn);
        assert_eq!(s.logs(&run, 6, 1).await.unwrap()[0].seq, 6);
    }

    #[tokio::test]
    async fn lists_filter_by_namespace_and_layer() {
        let (_dir, s) = store().await;
        for table in ["a_b.bronze.x", "axb.bronze.y", "a_b.silver.z", "c.bronze.w"] {
            let r = RunRecord::pending(RunId::generate(), table.parse().unwrap(), "local");
            s.insert(&r).await.unwrap();
        }
        let tables = |filter: RunFilter| {
            let s = s.clone();
            async move {
                let mut t: Vec<String> = s
                    .list(&filter)
                    .await
                    .unwrap()
                    .into_iter()
                    .map(|r| r.table.to_string())
                    .collect();
                t.sort();
                t
            }
        };
        // `_` in a name is not a wildcard.
        let ns = RunFilter {
            namespace: Some(rat_core::ident::namespace("a_b").unwrap()),
            ..RunFilter::default()
        };
        assert_eq!(tables(ns.clone()).await, ["a_b.bronze.x", "a_b.silver.z"]);
        let layer = RunFilter {
            layer: Some(rat_core::Layer::Bronze),
            ..ns
        };
        assert_eq!(tables(layer).await, ["a_b.bronze.x"]);
    }

    #[tokio::test]
    async fn lists_filter_by_table_and_status_newest_first() {
        let (_dir, s) = store().await;
        let mut ids = Vec::new();
        for table in ["bronze.a", "bronze.b", "bronze.a"] {
            let r = RunRecord::pending(RunId::generate(), table.parse().unwrap(), "local");
            s.insert(&r).await.unwrap();
            ids.push(r.run_id);
            std::thread::sleep(Duration::from_millis(2));
        }
        let filter = RunFilter {
            table: Some("bronze.a".parse().unwrap()),
            statuses: vec![RunStatus::Pending],
            ..RunFilter::default()
        };
        let got: Vec<RunId> = s
            .list(&filter)
            .await
            .unwrap()
            .into_iter()
            .map(|r| r.run_id)
            .collect();
        assert_eq!(got, [ids[2].clone(), ids[0].clone()]);
    }
}
