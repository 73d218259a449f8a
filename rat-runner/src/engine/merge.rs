//! Merge strategies as file changes (copy-on-write): which data files a run
//! adds and which files of the base snapshot it replaces.

use std::collections::HashSet;

use iceberg::spec::{DataFile, Datum, ManifestEntry, Operation};
use rat_core::project::{PartitionTransform, PipelineSettings};
use rat_core::{Error, ErrorKind, MergeStrategy, Result};

use super::write::FileWriter;
use crate::duck::{
    ColumnMatch, column_list, duck_error, engine_path, files_relation, files_relation_with_source,
    quote_ident,
};
use crate::table::{FileChanges, SnapshotFiles};

/// Computes what `strategy` does to the table given the run's result SQL
/// (with views in place) and the base snapshot.
pub(crate) async fn plan_changes(
    writer: &FileWriter,
    settings: &PipelineSettings,
    result_sql: &str,
    base: &SnapshotFiles,
) -> Result<FileChanges> {
    let projected = writer.projection(result_sql);
    match settings.merge_strategy {
        MergeStrategy::FullRefresh => {
            let added = writer.write(&projected, "full").await?;
            let removed: HashSet<String> = base.paths().into_iter().collect();
            let operation = if removed.is_empty() {
                Operation::Append
            } else {
                Operation::Overwrite
            };
            Ok(FileChanges {
                operation,
                added,
                removed,
            })
        }
        MergeStrategy::AppendOnly => Ok(FileChanges {
            operation: Operation::Append,
            added: writer.write(&projected, "append").await?,
            removed: HashSet::new(),
        }),
        MergeStrategy::Incremental => {
            let deduped = dedup_last_wins(&projected, &settings.unique_key);
            upsert(writer, &settings.unique_key, &deduped, base).await
        }
        MergeStrategy::DeleteInsert => upsert(writer, &settings.unique_key, &projected, base).await,
        other @ (MergeStrategy::Scd2 | MergeStrategy::Snapshot) => {
            ensure_supported(settings)?;
            Err(Error::internal(format!("no merge plan for {other}")))
        }
    }
}

/// Refuses what is not built yet (two strategies, bucket partitioning)
/// before a run does any work.
pub(crate) fn ensure_supported(settings: &PipelineSettings) -> Result<()> {
    let strategy = settings.merge_strategy;
    if matches!(strategy, MergeStrategy::Scd2 | MergeStrategy::Snapshot) {
        return Err(Error::new(
            ErrorKind::Unsupported,
            format!("merge_strategy '{strategy}' is not yet supported"),
        )
        .with_context("field", "merge_strategy"));
    }
    if let Some(p) = settings
        .partition_by
        .iter()
        .find(|p| matches!(p.transform, PartitionTransform::Bucket(_)))
    {
        return Err(Error::new(
            ErrorKind::Unsupported,
            format!(
                "partition transform {} (column '{}') is not yet supported",
                p.transform, p.column
            ),
        )
        .with_context("field", "partition_by"));
    }
    Ok(())
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

/// Writes the new rows, then rewrites only the base files that hold one of
/// their keys, without those rows. Files whose key ranges (from manifest
/// statistics) cannot overlap the new keys are not even read.
async fn upsert(
    writer: &FileWriter,
    keys: &[String],
    new_rows_sql: &str,
    base: &SnapshotFiles,
) -> Result<FileChanges> {
    let schema = writer.schema().clone();
    for k in keys {
        if schema.field_by_name(k).is_none() {
            return Err(
                Error::invalid(format!("unique_key column '{k}' is not in the result"))
                    .with_context("field", "unique_key"),
            );
        }
    }
    let new_files = writer.write(new_rows_sql, "new").await?;
    if new_files.is_empty() || base.entries().next().is_none() {
        return Ok(FileChanges {
            operation: Operation::Append,
            added: new_files,
            removed: HashSet::new(),
        });
    }

    let key_ids: Vec<i32> = keys
        .iter()
        .filter_map(|k| schema.field_by_name(k).map(|f| f.id))
        .collect();
    let candidates: Vec<String> = base
        .entries()
        .filter(|entry| may_share_keys(entry, &new_files, &key_ids))
        .map(|e| e.data_file().file_path().to_owned())
        .collect();
    let new_paths: Vec<String> = new_files.iter().map(|f| f.file_path().to_owned()).collect();
    let affected = files_with_keys(writer, keys, &candidates, &new_paths).await?;

    let mut added = new_files;
    if !affected.is_empty() {
        let join: Vec<String> = keys
            .iter()
            .map(|k| format!("n.{q} = e.{q}", q = quote_ident(k)))
            .collect();
        let kept = format!(
            "SELECT e.* FROM ({}) AS e WHERE NOT EXISTS (SELECT 1 FROM ({}) AS n WHERE {})",
            files_relation(&schema, &affected, writer.read_by()),
            files_relation(&schema, &new_paths, ColumnMatch::ByName),
            join.join(" AND ")
        );
        added.extend(writer.write(&kept, "rewrite").await?);
    }
    let removed: HashSet<String> = affected.into_iter().collect();
    let operation = if removed.is_empty() {
        Operation::Append
    } else {
        Operation::Overwrite
    };
    Ok(FileChanges {
        operation,
        added,
        removed,
    })
}

/// Whether a base file's key bounds overlap those of any new file, for every
/// key column with bounds on both sides (no bounds: assume overlap).
fn may_share_keys(entry: &ManifestEntry, new_files: &[DataFile], key_ids: &[i32]) -> bool {
    let base = entry.data_file();
    new_files.iter().any(|new| {
        key_ids.iter().all(|id| {
            let (Some(blo), Some(bhi), Some(nlo), Some(nhi)) = (
                base.lower_bounds().get(id),
                base.upper_bounds().get(id),
                new.lower_bounds().get(id),
                new.upper_bounds().get(id),
            ) else {
                return true;
            };
            overlaps(blo, bhi, nlo, nhi)
        })
    })
}

fn overlaps(alo: &Datum, ahi: &Datum, blo: &Datum, bhi: &Datum) -> bool {
    !matches!(ahi.partial_cmp(blo), Some(std::cmp::Ordering::Less))
        && !matches!(bhi.partial_cmp(alo), Some(std::cmp::Ordering::Less))
}

/// The candidate files that actually contain a key of the new rows.
async fn files_with_keys(
    writer: &FileWriter,
    keys: &[String],
    candidates: &[String],
    new_paths: &[String],
) -> Result<Vec<String>> {
    if candidates.is_empty() {
        return Ok(Vec::new());
    }
    let schema = writer.schema();
    let key_schema = iceberg::spec::Schema::builder()
        .with_fields(
            keys.iter()
                .filter_map(|k| schema.field_by_name(k).cloned())
                .collect::<Vec<_>>(),
        )
        .build()
        .map_err(|e| Error::internal("key schema").with_source(e))?;
    let base_rel =
        files_relation_with_source(&key_schema, candidates, writer.read_by(), "__rat_file");
    let join: Vec<String> = keys
        .iter()
        .map(|k| format!("n.{q} = e.{q}", q = quote_ident(k)))
        .collect();
    let sql = format!(
        "SELECT DISTINCT e.__rat_file FROM ({base_rel}) AS e WHERE EXISTS (SELECT 1 FROM ({}) AS n WHERE {})",
        files_relation(&key_schema, new_paths, ColumnMatch::ByName),
        join.join(" AND ")
    );
    let local: Vec<String> = writer
        .session()
        .run(move |c| {
            let mut stmt = c.prepare(&sql).map_err(|e| duck_error("query failed", e))?;
            let rows = stmt
                .query_map([], |r| r.get::<_, String>(0))
                .map_err(|e| duck_error("query failed", e))?;
            rows.collect::<std::result::Result<Vec<_>, _>>()
                .map_err(|e| duck_error("query failed", e))
        })
        .await?;
    // Map DuckDB's paths back to the manifest's URIs.
    let found: HashSet<String> = local.into_iter().collect();
    Ok(candidates
        .iter()
        .filter(|uri| found.contains(engine_path(uri)))
        .cloned()
        .collect())
}

/// The changes of a previous attempt's files on top of a new base.
pub(crate) fn reuse_changes(
    strategy: MergeStrategy,
    added: Vec<DataFile>,
    base: &SnapshotFiles,
) -> FileChanges {
    let removed: HashSet<String> = if strategy == MergeStrategy::FullRefresh {
        base.paths().into_iter().collect()
    } else {
        Default::default()
    };
    let operation = if removed.is_empty() {
        Operation::Append
    } else {
        Operation::Overwrite
    };
    FileChanges {
        operation,
        added,
        removed,
    }
}
