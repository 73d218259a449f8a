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

/// The snapshot a new one builds on: its manifest list, and the live
/// entries of every manifest once they were needed. An `append_only` run
/// that neither reads nor tests its table never opens the manifests, so
/// what its commit reads is bounded by the list, not by the history.
#[derive(Debug, Clone)]
pub enum BaseSnapshot {
    /// Only the manifest list was read.
    Listed(SnapshotManifests),
    /// Every manifest was read.
    Read(SnapshotFiles),
}

impl Default for BaseSnapshot {
    fn default() -> Self {
        Self::Read(SnapshotFiles::default())
    }
}

impl From<SnapshotFiles> for BaseSnapshot {
    fn from(files: SnapshotFiles) -> Self {
        Self::Read(files)
    }
}

impl BaseSnapshot {
    /// Lists `snapshot_id`'s manifests (an empty base when `None`).
    pub async fn list(table: &LoadedTable, snapshot_id: Option<i64>) -> Result<Self> {
        Ok(Self::Listed(snapshot_manifests(table, snapshot_id).await?))
    }

    /// The snapshot (None for a table with no snapshot on the ref).
    pub fn snapshot(&self) -> Option<&SnapshotRef> {
        match self {
            Self::Listed(m) => m.snapshot.as_ref(),
            Self::Read(f) => f.snapshot.as_ref(),
        }
    }

    /// The live data files, when they were read.
    pub fn files(&self) -> Option<&SnapshotFiles> {
        match self {
            Self::Listed(_) => None,
            Self::Read(f) => Some(f),
        }
    }

    /// The live data files, reading the manifests the first time.
    pub async fn read(&mut self, table: &LoadedTable) -> Result<&SnapshotFiles> {
        if let Self::Listed(listed) = self {
            *self = Self::Read(std::mem::take(listed).read_files(table).await?);
        }
        match self {
            Self::Read(f) => Ok(f),
            Self::Listed(_) => unreachable!("read above"),
        }
    }

    /// The live data files, which the caller's strategy needed read
    /// before: an internal error otherwise.
    pub fn require_files(&self) -> Result<&SnapshotFiles> {
        self.files().ok_or_else(|| {
            Error::internal("the base snapshot's manifests were needed but not read")
        })
    }

    /// Each manifest with its live entries where they were read.
    pub(crate) fn manifests(&self) -> Vec<(&ManifestFile, Option<&[ManifestEntry]>)> {
        match self {
            Self::Listed(m) => m.manifests.iter().map(|f| (f, None)).collect(),
            Self::Read(f) => f
                .manifests
                .iter()
                .map(|(m, e)| (m, Some(e.as_slice())))
                .collect(),
        }
    }
}

/// A snapshot's manifest list: which data manifests hold its files, with
/// the file and row counts the list records, none of them opened.
#[derive(Debug, Clone, Default)]
pub struct SnapshotManifests {
    /// The snapshot (None for a table with no snapshot on the ref).
    pub snapshot: Option<SnapshotRef>,
    /// The schema the snapshot was written with.
    pub schema: Option<Arc<Schema>>,
    /// Its data manifests, in list order.
    pub manifests: Vec<ManifestFile>,
}

impl SnapshotManifests {
    /// Opens every manifest: the snapshot's live data files.
    pub async fn read_files(self, table: &LoadedTable) -> Result<SnapshotFiles> {
        let mut manifests = Vec::with_capacity(self.manifests.len());
        for manifest in self.manifests {
            let live = live_entries(table, &manifest).await?;
            manifests.push((manifest, live));
        }
        Ok(SnapshotFiles {
            snapshot: self.snapshot,
            schema: self.schema,
            manifests,
        })
    }
}

/// Reads the manifest list of `snapshot_id` without opening the manifests.
/// Tables with delete manifests (merge-on-read) are refused: rat reads and
/// writes copy-on-write tables.
pub async fn snapshot_manifests(
    table: &LoadedTable,
    snapshot_id: Option<i64>,
) -> Result<SnapshotManifests> {
    let metadata = &table.metadata;
    let Some(snapshot_id) = snapshot_id else {
        return Ok(SnapshotManifests::default());
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
    let manifests: Vec<ManifestFile> = list.consume_entries().into_iter().collect();
    if manifests
        .iter()
        .any(|m| m.content != ManifestContentType::Data)
    {
        return Err(merge_on_read(&table.table));
    }
    Ok(SnapshotManifests {
        snapshot: Some(snapshot),
        schema: Some(schema),
        manifests,
    })
}

/// Reads the manifest list and manifests of `snapshot_id`: its live data
/// files. Tables with delete files (merge-on-read) are refused.
pub async fn snapshot_files(
    table: &LoadedTable,
    snapshot_id: Option<i64>,
) -> Result<SnapshotFiles> {
    snapshot_manifests(table, snapshot_id)
        .await?
        .read_files(table)
        .await
}

/// The live entries of one data manifest.
pub(crate) async fn live_entries(
    table: &LoadedTable,
    manifest_file: &ManifestFile,
) -> Result<Vec<ManifestEntry>> {
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
            live.push(Arc::unwrap_or_clone(entry));
        }
    }
    Ok(live)
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
