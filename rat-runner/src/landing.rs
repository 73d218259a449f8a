//! Looking into one landing file before a pipeline reads it: its first
//! rows and the schema DuckDB detects, in a session that may read that
//! file and nothing else.

use std::time::Duration;

use rat_core::{Error, ErrorKind, Identifier, ObjectMeta, Result, Storage};
use serde::{Deserialize, Serialize};

use crate::duck::{DuckSession, Sandbox, SessionLimits, duck_error};
use crate::engine::landing_reader;
use crate::query::{QueryOutput, select_rows};

/// One column DuckDB found in a file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DetectedColumn {
    /// Its name.
    pub name: String,
    /// DuckDB's type (`BIGINT`, `VARCHAR`, `TIMESTAMP`...).
    #[serde(rename = "type")]
    pub data_type: String,
}

/// What [`preview_file`] shows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FilePreview {
    /// The columns as `landing_zone()` would read them.
    pub schema: Vec<DetectedColumn>,
    /// The first rows.
    #[serde(flatten)]
    pub output: QueryOutput,
}

/// The first `rows` rows of `file` of `zone`, read the way
/// `landing_zone()` reads it, within `timeout`. The session may read
/// this one file only; a file DuckDB cannot parse is `invalid_input`
/// naming it.
pub async fn preview_file(
    storage: &dyn Storage,
    zone: &Identifier,
    file: &ObjectMeta,
    rows: usize,
    timeout: Duration,
) -> Result<FilePreview> {
    let session = DuckSession::open(&SessionLimits::default())?;
    let url = storage.engine_url(&file.key);
    if let Some(access) = storage.s3_access() {
        session.grant_s3(&url, &access).await?;
    }
    let reader = landing_reader(zone, std::slice::from_ref(file), storage)?;
    let mut sandbox = Sandbox::default();
    sandbox.allow_files([&url]);
    session.lock_down(&sandbox).await?;
    // What DuckDB says of a file it cannot parse is about the input.
    let unreadable = |e: Error| match e.kind() {
        ErrorKind::Query => Error::invalid(format!(
            "cannot read '{}': {}",
            file.key.file_name(),
            e.message()
        ))
        .with_context("file", file.key.as_str()),
        _ => e,
    };
    let select = format!("SELECT * FROM {reader}");
    let describe = format!("DESCRIBE {select}");
    let schema = session
        .run_with_timeout(timeout, move |c| {
            let mut stmt = c
                .prepare(&describe)
                .map_err(|e| duck_error("cannot read the file", e))?;
            let columns = stmt
                .query_map([], |r| {
                    Ok(DetectedColumn {
                        name: r.get(0)?,
                        data_type: r.get(1)?,
                    })
                })
                .map_err(|e| duck_error("cannot read the file", e))?
                .collect::<std::result::Result<Vec<_>, _>>()
                .map_err(|e| duck_error("cannot read the file", e))?;
            Ok(columns)
        })
        .await
        .map_err(unreadable)?;
    let output = select_rows(&session, &select, rows, timeout)
        .await
        .map_err(unreadable)?;
    Ok(FilePreview { schema, output })
}
