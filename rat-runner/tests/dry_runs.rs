//! Dry runs through the real engine: a preview computes what a run would
//! write and a test run checks `main`, and neither changes a table or
//! leaves a file behind; failures name the file and line.
#![allow(clippy::unwrap_used)]

mod common;

use std::path::Path;
use std::time::Duration;

use common::TestProject;
use rat_core::{ErrorKind, Pipeline, Project, TableRef, TestOutcome};
use rat_runner::preview::DryRunLimits;

/// Every file under `dir`, recursively.
fn files_under(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else {
                out.push(path.display().to_string());
            }
        }
    }
    out.sort();
    out
}

async fn saved(p: &TestProject, table: &str) -> Pipeline {
    let table: TableRef = table.parse().unwrap();
    Project::load_pipeline(p.engine.storage().as_ref(), &p.source, &table)
        .await
        .unwrap()
}

fn unsaved(table: &str, sql: &str, tests: &[(&str, &str)]) -> Pipeline {
    let table: TableRef = table.parse().unwrap();
    let dir = format!("pipelines/{}/{}/", table.layer, table.name);
    let tests: Vec<(String, String)> = tests
        .iter()
        .map(|(name, sql)| (format!("{dir}tests/quality/{name}.sql"), (*sql).to_owned()))
        .collect();
    Pipeline::from_sources(table, &format!("{dir}pipeline.sql"), sql, None, &tests).unwrap()
}

fn limits(max_rows: usize) -> DryRunLimits {
    DryRunLimits {
        max_rows,
        ..DryRunLimits::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_preview_shows_what_a_run_would_write_and_changes_nothing() {
    let p = TestProject::sample().await;
    p.run_ok(&[]).await;
    let orders = p.load("bronze.orders").await;
    let before_files = files_under(&p.warehouse());
    let before_refs = p.refs("silver.orders_enriched").await;
    let before_main = p.load("silver.orders_enriched").await.main_snapshot_id();

    let pipeline = saved(&p, "silver.orders_enriched").await;
    let preview = p
        .engine
        .preview_pipeline(&pipeline, limits(3))
        .await
        .unwrap();
    assert_eq!(preview.output.rows.len(), 3);
    assert!(
        preview.output.truncated,
        "the sample has more than 3 orders"
    );
    assert_eq!(preview.output.columns.len(), preview.schema.len());
    assert!(preview.schema.iter().any(|c| c.name == "order_id"));
    let sql = preview.compiled.compiled_sql.as_deref().unwrap();
    assert!(sql.contains(r#""default"."bronze"."orders""#), "{sql}");
    let plan = preview.compiled.explain.as_deref().unwrap();
    assert!(plan.contains("READ_PARQUET"), "{plan}");
    let read = preview
        .compiled
        .reads
        .iter()
        .find(|r| r.table.to_string() == "default.bronze.orders")
        .unwrap();
    assert_eq!(read.snapshot_id, orders.main_snapshot_id());
    assert!(!preview.log.is_empty());

    // The same through compile: no rows, the same SQL.
    let compiled = p
        .engine
        .compile_pipeline(&pipeline, limits(3))
        .await
        .unwrap();
    assert_eq!(compiled.compiled_sql.as_deref(), Some(sql));

    assert_eq!(files_under(&p.warehouse()), before_files);
    assert_eq!(p.refs("silver.orders_enriched").await, before_refs);
    assert_eq!(
        p.load("silver.orders_enriched").await.main_snapshot_id(),
        before_main
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unsaved_sql_previews_and_its_failures_name_the_line() {
    let p = TestProject::sample().await;
    p.run_ok(&["bronze.orders"]).await;
    let good = unsaved(
        "silver.draft",
        "SELECT order_id, amount * 2 AS doubled\nFROM {{ ref('bronze.orders') }}\nORDER BY order_id",
        &[],
    );
    let preview = p.engine.preview_pipeline(&good, limits(2)).await.unwrap();
    assert_eq!(preview.output.columns, ["order_id", "doubled"]);
    assert_eq!(preview.output.rows.len(), 2);
    assert!(
        p.engine
            .catalog()
            .load_table(&"silver.draft".parse().unwrap())
            .await
            .is_err(),
        "a preview creates no table"
    );

    let bad_column = unsaved(
        "silver.draft",
        "SELECT\n  order_id,\n  no_such_column\nFROM {{ ref('bronze.orders') }}",
        &[],
    );
    let err = p
        .engine
        .preview_pipeline(&bad_column, limits(2))
        .await
        .unwrap_err();
    assert_eq!(err.context("line"), Some("3"), "{err}");
    assert_eq!(
        err.context("file"),
        Some("pipelines/silver/draft/pipeline.sql")
    );
    assert!(err.to_string().contains("no_such_column"), "{err}");

    let bad_template = unsaved("silver.draft", "SELECT 1 AS a\n-- x\nFROM {{ nope }}", &[]);
    let err = p
        .engine
        .preview_pipeline(&bad_template, limits(2))
        .await
        .unwrap_err();
    assert_eq!(err.context("line"), Some("3"), "{err}");

    let missing_ref = unsaved(
        "silver.draft",
        "SELECT * FROM {{ ref('bronze.nope') }}",
        &[],
    );
    let err = p
        .engine
        .compile_pipeline(&missing_ref, limits(2))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidInput, "{err}");
    assert!(err.to_string().contains("bronze.nope"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_preview_stops_at_its_time_limit() {
    let p = TestProject::new().await;
    let endless = unsaved(
        "bronze.endless",
        "SELECT count(*) AS n FROM range(100000000) a, range(100000000) b",
        &[],
    );
    let limits = DryRunLimits {
        max_rows: 1,
        timeout: Duration::from_millis(300),
    };
    let err = p
        .engine
        .preview_pipeline(&endless, limits)
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Timeout, "{err}");
    assert!(err.to_string().contains("dry run"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tests_run_against_main_and_write_nothing() {
    let p = TestProject::sample().await;
    p.run_ok(&["bronze.orders"]).await;
    let main = p.load("bronze.orders").await.main_snapshot_id();
    let before_files = files_under(&p.warehouse());

    let report = p
        .engine
        .test_pipeline(&saved(&p, "bronze.orders").await, limits(0))
        .await
        .unwrap();
    // The sample's negative refunds fail its warn-level test only.
    assert!(report.passed, "{:?}", report.results);
    assert_eq!(report.snapshot_id, main);
    let outcomes: Vec<(&str, TestOutcome)> = report
        .results
        .iter()
        .map(|r| (r.name.as_str(), r.outcome))
        .collect();
    assert_eq!(
        outcomes,
        [
            ("amount_not_negative", TestOutcome::Failed),
            ("order_id_not_null", TestOutcome::Passed)
        ]
    );

    // An unsaved test that main fails, beside one that errors.
    let mut pipeline = saved(&p, "bronze.orders").await;
    let extra = unsaved(
        "bronze.orders",
        "SELECT 1",
        &[
            (
                "some_order_is_big",
                "SELECT * FROM {{ this }} WHERE amount >= 0",
            ),
            ("broken", "SELECT nope FROM {{ this }}"),
        ],
    );
    pipeline.tests.extend(extra.tests);
    let report = p.engine.test_pipeline(&pipeline, limits(0)).await.unwrap();
    assert!(!report.passed);
    let by_name = |n: &str| report.results.iter().find(|r| r.name == n).unwrap();
    assert_eq!(by_name("some_order_is_big").outcome, TestOutcome::Failed);
    assert!(by_name("some_order_is_big").violations > 0);
    assert!(!by_name("some_order_is_big").sample.rows.is_empty());
    assert_eq!(by_name("broken").outcome, TestOutcome::Errored);
    assert!(
        by_name("broken")
            .message
            .as_deref()
            .unwrap()
            .contains("nope"),
        "{:?}",
        by_name("broken").message
    );

    assert_eq!(p.load("bronze.orders").await.main_snapshot_id(), main);
    assert_eq!(p.refs("bronze.orders").await, ["main"]);
    assert_eq!(files_under(&p.warehouse()), before_files);

    let never_run = saved(&p, "silver.orders_enriched").await;
    let err = p
        .engine
        .test_pipeline(&never_run, limits(0))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound, "{err}");
    assert!(err.to_string().contains("run its pipeline"), "{err}");
}
