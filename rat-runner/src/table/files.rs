//! The committed data files of a snapshot: what `ref()` resolves to.

use std::sync::Arc;

use iceberg::io::FileIO;
use iceberg::spec::{
    DataContentType, DataFile, ManifestContentType, ManifestEntry, ManifestFile, ManifestList,
    Schema, SnapshotRef, TableMetadata,
};
use rat_core::{Error, ErrorKind, LoadedTable, Result, TableRef};

/// A snapshot's manifests and the live data file entries in each.
#[derive(Debug, Clone, Default)]
pub struct SnapshotFiles {
    /// The snapshot (None for a table with no snapshot on the ref).
    pub snapshot: Option<SnapshotRef>,
    /// The schema the snapshot was written with.
    pub schema: Option<Arc<Schema>>,
    /// Data manifests with their live entries.
    pub manifests: Vec<(ManifestFile, Vec<ManifestEntry>)>,
}

impl SnapshotFiles {
    /// All live data file entries.
    pub fn entries(&self) -> impl Iterator<Item = &ManifestEntry> {
        self.manifests.iter().flat_map(|(_, e)| e.iter())
    }

    /// Paths of all live data files.
    pub fn paths(&self) -> Vec<String> {
        self.entries()
            .map(|e| e.data_file().file_path().to_owned())
            .collect()
    }

    /// The live data files written with partition spec `spec_id` (whose
    /// partition tuples compare with those of files written with it now).
    pub fn data_files_of_spec(&self, spec_id: i32) -> impl Iterator<Item = &DataFile> {
        self.manifests
            .iter()
            .filter(move |(manifest, _)| manifest.partition_spec_id == spec_id)
            .flat_map(|(_, entries)| entries)
            .map(|e| e.data_file())
    }

    /// Total live records.
    pub fn record_count(&self) -> u64 {
        self.entries().map(|e| e.record_count()).sum()
    }
}

/// Reads the manifest list and manifests of `snapshot_id` (or of the ref
/// `reference` when no id is given). Tables with delete files (merge-on-read)
/// are refused: rat reads and writes copy-on-write tables.
pub async fn snapshot_files(
    table: &LoadedTable,
    snapshot_id: Option<i64>,
) -> Result<SnapshotFiles> {
    let metadata = &table.metadata;
    let Some(snapshot_id) = snapshot_id else {
        return Ok(SnapshotFiles::default());
    };
    let snapshot = metadata
        .snapshot_by_id(snapshot_id)
        .cloned()
        .ok_or_else(|| {
            Error::new(
                ErrorKind::NotFound,
                format!("table '{}' has no snapshot {snapshot_id}", table.table),
            )
        })?;
    let schema = snapshot
        .schema(metadata)
        .map_err(|e| metadata_error(&table.table, e))?;
    let list = read_manifest_list(&table.file_io, metadata, &snapshot, &table.table).await?;
    let manifest_files: Vec<ManifestFile> = list.consume_entries().into_iter().collect();
    let mut manifests = Vec::with_capacity(manifest_files.len());
    for manifest_file in manifest_files {
        if manifest_file.content != ManifestContentType::Data {
            return Err(merge_on_read(&table.table));
        }
        let manifest = manifest_file
            .load_manifest(&table.file_io)
            .await
            .map_err(|e| metadata_error(&table.table, e))?;
        let (entries, _) = manifest.into_parts();
        let mut live = Vec::with_capacity(entries.len());
        for entry in entries {
            if entry.content_type() != DataContentType::Data {
                return Err(merge_on_read(&table.table));
            }
            if entry.is_alive() {
                live.push(entry.as_ref().clone());
            }
        }
        manifests.push((manifest_file, live));
    }
    Ok(SnapshotFiles {
        snapshot: Some(snapshot),
        schema: Some(schema),
        manifests,
    })
}

/// The manifest list of `snapshot`.
pub(crate) async fn read_manifest_list(
    file_io: &FileIO,
    metadata: &TableMetadata,
    snapshot: &SnapshotRef,
    table: &TableRef,
) -> Result<ManifestList> {
    let bytes = file_io
        .new_input(snapshot.manifest_list())
        .map_err(|e| metadata_error(table, e))?
        .read()
        .await
        .map_err(|e| metadata_error(table, e))?;
    ManifestList::parse_with_version(&bytes, metadata.format_version())
        .map_err(|e| metadata_error(table, e))
}

/// A table's metadata could not be read.
pub(crate) fn metadata_error(table: &TableRef, err: iceberg::Error) -> Error {
    Error::new(ErrorKind::Catalog, "cannot read table metadata")
        .with_context("table", table)
        .with_source(err)
}

fn merge_on_read(table: &TableRef) -> Error {
    Error::new(
        ErrorKind::Unsupported,
        format!(
            "table '{table}' has delete files (merge-on-read); rat reads copy-on-write tables only"
        ),
    )
}
