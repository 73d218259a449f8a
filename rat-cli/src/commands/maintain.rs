//! `rat maintain [TABLE...] [--dry-run]`: compaction, snapshot expiry and
//! orphan removal, per table (every table of the namespace when none is
//! named).

use rat_core::{Result, TableRef};
use rat_server::api::{MaintainRequest, MaintenanceReport, PlatformApi, all_tables};

use crate::output::{EXIT_OK, print_json};

pub(crate) async fn maintain(
    api: &dyn PlatformApi,
    tables: Vec<TableRef>,
    dry_run: bool,
    json: bool,
) -> Result<u8> {
    let tables = if tables.is_empty() {
        all_tables(api, None)
            .await?
            .into_iter()
            .map(|t| t.table)
            .collect()
    } else {
        tables
    };
    let request = MaintainRequest { dry_run };
    let mut reports = Vec::with_capacity(tables.len());
    for table in &tables {
        let report = api.maintain(table, &request).await?;
        if !json {
            print_report(&report);
        }
        reports.push(report);
    }
    if json {
        print_json(&reports);
    }
    Ok(EXIT_OK)
}

fn print_report(r: &MaintenanceReport) {
    let verb = if r.dry_run { "would" } else { "did" };
    println!("{}:", r.table);
    for c in &r.compacted {
        let partition = if c.partition.is_empty() {
            "(unpartitioned)"
        } else {
            &c.partition
        };
        println!(
            "  {verb} compact {partition}: {} files ({} bytes, {} rows){}",
            c.files_in,
            c.bytes_in,
            c.records,
            if r.dry_run {
                String::new()
            } else {
                format!(" into {}", c.files_out)
            }
        );
    }
    if !r.expired_snapshots.is_empty() {
        println!("  {verb} expire {} snapshots", r.expired_snapshots.len());
    }
    for f in &r.removed_files {
        println!(
            "  {verb} remove {} ({:?}, {} bytes)",
            f.path, f.reason, f.bytes
        );
    }
    println!(
        "  files: {} data ({} bytes) + {} metadata ({} bytes) -> {} data ({} bytes) + {} metadata ({} bytes)",
        r.before.data_files,
        r.before.data_bytes,
        r.before.metadata_files,
        r.before.metadata_bytes,
        r.after.data_files,
        r.after.data_bytes,
        r.after.metadata_files,
        r.after.metadata_bytes
    );
}
