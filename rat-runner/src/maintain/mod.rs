//! Table maintenance: what keeps a table fast and small however long it
//! lives. One call per table, in Iceberg's recommended order:
//!
//! 1. **compaction** ([`compact`]): small data files of a partition are
//!    rewritten into files near the target size, committed as a `replace`
//!    snapshot;
//! 2. **snapshot expiry**: snapshots older than the retention go, except the
//!    last N of each branch and every ref's head; then the manifest lists,
//!    manifests and data files only they referenced are deleted;
//! 3. **orphan removal**: files under the table's location that no metadata
//!    references, once older than a safety age (or at once when named after
//!    a run that ended without publishing them).
//!
//! A dry run plans all three and changes nothing.
//!
//! ```no_run
//! # async fn demo(catalog: &dyn rat_core::Catalog) -> rat_core::Result<()> {
//! use rat_runner::maintain::{MaintainOptions, maintain};
//!
//! let table = "silver.orders".parse()?;
//! let plan = maintain(catalog, &table, &MaintainOptions::default().dry_run(true)).await?;
//! println!("would remove {} files", plan.removed_files.len());
//! # Ok(()) }
//! ```

pub mod compact;
mod expire;
mod orphans;
mod reachable;

use std::collections::HashSet;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use rat_core::{
    Catalog, ErrorKind, LoadedTable, MaintenanceSettings, Result, RunId, RunStatus, RunStore,
    TableRef,
};
use serde::{Deserialize, Serialize};

pub use compact::CompactedPartition;
pub use expire::EXPIRED_BEFORE_PROPERTY;

use crate::table::{ListedFile, list_table_files};
use reachable::{Referenced, referenced};

/// How one maintenance pass runs.
#[derive(Clone, Default)]
pub struct MaintainOptions {
    /// Retention, safety age and compaction target.
    pub settings: MaintenanceSettings,
    /// Plan only: change nothing, report what would change.
    pub dry_run: bool,
    /// The moment ages are measured from (now when `None`).
    pub now: Option<DateTime<Utc>>,
    /// Where run records are: files named after a run that ended without
    /// publishing them are removed at once instead of after the safety age.
    pub run_store: Option<Arc<dyn RunStore>>,
}

impl std::fmt::Debug for MaintainOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MaintainOptions")
            .field("settings", &self.settings)
            .field("dry_run", &self.dry_run)
            .field("now", &self.now)
            .field("run_store", &self.run_store.is_some())
            .finish()
    }
}

impl MaintainOptions {
    /// Options with these settings.
    pub fn new(settings: MaintenanceSettings) -> Self {
        Self {
            settings,
            ..Self::default()
        }
    }

    /// Plan only.
    pub fn dry_run(mut self, dry_run: bool) -> Self {
        self.dry_run = dry_run;
        self
    }

    /// Ages measured from `now`.
    pub fn at(mut self, now: DateTime<Utc>) -> Self {
        self.now = Some(now);
        self
    }

    /// Consult `store` about runs that ended.
    pub fn with_run_store(mut self, store: Arc<dyn RunStore>) -> Self {
        self.run_store = Some(store);
        self
    }
}

/// What a maintenance pass did (or, dry, would do) to one table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "json-schema", derive(schemars::JsonSchema))]
pub struct MaintenanceReport {
    /// The table.
    pub table: TableRef,
    /// Whether nothing was changed.
    pub dry_run: bool,
    /// Partitions whose small files were (or would be) rewritten.
    pub compacted: Vec<CompactedPartition>,
    /// Snapshots expired, oldest first.
    pub expired_snapshots: Vec<i64>,
    /// Files deleted, with why.
    pub removed_files: Vec<RemovedFile>,
    /// The table's files before.
    pub before: Footprint,
    /// The table's files after (predicted for a dry run).
    pub after: Footprint,
}

/// A file maintenance removed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "json-schema", derive(schemars::JsonSchema))]
pub struct RemovedFile {
    /// Its location.
    pub path: String,
    /// Its size in bytes (0 when unknown).
    pub bytes: u64,
    /// Why it went.
    pub reason: RemovalReason,
}

/// Why maintenance removed a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "json-schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum RemovalReason {
    /// Only expired snapshots referenced it.
    Expired,
    /// Nothing referenced it and it was older than the safety age.
    Orphan,
    /// Nothing referenced it and the run that wrote it ended unpublished.
    EndedRun,
}

/// Files under a table's location.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "json-schema", derive(schemars::JsonSchema))]
pub struct Footprint {
    /// Snapshots in the metadata.
    pub snapshots: u64,
    /// Data files (Parquet) on storage.
    pub data_files: u64,
    /// Their bytes.
    pub data_bytes: u64,
    /// Metadata files (JSON, manifests, manifest lists) on storage.
    pub metadata_files: u64,
    /// Their bytes.
    pub metadata_bytes: u64,
}

impl Footprint {
    fn of(snapshots: usize, listed: &[ListedFile]) -> Self {
        let mut out = Self {
            snapshots: snapshots as u64,
            ..Self::default()
        };
        for file in listed {
            if file.path.contains("/metadata/") {
                out.metadata_files += 1;
                out.metadata_bytes += file.size;
            } else {
                out.data_files += 1;
                out.data_bytes += file.size;
            }
        }
        out
    }
}

/// Compacts, expires snapshots and removes orphans of `table`.
pub async fn maintain(
    catalog: &dyn Catalog,
    table: &TableRef,
    options: &MaintainOptions,
) -> Result<MaintenanceReport> {
    let now = options.now.unwrap_or_else(Utc::now);
    let settings = &options.settings;
    let loaded = catalog.load_table(table).await?;
    let listed = list_table_files(&loaded).await?;
    let before = Footprint::of(loaded.metadata.snapshots().len(), &listed);

    let (loaded, compacted) = if settings.compact {
        compact::compact(catalog, loaded, settings, options.dry_run).await?
    } else {
        (loaded, Vec::new())
    };

    let (loaded, expired_snapshots, mut removed_files, retained_refs) =
        expire(catalog, loaded, settings, now, options.dry_run).await?;

    // Orphans: list first, then read the metadata, so that whatever a
    // concurrent writer committed by then counts as referenced.
    let (loaded, listed, referenced) = if options.dry_run {
        let gone: HashSet<&str> = removed_files.iter().map(|f| f.path.as_str()).collect();
        let listed: Vec<ListedFile> = listed
            .into_iter()
            .filter(|f| !gone.contains(f.path.as_str()))
            .collect();
        let refs = match retained_refs {
            Some(r) => r,
            None => referenced(&loaded, &all_snapshots(&loaded)).await?,
        };
        (loaded, listed, refs)
    } else {
        let listed = list_table_files(&loaded).await?;
        let fresh = catalog.load_table(table).await?;
        let refs = referenced(&fresh, &all_snapshots(&fresh)).await?;
        (fresh, listed, refs)
    };
    let orphans = find_orphans(&loaded, listed, &referenced, options, now).await;
    for (file, reason) in &orphans {
        if !options.dry_run {
            delete(&loaded, &file.path).await;
        }
        removed_files.push(RemovedFile {
            path: file.path.clone(),
            bytes: file.size,
            reason: *reason,
        });
    }

    let after = if options.dry_run {
        predicted(before, &removed_files, &expired_snapshots, &compacted)
    } else {
        let listed = list_table_files(&loaded).await?;
        Footprint::of(loaded.metadata.snapshots().len(), &listed)
    };
    Ok(MaintenanceReport {
        table: table.clone(),
        dry_run: options.dry_run,
        compacted,
        expired_snapshots,
        removed_files,
        before,
        after,
    })
}

/// Expiry: plans, commits (retrying when refs moved meanwhile) and deletes
/// what only the expired snapshots referenced. Returns the table after the
/// commit, the expired ids, the removed files and (for a dry run) what the
/// retained snapshots reference.
async fn expire(
    catalog: &dyn Catalog,
    mut table: LoadedTable,
    settings: &MaintenanceSettings,
    now: DateTime<Utc>,
    dry_run: bool,
) -> Result<(LoadedTable, Vec<i64>, Vec<RemovedFile>, Option<Referenced>)> {
    const ATTEMPTS: usize = 3;
    for attempt in 1..=ATTEMPTS {
        let expired = expire::expired_snapshots(&table, settings, now);
        if expired.is_empty() {
            return Ok((table, Vec::new(), Vec::new(), None));
        }
        let expired_refs = referenced(&table, &expired).await?;
        let retained_refs = referenced(&table, &expire::retained(&table, &expired)).await?;
        let files = expire::unreachable_files(&expired_refs, &retained_refs);
        let ids: Vec<i64> = expired.iter().map(|s| s.snapshot_id()).collect();
        let removed = |files: Vec<(String, u64)>| {
            files
                .into_iter()
                .map(|(path, bytes)| RemovedFile {
                    path,
                    bytes,
                    reason: RemovalReason::Expired,
                })
                .collect::<Vec<_>>()
        };
        if dry_run {
            return Ok((table, ids, removed(files), Some(retained_refs)));
        }
        match catalog
            .commit(expire::expiry_commit(&table, &expired))
            .await
        {
            Ok(committed) => {
                for (path, _) in &files {
                    delete(&committed, path).await;
                }
                return Ok((committed, ids, removed(files), None));
            }
            Err(e) if e.kind() == ErrorKind::Conflict && attempt < ATTEMPTS => {
                table = catalog.load_table(&table.table).await?;
            }
            Err(e) => return Err(e),
        }
    }
    unreachable!("the loop returns on its last attempt")
}

/// Unreferenced files that are old enough, or named after a run that
/// ended without publishing (failed or cancelled: a successful run's files
/// are referenced, and a run still going may yet commit them).
async fn find_orphans(
    table: &LoadedTable,
    listed: Vec<ListedFile>,
    referenced: &Referenced,
    options: &MaintainOptions,
    now: DateTime<Utc>,
) -> Vec<(ListedFile, RemovalReason)> {
    let age =
        chrono::Duration::from_std(options.settings.orphan_age).unwrap_or(chrono::Duration::MAX);
    let older_than = now
        .checked_sub_signed(age)
        .unwrap_or(DateTime::<Utc>::MIN_UTC);
    let unreferenced = orphans::unreferenced(table, listed, referenced);
    let mut ended: HashSet<RunId> = HashSet::new();
    if let Some(store) = &options.run_store {
        let young: HashSet<RunId> = unreferenced
            .iter()
            .filter(|f| f.modified >= older_than)
            .filter_map(|f| orphans::run_of(&f.path))
            .collect();
        for run in young {
            if let Ok(record) = store.get(&run).await
                && matches!(record.status, RunStatus::Failed | RunStatus::Cancelled)
            {
                ended.insert(run);
            }
        }
    }
    unreferenced
        .into_iter()
        .filter_map(|file| {
            if file.modified < older_than {
                Some((file, RemovalReason::Orphan))
            } else if orphans::run_of(&file.path).is_some_and(|r| ended.contains(&r)) {
                Some((file, RemovalReason::EndedRun))
            } else {
                None
            }
        })
        .collect()
}

/// What a dry run predicts the footprint becomes.
fn predicted(
    before: Footprint,
    removed: &[RemovedFile],
    expired: &[i64],
    compacted: &[CompactedPartition],
) -> Footprint {
    let mut after = before;
    after.snapshots = after.snapshots.saturating_sub(expired.len() as u64);
    for file in removed {
        if file.path.contains("/metadata/") {
            after.metadata_files = after.metadata_files.saturating_sub(1);
            after.metadata_bytes = after.metadata_bytes.saturating_sub(file.bytes);
        } else {
            after.data_files = after.data_files.saturating_sub(1);
            after.data_bytes = after.data_bytes.saturating_sub(file.bytes);
        }
    }
    // One replace snapshot, one new file per compacted partition (the
    // files it replaces stay for the snapshots before it).
    if !compacted.is_empty() {
        after.snapshots += 1;
        after.data_files += compacted.len() as u64;
    }
    after
}

fn all_snapshots(table: &LoadedTable) -> Vec<iceberg::spec::SnapshotRef> {
    table.metadata.snapshots().cloned().collect()
}

/// Deletes one file; a failure leaves an orphan for a later pass.
async fn delete(table: &LoadedTable, path: &str) {
    if let Err(e) = table.file_io.delete(path).await {
        tracing::warn!(table = %table.table, path, error = %e, "could not delete a file");
    }
}
