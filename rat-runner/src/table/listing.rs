//! Every file under a table's location, with its size and age: what orphan
//! removal compares against the files the metadata references. Local tables
//! are walked on disk, S3 tables listed through the table's own credentials.

use chrono::{DateTime, Utc};
use futures::TryStreamExt;
use object_store::ObjectStore;
use rat_core::{Error, ErrorKind, LoadedTable, Result};

use crate::s3::S3Buckets;

/// A file found under a table's location.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListedFile {
    /// Its full location, spelled as the table's metadata spells locations
    /// (`file:///...`, `/...` or `s3://bucket/...`).
    pub path: String,
    /// Size in bytes.
    pub size: u64,
    /// When it was last written.
    pub modified: DateTime<Utc>,
}

/// Lists every file under the table's location.
pub async fn list_table_files(table: &LoadedTable) -> Result<Vec<ListedFile>> {
    let location = table.metadata.location().trim_end_matches('/');
    if location.starts_with("s3://") || location.starts_with("s3a://") {
        let access = table.s3.clone().ok_or_else(|| {
            Error::new(
                ErrorKind::Unsupported,
                format!("table '{}' is on S3 but has no S3 access", table.table),
            )
        })?;
        let scheme = if location.starts_with("s3a://") {
            "s3a://"
        } else {
            "s3://"
        };
        let (bucket, _) = crate::s3::split_s3_url(location)?;
        let bucket = bucket.to_owned();
        let (store, prefix) = S3Buckets::new(access).locate(&format!("{location}/"))?;
        let listed: Vec<object_store::ObjectMeta> = store
            .list(Some(&prefix))
            .try_collect()
            .await
            .map_err(|e| list_error(table, e))?;
        return Ok(listed
            .into_iter()
            .map(|m| ListedFile {
                path: format!("{scheme}{bucket}/{}", m.location),
                size: m.size,
                modified: m.last_modified,
            })
            .collect());
    }
    if location.contains("://") && !location.starts_with("file://") {
        return Err(Error::new(
            ErrorKind::Unsupported,
            format!(
                "cannot list the files of table '{}' at {location}",
                table.table
            ),
        ));
    }
    let scheme = if location.starts_with("file://") {
        "file://"
    } else {
        ""
    };
    let root = std::path::PathBuf::from(crate::duck::engine_path(location));
    let table_ref = table.table.clone();
    tokio::task::spawn_blocking(move || {
        let mut out = Vec::new();
        for entry in walkdir::WalkDir::new(&root).follow_links(false) {
            let entry = match entry {
                Ok(e) => e,
                // A folder another writer removed meanwhile.
                Err(e)
                    if e.io_error().map(|io| io.kind()) == Some(std::io::ErrorKind::NotFound) =>
                {
                    continue;
                }
                Err(e) => {
                    return Err(Error::new(ErrorKind::Storage, "cannot list table files")
                        .with_context("table", &table_ref)
                        .with_source(e));
                }
            };
            if !entry.file_type().is_file() {
                continue;
            }
            let Ok(meta) = entry.metadata() else { continue };
            let modified = meta
                .modified()
                .map(DateTime::<Utc>::from)
                .unwrap_or_else(|_| Utc::now());
            out.push(ListedFile {
                path: format!("{scheme}{}", entry.path().to_string_lossy()),
                size: meta.len(),
                modified,
            });
        }
        Ok(out)
    })
    .await
    .map_err(|e| Error::internal(format!("listing task failed: {e}")))?
}

fn list_error(table: &LoadedTable, err: object_store::Error) -> Error {
    Error::new(ErrorKind::Storage, "cannot list table files")
        .with_context("table", &table.table)
        .with_source(err)
}
