//! Tables whose schema evolved are read by field id: old files show NULL for
//! new columns and promoted types are widened.
#![allow(clippy::unwrap_used)]

mod common;

use common::TestProject;
use serde_json::json;

#[tokio::test]
async fn added_and_promoted_columns_read_across_old_and_new_files() {
    let p = TestProject::new().await;
    let sql = |body: &str| format!("-- @merge_strategy: append_only\n{body}");
    p.write(
        "pipelines/bronze/m/pipeline.sql",
        &sql("SELECT 1::INTEGER AS id, 'a' AS name"),
    );
    p.run_ok(&[]).await;
    // id widens to BIGINT, a column is added.
    p.write(
        "pipelines/bronze/m/pipeline.sql",
        &sql("SELECT 5000000000::BIGINT AS id, 'b' AS name, 2.5 AS score"),
    );
    p.run_ok(&[]).await;
    let out = p
        .query("SELECT id, name, score FROM bronze.m ORDER BY id")
        .await;
    assert_eq!(
        out.rows,
        [
            [json!(1), json!("a"), json!(null)],
            [json!(5000000000_i64), json!("b"), json!(2.5)]
        ]
    );
    let table = p.load("bronze.m").await;
    assert_eq!(table.metadata.schemas_iter().len(), 2);
    let fields: Vec<(i32, String)> = table
        .metadata
        .current_schema()
        .as_struct()
        .fields()
        .iter()
        .map(|f| (f.id, f.field_type.to_string()))
        .collect();
    assert_eq!(
        fields,
        [
            (1, "long".into()),
            (2, "string".into()),
            (3, "decimal(2, 1)".into())
        ]
    );

    // A dropped column is refused for append_only, naming the column, and
    // nothing changes.
    p.write(
        "pipelines/bronze/m/pipeline.sql",
        &sql("SELECT 7::BIGINT AS id"),
    );
    let r = &p.run(&[]).await.unwrap()[0];
    let message = &r.error.as_ref().unwrap().message;
    assert!(
        message.contains("'name'") && message.contains("missing"),
        "{message}"
    );
    assert_eq!(p.scalar("SELECT count(*) FROM bronze.m").await, 2);
}
