//! [`VersionStore`](rat_core::VersionStore) for both SQL backends
//! ([`version_store!`]): versions numbered per pipeline by
//! `MAX(version) + 1` inside the INSERT, the primary key refusing a number
//! two racing saves both took (the loser numbers again).

/// How often a save numbers its version. Each lost race means another
/// save of the same pipeline took the number, so a save loses at most as
/// often as saves run beside it — fewer than the pool's connections.
pub(crate) const NUMBERING_ATTEMPTS: usize = 64;

/// Implements [`VersionStore`](rat_core::VersionStore) for `$store` (the
/// struct of [`sql_store!`](super::sql_store), whose `statement` writes
/// placeholders in the backend's style), rows of `$row`.
macro_rules! version_store {
    ($store:ident, $row:ty) => {
        impl $store {
            /// The one version `query` (binding the table) selects.
            async fn newest_of(
                &self,
                table: &rat_core::TableRef,
                query: &'static str,
            ) -> rat_core::Result<Option<rat_core::PipelineVersion>> {
                sqlx::query(&Self::statement(query))
                    .bind(table.to_string())
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(|e| $crate::sql::common::db_error("cannot read the version", e))?
                    .as_ref()
                    .map($crate::sql::versions::version::<$row>)
                    .transpose()
            }
        }

        #[async_trait::async_trait]
        impl rat_core::VersionStore for $store {
            async fn add_version(
                &self,
                new: rat_core::versions::NewVersion<'_>,
            ) -> rat_core::Result<rat_core::PipelineVersion> {
                use $crate::sql::common::{db_error, json, time};
                let statement = Self::statement(
                    "INSERT INTO pipeline_versions \
                     (table_ref, version, state, created_at, author, message, files) \
                     SELECT ?, COALESCE(MAX(version), 0) + 1, ?, ?, ?, ?, ? \
                     FROM pipeline_versions WHERE table_ref = ? RETURNING version",
                );
                let table = new.table.to_string();
                let files = json(new.files)?;
                let created_at = chrono::Utc::now();
                let mut attempt = 0;
                let version: i64 = loop {
                    attempt += 1;
                    let inserted = sqlx::query_scalar(&statement)
                        .bind(&table)
                        .bind(new.state.as_str())
                        .bind(time(created_at))
                        .bind(new.author)
                        .bind(new.message)
                        .bind(&files)
                        .bind(&table)
                        .fetch_one(&self.pool)
                        .await;
                    match inserted {
                        Ok(version) => break version,
                        Err(sqlx::Error::Database(e))
                            if e.is_unique_violation()
                                && attempt < $crate::sql::versions::NUMBERING_ATTEMPTS => {}
                        Err(e) => return Err(db_error("cannot record the pipeline's version", e)),
                    }
                };
                Ok(rat_core::PipelineVersion {
                    summary: rat_core::VersionSummary {
                        table: new.table.clone(),
                        version: version as u64,
                        state: new.state,
                        created_at,
                        author: new.author.map(str::to_owned),
                        message: new.message.map(str::to_owned),
                    },
                    files: new.files.clone(),
                })
            }

            async fn versions(
                &self,
                table: &rat_core::TableRef,
                limit: u32,
                offset: u32,
            ) -> rat_core::Result<Vec<rat_core::VersionSummary>> {
                let statement = Self::statement(
                    "SELECT table_ref, version, state, created_at, author, message \
                     FROM pipeline_versions WHERE table_ref = ? \
                     ORDER BY version DESC LIMIT ? OFFSET ?",
                );
                let rows = sqlx::query(&statement)
                    .bind(table.to_string())
                    .bind(i64::from(limit))
                    .bind(i64::from(offset))
                    .fetch_all(&self.pool)
                    .await
                    .map_err(|e| {
                        $crate::sql::common::db_error("cannot list the pipeline's versions", e)
                    })?;
                rows.iter()
                    .map($crate::sql::versions::summary::<$row>)
                    .collect()
            }

            async fn version(
                &self,
                table: &rat_core::TableRef,
                version: u64,
            ) -> rat_core::Result<rat_core::PipelineVersion> {
                let statement = Self::statement(
                    "SELECT table_ref, version, state, created_at, author, message, files \
                     FROM pipeline_versions WHERE table_ref = ? AND version = ?",
                );
                let row = sqlx::query(&statement)
                    .bind(table.to_string())
                    .bind(i64::try_from(version).unwrap_or(i64::MAX))
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(|e| $crate::sql::common::db_error("cannot read the version", e))?
                    .ok_or_else(|| {
                        rat_core::Error::not_found(format!(
                            "pipeline '{table}' has no version {version}"
                        ))
                        .with_context("field", "version")
                    })?;
                $crate::sql::versions::version::<$row>(&row)
            }

            async fn newest_version(
                &self,
                table: &rat_core::TableRef,
            ) -> rat_core::Result<Option<rat_core::PipelineVersion>> {
                self.newest_of(
                    table,
                    "SELECT table_ref, version, state, created_at, author, message, files \
                     FROM pipeline_versions WHERE table_ref = ? ORDER BY version DESC LIMIT 1",
                )
                .await
            }

            async fn published_version(
                &self,
                table: &rat_core::TableRef,
            ) -> rat_core::Result<Option<rat_core::PipelineVersion>> {
                self.newest_of(
                    table,
                    "SELECT table_ref, version, state, created_at, author, message, files \
                     FROM pipeline_versions WHERE table_ref = ? AND state = 'published' \
                     ORDER BY version DESC LIMIT 1",
                )
                .await
            }

            async fn discard_drafts(&self, table: &rat_core::TableRef) -> rat_core::Result<u64> {
                let statement = Self::statement(
                    "UPDATE pipeline_versions SET state = 'discarded' \
                     WHERE table_ref = ? AND state = 'draft' AND version > \
                     (SELECT COALESCE(MAX(version), 0) FROM pipeline_versions \
                      WHERE table_ref = ? AND state = 'published')",
                );
                let table = table.to_string();
                Ok(sqlx::query(&statement)
                    .bind(&table)
                    .bind(&table)
                    .execute(&self.pool)
                    .await
                    .map_err(|e| $crate::sql::common::db_error("cannot discard the drafts", e))?
                    .rows_affected())
            }
        }
    };
}

pub(crate) use version_store;

use rat_core::{PipelineVersion, Result, VersionSummary};
use sqlx::{ColumnIndex, Decode, Row, Type};

use super::common::{corrupt, parse_time};

/// A version's summary from its row.
pub(crate) fn summary<'r, R>(row: &'r R) -> Result<VersionSummary>
where
    R: Row,
    &'static str: ColumnIndex<R>,
    String: Decode<'r, R::Database> + Type<R::Database>,
    Option<String>: Decode<'r, R::Database> + Type<R::Database>,
    i64: Decode<'r, R::Database> + Type<R::Database>,
{
    Ok(VersionSummary {
        table: row.get::<String, _>("table_ref").parse()?,
        version: u64::try_from(row.get::<i64, _>("version"))
            .map_err(|e| corrupt("version number", e))?,
        state: row.get::<String, _>("state").parse()?,
        created_at: parse_time(row.get("created_at"))?,
        author: row.get("author"),
        message: row.get("message"),
    })
}

/// A version with its files from its row.
pub(crate) fn version<'r, R>(row: &'r R) -> Result<PipelineVersion>
where
    R: Row,
    &'static str: ColumnIndex<R>,
    String: Decode<'r, R::Database> + Type<R::Database>,
    Option<String>: Decode<'r, R::Database> + Type<R::Database>,
    i64: Decode<'r, R::Database> + Type<R::Database>,
{
    let files: String = row.get("files");
    Ok(PipelineVersion {
        summary: summary(row)?,
        files: serde_json::from_str(&files).map_err(|e| corrupt("version's files", e))?,
    })
}
