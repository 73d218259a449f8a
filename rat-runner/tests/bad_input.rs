//! Bad input fails with an error naming the file, before anything is
//! written.
#![allow(clippy::unwrap_used)]

mod common;

use common::TestProject;
use rat_core::{ErrorKind, RunStatus};

/// Writes a valid pipeline plus `files`, plans, and checks the error names
/// `file` (and contains `needle`) and that no table was created.
async fn assert_rejected(files: &[(&str, &str)], file: &str, needle: &str) {
    let p = TestProject::new().await;
    p.write("pipelines/bronze/ok/pipeline.sql", "SELECT 1 AS id");
    for (path, content) in files {
        p.write(path, content);
    }
    let err = p
        .run(&[])
        .await
        .expect_err("the project should be rejected");
    let text = err.to_string();
    assert_eq!(err.kind(), ErrorKind::InvalidInput, "{text}");
    assert!(
        err.context("file").is_some_and(|f| f.contains(file)),
        "error does not name {file}: {text}"
    );
    assert!(text.contains(needle), "error lacks {needle:?}: {text}");
    let ns = "default".parse().unwrap();
    assert!(
        p.engine
            .catalog()
            .list_tables(&ns)
            .await
            .unwrap()
            .is_empty(),
        "a table was written despite: {text}"
    );
}

#[tokio::test]
async fn invalid_identifiers_in_folders_and_refs() {
    assert_rejected(
        &[("pipelines/bronze/A b/pipeline.sql", "SELECT 1")],
        "pipelines/bronze/A b/pipeline.sql",
        "'A b'",
    )
    .await;
    assert_rejected(
        &[("pipelines/bronze/*/pipeline.sql", "SELECT 1")],
        "pipelines/bronze/*/pipeline.sql",
        "'*'",
    )
    .await;
    assert_rejected(
        &[("pipelines/platinum/x/pipeline.sql", "SELECT 1")],
        "pipelines/platinum/x/pipeline.sql",
        "platinum",
    )
    .await;
    assert_rejected(
        &[(
            "pipelines/silver/s/pipeline.sql",
            "SELECT * FROM {{ ref('../x') }}",
        )],
        "pipelines/silver/s/pipeline.sql",
        "../x",
    )
    .await;
    assert_rejected(
        &[(
            "pipelines/silver/s/pipeline.sql",
            "SELECT * FROM {{ ref('bronze.A b') }}",
        )],
        "pipelines/silver/s/pipeline.sql",
        "A b",
    )
    .await;
    assert_rejected(
        &[(
            "pipelines/silver/s/pipeline.sql",
            "SELECT * FROM {{ landing_zone('*') }}",
        )],
        "pipelines/silver/s/pipeline.sql",
        "'*'",
    )
    .await;
}

#[tokio::test]
async fn ref_to_a_missing_table() {
    assert_rejected(
        &[(
            "pipelines/silver/s/pipeline.sql",
            "SELECT * FROM {{ ref('bronze.nowhere') }}",
        )],
        "pipelines/silver/s/pipeline.sql",
        "bronze.nowhere",
    )
    .await;
}

#[tokio::test]
async fn sql_syntax_error_names_file_and_line() {
    let p = TestProject::new().await;
    p.write("pipelines/bronze/ok/pipeline.sql", "SELECT 1 AS id");
    p.write(
        "pipelines/silver/s/pipeline.sql",
        "-- comment\nSELECT id,\nFROM WHERE {{ ref('bronze.ok') }}",
    );
    let err = p.run(&[]).await.unwrap_err();
    assert_eq!(err.context("file"), Some("pipelines/silver/s/pipeline.sql"));
    assert!(err.message().contains("syntax error"), "{err}");
    assert_eq!(err.context("line"), Some("3"), "{err}");
    // After a block that rendered to nothing, still the template's line.
    p.write(
        "pipelines/silver/s/pipeline.sql",
        "SELECT id\n{% if false %}\nWHERE id > 1\n{% endif %}\nFROM {{ ref('bronze.ok') }}\nWHERE WHERE",
    );
    let err = p.run(&[]).await.unwrap_err();
    assert!(err.message().contains("syntax error"), "{err}");
    assert_eq!(err.context("line"), Some("6"), "{err}");
    assert_rejected(
        &[("pipelines/silver/s/pipeline.sql", "DROP TABLE x")],
        "pipelines/silver/s/pipeline.sql",
        "single SELECT",
    )
    .await;
    assert_rejected(
        &[("pipelines/silver/s/pipeline.sql", "SELECT 1; SELECT 2")],
        "pipelines/silver/s/pipeline.sql",
        "2 statements",
    )
    .await;
}

#[tokio::test]
async fn unknown_merge_strategy_names_the_field() {
    assert_rejected(
        &[
            ("pipelines/silver/s/pipeline.sql", "SELECT 1 AS id"),
            ("pipelines/silver/s/config.yaml", "merge_strategy: upsert\n"),
        ],
        "pipelines/silver/s/config.yaml",
        "merge_strategy",
    )
    .await;
    assert_rejected(
        &[(
            "pipelines/silver/s/pipeline.sql",
            "-- @merge_strategy: merge\nSELECT 1 AS id",
        )],
        "pipelines/silver/s/pipeline.sql",
        "'merge'",
    )
    .await;
    assert_rejected(
        &[
            ("pipelines/silver/s/pipeline.sql", "SELECT 1 AS id"),
            (
                "pipelines/silver/s/config.yaml",
                "merge_strategy: [broken\n",
            ),
        ],
        "pipelines/silver/s/config.yaml",
        "invalid YAML",
    )
    .await;
}

#[tokio::test]
async fn undefined_template_variable() {
    assert_rejected(
        &[(
            "pipelines/silver/s/pipeline.sql",
            "SELECT 1 AS id WHERE {{ start_date }} > 0",
        )],
        "pipelines/silver/s/pipeline.sql",
        "start_date",
    )
    .await;
    assert_rejected(
        &[
            ("pipelines/silver/s/pipeline.sql", "SELECT 1 AS id"),
            (
                "pipelines/silver/s/tests/quality/t.sql",
                "SELECT * FROM {{ thsi }}",
            ),
        ],
        "pipelines/silver/s/tests/quality/t.sql",
        "thsi",
    )
    .await;
}

#[tokio::test]
async fn dependency_cycle() {
    assert_rejected(
        &[
            (
                "pipelines/silver/a/pipeline.sql",
                "SELECT * FROM {{ ref('silver.b') }}",
            ),
            (
                "pipelines/silver/b/pipeline.sql",
                "SELECT * FROM {{ ref('gold.c') }}",
            ),
            (
                "pipelines/gold/c/pipeline.sql",
                "SELECT * FROM {{ ref('silver.a') }}",
            ),
        ],
        "pipelines/silver/a/pipeline.sql",
        "silver.a -> silver.b -> gold.c -> silver.a",
    )
    .await;
}

/// Runs `sql` as the only pipeline and checks the run failed with `kind`,
/// naming the file and containing `needle`, with no table written.
async fn assert_run_fails_writing_nothing(
    p: &TestProject,
    sql: &str,
    kind: ErrorKind,
    needle: &str,
) {
    p.write("pipelines/bronze/b/pipeline.sql", sql);
    let r = &p.run(&[]).await.unwrap()[0];
    assert_eq!(r.status, RunStatus::Failed);
    let e = r.error.as_ref().unwrap();
    assert_eq!(e.kind, kind.as_str(), "{e:?}");
    assert_eq!(
        e.file.as_deref(),
        Some("pipelines/bronze/b/pipeline.sql"),
        "{e:?}"
    );
    assert!(
        e.message.contains(needle),
        "{needle:?} not in {}",
        e.message
    );
    let ns = "default".parse().unwrap();
    let tables = p.engine.catalog().list_tables(&ns).await.unwrap();
    assert!(tables.is_empty(), "{tables:?} written despite {e:?}");
}

#[tokio::test]
async fn failures_found_only_while_running_still_write_nothing() {
    let p = TestProject::new().await;
    // Parses, but fails when bound: the column does not exist.
    assert_run_fails_writing_nothing(&p, "SELECT nope FROM range(3)", ErrorKind::Query, "nope")
        .await;
    // A type Iceberg cannot store names the column.
    assert_run_fails_writing_nothing(
        &p,
        "SELECT INTERVAL 1 DAY AS gap",
        ErrorKind::InvalidInput,
        "'gap'",
    )
    .await;
    // scd2 maintains its validity columns itself.
    assert_run_fails_writing_nothing(
        &p,
        "-- @merge_strategy: scd2\n-- @unique_key: id\nSELECT 1 AS id, now() AS valid_from",
        ErrorKind::InvalidInput,
        "'valid_from'",
    )
    .await;
    // A transform rat cannot compute for that type is refused before the
    // table exists.
    assert_run_fails_writing_nothing(
        &p,
        "-- @partition_by: [{column: d, transform: 'truncate[4]'}]\nSELECT 1.5 AS d",
        ErrorKind::Unsupported,
        "truncate[4]",
    )
    .await;

    // A strategy lacking its key is caught before running at all.
    p.write(
        "pipelines/bronze/b/pipeline.sql",
        "-- @merge_strategy: delete_insert\nSELECT 1 AS id",
    );
    let err = p.run(&[]).await.unwrap_err();
    assert_eq!(err.context("field"), Some("unique_key"));
}
