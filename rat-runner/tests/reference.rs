//! Reference tests: every merge strategy, several runs of generated inputs
//! (duplicate keys, NULL keys, empty results, new and removed keys,
//! composite keys, partitioned tables). After each run the table must equal
//! what a plain DuckDB SQL oracle computes from the same inputs; at the end
//! pyiceberg and DuckDB's iceberg extension must read the same rows, and
//! after maintenance (with a tag and a branch on old snapshots) every
//! retained snapshot must read as it did.
#![allow(clippy::unwrap_used)]

mod common;

use chrono::{DateTime, Utc};
use common::TestProject;
use common::safety::{READERS_PRELUDE, check_maintenance_keeps_what_it_must};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use rat_core::{MergeStrategy, RunStatus};
use serde_json::{Value, json};

const TABLE: &str = "silver.target";
const FILE: &str = "pipelines/silver/target/pipeline.sql";
const COLUMNS: &str = "k1, k2, CAST(day AS VARCHAR) AS day, v, s";
const SCD2_COLUMNS: &str = "k1, k2, CAST(day AS VARCHAR) AS day, v, s, \
    epoch_us(valid_from) AS valid_from, epoch_us(valid_to) AS valid_to";

/// One generated input row.
#[derive(Debug, Clone)]
struct Row {
    k1: Option<i32>,
    k2: Option<&'static str>,
    day: Option<u32>,
    v: i64,
    s: Option<String>,
}

/// Generates batches over a small key domain so keys repeat within and
/// across batches, some vanish, some are NULL.
struct Generator {
    rng: StdRng,
    null_keys: bool,
}

impl Generator {
    fn new(seed: u64, null_keys: bool) -> Self {
        Self {
            rng: StdRng::seed_from_u64(seed),
            null_keys,
        }
    }

    fn batch(&mut self, run: usize) -> Vec<Row> {
        // Run 3 is always empty.
        let n = if run == 3 {
            0
        } else {
            self.rng.random_range(1..25)
        };
        (0..n)
            .map(|_| Row {
                k1: (!(self.null_keys && self.rng.random_bool(0.1)))
                    .then(|| self.rng.random_range(0..12)),
                k2: Some(["a", "b"][self.rng.random_range(0..2)]),
                day: (!self.rng.random_bool(0.05)).then(|| self.rng.random_range(0..6)),
                v: self.rng.random_range(0..4),
                s: (!self.rng.random_bool(0.1))
                    .then(|| format!("s{}", self.rng.random_range(0..3))),
            })
            .collect()
    }
}

/// The batch as a typed SELECT (the pipeline body, and the oracle's input).
fn batch_sql(rows: &[Row]) -> String {
    let typed = "SELECT CAST(k1 AS INTEGER) AS k1, CAST(k2 AS VARCHAR) AS k2, \
                 CAST(day AS DATE) AS day, CAST(v AS BIGINT) AS v, CAST(s AS VARCHAR) AS s";
    if rows.is_empty() {
        return format!(
            "{typed} FROM (VALUES (NULL, NULL, NULL, NULL, NULL)) AS t(k1, k2, day, v, s) WHERE false"
        );
    }
    let text = |v: Option<String>| v.map_or("NULL".to_owned(), |s| format!("'{s}'"));
    let values: Vec<String> = rows
        .iter()
        .map(|r| {
            format!(
                "({}, {}, {}, {}, {})",
                r.k1.map_or("NULL".into(), |k| k.to_string()),
                text(r.k2.map(str::to_owned)),
                r.day
                    .map_or("NULL".into(), |d| format!("DATE '2024-01-01' + {d}")),
                r.v,
                text(r.s.clone()),
            )
        })
        .collect();
    format!(
        "{typed} FROM (VALUES {}) AS t(k1, k2, day, v, s)",
        values.join(", ")
    )
}

/// The same semantics as plain DuckDB statements on a plain table.
struct Oracle {
    conn: duckdb::Connection,
    strategy: MergeStrategy,
    keys: Vec<&'static str>,
    partition_column: &'static str,
}

impl Oracle {
    fn new(strategy: MergeStrategy, keys: &[&'static str]) -> Self {
        let conn = duckdb::Connection::open_in_memory().unwrap();
        conn.execute_batch(
            "SET TimeZone = 'UTC'; CREATE TABLE o (k1 INTEGER, k2 VARCHAR, day DATE, v BIGINT, s VARCHAR, \
             valid_from TIMESTAMPTZ, valid_to TIMESTAMPTZ);",
        )
        .unwrap();
        Self {
            conn,
            strategy,
            keys: keys.to_vec(),
            partition_column: "day",
        }
    }

    fn keys_equal(&self, a: &str, b: &str) -> String {
        self.keys
            .iter()
            .map(|k| format!("{a}.{k} = {b}.{k}"))
            .collect::<Vec<_>>()
            .join(" AND ")
    }

    fn apply(&self, rows: &[Row], started_at: DateTime<Utc>) {
        let cols = "k1, k2, day, v, s";
        let mut sql = format!(
            "CREATE OR REPLACE TABLE b AS SELECT row_number() OVER () AS pos, * FROM ({});\n",
            batch_sql(rows)
        );
        let any_null_key: Vec<String> = self.keys.iter().map(|k| format!("{k} IS NULL")).collect();
        let dedup = format!(
            "CREATE OR REPLACE TABLE d AS SELECT * FROM b WHERE NOT ({nulls}) \
             QUALIFY row_number() OVER (PARTITION BY {keys} ORDER BY pos DESC) = 1 \
             UNION ALL SELECT * FROM b WHERE {nulls};\n",
            nulls = any_null_key.join(" OR "),
            keys = self.keys.join(", ")
        );
        let now = format!(
            "CAST('{}+00' AS TIMESTAMPTZ)",
            started_at.format("%Y-%m-%d %H:%M:%S%.6f")
        );
        sql.push_str(&match self.strategy {
            MergeStrategy::FullRefresh => format!("DELETE FROM o; INSERT INTO o ({cols}) SELECT {cols} FROM b;"),
            MergeStrategy::AppendOnly => format!("INSERT INTO o ({cols}) SELECT {cols} FROM b;"),
            MergeStrategy::Incremental => format!(
                "{dedup} DELETE FROM o WHERE EXISTS (SELECT 1 FROM d WHERE {}); INSERT INTO o ({cols}) SELECT {cols} FROM d;",
                self.keys_equal("d", "o")
            ),
            MergeStrategy::DeleteInsert => format!(
                "DELETE FROM o WHERE EXISTS (SELECT 1 FROM b WHERE {}); INSERT INTO o ({cols}) SELECT {cols} FROM b;",
                self.keys_equal("b", "o")
            ),
            MergeStrategy::Snapshot => format!(
                "DELETE FROM o WHERE EXISTS (SELECT 1 FROM b WHERE b.{p} IS NOT DISTINCT FROM o.{p}); \
                 INSERT INTO o ({cols}) SELECT {cols} FROM b;",
                p = self.partition_column
            ),
            MergeStrategy::Scd2 => format!(
                "{dedup} UPDATE o SET valid_to = {now} WHERE valid_to IS NULL AND EXISTS (SELECT 1 FROM d WHERE {} \
                   AND (d.day IS DISTINCT FROM o.day OR d.v IS DISTINCT FROM o.v OR d.s IS DISTINCT FROM o.s \
                        OR d.k1 IS DISTINCT FROM o.k1 OR d.k2 IS DISTINCT FROM o.k2)); \
                 INSERT INTO o SELECT {cols}, {now}, NULL FROM d \
                   WHERE NOT EXISTS (SELECT 1 FROM o WHERE {} AND o.valid_to IS NULL);",
                self.keys_equal("d", "o"),
                self.keys_equal("d", "o")
            ),
        });
        self.conn.execute_batch(&sql).unwrap();
    }

    fn rows(&self, select: &str) -> Vec<String> {
        let mut stmt = self
            .conn
            .prepare(&format!(
                "SELECT to_json(t) FROM (SELECT {select} FROM o) AS t"
            ))
            .unwrap();
        let mut rows: Vec<String> = stmt
            .query_map([], |r| r.get::<_, String>(0))
            .unwrap()
            .map(|r| {
                let object: serde_json::Map<String, Value> =
                    serde_json::from_str(&r.unwrap()).unwrap();
                serde_json::to_string(&object.into_iter().map(|(_, v)| v).collect::<Vec<_>>())
                    .unwrap()
            })
            .collect();
        rows.sort();
        rows
    }
}

async fn rat_rows(p: &TestProject, select: &str) -> Vec<String> {
    let out = p.query(&format!("SELECT {select} FROM {TABLE}")).await;
    let mut rows: Vec<String> = out
        .rows
        .iter()
        .map(|r| serde_json::to_string(r).unwrap())
        .collect();
    rows.sort();
    rows
}

/// Runs `runs` generated batches through `header` + the batch, checking
/// against the oracle after each; returns the project for further checks.
async fn check_strategy(
    strategy: MergeStrategy,
    header: &str,
    keys: &[&'static str],
    seed: u64,
    runs: usize,
    null_keys: bool,
) -> TestProject {
    let p = TestProject::new().await;
    let oracle = Oracle::new(strategy, keys);
    let mut generator = Generator::new(seed, null_keys);
    let select = if strategy == MergeStrategy::Scd2 {
        SCD2_COLUMNS
    } else {
        COLUMNS
    };
    for run in 0..runs {
        let rows = generator.batch(run);
        p.write(FILE, &format!("{header}\n{}", batch_sql(&rows)));
        let result = &p.run(&[TABLE]).await.unwrap()[0];
        assert_eq!(
            result.status,
            RunStatus::Success,
            "run {run}: {:?}",
            result.error
        );
        oracle.apply(&rows, result.started_at);
        let (got, want) = (rat_rows(&p, select).await, oracle.rows(select));
        assert_eq!(
            got, want,
            "{strategy} run {run} differs from the oracle (input {rows:?})"
        );
        assert_eq!(p.refs(TABLE).await, ["main"], "run {run} left a branch");
    }
    check_readers(&p, select).await;
    check_maintenance_keeps_what_it_must(&p, TABLE, select).await;
    p
}

/// pyiceberg and DuckDB's iceberg extension read exactly rat's rows.
async fn check_readers(p: &TestProject, select: &str) {
    let loaded = p.load(TABLE).await;
    let script = format!(
        r#"{READERS_PRELUDE}
table = catalog.load_table("default.silver.target")
py = [[canon(v) for v in row.values()] for row in table.scan().to_arrow().to_pylist()]
dk = [list(r) for r in con.execute("SELECT {select} FROM iceberg_scan('{location}')").fetchall()]
print(json.dumps({{"pyiceberg": py, "duckdb": dk}}, default=str))
"#,
        location = loaded.metadata_location,
    );
    let out = p.python(&script);
    let want = rat_rows(p, select).await;
    for reader in ["pyiceberg", "duckdb"] {
        let mut got: Vec<String> = out[reader]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| serde_json::to_string(r).unwrap())
            .collect();
        got.sort();
        assert_eq!(got, want, "{reader} reads different rows");
    }
}

#[tokio::test]
async fn full_refresh_matches_the_oracle() {
    check_strategy(
        MergeStrategy::FullRefresh,
        "-- @merge_strategy: full_refresh",
        &["k1"],
        1,
        6,
        true,
    )
    .await;
}

#[tokio::test]
async fn append_only_partitioned_by_day_matches_the_oracle() {
    check_strategy(
        MergeStrategy::AppendOnly,
        "-- @merge_strategy: append_only\n-- @partition_by: [{column: day, transform: day}]",
        &["k1"],
        2,
        6,
        true,
    )
    .await;
}

#[tokio::test]
async fn incremental_with_a_composite_key_matches_the_oracle() {
    check_strategy(
        MergeStrategy::Incremental,
        "-- @merge_strategy: incremental\n-- @unique_key: k1, k2",
        &["k1", "k2"],
        3,
        8,
        true,
    )
    .await;
}

#[tokio::test]
async fn incremental_partitioned_by_day_and_bucket_matches_the_oracle() {
    let p = check_strategy(
        MergeStrategy::Incremental,
        "-- @merge_strategy: incremental\n-- @unique_key: k1\n\
         -- @partition_by: [{column: day, transform: day}, {column: k1, transform: 'bucket[4]'}]",
        &["k1"],
        4,
        8,
        true,
    )
    .await;
    // pyiceberg prunes by our partition values: wrong buckets would lose rows.
    let script = r#"
import json, os
from pyiceberg.catalog.sql import SqlCatalog
cwd = os.getcwd()
catalog = SqlCatalog("rat", uri=f"sqlite:///{cwd}/.rat/catalog.db", warehouse=f"file://{cwd}/.rat/warehouse")
t = catalog.load_table("default.silver.target")
print(json.dumps({str(k): t.scan(row_filter=f"k1 == {k}").to_arrow().num_rows for k in range(12)}))
"#;
    let counts = p.python(script);
    for k in 0..12 {
        let want = p
            .scalar(&format!("SELECT count(*) FROM {TABLE} WHERE k1 = {k}"))
            .await;
        assert_eq!(counts[k.to_string()], json!(want), "k1 = {k}");
    }
}

#[tokio::test]
async fn delete_insert_partitioned_by_month_matches_the_oracle() {
    check_strategy(
        MergeStrategy::DeleteInsert,
        "-- @merge_strategy: delete_insert\n-- @unique_key: [k1, k2]\n\
         -- @partition_by: [{column: day, transform: month}]",
        &["k1", "k2"],
        5,
        8,
        true,
    )
    .await;
}

#[tokio::test]
async fn snapshot_by_partition_column_matches_the_oracle() {
    check_strategy(
        MergeStrategy::Snapshot,
        "-- @merge_strategy: snapshot\n-- @partition_column: day\n\
         -- @partition_by: [{column: day, transform: identity}]",
        &["k1"],
        6,
        8,
        true,
    )
    .await;
}

#[tokio::test]
async fn snapshot_by_partition_spec_matches_the_oracle() {
    check_strategy(
        MergeStrategy::Snapshot,
        "-- @merge_strategy: snapshot\n-- @partition_by: [{column: day, transform: day}]",
        &["k1"],
        7,
        8,
        true,
    )
    .await;
}

#[tokio::test]
async fn scd2_with_a_composite_key_matches_the_oracle() {
    let p = check_strategy(
        MergeStrategy::Scd2,
        "-- @merge_strategy: scd2\n-- @unique_key: k1, k2",
        &["k1", "k2"],
        8,
        8,
        false,
    )
    .await;
    // A NULL key is refused and changes nothing.
    let before = rat_rows(&p, SCD2_COLUMNS).await;
    let rows = vec![Row {
        k1: None,
        k2: Some("a"),
        day: Some(1),
        v: 1,
        s: None,
    }];
    p.write(
        FILE,
        &format!(
            "-- @merge_strategy: scd2\n-- @unique_key: k1, k2\n{}",
            batch_sql(&rows)
        ),
    );
    let r = &p.run(&[TABLE]).await.unwrap()[0];
    assert_eq!(r.status, RunStatus::Failed);
    assert!(
        r.error.as_ref().unwrap().message.contains("NULL"),
        "{:?}",
        r.error
    );
    assert_eq!(rat_rows(&p, SCD2_COLUMNS).await, before);
}

#[tokio::test]
async fn scd2_partitioned_by_bucket_matches_the_oracle() {
    check_strategy(
        MergeStrategy::Scd2,
        "-- @merge_strategy: scd2\n-- @unique_key: k1\n\
         -- @partition_by: [{column: k1, transform: 'bucket[3]'}]",
        &["k1"],
        9,
        7,
        false,
    )
    .await;
}
