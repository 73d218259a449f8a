//! [`RunStoreConfig`]: where run records, logs, schedules and batches
//! live, as `rat.yaml` says (`server.run_store`), and the store it opens.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rat_core::config::SecretRef;
use rat_core::{BatchStore, NotificationStore, Result, RunStore, ScheduleStore, VersionStore};
use serde::{Deserialize, Serialize};

use crate::SqliteRunStore;

/// Where run records, logs, schedules and batches live.
///
/// ```
/// use rat_executor::RunStoreConfig;
///
/// let config: RunStoreConfig =
///     serde_yaml_ng::from_str("{type: postgres, url: {env: RAT_DATABASE_URL}}").unwrap();
/// assert_eq!(config.kind(), "postgres");
/// // A URL may hold a password: it is read from a variable or a file.
/// assert!(serde_yaml_ng::from_str::<RunStoreConfig>("{type: postgres, url: postgres://u:pw@h/db}").is_err());
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase", deny_unknown_fields)]
pub enum RunStoreConfig {
    /// A SQLite file: one machine.
    Sqlite {
        /// The file.
        path: PathBuf,
    },
    /// PostgreSQL (feature `postgres`): several server instances share
    /// records and schedules, one of them fires schedules (advisory lock).
    Postgres {
        /// `postgres://user:password@host/database`, read from a variable
        /// or file since it may hold a password.
        url: SecretRef,
    },
}

/// An opened store, as each of the traits it implements.
#[derive(Debug, Clone)]
pub struct Stores {
    /// Run records and logs.
    pub runs: Arc<dyn RunStore>,
    /// Schedules and the scheduler lease.
    pub schedules: Arc<dyn ScheduleStore>,
    /// Batches.
    pub batches: Arc<dyn BatchStore>,
    /// Versions of pipelines' code.
    pub versions: Arc<dyn VersionStore>,
    /// Notification hooks and their deliveries.
    pub notifications: Arc<dyn NotificationStore>,
    /// Owners, namespace members and grants.
    pub grants: Arc<dyn rat_core::authz::GrantStore>,
    /// The audit log.
    pub audit: Arc<dyn rat_core::audit::AuditStore>,
}

impl Stores {
    /// One store as all of them.
    pub fn of<S>(store: S) -> Self
    where
        S: RunStore
            + ScheduleStore
            + BatchStore
            + VersionStore
            + NotificationStore
            + rat_core::authz::GrantStore
            + rat_core::audit::AuditStore
            + 'static,
    {
        let store = Arc::new(store);
        Self {
            runs: store.clone(),
            schedules: store.clone(),
            batches: store.clone(),
            versions: store.clone(),
            notifications: store.clone(),
            grants: store.clone(),
            audit: store,
        }
    }
}

impl RunStoreConfig {
    /// The SQLite file under a project's `.rat/` folder.
    pub fn embedded(project: &Path) -> Self {
        RunStoreConfig::Sqlite {
            path: project.join(".rat").join("runs.db"),
        }
    }

    /// The name a server reports (`sqlite`, `postgres`).
    pub fn kind(&self) -> &'static str {
        match self {
            RunStoreConfig::Sqlite { .. } => "sqlite",
            RunStoreConfig::Postgres { .. } => "postgres",
        }
    }

    /// The same with relative paths taken from `base` (the config file's
    /// folder).
    pub fn relative_to(self, base: &Path) -> Self {
        match self {
            RunStoreConfig::Sqlite { path } => RunStoreConfig::Sqlite {
                path: base.join(path),
            },
            RunStoreConfig::Postgres { url } => RunStoreConfig::Postgres {
                url: url.relative_to(base),
            },
        }
    }

    /// Opens the store (applying its migrations).
    pub async fn open(&self) -> Result<Stores> {
        match self {
            RunStoreConfig::Sqlite { path } => Ok(Stores::of(SqliteRunStore::open(path).await?)),
            #[cfg(feature = "postgres")]
            RunStoreConfig::Postgres { url } => {
                use secrecy::ExposeSecret;
                let url = url.resolve()?;
                Ok(Stores::of(
                    crate::PostgresRunStore::connect(url.expose_secret()).await?,
                ))
            }
            #[cfg(not(feature = "postgres"))]
            RunStoreConfig::Postgres { .. } => Err(rat_core::Error::new(
                rat_core::ErrorKind::Unsupported,
                "this build has no PostgreSQL run store (rat-executor feature 'postgres')",
            )
            .with_context("field", "run_store")),
        }
    }
}
