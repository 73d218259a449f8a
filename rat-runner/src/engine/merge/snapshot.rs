//! `snapshot`: the partitions present in the new result replace their old
//! contents wholesale; other partitions keep their files.

use std::collections::HashSet;

use iceberg::spec::Struct;
use rat_core::Result;
use rat_core::project::PipelineSettings;

use super::super::write::FileWriter;
use super::matching::{RowMatch, replace_matching};
use super::{Change, SnapshotFiles};

/// With `partition_column`, a partition is a value of that column (NULL
/// included): files holding one of the new values are rewritten without
/// those rows. With only `partition_by`, a partition is a partition tuple of
/// the table's spec: base files in the new files' partitions are dropped.
pub(super) async fn replace_partitions(
    writer: &FileWriter,
    settings: &PipelineSettings,
    new_rows_sql: &str,
    base: &SnapshotFiles,
) -> Result<Change> {
    let new_files = writer.write(new_rows_sql, "new").await?;
    if new_files.is_empty() {
        return Ok(Change::default());
    }
    let Some(column) = &settings.partition_column else {
        let replaced: HashSet<&Struct> = new_files.iter().map(|f| f.partition()).collect();
        let removed: Vec<String> = base
            .data_files_of_spec(writer.spec_id())
            .filter(|f| replaced.contains(f.partition()))
            .map(|f| f.file_path().to_owned())
            .collect();
        return Ok(Change::new(new_files, removed));
    };
    let rows = RowMatch {
        columns: vec![column.clone()],
        null_safe: true,
    };
    let ids = rows.field_ids(writer.schema(), "partition_column")?;
    replace_matching(writer, &rows, &ids, new_files, base).await
}
