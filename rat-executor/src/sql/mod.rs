//! Run records, logs and schedules in SQL. One migration, one set of
//! statements and row mappings ([`sql_store!`]) serve both backends:
//! SQLite for a project on one machine, PostgreSQL for servers that share
//! state. They differ only in how placeholders are written and how one
//! scheduler is elected.

mod audit;
mod batches;
mod common;
#[cfg(test)]
mod grant_tests;
mod grants;
mod notify;
#[cfg(feature = "postgres")]
mod postgres;
mod schedules;
mod sqlite;
#[cfg(test)]
mod tests;
mod versions;

#[cfg(feature = "postgres")]
pub use postgres::PostgresRunStore;
pub use sqlite::SqliteRunStore;

/// Default number of log lines kept per run.
pub const DEFAULT_STORED_LOG_LINES: u64 = 10_000;

/// The schema, embedded; applied (and recorded) when a store opens.
pub(crate) static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

/// Implements [`RunStore`](rat_core::RunStore) and
/// [`ScheduleStore`](rat_core::ScheduleStore) for `$store`, a struct with
/// `pool: sqlx::Pool<$db>` and `max_log_lines: u64`, which also provides
/// `fn statement(&'static str) -> Cow<str>` (placeholders in the
/// backend's style) and `async fn take_lead(&self, &str, Duration)` and
/// `async fn give_up_lead(&self, &str)`.
macro_rules! sql_store {
    ($store:ident, $db:ty, $row:ty) => {
        use std::time::Duration;

        use async_trait::async_trait;
        use rat_core::{
            Error, ErrorKind, Firing, LogRecord, Result, RunError, RunFilter, RunId, RunRecord,
            RunStore, Schedule, ScheduleStore, TableRef, Transition,
        };
        use sqlx::{QueryBuilder, Row};

        use $crate::sql::common::{
            NOT_TERMINAL, corrupt, db_error, from_json, json, level_name, opt_text, parse_time,
            time,
        };

        impl $store {
            /// Keeps at most `lines` log lines per run.
            pub fn with_max_log_lines(mut self, lines: u64) -> Self {
                self.max_log_lines = lines.max(1);
                self
            }

            /// Creates or updates the tables (the embedded migrations).
            async fn migrate(pool: &sqlx::Pool<$db>) -> Result<()> {
                $crate::sql::MIGRATOR
                    .run(pool)
                    .await
                    .map_err(|e| db_error("cannot create the run store tables", e))
            }

            /// Runs an UPDATE guarded by "not terminal"; no row means the
            /// run is unknown (NotFound) or already ended (Conflict).
            async fn guarded<'a>(
                &self,
                run: &'a RunId,
                mut query: QueryBuilder<'a, $db>,
            ) -> Result<()> {
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

        fn record(row: &$row) -> Result<RunRecord> {
            let opt_time = |name: &str| {
                row.get::<Option<String>, _>(name)
                    .map(parse_time)
                    .transpose()
            };
            let status: String = row.get("status");
            Ok(RunRecord {
                run_id: row.get::<String, _>("run_id").parse()?,
                table: row.get::<String, _>("table_ref").parse::<TableRef>()?,
                status: status.parse()?,
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
                started_by: row.get("started_by"),
            })
        }


        $crate::sql::schedules::schedule_store!($store, $row);

        #[async_trait]
        impl RunStore for $store {
            async fn insert(&self, r: &RunRecord) -> Result<()> {
                let statement = Self::statement(
                    "INSERT INTO runs (run_id, table_ref, status, phase, submitted_at, started_at, \
                     finished_at, executor, owner, handle, cancel_requested, error, result, \
                     started_by) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                );
                sqlx::query(&statement)
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
                    .bind(i64::from(r.cancel_requested))
                    .bind(r.error.as_ref().map(json).transpose()?)
                    .bind(r.result.as_ref().map(json).transpose()?)
                    .bind(&r.started_by)
                    .execute(&self.pool)
                    .await
                    .map_err(|e| db_error("cannot record the run", e))?;
                Ok(())
            }

            async fn transition(&self, run: &RunId, transition: Transition) -> Result<()> {
                let mut q = QueryBuilder::<$db>::new("UPDATE runs SET ");
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
                self.guarded(run, QueryBuilder::new("UPDATE runs SET cancel_requested = 1"))
                    .await
            }

            async fn forget(&self, run: &RunId) -> Result<()> {
                let statement =
                    Self::statement("DELETE FROM runs WHERE run_id = ? AND status = 'pending'");
                sqlx::query(&statement)
                    .bind(run.as_str())
                    .execute(&self.pool)
                    .await
                    .map_err(|e| db_error("cannot delete the run", e))?;
                Ok(())
            }

            async fn get(&self, run: &RunId) -> Result<RunRecord> {
                let statement = Self::statement("SELECT * FROM runs WHERE run_id = ?");
                let row = sqlx::query(&statement)
                    .bind(run.as_str())
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(|e| db_error("cannot read the run", e))?
                    .ok_or_else(|| rat_core::store::run_not_found(run))?;
                record(&row)
            }

            async fn list(&self, filter: &RunFilter) -> Result<Vec<RunRecord>> {
                let mut q = QueryBuilder::<$db>::new("SELECT * FROM runs WHERE 1 = 1");
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
                // Run ids are time-ordered (UUIDv7): a time range is an
                // id range, and newest first is the id's order.
                if let Some(since) = filter.since {
                    q.push(" AND run_id >= ");
                    q.push_bind(RunId::first_at(since).to_string());
                }
                if let Some(until) = filter.until {
                    q.push(" AND run_id < ");
                    q.push_bind(RunId::first_at(until).to_string());
                }
                q.push(" ORDER BY run_id DESC LIMIT ");
                q.push_bind(i64::from(filter.limit.unwrap_or(rat_core::store::DEFAULT_RUN_LIST)));
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
                let statement = format!("SELECT * FROM runs WHERE {NOT_TERMINAL} ORDER BY run_id");
                let rows = sqlx::query(&statement)
                    .fetch_all(&self.pool)
                    .await
                    .map_err(|e| db_error("cannot list runs", e))?;
                rows.iter().map(record).collect()
            }

            async fn finished_after(
                &self,
                after: Option<(chrono::DateTime<chrono::Utc>, &str)>,
                limit: u32,
            ) -> Result<Vec<RunRecord>> {
                // Times are fixed-width RFC 3339 text: they order as text.
                let (at, id) = match after {
                    Some((at, id)) => (time(at), id.to_owned()),
                    None => (String::new(), String::new()),
                };
                let statement = Self::statement(
                    "SELECT * FROM runs WHERE finished_at IS NOT NULL \
                     AND (finished_at > ? OR (finished_at = ? AND run_id > ?)) \
                     ORDER BY finished_at, run_id LIMIT ?",
                );
                let rows = sqlx::query(&statement)
                    .bind(&at)
                    .bind(&at)
                    .bind(&id)
                    .bind(i64::from(limit))
                    .fetch_all(&self.pool)
                    .await
                    .map_err(|e| db_error("cannot list finished runs", e))?;
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
                    let mut q = QueryBuilder::<$db>::new(
                        "INSERT INTO run_logs (run_id, seq, at, level, message) ",
                    );
                    q.push_values(chunk, |mut row, r| {
                        row.push_bind(run.as_str())
                            .push_bind(r.seq as i64)
                            .push_bind(time(r.at))
                            .push_bind(level_name(r.level))
                            .push_bind(&r.message);
                    });
                    q.push(" ON CONFLICT (run_id, seq) DO NOTHING");
                    q.build()
                        .execute(&mut *tx)
                        .await
                        .map_err(|e| db_error("cannot store logs", e))?;
                }
                let newest = records.iter().map(|r| r.seq).max().unwrap_or(0);
                let statement = Self::statement("DELETE FROM run_logs WHERE run_id = ? AND seq < ?");
                sqlx::query(&statement)
                    .bind(run.as_str())
                    .bind(newest.saturating_sub(self.max_log_lines - 1) as i64)
                    .execute(&mut *tx)
                    .await
                    .map_err(|e| db_error("cannot trim logs", e))?;
                tx.commit()
                    .await
                    .map_err(|e| db_error("cannot store logs", e))
            }

            async fn prune(
                &self,
                retention: &rat_core::RunRetention,
                now: chrono::DateTime<chrono::Utc>,
            ) -> Result<Vec<RunId>> {
                let beyond = Self::statement(
                    "SELECT run_id FROM (SELECT run_id, status, ROW_NUMBER() OVER \
                     (PARTITION BY table_ref ORDER BY submitted_at DESC, run_id DESC) AS newest \
                     FROM runs) ranked \
                     WHERE newest > ? AND status IN ('success', 'failed', 'cancelled')",
                );
                let keep = i64::try_from(retention.keep_runs).unwrap_or(i64::MAX);
                let rows = sqlx::query(&beyond)
                    .bind(keep)
                    .fetch_all(&self.pool)
                    .await
                    .map_err(|e| db_error("cannot list old runs", e))?;
                let mut deleted = Vec::with_capacity(rows.len());
                for row in rows {
                    let id: String = row.try_get("run_id").map_err(|e| corrupt("run_id", e))?;
                    let run: RunId = id.parse()?;
                    for statement in [
                        "DELETE FROM run_logs WHERE run_id = ?",
                        "DELETE FROM runs WHERE run_id = ?",
                    ] {
                        sqlx::query(&Self::statement(statement))
                            .bind(run.as_str())
                            .execute(&self.pool)
                            .await
                            .map_err(|e| db_error("cannot delete an old run", e))?;
                    }
                    deleted.push(run);
                }
                let age = chrono::Duration::from_std(retention.log_retention)
                    .unwrap_or(chrono::Duration::MAX);
                if let Some(cutoff) = now.checked_sub_signed(age) {
                    let old_logs = Self::statement(
                        "DELETE FROM run_logs WHERE run_id IN (SELECT run_id FROM runs \
                         WHERE status IN ('success', 'failed', 'cancelled') AND finished_at < ?)",
                    );
                    sqlx::query(&old_logs)
                        .bind(time(cutoff))
                        .execute(&self.pool)
                        .await
                        .map_err(|e| db_error("cannot delete old logs", e))?;
                }
                Ok(deleted)
            }

            async fn logs(&self, run: &RunId, from_seq: u64, limit: u32) -> Result<Vec<LogRecord>> {
                let statement = Self::statement(
                    "SELECT seq, at, level, message FROM run_logs \
                     WHERE run_id = ? AND seq >= ? ORDER BY seq LIMIT ?",
                );
                let rows = sqlx::query(&statement)
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
                            level: serde_json::from_value(serde_json::Value::String(
                                row.get("level"),
                            ))
                            .map_err(|e| corrupt("level", e))?,
                            message: row.get("message"),
                        })
                    })
                    .collect()
            }
        }

    };
}

pub(crate) use sql_store;
