//! DuckDB reading `s3://` files: the httpfs extension, loaded from a file
//! (DuckDB cannot download extensions offline), and one scoped secret per
//! location, replaced before its credentials expire.

use std::path::PathBuf;

use chrono::{DateTime, Utc};
use rat_core::{Error, ErrorKind, Result, S3Access};
use secrecy::ExposeSecret;

use super::sql::quote_literal;
use crate::s3::refresh_time;

/// The folder holding `httpfs.duckdb_extension` (DuckDB 1.5.5 builds; the
/// PyPI wheel `duckdb-extension-httpfs==1.5.5` ships one).
pub const EXTENSION_DIR_ENV: &str = "RAT_DUCKDB_EXTENSION_DIR";

/// A location DuckDB may read, with the access it uses.
#[derive(Debug, Clone)]
pub(super) struct Grant {
    pub(super) scope: String,
    pub(super) secret_name: String,
    pub(super) access: S3Access,
    /// When the secret's credentials should be replaced.
    pub(super) renew_at: Option<DateTime<Utc>>,
}

/// Statements giving another DuckDB a session's S3 access. They hold
/// credentials, so `Debug` shows only when they are due for renewal.
#[derive(Clone)]
pub(crate) struct AccessStatements {
    /// httpfs and one `CREATE OR REPLACE SECRET` per granted scope.
    pub(crate) sql: String,
    /// When the first of their credentials should be replaced.
    pub(crate) renew_at: Option<DateTime<Utc>>,
}

impl std::fmt::Debug for AccessStatements {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AccessStatements")
            .field("sql", &"<redacted>")
            .field("renew_at", &self.renew_at)
            .finish()
    }
}

/// The statement loading httpfs: from [`EXTENSION_DIR_ENV`] when set, else
/// from DuckDB's own extension folder (after `INSTALL httpfs`).
pub(super) fn load_httpfs_sql() -> String {
    match std::env::var_os(EXTENSION_DIR_ENV) {
        Some(dir) => {
            let file = PathBuf::from(dir).join("httpfs.duckdb_extension");
            format!("LOAD {}", quote_literal(&file.to_string_lossy()))
        }
        None => "LOAD httpfs".to_owned(),
    }
}

/// Loads httpfs into a fresh in-memory DuckDB, as a run reading `s3://`
/// would: the DuckDB version, or why it did not load. An image's health
/// check (`rat-runner --check`).
pub fn check_httpfs() -> Result<String> {
    let conn = duckdb::Connection::open_in_memory()
        .map_err(|e| super::duck_error("cannot open DuckDB", e))?;
    conn.execute_batch(&load_httpfs_sql())
        .map_err(httpfs_missing)?;
    conn.query_row("SELECT version()", [], |row| row.get::<_, String>(0))
        .map_err(|e| super::duck_error("cannot read DuckDB's version", e))
}

/// Explains a failed httpfs load.
pub(super) fn httpfs_missing(err: duckdb::Error) -> Error {
    Error::new(
        ErrorKind::Unsupported,
        format!(
            "reading s3:// files needs DuckDB's httpfs extension 1.5.5, which did not load ({}); \
             set {EXTENSION_DIR_ENV} to a folder holding httpfs.duckdb_extension \
             (pip install duckdb-extension-httpfs==1.5.5 ships one)",
            err.to_string().lines().next().unwrap_or_default()
        ),
    )
}

impl Grant {
    /// Whether `access` is the one this grant already gives (same endpoint,
    /// addressing and credential provider), so granting it again is a no-op.
    pub(super) fn same_access(&self, access: &S3Access) -> bool {
        let a = &self.access;
        let same_provider = match (&a.credentials, &access.credentials) {
            (Some(x), Some(y)) => std::sync::Arc::ptr_eq(x, y),
            (None, None) => true,
            _ => false,
        };
        same_provider
            && a.endpoint == access.endpoint
            && a.region == access.region
            && a.path_style == access.path_style
    }

    /// A fresh `CREATE OR REPLACE SECRET` for this grant, and when to renew
    /// it. The text holds credentials: it is executed, never logged.
    pub(super) async fn secret_sql(&self) -> Result<(String, Option<DateTime<Utc>>)> {
        let a = &self.access;
        let mut parts = vec![
            "TYPE s3".to_owned(),
            format!("REGION {}", quote_literal(&a.region)),
            format!("SCOPE {}", quote_literal(&self.scope)),
            format!(
                "URL_STYLE {}",
                quote_literal(if a.path_style { "path" } else { "vhost" })
            ),
        ];
        if let Some(endpoint) = &a.endpoint {
            let (ssl, host) = match endpoint.split_once("://") {
                Some(("http", host)) => (false, host),
                Some((_, host)) => (true, host),
                None => (true, endpoint.as_str()),
            };
            parts.push(format!(
                "ENDPOINT {}",
                quote_literal(host.trim_end_matches('/'))
            ));
            parts.push(format!("USE_SSL {ssl}"));
        }
        let mut renew_at = None;
        if let Some(provider) = &a.credentials {
            let c = provider.credentials().await?;
            parts.push(format!("KEY_ID {}", quote_literal(&c.access_key_id)));
            parts.push(format!(
                "SECRET {}",
                quote_literal(c.secret_access_key.expose_secret())
            ));
            if let Some(token) = &c.session_token {
                parts.push(format!(
                    "SESSION_TOKEN {}",
                    quote_literal(token.expose_secret())
                ));
            }
            renew_at = c.expires_at.map(|e| refresh_time(Utc::now(), e));
        }
        Ok((
            format!(
                "CREATE OR REPLACE SECRET {} ({})",
                self.secret_name,
                parts.join(", ")
            ),
            renew_at,
        ))
    }
}

/// A secret error without the statement (which holds credentials).
pub(super) fn secret_error(scope: &str, err: duckdb::Error) -> Error {
    let first_line = err.to_string();
    let first_line = first_line.lines().next().unwrap_or_default();
    // DuckDB does not echo statement text in these errors, but be sure.
    let message = if first_line.contains("SECRET") && first_line.contains("KEY_ID") {
        "invalid secret".to_owned()
    } else {
        first_line.to_owned()
    };
    Error::new(
        ErrorKind::Storage,
        format!("cannot give DuckDB access to {scope}: {message}"),
    )
}
