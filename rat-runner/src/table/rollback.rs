//! Rollback: make an earlier snapshot current on `main` again.

use iceberg::spec::{SnapshotReference, SnapshotRetention};
use iceberg::{TableRequirement, TableUpdate};
use rat_core::{Catalog, Error, LoadedTable, MAIN_BRANCH, Result, TableCommit, TableRef};

/// What a rollback did.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "json-schema", derive(schemars::JsonSchema))]
pub struct Rollback {
    /// The table.
    pub table: TableRef,
    /// Where `main` was.
    pub from: Option<i64>,
    /// Where `main` is now.
    pub to: i64,
}

/// Points `main` at `snapshot_id` in a new commit, provided `main` is still
/// where it was when the table was loaded (a concurrent publish makes this a
/// retryable conflict, not a silent overwrite). The move is recorded in the
/// table's snapshot log, so `rat history` shows it and `as_of` times before
/// it still resolve to what readers saw then.
pub async fn rollback(
    catalog: &dyn Catalog,
    table: &TableRef,
    snapshot_id: i64,
) -> Result<Rollback> {
    let loaded = catalog.load_table(table).await?;
    let from = loaded.main_snapshot_id();
    if loaded.metadata.snapshot_by_id(snapshot_id).is_none() {
        return Err(Error::invalid(format!(
            "table '{table}' has no snapshot {snapshot_id} (see rat history {})",
            table.short()
        )));
    }
    if from != Some(snapshot_id) {
        catalog
            .commit(rollback_commit(&loaded, snapshot_id))
            .await?;
    }
    Ok(Rollback {
        table: table.clone(),
        from,
        to: snapshot_id,
    })
}

fn rollback_commit(table: &LoadedTable, snapshot_id: i64) -> TableCommit {
    TableCommit {
        table: table.table.clone(),
        requirements: vec![
            TableRequirement::UuidMatch {
                uuid: table.metadata.uuid(),
            },
            TableRequirement::RefSnapshotIdMatch {
                r#ref: MAIN_BRANCH.to_owned(),
                snapshot_id: table.main_snapshot_id(),
            },
        ],
        updates: vec![TableUpdate::SetSnapshotRef {
            ref_name: MAIN_BRANCH.to_owned(),
            reference: SnapshotReference::new(
                snapshot_id,
                SnapshotRetention::branch(None, None, None),
            ),
        }],
    }
}
