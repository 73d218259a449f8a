//! `rat history <table>`.

use rat_core::{Result, TableRef};
use rat_server::api::PlatformApi;

use crate::output::{EXIT_OK, print_json, print_table};

pub(crate) async fn history(api: &dyn PlatformApi, table: &TableRef, json: bool) -> Result<u8> {
    let snapshots = api.history(table).await?;
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
