//! Time travel: `ref(..., as_of=...)`, rollback, history, and old snapshots
//! read with their own schema.
#![allow(clippy::unwrap_used)]

mod common;

use common::TestProject;
use rat_core::{ErrorKind, RunStatus};
use rat_runner::table::{history, rollback};
use serde_json::{Value, json};

async fn rows(p: &TestProject, sql: &str) -> Vec<Vec<Value>> {
    p.query(sql).await.rows
}

#[tokio::test]
async fn refs_read_past_snapshots_by_id_and_by_time() {
    let p = TestProject::new().await;
    let mut snapshots = Vec::new();
    for (i, values) in ["(1)", "(1), (2)", "(1), (2), (3)"].iter().enumerate() {
        p.write(
            "pipelines/silver/t/pipeline.sql",
            &format!("SELECT * FROM (VALUES {values}) AS v(id)"),
        );
        let r = &p.run_ok(&["silver.t"]).await[0];
        snapshots.push(r.snapshot_id.unwrap());
        assert_eq!(r.rows_written, i as u64 + 1);
    }
    let log = history(&p.load("silver.t").await);
    assert_eq!(log.len(), 3);
    // A time between the second and third publication.
    let between = log[0].current_from.unwrap() - chrono::Duration::milliseconds(1);
    assert!(between >= log[1].current_from.unwrap());

    p.write(
        "pipelines/gold/g/pipeline.sql",
        &format!(
            "SELECT 'first' AS v, count(*) AS n FROM {{{{ ref('silver.t', as_of={}) }}}}\n\
             UNION ALL SELECT 'between', count(*) FROM {{{{ ref('silver.t', as_of='{}') }}}}\n\
             UNION ALL SELECT 'now', count(*) FROM {{{{ ref('silver.t') }}}}",
            snapshots[0],
            between.format("%Y-%m-%d %H:%M:%S%.3f")
        ),
    );
    p.run_ok(&["gold.g"]).await;
    assert_eq!(
        rows(&p, "SELECT v, n FROM gold.g ORDER BY n").await,
        [
            [json!("first"), json!(1)],
            [json!("between"), json!(2)],
            [json!("now"), json!(3)]
        ]
    );

    // Versions that do not exist fail the run naming the file; nothing written.
    for as_of in ["123", "'2000-01-01'"] {
        p.write(
            "pipelines/gold/g/pipeline.sql",
            &format!("SELECT count(*) AS n FROM {{{{ ref('silver.t', as_of={as_of}) }}}}"),
        );
        let r = &p.run(&["gold.g"]).await.unwrap()[0];
        assert_eq!(r.status, RunStatus::Failed);
        let e = r.error.as_ref().unwrap();
        assert_eq!(
            e.file.as_deref(),
            Some("pipelines/gold/g/pipeline.sql"),
            "{e:?}"
        );
        assert_eq!(p.scalar("SELECT count(*) FROM gold.g").await, 3);
    }
}

#[tokio::test]
async fn rollback_restores_exactly_the_old_rows_and_is_recorded() {
    let p = TestProject::new().await;
    p.write(
        "pipelines/bronze/t/pipeline.sql",
        "-- @merge_strategy: incremental\n-- @unique_key: id\n\
         SELECT i AS id, 'v{{ run_started_at }}' AS version FROM range(5) t(i)",
    );
    let first = p.run_ok(&["bronze.t"]).await[0].snapshot_id.unwrap();
    let old = rows(&p, "SELECT * FROM bronze.t ORDER BY id").await;
    p.run_ok(&["bronze.t"]).await;
    assert_ne!(rows(&p, "SELECT * FROM bronze.t ORDER BY id").await, old);

    let catalog = p.engine.catalog().as_ref();
    let done = rollback(catalog, &"bronze.t".parse().unwrap(), first)
        .await
        .unwrap();
    assert_eq!(done.to, first);
    assert_ne!(done.from, Some(first));
    assert_eq!(rows(&p, "SELECT * FROM bronze.t ORDER BY id").await, old);
    let log = history(&p.load("bronze.t").await);
    assert_eq!(log.len(), 3);
    assert!(log[0].rollback && log[0].current && log[0].snapshot_id == first);
    assert!(!log[1].rollback && !log[2].rollback);

    // The next run builds on the restored snapshot.
    let next = &p.run_ok(&["bronze.t"]).await[0];
    assert_eq!(next.base_snapshot_id, Some(first));
    let loaded = p.load("bronze.t").await;
    let current = loaded
        .metadata
        .snapshot_by_id(next.snapshot_id.unwrap())
        .unwrap();
    assert_eq!(current.parent_snapshot_id(), Some(first));

    let err = rollback(catalog, &"bronze.t".parse().unwrap(), 42)
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidInput);
    assert!(err.to_string().contains("42"));
}

#[tokio::test]
async fn old_snapshots_keep_their_old_schema() {
    let p = TestProject::new().await;
    let write = |body: &str| {
        p.write(
            "pipelines/bronze/e/pipeline.sql",
            &format!("-- @merge_strategy: append_only\n{body}"),
        )
    };
    write("SELECT 1 AS id, 'a' AS name");
    let first = p.run_ok(&[]).await[0].snapshot_id.unwrap();
    write("SELECT 2 AS id, 'b' AS name, 7 AS extra");
    p.run_ok(&[]).await;

    p.write(
        "pipelines/gold/then/pipeline.sql",
        &format!("SELECT * FROM {{{{ ref('bronze.e', as_of={first}) }}}}"),
    );
    p.write(
        "pipelines/gold/now/pipeline.sql",
        "SELECT * FROM {{ ref('bronze.e') }}",
    );
    p.run_ok(&["gold.then", "gold.now"]).await;
    let then = p.query("SELECT * FROM gold.then").await;
    assert_eq!(then.columns, ["id", "name"]);
    assert_eq!(then.rows, [[json!(1), json!("a")]]);
    let now = p.query("SELECT * FROM gold.now ORDER BY id").await;
    assert_eq!(now.columns, ["id", "name", "extra"]);
    assert_eq!(
        now.rows,
        [
            [json!(1), json!("a"), json!(null)],
            [json!(2), json!("b"), json!(7)]
        ]
    );
}
