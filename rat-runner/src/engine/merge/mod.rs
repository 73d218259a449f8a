//! Merge strategies as file changes (copy-on-write): which data files a run
//! adds and which files of the base snapshot it replaces. Only files that can
//! hold affected rows are read or rewritten; the rest carry over unchanged.

mod matching;
mod scd2;
mod snapshot;
mod upsert;

use chrono::{DateTime, Utc};
use iceberg::spec::{DataFile, Operation};
use rat_core::project::PipelineSettings;
use rat_core::{MergeStrategy, Pipeline, Result};

pub(crate) use scd2::with_validity_columns;

use super::write::FileWriter;
use crate::duck::{column_list, quote_ident};
use crate::table::{BaseSnapshot, FileChanges, SnapshotFiles};

/// Files a strategy adds and base files it removes.
#[derive(Debug, Default)]
pub(super) struct Change {
    added: Vec<DataFile>,
    removed: Vec<String>,
}

impl Change {
    fn new(added: Vec<DataFile>, removed: Vec<String>) -> Self {
        Self { added, removed }
    }

    /// The snapshot operation the spec prescribes for this change.
    fn into_file_changes(self) -> FileChanges {
        let operation = match (self.added.is_empty(), self.removed.is_empty()) {
            (_, true) => Operation::Append,
            (true, false) => Operation::Delete,
            (false, false) => Operation::Overwrite,
        };
        FileChanges {
            operation,
            added: self.added,
            removed: self.removed.into_iter().collect(),
        }
    }
}

/// Computes what the pipeline's strategy does to the table, given its result
/// SQL (with views in place) and the base snapshot.
pub(crate) async fn plan_changes(
    writer: &FileWriter,
    settings: &PipelineSettings,
    result_sql: &str,
    base: &BaseSnapshot,
    run_started_at: DateTime<Utc>,
) -> Result<FileChanges> {
    let keys = &settings.unique_key;
    // Every strategy but append_only plans against the base's live files.
    let files = || base.require_files();
    let change = match settings.merge_strategy {
        MergeStrategy::AppendOnly => {
            let added = writer
                .write(&writer.projection(result_sql), "append")
                .await?;
            Change::new(added, Vec::new())
        }
        MergeStrategy::FullRefresh => {
            let removed = files()?.paths();
            let added = writer.write(&writer.projection(result_sql), "full").await?;
            Change::new(added, removed)
        }
        MergeStrategy::Incremental => {
            let deduped = dedup_last_wins(&writer.projection(result_sql), keys);
            upsert::upsert(writer, keys, &deduped, files()?).await?
        }
        MergeStrategy::DeleteInsert => {
            upsert::upsert(writer, keys, &writer.projection(result_sql), files()?).await?
        }
        MergeStrategy::Snapshot => {
            let projection = writer.projection(result_sql);
            snapshot::replace_partitions(writer, settings, &projection, files()?).await?
        }
        MergeStrategy::Scd2 => {
            scd2::scd2(writer, settings, result_sql, files()?, run_started_at).await?
        }
    };
    Ok(change.into_file_changes())
}

/// Whether `strategy` reads the base snapshot's files (copy-on-write
/// rewrites them); `full_refresh` and `append_only` only list them.
pub(crate) fn reads_base(strategy: MergeStrategy) -> bool {
    !matches!(
        strategy,
        MergeStrategy::FullRefresh | MergeStrategy::AppendOnly
    )
}

/// Whether a pipeline needs the live files of its table's base snapshot
/// before it is rendered: every strategy but `append_only` plans against
/// them, a watermark is computed over them and quality tests read them.
/// (A pipeline that reads `this` needs them too, known once rendered.)
pub(crate) fn needs_base_files(pipeline: &Pipeline) -> bool {
    let settings = &pipeline.settings;
    settings.merge_strategy != MergeStrategy::AppendOnly
        || settings.watermark_column.is_some()
        || !pipeline.tests.is_empty()
}

/// The changes of a previous attempt's files (full_refresh or append_only,
/// whose result does not depend on the table) on top of a new base.
pub(crate) fn reuse_changes(
    strategy: MergeStrategy,
    added: Vec<DataFile>,
    base: &BaseSnapshot,
) -> Result<FileChanges> {
    let removed = if strategy == MergeStrategy::FullRefresh {
        base.require_files()?.paths()
    } else {
        Vec::new()
    };
    Ok(Change::new(added, removed).into_file_changes())
}

/// Keeps the last row per key (in result order). Rows with a NULL key
/// component never match any other row, so they are all kept.
fn dedup_last_wins(sql: &str, keys: &[String]) -> String {
    let key_list = column_list(keys);
    let any_null: Vec<String> = keys
        .iter()
        .map(|k| format!("{} IS NULL", quote_ident(k)))
        .collect();
    format!(
        "SELECT * EXCLUDE (__rat_pos, __rat_rank) FROM (\
           SELECT *, row_number() OVER (PARTITION BY {key_list} ORDER BY __rat_pos DESC) AS __rat_rank \
           FROM (SELECT *, row_number() OVER () AS __rat_pos FROM ({sql}) AS __rat_in) AS __rat_numbered\
         ) AS __rat_ranked WHERE __rat_rank = 1 OR {} ORDER BY __rat_pos",
        any_null.join(" OR ")
    )
}
