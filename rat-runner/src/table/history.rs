//! What `main` pointed at over time (`rat history`).

use std::collections::HashSet;

use chrono::{DateTime, Utc};
use rat_core::LoadedTable;
use serde::{Deserialize, Serialize};

/// One time `main` moved, as `rat history` shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "json-schema", derive(schemars::JsonSchema))]
pub struct SnapshotInfo {
    /// Snapshot id.
    pub snapshot_id: i64,
    /// Parent snapshot id.
    pub parent_id: Option<i64>,
    /// When `main` started pointing at it.
    pub current_from: Option<DateTime<Utc>>,
    /// When the snapshot was written.
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
    /// Whether this entry is `main` returning to an earlier snapshot.
    pub rollback: bool,
    /// The rat run that wrote it.
    pub run_id: Option<String>,
}

/// `main`'s moves, newest first, from the table's snapshot log (falling back
/// to the parent chain for tables whose writers kept no log).
pub fn history(table: &LoadedTable) -> Vec<SnapshotInfo> {
    let metadata = &table.metadata;
    let main = table.main_snapshot_id();
    let mut moves: Vec<(i64, Option<i64>)> = metadata
        .history()
        .iter()
        .map(|entry| (entry.snapshot_id, Some(entry.timestamp_ms)))
        .collect();
    if moves.is_empty() {
        let mut next = main;
        while let Some(id) = next {
            moves.insert(0, (id, None));
            next = metadata
                .snapshot_by_id(id)
                .and_then(|s| s.parent_snapshot_id());
        }
    }
    let mut seen = HashSet::new();
    let last = moves.len().saturating_sub(1);
    let mut out: Vec<SnapshotInfo> = moves
        .iter()
        .enumerate()
        .filter_map(|(i, (id, at))| {
            let snapshot = metadata.snapshot_by_id(*id)?;
            let summary = snapshot.summary();
            let num = |key: &str| {
                summary
                    .additional_properties
                    .get(key)
                    .and_then(|v| v.parse().ok())
            };
            Some(SnapshotInfo {
                snapshot_id: *id,
                parent_id: snapshot.parent_snapshot_id(),
                current_from: at.and_then(DateTime::from_timestamp_millis),
                committed_at: snapshot.timestamp().ok(),
                operation: summary.operation.as_str().to_owned(),
                added_records: num("added-records"),
                deleted_records: num("deleted-records"),
                total_records: num("total-records"),
                current: i == last && Some(*id) == main,
                rollback: !seen.insert(*id),
                run_id: summary
                    .additional_properties
                    .get(super::snapshot::RUN_ID_PROPERTY)
                    .cloned(),
            })
        })
        .collect();
    out.reverse();
    out
}
