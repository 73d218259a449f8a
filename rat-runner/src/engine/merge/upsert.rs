//! `incremental` and `delete_insert`: replace the rows whose key appears in
//! the new result, rewriting only the files that hold one.

use iceberg::spec::DataFile;
use rat_core::Result;

use super::super::write::FileWriter;
use super::matching::{RowMatch, replace_matching};
use super::{Change, SnapshotFiles};

/// Writes `new_rows_sql`, then rewrites the base files holding one of its
/// keys without those rows. NULL key components match nothing.
pub(super) async fn upsert(
    writer: &FileWriter,
    keys: &[String],
    new_rows_sql: &str,
    base: &SnapshotFiles,
) -> Result<Change> {
    let rows = RowMatch {
        columns: keys.to_vec(),
        null_safe: false,
    };
    let ids = rows.field_ids(writer.schema(), "unique_key")?;
    let new_files: Vec<DataFile> = writer.write(new_rows_sql, "new").await?;
    if new_files.is_empty() {
        return Ok(Change::default());
    }
    replace_matching(writer, &rows, &ids, new_files, base).await
}
