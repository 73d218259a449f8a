//! `rat tables`.

use crate::workspace::Place;

use rat_core::Result;
use serde::Serialize;

use crate::output::{EXIT_OK, print_json, print_table};

#[derive(Serialize)]
struct TableRow {
    table: String,
    snapshot_id: Option<i64>,
    records: Option<u64>,
    data_files: Option<u64>,
    updated_at: Option<String>,
}

pub(crate) async fn tables(place: &Place, json: bool) -> Result<u8> {
    let engine = crate::workspace::Workspace::open(place).await?.engine;
    let catalog = engine.catalog();
    let mut rows = Vec::new();
    for ns in catalog.list_namespaces().await? {
        for table in catalog.list_tables(&ns).await? {
            let loaded = catalog.load_table(&table).await?;
            let snapshot = loaded
                .main_snapshot_id()
                .and_then(|id| loaded.metadata.snapshot_by_id(id));
            let num = |key: &str| {
                snapshot.and_then(|s| s.summary().additional_properties.get(key)?.parse().ok())
            };
            rows.push(TableRow {
                table: table.to_string(),
                snapshot_id: snapshot.map(|s| s.snapshot_id()),
                records: num("total-records"),
                data_files: num("total-data-files"),
                updated_at: snapshot
                    .and_then(|s| s.timestamp().ok())
                    .map(|t| t.format("%Y-%m-%d %H:%M:%S").to_string()),
            });
        }
    }
    if json {
        print_json(&rows);
    } else if rows.is_empty() {
        println!("No tables yet. Run `rat run` to build them.");
    } else {
        let show = |v: Option<String>| v.unwrap_or_else(|| "-".into());
        let cells: Vec<Vec<String>> = rows
            .iter()
            .map(|r| {
                vec![
                    r.table.clone(),
                    show(r.records.map(|n| n.to_string())),
                    show(r.data_files.map(|n| n.to_string())),
                    show(r.snapshot_id.map(|n| n.to_string())),
                    show(r.updated_at.clone()),
                ]
            })
            .collect();
        print_table(
            &["table", "rows", "files", "snapshot", "updated (UTC)"],
            &cells,
        );
    }
    Ok(EXIT_OK)
}
