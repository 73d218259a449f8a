//! Every partition transform rat writes agrees with pyiceberg's own
//! transforms, on every row of every data file; partition pruning in
//! pyiceberg then loses no row.
#![allow(clippy::unwrap_used)]

mod common;

use common::TestProject;
use serde_json::json;

#[tokio::test]
async fn partition_values_match_pyiceberg_transforms_row_by_row() {
    let p = TestProject::new().await;
    p.write(
        "pipelines/silver/parts/pipeline.sql",
        "-- @partition_by: [{column: y, transform: year}, {column: ts, transform: hour}, \
           {column: tz, transform: month}, {column: d, transform: day}, {column: s, transform: 'truncate[3]'}, \
           {column: n, transform: 'truncate[10]'}, {column: n, transform: 'bucket[5]'}, \
           {column: amount, transform: 'bucket[3]'}, {column: flag, transform: identity}]\n\
         SELECT TIMESTAMP '1969-12-31 22:00:00' + to_minutes(i * 97) AS ts, \
                DATE '1966-06-01' + (i * 41)::INTEGER AS y, \
                TIMESTAMPTZ '2023-12-30 00:00:00+00' + to_hours(i * 29) AS tz, \
                DATE '1969-12-25' + (i % 20)::INTEGER AS d, \
                ['apple', 'ap', 'banana', 'bandana', 'é€x', NULL][1 + i % 6] AS s, \
                (i * 37 % 61 - 30)::INTEGER AS n, \
                CAST((i * 13 % 200 - 100) / 7 AS DECIMAL(9, 2)) AS amount, \
                i % 4 = 0 AS flag \
         FROM range(120) t(i)",
    );
    p.run_ok(&[]).await;
    let script = r#"
import json, os
import pyarrow.parquet as pq
from pyiceberg.catalog.sql import SqlCatalog
cwd = os.getcwd()
catalog = SqlCatalog("rat", uri=f"sqlite:///{cwd}/.rat/catalog.db", warehouse=f"file://{cwd}/.rat/warehouse")
t = catalog.load_table("default.silver.parts")
schema, spec = t.schema(), t.spec()
checked, mismatches, files = 0, [], 0
for task in t.scan().plan_files():
    files += 1
    rows = pq.read_table(task.file.file_path.removeprefix("file://")).to_pylist()
    for i, field in enumerate(spec.fields):
        source = schema.find_field(field.source_id)
        fn = field.transform.transform(source.field_type)
        want = task.file.partition[i]
        for row in rows:
            got = fn(row[source.name])
            checked += 1
            if got != want:
                mismatches.append([field.name, str(row[source.name]), str(got), str(want)])
counts = {f: t.scan(row_filter=f).to_arrow().num_rows for f in [
    "ts >= '1970-01-01T00:00:00'", "s == 'banana'", "n == 7", "n < -20", "amount == 5.14", "flag == true",
    "tz < '2024-01-15T00:00:00+00:00'", "d == '1969-12-31'"]}
print(json.dumps({"checked": checked, "files": files, "mismatches": mismatches[:5], "counts": counts}))
"#;
    let out = p.python(script);
    assert_eq!(out["mismatches"], json!([]), "{out}");
    assert_eq!(out["checked"], 120 * 9);
    assert!(out["files"].as_i64().unwrap() > 20, "{out}");
    for (filter, sql) in [
        (
            "ts >= '1970-01-01T00:00:00'",
            "ts >= TIMESTAMP '1970-01-01'",
        ),
        ("s == 'banana'", "s = 'banana'"),
        ("n == 7", "n = 7"),
        ("n < -20", "n < -20"),
        ("amount == 5.14", "amount = 5.14"),
        ("flag == true", "flag"),
        (
            "tz < '2024-01-15T00:00:00+00:00'",
            "tz < TIMESTAMPTZ '2024-01-15 00:00:00+00'",
        ),
        ("d == '1969-12-31'", "d = DATE '1969-12-31'"),
    ] {
        let want = p
            .scalar(&format!("SELECT count(*) FROM silver.parts WHERE {sql}"))
            .await;
        assert!(want > 0, "{sql} selects nothing: a weak check");
        assert_eq!(
            out["counts"][filter],
            json!(want),
            "pyiceberg pruning lost rows for {filter}"
        );
    }
}
