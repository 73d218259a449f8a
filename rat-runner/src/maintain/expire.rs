//! Snapshot expiry: which snapshots go (older than the retention, except the
//! last N of each branch and every ref's head), the commit that removes them,
//! and the files only they referenced.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};
use iceberg::spec::SnapshotRef;
use iceberg::{TableRequirement, TableUpdate};
use rat_core::{LoadedTable, MaintenanceSettings, TableCommit};

use super::reachable::Referenced;
use crate::table::ref_names;

/// Table property rat sets when it expires snapshots: the timestamp (ms)
/// of the newest snapshot it expired, so time travel to a moment before
/// it can say the snapshot was expired rather than that none existed.
pub const EXPIRED_BEFORE_PROPERTY: &str = "rat.snapshots-expired-before-ms";

/// The snapshots of `table` to expire at `now`, oldest first.
pub(crate) fn expired_snapshots(
    table: &LoadedTable,
    settings: &MaintenanceSettings,
    now: DateTime<Utc>,
) -> Vec<SnapshotRef> {
    let metadata = &table.metadata;
    let retention =
        chrono::Duration::from_std(settings.snapshot_retention).unwrap_or(chrono::Duration::MAX);
    let cutoff = now
        .checked_sub_signed(retention)
        .map_or(i64::MIN, |t| t.timestamp_millis());
    let mut protected: HashSet<i64> = HashSet::new();
    for name in ref_names(metadata) {
        // Every ref's head, and the last N of its ancestry (tags have one).
        let mut next = metadata.snapshot_for_ref(&name).map(|s| s.snapshot_id());
        for _ in 0..settings.keep_last.max(1) {
            let Some(id) = next else { break };
            protected.insert(id);
            next = metadata
                .snapshot_by_id(id)
                .and_then(|s| s.parent_snapshot_id());
        }
    }
    let mut expired: Vec<SnapshotRef> = metadata
        .snapshots()
        .filter(|s| s.timestamp_ms() < cutoff && !protected.contains(&s.snapshot_id()))
        .cloned()
        .collect();
    expired.sort_by_key(|s| s.timestamp_ms());
    expired
}

/// The commit removing `expired`, provided every ref other than run
/// branches still points where it did (a rollback that moved `main` back
/// to an expiring snapshot must not lose its ref).
pub(crate) fn expiry_commit(table: &LoadedTable, expired: &[SnapshotRef]) -> TableCommit {
    let metadata = &table.metadata;
    let mut requirements = vec![TableRequirement::UuidMatch {
        uuid: metadata.uuid(),
    }];
    for name in ref_names(metadata) {
        if name.starts_with(rat_core::RUN_BRANCH_PREFIX) {
            continue;
        }
        requirements.push(TableRequirement::RefSnapshotIdMatch {
            snapshot_id: metadata.snapshot_for_ref(&name).map(|s| s.snapshot_id()),
            r#ref: name,
        });
    }
    let newest = expired.iter().map(|s| s.timestamp_ms()).max().unwrap_or(0);
    let before = metadata
        .properties()
        .get(EXPIRED_BEFORE_PROPERTY)
        .and_then(|v| v.parse::<i64>().ok())
        .unwrap_or(0)
        .max(newest);
    TableCommit {
        table: table.table.clone(),
        requirements,
        updates: vec![
            TableUpdate::RemoveSnapshots {
                snapshot_ids: expired.iter().map(|s| s.snapshot_id()).collect(),
            },
            TableUpdate::SetProperties {
                updates: HashMap::from([(EXPIRED_BEFORE_PROPERTY.to_owned(), before.to_string())]),
            },
        ],
    }
}

/// Files only the expired snapshots reference: their manifest lists, the
/// manifests no retained snapshot lists, and the data files no retained
/// snapshot has live. Each with its size (0 for manifest lists).
pub(crate) fn unreachable_files(expired: &Referenced, retained: &Referenced) -> Vec<(String, u64)> {
    let mut out: Vec<(String, u64)> = Vec::new();
    for list in &expired.lists {
        if !retained.lists.contains(list) {
            out.push((list.clone(), 0));
        }
    }
    for (manifest, size) in &expired.manifests {
        if !retained.manifests.contains_key(manifest) {
            out.push((manifest.clone(), *size));
        }
    }
    for (file, size) in expired.live.iter().chain(expired.deleted.iter()) {
        if !retained.live.contains_key(file) {
            out.push((file.clone(), *size));
        }
    }
    out.sort();
    out.dedup();
    out
}

/// The snapshots of `table` other than `expired`.
pub(crate) fn retained(table: &LoadedTable, expired: &[SnapshotRef]) -> Vec<SnapshotRef> {
    let gone: HashSet<i64> = expired.iter().map(|s| s.snapshot_id()).collect();
    table
        .metadata
        .snapshots()
        .filter(|s| !gone.contains(&s.snapshot_id()))
        .cloned()
        .collect()
}
