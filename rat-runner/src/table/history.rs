//! Snapshots of a table, newest first (`rat history`).

use chrono::{DateTime, Utc};
use rat_core::LoadedTable;
use serde::{Deserialize, Serialize};

/// One snapshot as `rat history` shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SnapshotInfo {
    /// Snapshot id.
    pub snapshot_id: i64,
    /// Parent snapshot id.
    pub parent_id: Option<i64>,
    /// Commit time.
    pub committed_at: Option<DateTime<Utc>>,
    /// `append`, `overwrite`, `replace` or `delete`.
    pub operation: String,
    /// Records added by the snapshot.
    pub added_records: Option<u64>,
    /// Records removed by the snapshot.
    pub deleted_records: Option<u64>,
    /// Records in the table at this snapshot.
    pub total_records: Option<u64>,
    /// Whether `main` points at it now.
    pub current: bool,
    /// The rat run that wrote it.
    pub run_id: Option<String>,
}

/// The snapshots reachable from `main`, newest first.
pub fn history(table: &LoadedTable) -> Vec<SnapshotInfo> {
    let metadata = &table.metadata;
    let main = table.main_snapshot_id();
    let mut out = Vec::new();
    let mut next = main;
    while let Some(id) = next {
        let Some(snapshot) = metadata.snapshot_by_id(id) else {
            break;
        };
        let summary = snapshot.summary();
        let num = |key: &str| {
            summary
                .additional_properties
                .get(key)
                .and_then(|v| v.parse().ok())
        };
        out.push(SnapshotInfo {
            snapshot_id: id,
            parent_id: snapshot.parent_snapshot_id(),
            committed_at: snapshot.timestamp().ok(),
            operation: summary.operation.as_str().to_owned(),
            added_records: num("added-records"),
            deleted_records: num("deleted-records"),
            total_records: num("total-records"),
            current: Some(id) == main,
            run_id: summary.additional_properties.get("rat.run-id").cloned(),
        });
        next = snapshot.parent_snapshot_id();
    }
    out
}
