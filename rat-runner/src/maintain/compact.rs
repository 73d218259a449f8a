//! Compaction: the small data files of a partition rewritten into one file
//! (split only at the target size), committed as an Iceberg `replace`
//! snapshot through a branch and a publish that requires `main` to be where
//! compaction read it. A run that publishes meanwhile wins: compaction
//! re-plans on the new `main` (a few times) or gives up, so no row is lost
//! or duplicated.

use std::collections::{BTreeMap, HashSet};

use iceberg::spec::{Operation, Struct};
use rat_core::{
    Catalog, Error, ErrorKind, LoadedTable, MaintenanceSettings, Result, RunId, TableCommit,
};
use serde::{Deserialize, Serialize};

use crate::duck::{ColumnMatch, DuckSession, SessionLimits};
use crate::engine::relations::{Relation, grant_table};
use crate::engine::write::FileWriter;
use crate::table::{
    BaseSnapshot, FileChanges, SnapshotFiles, abandon_commit, publish_commit, snapshot_files,
    stage_snapshot,
};

/// Fewest small files a partition needs before it is compacted (Iceberg's
/// `min-input-files` default).
pub const MIN_INPUT_FILES: usize = 5;

/// A file below this share of the target size counts as small (Iceberg's
/// `min-file-size-bytes` default: 75%).
const SMALL_SHARE: f64 = 0.75;

/// One partition's small files rewritten.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "json-schema", derive(schemars::JsonSchema))]
pub struct CompactedPartition {
    /// The partition, as `column=value` pairs (empty for an unpartitioned
    /// table).
    pub partition: String,
    /// Files read.
    pub files_in: usize,
    /// Their bytes.
    pub bytes_in: u64,
    /// Files written (0 in a dry run).
    pub files_out: usize,
    /// Rows rewritten.
    pub records: u64,
}

/// Compacts `table`'s partitions that have at least [`MIN_INPUT_FILES`]
/// small files. Returns the table as it is afterwards.
pub async fn compact(
    catalog: &dyn Catalog,
    mut table: LoadedTable,
    settings: &MaintenanceSettings,
    dry_run: bool,
) -> Result<(LoadedTable, Vec<CompactedPartition>)> {
    const ATTEMPTS: usize = 3;
    for attempt in 1..=ATTEMPTS {
        let base = snapshot_files(&table, table.main_snapshot_id()).await?;
        let groups = small_file_groups(&table, &base, settings.target_file_size);
        if groups.is_empty() {
            return Ok((table, Vec::new()));
        }
        let mut report: Vec<CompactedPartition> = groups
            .iter()
            .map(|(partition, files)| CompactedPartition {
                partition: partition.clone(),
                files_in: files.len(),
                bytes_in: files.iter().map(|(_, size, _)| size).sum(),
                files_out: 0,
                records: files.iter().map(|(_, _, rows)| rows).sum(),
            })
            .collect();
        if dry_run {
            return Ok((table, report));
        }
        match rewrite(catalog, &table, &base.into(), &groups).await? {
            Rewritten::Published(after, files_out) => {
                for (entry, out) in report.iter_mut().zip(files_out) {
                    entry.files_out = out;
                }
                return Ok((*after, report));
            }
            Rewritten::Conflict if attempt < ATTEMPTS => {
                table = catalog.load_table(&table.table).await?;
            }
            Rewritten::Conflict => {
                tracing::info!(table = %table.table, "compaction gave up: the table kept changing");
                let table = catalog.load_table(&table.table).await?;
                return Ok((table, Vec::new()));
            }
        }
    }
    unreachable!("the loop returns on its last attempt")
}

/// Small files by partition (current spec only), for partitions with
/// enough of them: `(partition label, [(path, bytes, rows)])`.
type Groups = BTreeMap<String, Vec<(String, u64, u64)>>;

fn small_file_groups(table: &LoadedTable, base: &SnapshotFiles, target: u64) -> Groups {
    let spec = table.metadata.default_partition_spec();
    let limit = (target as f64 * SMALL_SHARE) as u64;
    let mut by_partition: BTreeMap<String, Vec<(String, u64, u64)>> = BTreeMap::new();
    let current = base
        .manifests
        .iter()
        .filter(|(manifest, _)| manifest.partition_spec_id == spec.spec_id())
        .flat_map(|(_, entries)| entries.iter());
    for entry in current {
        let file = entry.data_file();
        if file.file_size_in_bytes() >= limit {
            continue;
        }
        by_partition
            .entry(partition_label(table, file.partition()))
            .or_default()
            .push((
                file.file_path().to_owned(),
                file.file_size_in_bytes(),
                file.record_count(),
            ));
    }
    by_partition.retain(|_, files| files.len() >= MIN_INPUT_FILES);
    by_partition
}

/// `day=2026-01-05/customer_id_bucket=3`-style text of a partition tuple.
fn partition_label(table: &LoadedTable, partition: &Struct) -> String {
    let spec = table.metadata.default_partition_spec();
    spec.fields()
        .iter()
        .zip(partition.iter())
        .map(|(field, value)| {
            let value = value.map_or("null".to_owned(), |v| format!("{v:?}"));
            format!("{}={value}", field.name)
        })
        .collect::<Vec<_>>()
        .join("/")
}

enum Rewritten {
    /// Published; files written per group.
    Published(Box<LoadedTable>, Vec<usize>),
    /// `main` moved meanwhile; nothing changed.
    Conflict,
}

async fn rewrite(
    catalog: &dyn Catalog,
    table: &LoadedTable,
    base: &BaseSnapshot,
    groups: &Groups,
) -> Result<Rewritten> {
    let run_id = RunId::generate();
    let staging = std::env::temp_dir().join("rat-staging");
    let session = DuckSession::open(&SessionLimits::default())?;
    grant_table(&session, table).await?;
    let schema = table.metadata.current_schema().clone();
    let writer = FileWriter::new(
        session,
        table.clone(),
        schema.clone(),
        run_id.clone(),
        staging.clone(),
    );
    let mut added = Vec::new();
    let mut files_out = Vec::new();
    let mut removed: HashSet<String> = HashSet::new();
    for (i, files) in groups.values().enumerate() {
        let relation = Relation {
            schema: schema.as_ref().clone(),
            files: files.iter().map(|(p, _, _)| p.clone()).collect(),
            by: ColumnMatch::ByFieldId,
            location: table.metadata.location().to_owned(),
            s3: table.s3.clone(),
            snapshot_id: None,
        };
        let written = writer
            .write(&writer.projection(&relation.sql()), &format!("compact-{i}"))
            .await?;
        let rows_in: u64 = files.iter().map(|(_, _, rows)| rows).sum();
        let rows_out: u64 = written.iter().map(|f| f.record_count()).sum();
        if rows_in != rows_out {
            return Err(Error::internal(format!(
                "compaction of {} read {rows_in} rows but wrote {rows_out}",
                table.table
            )));
        }
        files_out.push(written.len());
        removed.extend(relation.files);
        added.extend(written);
    }
    let _ = std::fs::remove_dir_all(staging.join(run_id.as_str()));
    let added_paths: Vec<String> = added.iter().map(|f| f.file_path().to_owned()).collect();
    let changes = FileChanges {
        operation: Operation::Replace,
        added,
        removed,
    };
    let branch = run_id.branch();
    let staged = stage_snapshot(table, base, changes, &schema, &branch, &run_id).await?;
    let snapshot_id = staged.snapshot_id;
    let written: Vec<String> = added_paths
        .into_iter()
        .chain(staged.metadata_files.iter().cloned())
        .collect();
    let on_branch = match catalog.commit(staged.commit).await {
        Ok(t) => t,
        Err(e) if e.kind() == ErrorKind::Conflict => {
            discard(table, &written).await;
            return Ok(Rewritten::Conflict);
        }
        Err(e) => {
            discard(table, &written).await;
            return Err(e);
        }
    };
    let publish: TableCommit =
        publish_commit(&on_branch, &branch, snapshot_id, table.main_snapshot_id());
    match catalog.commit(publish).await {
        Ok(after) => Ok(Rewritten::Published(Box::new(after), files_out)),
        Err(e) if e.kind() == ErrorKind::Conflict => {
            let _ = catalog
                .commit(abandon_commit(&on_branch, &branch, Some(snapshot_id)))
                .await;
            discard(table, &written).await;
            Ok(Rewritten::Conflict)
        }
        // The publish may have landed with its reply lost: the files stay
        // (an unreferenced one is an orphan for a later pass).
        Err(e) => Err(e),
    }
}

async fn discard(table: &LoadedTable, paths: &[String]) {
    for path in paths {
        let _ = table.file_io.delete(path).await;
    }
}
