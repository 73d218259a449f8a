//! `rat history <table>`.

use crate::workspace::Place;

use rat_core::{Result, TableRef};
use rat_runner::table::history as snapshot_history;

use crate::output::{EXIT_OK, print_json, print_table};

pub(crate) async fn history(place: &Place, table: &str, json: bool) -> Result<u8> {
    let table: TableRef = table.parse()?;
    let engine = crate::workspace::Workspace::open(place).await?.engine;
    let loaded = engine.catalog().load_table(&table).await?;
    let snapshots = snapshot_history(&loaded);
    if json {
        print_json(&snapshots);
        return Ok(EXIT_OK);
    }
    if snapshots.is_empty() {
        println!("{table} has no published snapshot yet.");
        return Ok(EXIT_OK);
    }
    let show = |v: Option<u64>| v.map_or_else(|| "-".into(), |n| n.to_string());
    let rows: Vec<Vec<String>> = snapshots
        .iter()
        .map(|s| {
            vec![
                format!("{}{}", s.snapshot_id, if s.current { " *" } else { "" }),
                s.current_from
                    .or(s.committed_at)
                    .map_or_else(|| "-".into(), |t| t.format("%Y-%m-%d %H:%M:%S").to_string()),
                if s.rollback {
                    "rollback".to_owned()
                } else {
                    s.operation.clone()
                },
                show(s.added_records),
                show(s.deleted_records),
                show(s.total_records),
            ]
        })
        .collect();
    print_table(
        &[
            "snapshot",
            "committed (UTC)",
            "operation",
            "added",
            "deleted",
            "total rows",
        ],
        &rows,
    );
    Ok(EXIT_OK)
}
