//! `rat tables`.

use rat_core::Result;
use rat_server::api::{PlatformApi, all_tables};

use crate::output::{EXIT_OK, print_json, print_table};

pub(crate) async fn tables(api: &dyn PlatformApi, json: bool) -> Result<u8> {
    let rows = all_tables(api, None).await?;
    if json {
        print_json(&rows);
    } else if rows.is_empty() {
        println!("No tables yet. Run `rat run` to build them.");
    } else {
        let show = |v: Option<String>| v.unwrap_or_else(|| "-".into());
        let cells: Vec<Vec<String>> = rows
            .iter()
            .map(|r| {
                let updated = r.updated_at.as_deref().and_then(|t| {
                    chrono::DateTime::parse_from_rfc3339(t)
                        .ok()
                        .map(|t| t.format("%Y-%m-%d %H:%M:%S").to_string())
                });
                vec![
                    r.table.to_string(),
                    show(r.records.map(|n| n.to_string())),
                    show(r.data_files.map(|n| n.to_string())),
                    show(r.snapshot_id.map(|n| n.to_string())),
                    show(updated),
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
