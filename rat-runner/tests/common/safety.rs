//! What maintenance must never break, checked on a real table: after
//! compaction, snapshot expiry and orphan removal every retained snapshot
//! reads the same rows as before through rat, pyiceberg and DuckDB's
//! iceberg extension; branches and tags point where they did; nothing a
//! retained snapshot references was deleted, and no data file is left that
//! none references.

use std::collections::{BTreeMap, BTreeSet};

use chrono::Utc;
use iceberg::TableUpdate;
use iceberg::spec::{SnapshotReference, SnapshotRetention};
use rat_core::{MaintenanceSettings, TableCommit};
use rat_runner::maintain::{MaintainOptions, maintain};
use rat_runner::table::{list_table_files, snapshot_files};

use super::TestProject;

/// Python that opens rat's catalog with pyiceberg (`catalog`), a DuckDB
/// connection with the iceberg extension (`con`), and `canon` to put
/// pyiceberg's values in the form the DuckDB queries print.
pub const READERS_PRELUDE: &str = r#"
import json, os, calendar, datetime
import duckdb, duckdb_extension_avro, duckdb_extension_iceberg
from pyiceberg.catalog.sql import SqlCatalog
cwd = os.getcwd()
catalog = SqlCatalog("rat", uri=f"sqlite:///{cwd}/.rat/catalog.db", warehouse=f"file://{cwd}/.rat/warehouse")
def canon(v):
    if isinstance(v, datetime.datetime):
        return calendar.timegm(v.utctimetuple()) * 1000000 + v.microsecond
    if isinstance(v, datetime.date):
        return v.isoformat()
    return v
con = duckdb.connect()
for mod, name in [(duckdb_extension_avro, "avro"), (duckdb_extension_iceberg, "iceberg")]:
    con.execute(f"LOAD '{os.path.dirname(mod.__file__)}/extensions/v1.5.5/{name}.duckdb_extension'")
con.execute("SET TimeZone = 'UTC'")
"#;

/// Every file under the table's folder, as plain paths.
pub async fn files_on_disk(p: &TestProject, table: &str) -> BTreeSet<String> {
    let loaded = p.load(table).await;
    list_table_files(&loaded)
        .await
        .unwrap()
        .into_iter()
        .map(|f| f.path.trim_start_matches("file://").to_owned())
        .collect()
}

/// Every file each snapshot of the table references (manifest lists,
/// manifests, live data files), as plain paths.
pub async fn referenced_by_snapshots(p: &TestProject, table: &str) -> BTreeSet<String> {
    let loaded = p.load(table).await;
    let mut out = BTreeSet::new();
    let plain = |path: &str| path.trim_start_matches("file://").to_owned();
    for snapshot in loaded.metadata.snapshots() {
        out.insert(plain(snapshot.manifest_list()));
        let files = snapshot_files(&loaded, Some(snapshot.snapshot_id()))
            .await
            .unwrap();
        for (manifest, _) in &files.manifests {
            out.insert(plain(&manifest.manifest_path));
        }
        out.extend(files.paths().iter().map(|path| plain(path)));
    }
    out
}

/// The rows of each snapshot in `ids` of `table` (`ns`-less, `layer.name`)
/// as each reader sees them: `("rat" | "pyiceberg" | "duckdb", id)` →
/// sorted rows. `select` is a DuckDB column list over the table.
async fn rows_by_snapshot(
    p: &TestProject,
    table: &str,
    select: &str,
    ids: &[i64],
) -> BTreeMap<(String, i64), Vec<String>> {
    let mut out: BTreeMap<(String, i64), Vec<String>> = BTreeMap::new();
    // rat: time travel with ref(as_of), one pipeline over every snapshot.
    let union: Vec<String> = ids
        .iter()
        .map(|id| {
            format!("SELECT {id} AS __snapshot, {select} FROM {{{{ ref('{table}', as_of={id}) }}}}")
        })
        .collect();
    p.write(
        "pipelines/gold/snapshot_rows/pipeline.sql",
        &union.join("\nUNION ALL\n"),
    );
    p.run_ok(&["gold.snapshot_rows"]).await;
    let read = p.query("SELECT * FROM gold.snapshot_rows").await;
    for row in &read.rows {
        let id = row[0].as_i64().unwrap();
        let rest = serde_json::to_string(&row[1..]).unwrap();
        out.entry(("rat".into(), id)).or_default().push(rest);
    }
    // pyiceberg and DuckDB, each snapshot by id.
    let loaded = p.load(table).await;
    let script = format!(
        "{READERS_PRELUDE}
table = catalog.load_table('default.{table}')
out = {{}}
for sid in {ids:?}:
    py = [[canon(v) for v in row.values()] for row in table.scan(snapshot_id=sid).to_arrow().to_pylist()]
    dk = [list(r) for r in con.execute(f\"SELECT {select} FROM iceberg_scan('{location}', snapshot_from_id={{sid}})\").fetchall()]
    out[str(sid)] = {{'pyiceberg': py, 'duckdb': dk}}
print(json.dumps(out, default=str))",
        location = loaded.metadata_location,
    );
    let read = p.python(&script);
    for id in ids {
        for reader in ["pyiceberg", "duckdb"] {
            let rows = read[id.to_string()][reader].as_array().unwrap();
            out.entry((reader.into(), *id))
                .or_default()
                .extend(rows.iter().map(|r| serde_json::to_string(r).unwrap()));
        }
    }
    for rows in out.values_mut() {
        rows.sort();
    }
    // An empty snapshot has no entry yet: give every (reader, id) one.
    for reader in ["rat", "pyiceberg", "duckdb"] {
        for id in ids {
            out.entry((reader.into(), *id)).or_default();
        }
    }
    out
}

/// Tags the table's oldest snapshot and branches from its second, runs
/// maintenance as if eight days had passed (every snapshot past retention,
/// every unreferenced file past the orphan age) keeping the last two of
/// each ref, and checks everything the module promises.
pub async fn check_maintenance_keeps_what_it_must(p: &TestProject, table: &str, select: &str) {
    let loaded = p.load(table).await;
    let mut snapshots: Vec<_> = loaded.metadata.snapshots().collect();
    snapshots.sort_by_key(|s| (s.sequence_number(), s.timestamp_ms()));
    let ids: Vec<i64> = snapshots.iter().map(|s| s.snapshot_id()).collect();
    assert!(ids.len() >= 4, "{table}: too few snapshots ({})", ids.len());
    let (tagged, branched) = (ids[0], ids[1]);
    p.engine
        .catalog()
        .commit(TableCommit {
            table: table.parse().unwrap(),
            requirements: vec![],
            updates: vec![
                TableUpdate::SetSnapshotRef {
                    ref_name: "v1".into(),
                    reference: SnapshotReference::new(
                        tagged,
                        SnapshotRetention::Tag {
                            max_ref_age_ms: None,
                        },
                    ),
                },
                TableUpdate::SetSnapshotRef {
                    ref_name: "audit".into(),
                    reference: SnapshotReference::new(
                        branched,
                        SnapshotRetention::branch(None, None, None),
                    ),
                },
            ],
        })
        .await
        .unwrap();
    let main_before = loaded.main_snapshot_id().unwrap();
    let before = rows_by_snapshot(p, table, select, &ids).await;
    // The readers agree on what main holds, and it holds something: the
    // comparisons below are not between empty sets.
    let count = |reader: &str| before[&(reader.to_owned(), main_before)].len();
    assert!(count("rat") > 0, "{table}: main reads empty");
    assert_eq!(
        (count("pyiceberg"), count("duckdb")),
        (count("rat"), count("rat"))
    );

    let settings = MaintenanceSettings {
        keep_last: 2,
        ..MaintenanceSettings::default()
    };
    let later = Utc::now() + chrono::Duration::days(8);
    let report = maintain(
        p.engine.catalog().as_ref(),
        &table.parse().unwrap(),
        &MaintainOptions::new(settings).at(later),
    )
    .await
    .unwrap();
    assert!(
        !report.expired_snapshots.is_empty(),
        "{table}: nothing expired: {report:?}"
    );

    let after = p.load(table).await;
    let retained: Vec<i64> = ids
        .iter()
        .copied()
        .filter(|id| after.metadata.snapshot_by_id(*id).is_some())
        .collect();
    for kept in [tagged, branched, main_before] {
        assert!(retained.contains(&kept), "{table}: {kept} was expired");
    }
    assert_eq!(
        after.ref_snapshot_id("v1"),
        Some(tagged),
        "{table}: the tag moved"
    );
    assert_eq!(
        after.ref_snapshot_id("audit"),
        Some(branched),
        "{table}: the branch moved"
    );
    let read_after = rows_by_snapshot(p, table, select, &retained).await;
    for id in &retained {
        for reader in ["rat", "pyiceberg", "duckdb"] {
            let key = (reader.to_owned(), *id);
            assert_eq!(
                read_after[&key], before[&key],
                "{table}: {reader} reads snapshot {id} differently after maintenance"
            );
        }
    }
    // Main (compacted or not) reads what it read.
    let main_now = after.main_snapshot_id().unwrap();
    let main_rows = rows_by_snapshot(p, table, select, &[main_now]).await;
    for reader in ["rat", "pyiceberg", "duckdb"] {
        assert_eq!(
            main_rows[&(reader.to_owned(), main_now)],
            before[&(reader.to_owned(), main_before)],
            "{table}: {reader} reads main differently after maintenance"
        );
    }

    assert_files_match_snapshots(p, table).await;
}

/// Nothing a snapshot of `table` references is missing from its folder,
/// and no data file is there that none references. Returns the files.
pub async fn assert_files_match_snapshots(p: &TestProject, table: &str) -> BTreeSet<String> {
    let disk = files_on_disk(p, table).await;
    let referenced = referenced_by_snapshots(p, table).await;
    let missing: Vec<&String> = referenced.difference(&disk).collect();
    assert!(
        missing.is_empty(),
        "{table}: deleted but referenced: {missing:?}"
    );
    let unreferenced: Vec<&String> = disk
        .iter()
        .filter(|f| f.ends_with(".parquet") && !referenced.contains(*f))
        .collect();
    assert!(
        unreferenced.is_empty(),
        "{table}: left behind: {unreferenced:?}"
    );
    disk
}
