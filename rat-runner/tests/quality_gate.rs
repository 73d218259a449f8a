//! Quality tests gate publication: an error-severity failure leaves `main`
//! untouched and no branch behind; a warn-severity failure is recorded.
#![allow(clippy::unwrap_used)]

mod common;

use common::TestProject;
use rat_core::project::Severity;
use rat_core::{ErrorKind, RunStatus, TestOutcome};

const TABLE: &str = "silver.people";

fn pipeline(p: &TestProject, rows: &str) {
    p.write(
        "pipelines/silver/people/pipeline.sql",
        &format!("SELECT * FROM (VALUES {rows}) AS t(id, name)"),
    );
}

#[tokio::test]
async fn error_severity_failure_blocks_publication_and_removes_the_branch() {
    let p = TestProject::new().await;
    p.write(
        "pipelines/silver/people/tests/quality/unique_id.sql",
        "-- @description: ids are unique\n-- @remediation: dedupe upstream\n\
         SELECT id, count(*) AS n FROM {{ this }} GROUP BY id HAVING count(*) > 1 ORDER BY id",
    );
    pipeline(&p, "(1, 'ann'), (2, 'bob')");
    let good = p.run_ok(&[TABLE]).await;
    let published = good[0].snapshot_id.unwrap();
    assert_eq!(good[0].quality[0].outcome, TestOutcome::Passed);

    // Four duplicated ids, one with a very long name: the test fails.
    let long = "x".repeat(100);
    pipeline(
        &p,
        &format!(
            "(1, 'a'), (1, 'b'), (2, 'c'), (2, 'd'), (3, 'e'), (3, 'f'), (4, '{long}'), (4, 'g')"
        ),
    );
    let failed = &p.run(&[TABLE]).await.unwrap()[0];
    assert_eq!(failed.status, RunStatus::Failed);
    let error = failed.error.as_ref().unwrap();
    assert_eq!(error.kind, ErrorKind::QualityGate.as_str());
    assert!(error.message.contains("unique_id"), "{}", error.message);
    assert_eq!(
        error.file.as_deref(),
        Some("pipelines/silver/people/tests/quality/unique_id.sql")
    );
    let q = &failed.quality[0];
    assert_eq!(q.outcome, TestOutcome::Failed);
    assert_eq!(q.violations, 4);
    assert_eq!(q.sample.rows.len(), 3, "at most three sample rows");
    assert_eq!(q.sample.columns, ["id", "n"]);
    assert_eq!(
        q.sample.rows[0],
        [Some("1".to_owned()), Some("2".to_owned())]
    );
    assert_eq!(q.remediation.as_deref(), Some("dedupe upstream"));
    assert_eq!(failed.snapshot_id, None);

    // main is where it was, with the old rows, and no run branch is left.
    let table = p.load(TABLE).await;
    assert_eq!(table.main_snapshot_id(), Some(published));
    assert_eq!(p.refs(TABLE).await, ["main"]);
    assert_eq!(p.scalar("SELECT count(*) FROM silver.people").await, 2);
    // The abandoned snapshot is gone from the metadata too.
    assert_eq!(table.metadata.snapshots().len(), 1);
}

#[tokio::test]
async fn a_failing_first_run_publishes_nothing() {
    let p = TestProject::new().await;
    p.write(
        "pipelines/silver/people/tests/quality/no_nulls.sql",
        "SELECT * FROM {{ this }} WHERE name IS NULL",
    );
    pipeline(&p, "(1, NULL)");
    let failed = &p.run(&[TABLE]).await.unwrap()[0];
    assert_eq!(failed.status, RunStatus::Failed);
    let table = p.load(TABLE).await;
    assert_eq!(table.main_snapshot_id(), None);
    assert!(p.refs(TABLE).await.is_empty());
    assert_eq!(p.scalar("SELECT count(*) FROM silver.people").await, 0);
}

#[tokio::test]
async fn sample_cells_are_cut_to_forty_characters() {
    let p = TestProject::new().await;
    p.write(
        "pipelines/silver/people/tests/quality/short_names.sql",
        "-- @severity: warning\nSELECT name FROM {{ this }} WHERE length(name) > 10",
    );
    pipeline(&p, &format!("(1, '{}')", "é".repeat(100)));
    let r = &p.run_ok(&[TABLE]).await[0];
    let q = &r.quality[0];
    assert_eq!(q.severity, Severity::Warn);
    assert_eq!(q.outcome, TestOutcome::Failed);
    let cell = q.sample.rows[0][0].as_deref().unwrap();
    assert_eq!(cell.chars().count(), 40);
    assert!(
        r.warnings.iter().any(|w| w.contains("short_names")),
        "{:?}",
        r.warnings
    );
    assert!(r.snapshot_id.is_some());
    assert_eq!(p.scalar("SELECT count(*) FROM silver.people").await, 1);
}

#[tokio::test]
async fn a_test_that_errors_or_times_out_counts_as_failed() {
    let p = TestProject::new().await;
    p.write(
        "pipelines/silver/people/tests/quality/slow.sql",
        "-- @timeout: 1s\nSELECT a.range FROM range(100000000) a, range(100000000) b WHERE a.range + b.range < 0",
    );
    p.write(
        "pipelines/silver/people/tests/quality/broken.sql",
        "-- @severity: warn\nSELECT no_such_column FROM {{ this }}",
    );
    pipeline(&p, "(1, 'ann')");
    let started = std::time::Instant::now();
    let r = &p.run(&[TABLE]).await.unwrap()[0];
    assert!(started.elapsed().as_secs() < 20, "timeout not enforced");
    assert_eq!(r.status, RunStatus::Failed);
    let by_name = |n: &str| r.quality.iter().find(|q| q.name == n).unwrap();
    assert_eq!(by_name("slow").outcome, TestOutcome::Errored);
    assert!(
        by_name("slow")
            .message
            .as_deref()
            .unwrap()
            .contains("time limit")
    );
    assert_eq!(by_name("broken").outcome, TestOutcome::Errored);
    assert!(
        by_name("broken")
            .message
            .as_deref()
            .unwrap()
            .contains("no_such_column")
    );
    assert_eq!(p.load(TABLE).await.main_snapshot_id(), None);
}
