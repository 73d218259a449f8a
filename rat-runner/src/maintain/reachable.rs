//! The files a set of snapshots references: manifest lists, manifests and
//! data files. Manifests shared by many snapshots are read once.

use std::collections::{HashMap, HashSet};

use iceberg::spec::{ManifestStatus, SnapshotRef};
use rat_core::{LoadedTable, Result};

use crate::table::{metadata_error, read_manifest_list};

/// What some snapshots reference, by path as the metadata spells it.
#[derive(Debug, Default)]
pub(crate) struct Referenced {
    /// Every path below, normalised.
    all: HashSet<String>,
    /// Manifest lists.
    pub(crate) lists: HashSet<String>,
    /// Manifests, with their size.
    pub(crate) manifests: HashMap<String, u64>,
    /// Data files live in at least one of the snapshots, with their size.
    pub(crate) live: HashMap<String, u64>,
    /// Data files only recorded as deleted by a manifest of the snapshots.
    pub(crate) deleted: HashMap<String, u64>,
}

impl Referenced {
    /// Whether `path` (normalised) is referenced in any way.
    pub(crate) fn mentions(&self, path: &str) -> bool {
        self.all.contains(path)
    }
}

/// Reads what `snapshots` reference.
pub(crate) async fn referenced(
    table: &LoadedTable,
    snapshots: &[SnapshotRef],
) -> Result<Referenced> {
    let mut out = Referenced::default();
    let mut manifests_seen: HashSet<String> = HashSet::new();
    for snapshot in snapshots {
        out.lists.insert(snapshot.manifest_list().to_owned());
        let list =
            read_manifest_list(&table.file_io, &table.metadata, snapshot, &table.table).await?;
        for manifest_file in list.entries() {
            if !manifests_seen.insert(manifest_file.manifest_path.clone()) {
                continue;
            }
            out.manifests.insert(
                manifest_file.manifest_path.clone(),
                manifest_file.manifest_length.max(0) as u64,
            );
            let manifest = manifest_file
                .load_manifest(&table.file_io)
                .await
                .map_err(|e| metadata_error(&table.table, e))?;
            for entry in manifest.entries() {
                let path = entry.data_file().file_path().to_owned();
                let size = entry.data_file().file_size_in_bytes();
                if entry.status() == ManifestStatus::Deleted {
                    out.deleted.entry(path).or_insert(size);
                } else {
                    out.live.insert(path, size);
                }
            }
        }
    }
    out.deleted.retain(|path, _| !out.live.contains_key(path));
    out.all = out
        .lists
        .iter()
        .chain(out.manifests.keys())
        .chain(out.live.keys())
        .chain(out.deleted.keys())
        .map(|p| normalise(p))
        .collect();
    Ok(out)
}

/// One spelling per file: `file:///x` and `/x` are the same local file,
/// `s3a://` the same object as `s3://`.
pub(crate) fn normalise(path: &str) -> String {
    if let Some(rest) = path.strip_prefix("file://") {
        return rest.to_owned();
    }
    if let Some(rest) = path.strip_prefix("s3a://") {
        return format!("s3://{rest}");
    }
    path.to_owned()
}
