//! A pipeline's quality tests, test runs, compile and preview over HTTP on
//! a real server: tests added, replaced and deleted through the pipeline's
//! validation; test runs and previews read `main` and write nothing; a
//! failing preview names its line.
#![allow(clippy::unwrap_used)]

mod common;

use common::{Server, assert_error};
use reqwest::{Method, StatusCode};
use serde_json::json;

const ORDERS: &str = "/api/v1/pipelines/default/bronze/orders";
const ENRICHED: &str = "/api/v1/pipelines/default/silver/orders_enriched";

async fn history_len(server: &Server, table: &str) -> usize {
    let (status, history) = server.get(&format!("/api/v1/tables/{table}/history")).await;
    assert_eq!(status, StatusCode::OK, "{history}");
    history
        .as_array()
        .map_or_else(|| history["items"].as_array().unwrap().len(), Vec::len)
}

#[tokio::test]
async fn tests_are_listed_added_replaced_and_deleted() {
    let server = Server::sample().await;
    let (status, page) = server.get(&format!("{ORDERS}/tests")).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    let names: Vec<&str> = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["amount_not_negative", "order_id_not_null"]);

    let sql = "-- @severity: warn\nSELECT * FROM {{ this }} WHERE amount > 1000000";
    let (status, created) = server
        .post(
            &format!("{ORDERS}/tests"),
            json!({"name": "no_huge_amounts", "sql": sql}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    assert_eq!(created["severity"], "warn");
    let file = server
        .dir
        .path()
        .join("pipelines/bronze/orders/tests/quality/no_huge_amounts.sql");
    assert_eq!(std::fs::read_to_string(&file).unwrap(), sql);
    let again = server
        .post(
            &format!("{ORDERS}/tests"),
            json!({"name": "no_huge_amounts", "sql": sql}),
        )
        .await;
    assert_error(
        &again,
        StatusCode::CONFLICT,
        "already_exists",
        &["no_huge_amounts"],
    );

    // Replaced; a test that does not parse changes nothing.
    let url = format!("{ORDERS}/tests/no_huge_amounts");
    let replaced = "SELECT * FROM {{ this }} WHERE amount > 999999";
    let (status, got) = server
        .call(Method::PUT, &url, Some(json!({"sql": replaced})))
        .await;
    assert_eq!(
        (status, &got["severity"]),
        (StatusCode::OK, &json!("error")),
        "{got}"
    );
    let bad = server
        .call(Method::PUT, &url, Some(json!({"sql": "SELEC oops"})))
        .await;
    assert_error(
        &bad,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_input",
        &["no_huge_amounts.sql"],
    );
    assert_eq!(std::fs::read_to_string(&file).unwrap(), replaced);
    let (status, one) = server.get(&url).await;
    assert_eq!(
        (status, one["sql"].as_str()),
        (StatusCode::OK, Some(replaced))
    );

    for bad_name in ["../x", "A-b", &"x".repeat(300)] {
        let got = server
            .post(
                &format!("{ORDERS}/tests"),
                json!({"name": bad_name, "sql": replaced}),
            )
            .await;
        assert_error(&got, StatusCode::UNPROCESSABLE_ENTITY, "invalid_input", &[]);
    }
    let missing = server.get(&format!("{ORDERS}/tests/nope")).await;
    assert_error(&missing, StatusCode::NOT_FOUND, "not_found", &["nope"]);
    let no_pipeline = server
        .get("/api/v1/pipelines/default/bronze/nope/tests")
        .await;
    assert_error(&no_pipeline, StatusCode::NOT_FOUND, "not_found", &[]);

    let (status, _) = server.call(Method::DELETE, &url, None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert!(!file.exists());
    let gone = server.call(Method::DELETE, &url, None).await;
    assert_error(
        &gone,
        StatusCode::NOT_FOUND,
        "not_found",
        &["no_huge_amounts"],
    );
}

#[tokio::test]
async fn test_runs_read_main_and_write_nothing() {
    let server = Server::sample().await;
    let never_run = server.post(&format!("{ORDERS}/tests/run"), json!({})).await;
    assert_error(
        &never_run,
        StatusCode::NOT_FOUND,
        "not_found",
        &["run its pipeline"],
    );
    assert_eq!(
        server.run_to_end("bronze.orders").await["status"],
        "success"
    );
    let snapshots = history_len(&server, "default/bronze/orders").await;

    // No body at all: every saved test.
    let (status, report) = server
        .call(Method::POST, &format!("{ORDERS}/tests/run"), None)
        .await;
    assert_eq!(status, StatusCode::OK, "{report}");
    assert_eq!(report["passed"], true, "{report}");
    assert_eq!(report["results"].as_array().unwrap().len(), 2);

    // One saved test and one unsaved that main fails.
    let (status, report) = server
        .post(
            &format!("{ORDERS}/tests/run"),
            json!({
                "tests": ["order_id_not_null", "every_order_is_small"],
                "sql": {"every_order_is_small": "SELECT * FROM {{ this }} WHERE amount > 10"}
            }),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{report}");
    assert_eq!(report["passed"], false);
    let results = report["results"].as_array().unwrap();
    let outcome =
        |name: &str| results.iter().find(|r| r["name"] == name).unwrap()["outcome"].clone();
    assert_eq!(outcome("every_order_is_small"), "failed");
    assert_eq!(outcome("order_id_not_null"), "passed");
    assert_eq!(results.len(), 2);
    assert!(
        !server
            .dir
            .path()
            .join("pipelines/bronze/orders/tests/quality/every_order_is_small.sql")
            .exists()
    );
    assert_eq!(
        history_len(&server, "default/bronze/orders").await,
        snapshots
    );

    let unknown = server
        .post(&format!("{ORDERS}/tests/run"), json!({"tests": ["nope"]}))
        .await;
    assert_error(&unknown, StatusCode::NOT_FOUND, "not_found", &["nope"]);
    let bad_body = server
        .post(&format!("{ORDERS}/tests/run"), json!({"tset": []}))
        .await;
    assert_error(
        &bad_body,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_input",
        &["tset"],
    );
}

#[tokio::test]
async fn previews_and_compiles_show_results_and_name_failing_lines() {
    let server = Server::sample().await;
    for table in [
        "bronze.orders",
        "bronze.customers",
        "silver.orders_enriched",
    ] {
        assert_eq!(server.run_to_end(table).await["status"], "success");
    }
    let snapshots = history_len(&server, "default/silver/orders_enriched").await;

    let (status, preview) = server
        .post(&format!("{ENRICHED}/preview"), json!({"limit": 5}))
        .await;
    assert_eq!(status, StatusCode::OK, "{preview}");
    assert_eq!(preview["rows"].as_array().unwrap().len(), 5);
    assert_eq!(preview["truncated"], true);
    assert!(
        preview["compiled_sql"]
            .as_str()
            .unwrap()
            .contains("\"bronze\".\"orders\"")
    );
    assert!(!preview["explain"].as_str().unwrap().is_empty());
    assert!(preview["timing"]["compile_ms"].is_u64());
    let columns: Vec<&str> = preview["schema"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(columns[0], "order_id");
    let reads = preview["reads"].as_array().unwrap();
    assert!(
        reads
            .iter()
            .any(|r| r["table"] == "default.bronze.customers"),
        "{reads:?}"
    );

    // Unsaved SQL, of a pipeline not saved at all: previewed, not written.
    let draft = "/api/v1/pipelines/default/gold/draft";
    let (status, preview) = server
        .post(
            &format!("{draft}/preview"),
            json!({"sql": "SELECT country, count(*) AS n\nFROM {{ ref('silver.orders_enriched') }}\nGROUP BY country"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{preview}");
    assert_eq!(preview["columns"], json!(["country", "n"]));
    let (status, _) = server.get(draft).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, compiled) = server
        .post(
            &format!("{draft}/compile"),
            json!({"sql": "SELECT 1 AS one"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{compiled}");
    assert_eq!(compiled["compiled_sql"], "SELECT 1 AS one");
    assert!(compiled.get("rows").is_none());

    let failing = server
        .post(
            &format!("{ENRICHED}/preview"),
            json!({"sql": "SELECT\n  order_id,\n  no_such_column\nFROM {{ ref('bronze.orders') }}"}),
        )
        .await;
    assert_error(
        &failing,
        StatusCode::UNPROCESSABLE_ENTITY,
        "query",
        &["no_such_column"],
    );
    assert_eq!(failing.1["error"]["context"]["line"], "3", "{}", failing.1);
    assert_eq!(
        failing.1["error"]["context"]["file"],
        "pipelines/silver/orders_enriched/pipeline.sql"
    );
    let nothing_saved = server.post(&format!("{draft}/preview"), json!({})).await;
    assert_error(
        &nothing_saved,
        StatusCode::NOT_FOUND,
        "not_found",
        &["gold.draft"],
    );
    let both = server
        .post(
            &format!("{draft}/preview"),
            json!({"sql": "SELECT 1", "python": "result = 1"}),
        )
        .await;
    assert_eq!(both.0, StatusCode::UNPROCESSABLE_ENTITY, "{}", both.1);
    let bad_ns = server
        .post(
            "/api/v1/pipelines/nope/gold/draft/preview",
            json!({"sql": "SELECT 1"}),
        )
        .await;
    assert_error(&bad_ns, StatusCode::NOT_FOUND, "not_found", &["nope"]);
    let endless = server
        .post(
            &format!("{draft}/preview"),
            json!({"sql": "SELECT count(*) FROM range(100000000) a, range(100000000) b", "timeout_ms": 300}),
        )
        .await;
    assert_error(
        &endless,
        StatusCode::REQUEST_TIMEOUT,
        "timeout",
        &["time limit"],
    );

    assert_eq!(
        history_len(&server, "default/silver/orders_enriched").await,
        snapshots
    );
}
