//! pyiceberg's SqlCatalog opens rat's catalog file: it reads what rat wrote,
//! and rat reads what it wrote.
#![allow(clippy::unwrap_used)]

mod common;

use common::TestProject;
use serde_json::json;

const OPEN_CATALOG: &str = r#"
import json, os
from pyiceberg.catalog.sql import SqlCatalog
cwd = os.getcwd()
catalog = SqlCatalog("rat", uri=f"sqlite:///{cwd}/.rat/catalog.db", warehouse=f"file://{cwd}/.rat/warehouse")
"#;

#[tokio::test]
async fn pyiceberg_reads_rat_tables_with_the_right_rows_and_schema() {
    let p = TestProject::new().await;
    p.write(
        "pipelines/silver/orders/pipeline.sql",
        "SELECT i::INTEGER AS id, 'o' || i AS label, DATE '2024-01-01' + i::INTEGER AS day, \
         (i * 1.5)::DECIMAL(10, 2) AS amount, TIMESTAMP '2024-01-01 00:00:00' + to_hours(i) AS at, \
         i % 2 = 0 AS even FROM range(50) t(i)",
    );
    p.write(
        "pipelines/silver/orders/config.yaml",
        "partition_by:\n  - {column: day, transform: month}\ndescription: test orders\n",
    );
    p.run_ok(&[]).await;
    // A second snapshot, so pyiceberg must follow main, not the first one;
    // its config describes the table anew, and its columns.
    p.write(
        "pipelines/silver/orders/config.yaml",
        "partition_by:\n  - {column: day, transform: month}\ndescription: orders, described\n\
         columns:\n  id: the order number\n  amount: {description: in euros}\n  gone: not a column\n",
    );
    let described = p.run_ok(&[]).await;
    assert!(
        described[0]
            .warnings
            .iter()
            .any(|w| w.contains("describes 'gone'")),
        "{:?}",
        described[0].warnings
    );

    let script = format!(
        "{OPEN_CATALOG}
t = catalog.load_table('default.silver.orders')
rows = t.scan().to_arrow().sort_by('id').to_pylist()
print(json.dumps({{
  'namespaces': [list(n) for n in catalog.list_namespaces('default')],
  'schema': [(f.field_id, f.name, str(f.field_type)) for f in t.schema().fields],
  'spec': [str(f.transform) for f in t.spec().fields],
  'rows': len(rows),
  'first': [rows[0]['id'], rows[0]['label'], str(rows[0]['day']), str(rows[0]['amount']), rows[0]['even']],
  'last_id': rows[-1]['id'],
  'march': t.scan(row_filter=\"day >= '2024-02-01'\").to_arrow().num_rows,
  'snapshots': len(t.snapshots()),
  'comment': t.properties.get('comment'),
  'docs': [f.doc for f in t.schema().fields],
}}))"
    );
    let out = p.python(&script);
    assert_eq!(out["rows"], 50);
    assert_eq!(out["first"], json!([0, "o0", "2024-01-01", "0.00", true]));
    assert_eq!(out["last_id"], 49);
    assert_eq!(
        out["schema"],
        json!([
            [1, "id", "int"],
            [2, "label", "string"],
            [3, "day", "date"],
            [4, "amount", "decimal(10, 2)"],
            [5, "at", "timestamp"],
            [6, "even", "boolean"]
        ])
    );
    assert_eq!(out["spec"], json!(["month"]));
    // Days 31..49 fall in February.
    assert_eq!(out["march"], 19);
    assert_eq!(out["snapshots"], 2);
    assert_eq!(out["comment"], "orders, described");
    assert_eq!(
        out["docs"],
        json!(["the order number", null, null, "in euros", null, null])
    );
}

#[tokio::test]
async fn rat_reads_a_table_pyiceberg_wrote_into_the_same_catalog() {
    let p = TestProject::new().await;
    // rat creates the catalog file and one table first.
    p.write("pipelines/bronze/seed/pipeline.sql", "SELECT 1 AS id");
    p.run_ok(&[]).await;

    let script = format!(
        "{OPEN_CATALOG}
import pyarrow as pa
data = pa.table({{'id': pa.array([1, 2, 3], pa.int64()), 'city': ['Oslo', 'Lima', None]}})
t = catalog.create_table('default.bronze.cities', schema=data.schema)
t.append(data)
t.append(pa.table({{'id': pa.array([4], pa.int64()), 'city': ['Pune']}}))
print(json.dumps({{'snapshots': len(t.snapshots())}}))"
    );
    assert_eq!(p.python(&script)["snapshots"], 2);

    // rat sees it in queries and in pipelines.
    let out = p
        .query("SELECT id, city FROM bronze.cities ORDER BY id")
        .await;
    assert_eq!(out.columns, ["id", "city"]);
    assert_eq!(
        out.rows,
        [
            [json!(1), json!("Oslo")],
            [json!(2), json!("Lima")],
            [json!(3), json!(null)],
            [json!(4), json!("Pune")]
        ]
    );
    p.write(
        "pipelines/silver/known_cities/pipeline.sql",
        "SELECT upper(city) AS city FROM {{ ref('bronze.cities') }} WHERE city IS NOT NULL",
    );
    p.run_ok(&["silver.known_cities"]).await;
    assert_eq!(
        p.scalar("SELECT count(*) FROM silver.known_cities").await,
        3
    );
    let tables = p
        .engine
        .catalog()
        .list_tables(&"default".parse().unwrap())
        .await
        .unwrap();
    assert_eq!(tables.len(), 3);
}
