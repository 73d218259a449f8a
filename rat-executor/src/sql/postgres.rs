//! [`PostgresRunStore`]: run records, logs and schedules in PostgreSQL, so
//! several server instances share them. One scheduler is elected by a
//! session advisory lock: it is held by one connection and released by
//! PostgreSQL the moment that connection (or its process) goes away.

use std::borrow::Cow;
use std::fmt;

use sqlx::postgres::{PgConnection, PgPool, PgPoolOptions, PgRow};
use sqlx::{Connection, Postgres};
use tokio::sync::Mutex;

use super::DEFAULT_STORED_LOG_LINES;

/// The advisory lock key of rat's scheduler (`rat-schd` in ASCII).
const SCHEDULER_LOCK: i64 = 0x7261_742d_7363_6864;

/// Run records, logs and schedules in PostgreSQL.
///
/// ```no_run
/// # async fn demo() -> rat_core::Result<()> {
/// let store = rat_executor::PostgresRunStore::connect("postgres://rat@db.internal/rat").await?;
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct PostgresRunStore {
    pool: PgPool,
    max_log_lines: u64,
    /// The connection holding the scheduler lock, while this instance leads.
    leader: std::sync::Arc<Mutex<Option<PgConnection>>>,
}

impl fmt::Debug for PostgresRunStore {
    // The URL may carry a password: never printed.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PostgresRunStore")
            .field("max_log_lines", &self.max_log_lines)
            .finish_non_exhaustive()
    }
}

impl PostgresRunStore {
    /// Connects to `url` (`postgres://user:password@host:port/database`)
    /// and applies the embedded migrations. Errors never repeat the URL.
    pub async fn connect(url: &str) -> Result<Self> {
        let pool = PgPoolOptions::new()
            .max_connections(10)
            .acquire_timeout(Duration::from_secs(10))
            .connect(url)
            .await
            .map_err(|e| {
                Error::new(
                    ErrorKind::Storage,
                    format!("cannot connect to PostgreSQL: {}", redact(&e)),
                )
            })?;
        Self::migrate(&pool).await?;
        Ok(Self {
            pool,
            max_log_lines: DEFAULT_STORED_LOG_LINES,
            leader: Default::default(),
        })
    }

    /// PostgreSQL numbers its placeholders: `?` becomes `$1`, `$2`...
    fn statement(text: &'static str) -> Cow<'static, str> {
        let mut out = String::with_capacity(text.len() + 16);
        let mut n = 0;
        for c in text.chars() {
            if c == '?' {
                n += 1;
                out.push('$');
                out.push_str(&n.to_string());
            } else {
                out.push(c);
            }
        }
        Cow::Owned(out)
    }

    /// Keeps or takes the advisory lock; the lease time is PostgreSQL's
    /// business (the lock lives as long as its connection).
    async fn take_lead(&self, _owner: &str, _ttl: Duration) -> Result<bool> {
        let mut leader = self.leader.lock().await;
        if let Some(conn) = leader.as_mut() {
            if sqlx::query("SELECT 1").execute(&mut *conn).await.is_ok() {
                return Ok(true);
            }
            // The connection broke, and the lock with it.
            *leader = None;
        }
        // Out of the pool for good: only closing it releases the lock.
        let mut conn = self
            .pool
            .acquire()
            .await
            .map_err(|e| db_error("cannot reach PostgreSQL for the scheduler lock", e))?
            .detach();
        let locked: bool = sqlx::query("SELECT pg_try_advisory_lock($1)")
            .bind(SCHEDULER_LOCK)
            .fetch_one(&mut conn)
            .await
            .map_err(|e| db_error("cannot take the scheduler lock", e))?
            .get(0);
        if locked {
            *leader = Some(conn);
        } else {
            let _ = conn.close().await;
        }
        Ok(locked)
    }

    /// Closing the locked connection releases the lock.
    async fn give_up_lead(&self, _owner: &str) -> Result<()> {
        if let Some(conn) = self.leader.lock().await.take() {
            let _ = conn.close().await;
        }
        Ok(())
    }
}

/// A connection error without the URL (which may hold a password).
fn redact(e: &sqlx::Error) -> String {
    match e {
        sqlx::Error::Configuration(_) => "invalid connection URL".into(),
        other => other.to_string(),
    }
}

super::sql_store!(PostgresRunStore, Postgres, PgRow);
super::batches::batch_store!(PostgresRunStore);
super::notify::notification_store!(PostgresRunStore);
super::versions::version_store!(PostgresRunStore, PgRow);
super::audit::audit_store!(PostgresRunStore, sqlx::Postgres, PgRow);
super::grants::grant_store!(PostgresRunStore, PgRow);

#[cfg(test)]
#[path = "../../tests/common/postgres.rs"]
mod test_database;

#[cfg(test)]
pub(crate) mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    /// A fresh database on the test server; its URL.
    pub(crate) async fn fresh_database() -> String {
        super::test_database::fresh_database("rat_test").await
    }

    async fn open_store() -> ((), PostgresRunStore) {
        let url = fresh_database().await;
        (
            (),
            PostgresRunStore::connect(&url)
                .await
                .unwrap()
                .with_max_log_lines(5),
        )
    }

    crate::sql::tests::store_tests!(open_store);
    crate::sql::grant_tests::grant_tests!();

    #[tokio::test]
    async fn one_instance_holds_the_lock_until_its_connection_goes() {
        let url = fresh_database().await;
        let a = PostgresRunStore::connect(&url).await.unwrap();
        let b = PostgresRunStore::connect(&url).await.unwrap();
        let ttl = Duration::from_secs(1);
        assert!(a.lead("a", ttl).await.unwrap());
        assert!(!b.lead("b", ttl).await.unwrap());
        assert!(a.lead("a", ttl).await.unwrap(), "kept by its holder");
        a.resign("a").await.unwrap();
        assert!(b.lead("b", ttl).await.unwrap(), "taken over once released");
        assert!(!a.lead("a", ttl).await.unwrap());
    }

    #[tokio::test]
    async fn a_bad_url_is_refused_without_repeating_it() {
        let err = PostgresRunStore::connect("postgres://rat:hunter2@127.0.0.1:1/rat")
            .await
            .unwrap_err()
            .to_string();
        assert!(err.contains("cannot connect"), "{err}");
        assert!(!err.contains("hunter2"), "{err}");
    }
}
