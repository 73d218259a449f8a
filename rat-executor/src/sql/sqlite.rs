//! [`SqliteRunStore`]: run records, logs and schedules in an embedded
//! SQLite file (separate from the Iceberg catalog), safe for several
//! processes (WAL mode); one scheduler is elected by a lease row.

use std::borrow::Cow;
use std::path::{Path, PathBuf};

use sqlx::Sqlite;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteRow,
    SqliteSynchronous,
};

use super::DEFAULT_STORED_LOG_LINES;

/// Run records, logs and schedules in SQLite.
///
/// ```no_run
/// # async fn demo() -> rat_core::Result<()> {
/// let store = rat_executor::SqliteRunStore::open(".rat/runs.db").await?;
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct SqliteRunStore {
    pool: SqlitePool,
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
        // Held from the first connection on: opening a new file switches
        // it to WAL, which takes an exclusive lock, and two connections
        // both holding a shared lock while they wait for it get
        // SQLITE_BUSY at once (SQLite's deadlock avoidance skips the busy
        // handler), as eight stores opened together under load showed.
        let _lock = MigrationLock::take(path).await?;
        let pool = SqlitePoolOptions::new()
            .max_connections(4)
            .connect_with(options)
            .await
            .map_err(|e| db_error("cannot open the run store", e))?;
        Self::migrate(&pool).await?;
        Ok(Self {
            pool,
            max_log_lines: DEFAULT_STORED_LOG_LINES,
        })
    }

    /// SQLite takes `?` placeholders as written.
    fn statement(text: &'static str) -> Cow<'static, str> {
        Cow::Borrowed(text)
    }

    /// Takes the lease row if it is free, expired or already `owner`'s.
    async fn take_lead(&self, owner: &str, ttl: Duration) -> Result<bool> {
        let now = chrono::Utc::now();
        let expires = now + chrono::Duration::from_std(ttl).unwrap_or_default();
        sqlx::query(
            "INSERT INTO scheduler_lease (name, owner, expires_at) VALUES ('scheduler', ?, ?) \
             ON CONFLICT (name) DO UPDATE SET owner = excluded.owner, expires_at = excluded.expires_at \
             WHERE scheduler_lease.owner = excluded.owner OR scheduler_lease.expires_at < ?",
        )
        .bind(owner)
        .bind(time(expires))
        .bind(time(now))
        .execute(&self.pool)
        .await
        .map_err(|e| db_error("cannot take the scheduler lease", e))?;
        let holder: String =
            sqlx::query("SELECT owner FROM scheduler_lease WHERE name = 'scheduler'")
                .fetch_one(&self.pool)
                .await
                .map_err(|e| db_error("cannot read the scheduler lease", e))?
                .get("owner");
        Ok(holder == owner)
    }

    async fn give_up_lead(&self, owner: &str) -> Result<()> {
        sqlx::query("DELETE FROM scheduler_lease WHERE name = 'scheduler' AND owner = ?")
            .bind(owner)
            .execute(&self.pool)
            .await
            .map_err(|e| db_error("cannot give up the scheduler lease", e))?;
        Ok(())
    }
}

super::sql_store!(SqliteRunStore, Sqlite, SqliteRow);
super::batches::batch_store!(SqliteRunStore);
super::notify::notification_store!(SqliteRunStore);
super::versions::version_store!(SqliteRunStore, sqlx::sqlite::SqliteRow);
super::audit::audit_store!(SqliteRunStore, sqlx::Sqlite, sqlx::sqlite::SqliteRow);
super::grants::grant_store!(SqliteRunStore, sqlx::sqlite::SqliteRow);

/// An exclusive lock on `<store>.lock`, held while a store opens: its first
/// connection (which may switch a new file to WAL) and its migrations.
///
/// SQLite has no advisory lock for sqlx's migrator to take (PostgreSQL
/// has), so two processes opening a new store at once would both apply
/// the first migration: the later one's transaction started before the
/// earlier committed, and it fails (`rat run` and `rat runs` started
/// together on a fresh project; a test opening the store while its child
/// did). Holding this lock makes the second find the migration applied.
struct MigrationLock(std::fs::File);

impl MigrationLock {
    async fn take(store: &Path) -> Result<Self> {
        let mut name = store.as_os_str().to_owned();
        name.push(".lock");
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&name)?;
        tokio::task::spawn_blocking(move || file.lock().map(|()| Self(file)))
            .await
            .map_err(|e| Error::internal(format!("waiting for the run store's lock: {e}")))?
            .map_err(|e| {
                Error::new(
                    ErrorKind::Internal,
                    format!("cannot lock {}: {e}", PathBuf::from(name).display()),
                )
            })
    }
}

impl Drop for MigrationLock {
    fn drop(&mut self) {
        let _ = self.0.unlock();
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    async fn open_store() -> (tempfile::TempDir, SqliteRunStore) {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteRunStore::open(dir.path().join("runs.db"))
            .await
            .unwrap();
        (dir, store.with_max_log_lines(5))
    }

    crate::sql::tests::store_tests!(open_store);
    crate::sql::grant_tests::grant_tests!();

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn stores_opened_at_once_on_a_new_file_all_open() {
        // Each open is its own pool, as in separate processes.
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("runs.db");
        let opens = (0..8).map(|_| {
            let path = path.clone();
            tokio::spawn(async move { SqliteRunStore::open(path).await })
        });
        for open in futures::future::join_all(opens).await {
            let store = open.unwrap().unwrap();
            assert!(store.unfinished().await.unwrap().is_empty());
        }
    }

    #[tokio::test]
    async fn one_owner_holds_the_lease_until_it_expires() {
        let (_dir, s) = store().await;
        // A lease the test never waits out, and one it does: no assertion
        // depends on how fast the statements between them run.
        let held = Duration::from_secs(600);
        let short = Duration::from_millis(50);
        assert!(s.lead("a", held).await.unwrap());
        assert!(!s.lead("b", held).await.unwrap());
        assert!(s.lead("a", short).await.unwrap(), "renewed by its holder");
        tokio::time::sleep(short * 3).await;
        assert!(s.lead("b", held).await.unwrap(), "taken over once expired");
        assert!(!s.lead("a", held).await.unwrap());
        s.resign("a").await.unwrap();
        assert!(!s.lead("a", held).await.unwrap(), "only the holder resigns");
        s.resign("b").await.unwrap();
        assert!(s.lead("a", held).await.unwrap());
    }
}
