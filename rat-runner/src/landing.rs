//! Looking into one landing file before a pipeline reads it: its first
//! rows and the schema DuckDB detects, in a session that may read that
//! file and nothing else.

use std::time::Duration;

use rat_core::{Error, ErrorKind, Identifier, ObjectMeta, Result, Storage};
use serde::{Deserialize, Serialize};

use crate::duck::{DuckSession, Sandbox, SessionLimits};
use crate::engine::landing_reader;
pub use crate::query::DetectedColumn;
use crate::query::{QueryOutput, describe, select_rows};

/// What [`preview_file`] shows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "json-schema", derive(schemars::JsonSchema))]
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
    let schema = describe(&session, &select, timeout)
        .await
        .map_err(unreadable)?;
    let output = select_rows(&session, &select, rows, timeout)
        .await
        .map_err(unreadable)?;
    Ok(FilePreview { schema, output })
}
