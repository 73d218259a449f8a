//! `POST /runs` with a selection: validated as a whole before anything
//! runs, then run in DAG order by the platform, what depends on a failure
//! skipped; followed and cancelled at `/batches/{id}`. Also the table
//! verbs every face shares: paged lists, history, rollback.
#![allow(clippy::unwrap_used)]

mod common;

use std::time::{Duration, Instant};

use common::{Server, assert_error};
use reqwest::StatusCode;
use serde_json::{Value, json};

async fn batch_to_end(server: &Server, body: Value) -> Value {
    let (status, batch) = server.post("/api/v1/runs", body).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{batch}");
    let id = batch["id"].as_str().unwrap().to_owned();
    let start = Instant::now();
    loop {
        let (status, batch) = server.get(&format!("/api/v1/batches/{id}")).await;
        assert_eq!(status, StatusCode::OK, "{batch}");
        if batch["status"] != "running" {
            return batch;
        }
        assert!(start.elapsed() < Duration::from_secs(60), "{batch}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn tables(batch: &Value) -> Vec<&str> {
    batch["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["table"].as_str().unwrap())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_selection_runs_in_dag_order_and_skips_what_depends_on_a_failure() {
    let server = Server::sample().await;
    let all = batch_to_end(&server, json!({"all": true})).await;
    assert_eq!(all["status"], "success", "{all}");
    assert_eq!(
        tables(&all),
        [
            "default.bronze.customers",
            "default.bronze.orders",
            "default.silver.orders_enriched",
            "default.gold.revenue_by_country",
            "default.gold.top_customers"
        ]
    );
    for item in all["items"].as_array().unwrap() {
        assert_eq!(item["state"], "finished");
        let run = item["run_id"].as_str().unwrap();
        let record = server.wait_for_end(run).await;
        assert_eq!(record["status"], "success");
        assert_eq!(record["table"], item["table"]);
    }
    // The upstream of gold ran first: its run ended before gold's started.
    let runs: Vec<Value> = futures::future::join_all(
        all["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| server.wait_for_end(i["run_id"].as_str().unwrap())),
    )
    .await;
    let (silver, gold) = (&runs[2], &runs[3]);
    assert!(silver["finished_at"].as_str() <= gold["started_at"].as_str());

    // With downstream: what depends on bronze.orders.
    let downstream = batch_to_end(
        &server,
        json!({"pipelines": ["bronze.orders"], "downstream": true}),
    )
    .await;
    assert_eq!(
        tables(&downstream),
        [
            "default.bronze.orders",
            "default.silver.orders_enriched",
            "default.gold.revenue_by_country",
            "default.gold.top_customers"
        ]
    );

    // A failing upstream: its downstream is skipped, naming it; the rest runs.
    let sql =
        "SELECT order_id, customer_id, -1 AS amount, ordered_at FROM {{ ref('bronze.orders') }}";
    let gate = "-- @severity: error\nSELECT * FROM {{ this }} WHERE amount < 0";
    let saved = server
        .call(
            reqwest::Method::PUT,
            "/api/v1/pipelines/default/silver/orders_enriched",
            Some(json!({"sql": sql, "tests": {"no_refunds": gate}})),
        )
        .await;
    assert_eq!(saved.0, StatusCode::OK, "{}", saved.1);
    let failed = batch_to_end(&server, json!({"all": true})).await;
    assert_eq!(failed["status"], "failed", "{failed}");
    let items = failed["items"].as_array().unwrap();
    assert_eq!(items[2]["state"], "finished");
    assert_eq!(items[2]["status"], "failed");
    for gold in &items[3..] {
        assert_eq!(gold["state"], "skipped", "{gold}");
        assert_eq!(gold["run_id"], Value::Null);
        assert!(
            gold["reason"]
                .as_str()
                .unwrap()
                .contains("upstream silver.orders_enriched failed"),
            "{gold}"
        );
    }
    assert_eq!(items[0]["status"], "success");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_selection_is_validated_whole_and_a_batch_can_be_cancelled() {
    let server = Server::sample().await;
    let before = server.get("/api/v1/runs").await.1;
    for (body, status, code, words) in [
        (
            json!({"pipelines": ["gold.nothing"]}),
            StatusCode::NOT_FOUND,
            "not_found",
            vec!["gold.nothing"],
        ),
        (
            json!({"pipelines": []}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_input",
            vec!["pipelines"],
        ),
        (
            json!({"pipelines": ["bronze.orders"], "all": true}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_input",
            vec!["not both"],
        ),
        (
            json!({"pipelines": ["other.bronze.orders"]}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_input",
            vec!["other.bronze.orders", "namespace"],
        ),
        (
            json!({"all": true, "parallel": 0}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_input",
            vec!["parallel"],
        ),
        (
            json!({"all": true, "colour": "red"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_input",
            vec!["colour"],
        ),
    ] {
        let got = server.post("/api/v1/runs", body.clone()).await;
        assert_error(&got, status, code, &words);
    }
    // A broken file anywhere in the project: nothing runs, the file named.
    std::fs::write(
        server
            .dir
            .path()
            .join("pipelines/gold/top_customers/pipeline.sql"),
        "SELEC oops",
    )
    .unwrap();
    let got = server.post("/api/v1/runs", json!({"all": true})).await;
    assert_error(
        &got,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_input",
        &["syntax"],
    );
    assert_eq!(
        got.1["error"]["context"]["file"],
        "pipelines/gold/top_customers/pipeline.sql"
    );
    assert_eq!(server.get("/api/v1/runs").await.1, before, "something ran");
    std::fs::remove_dir_all(server.dir.path().join("pipelines/gold")).unwrap();

    // Cancel: the running run is cancelled, what waits is skipped.
    std::fs::write(
        server.dir.path().join("pipelines/bronze/customers/pipeline.sql"),
        "SELECT count(*) AS customer_id FROM range(300000) a, range(300000) b WHERE a.range + b.range < 0",
    )
    .unwrap();
    std::fs::remove_dir_all(server.dir.path().join("pipelines/bronze/customers/tests")).unwrap();
    let (status, batch) = server
        .post(
            "/api/v1/runs",
            json!({"pipelines": ["bronze.customers", "bronze.orders", "silver.orders_enriched"], "parallel": 1}),
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{batch}");
    let id = batch["id"].as_str().unwrap().to_owned();
    let start = Instant::now();
    let running = loop {
        let (_, batch) = server.get(&format!("/api/v1/batches/{id}")).await;
        if let Some(run) = batch["items"][0]["run_id"].as_str() {
            let record = server.get(&format!("/api/v1/runs/{run}")).await.1;
            if record["status"] == "running" {
                break run.to_owned();
            }
        }
        assert!(start.elapsed() < Duration::from_secs(30), "{batch}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let (status, asked) = server
        .post(&format!("/api/v1/batches/{id}/cancel"), json!({}))
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{asked}");
    assert_eq!(asked["cancel_requested"], true);
    let start = Instant::now();
    let ended = loop {
        let (_, batch) = server.get(&format!("/api/v1/batches/{id}")).await;
        if batch["status"] != "running" {
            break batch;
        }
        assert!(start.elapsed() < Duration::from_secs(30), "{batch}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(ended["status"], "cancelled", "{ended}");
    assert_eq!(server.wait_for_end(&running).await["status"], "cancelled");
    for waiting in &ended["items"].as_array().unwrap()[1..] {
        assert_eq!(waiting["state"], "skipped", "{waiting}");
        assert_eq!(waiting["reason"], "cancelled", "{waiting}");
    }
    let again = server
        .post(&format!("/api/v1/batches/{id}/cancel"), json!({}))
        .await;
    assert_error(&again, StatusCode::CONFLICT, "conflict", &["already ended"]);
    let missing = server.get("/api/v1/batches/nope").await;
    assert_error(&missing, StatusCode::NOT_FOUND, "not_found", &["nope"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tables_page_and_keep_their_history_and_rollback() {
    let server = Server::sample().await;
    batch_to_end(&server, json!({"all": true})).await;
    let (_, first) = server.get("/api/v1/tables?limit=2").await;
    assert_eq!(first["items"].as_array().unwrap().len(), 2);
    assert_eq!(first["has_more"], true);
    let (_, rest) = server.get("/api/v1/tables?limit=2&offset=4").await;
    assert_eq!(rest["items"].as_array().unwrap().len(), 1);
    assert_eq!(rest["has_more"], false);
    assert_eq!(rest["items"][0]["table"], "default.gold.top_customers");

    assert_eq!(
        server.run_to_end("bronze.customers").await["status"],
        "success"
    );
    let path = "/api/v1/tables/default/bronze/customers";
    let (status, history) = server.get(&format!("{path}/history")).await;
    assert_eq!(status, StatusCode::OK, "{history}");
    assert_eq!(history.as_array().unwrap().len(), 2);
    let earlier = history[1]["snapshot_id"].as_i64().unwrap();
    let (status, moved) = server
        .post(&format!("{path}/rollback"), json!({"to": earlier}))
        .await;
    assert_eq!(status, StatusCode::OK, "{moved}");
    assert_eq!(moved["to"], earlier);
    let (_, history) = server.get(&format!("{path}/history")).await;
    assert_eq!(history[0]["snapshot_id"], earlier);
    assert_eq!(history[0]["rollback"], true);
    let bad = server
        .post(&format!("{path}/rollback"), json!({"to": 42}))
        .await;
    assert_error(
        &bad,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_input",
        &["42"],
    );
    let missing = server
        .get("/api/v1/tables/default/bronze/nothing/history")
        .await;
    assert_error(&missing, StatusCode::NOT_FOUND, "not_found", &["nothing"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_whose_driver_died_is_ended_when_a_platform_opens() {
    use rat_core::{Batch, BatchItem, BatchStore};
    let server = Server::sample().await;
    let store = rat_executor::SqliteRunStore::open(server.dir.path().join(".rat/runs.db"))
        .await
        .unwrap();
    let batch = Batch::new(
        rat_core::ident::namespace("default").unwrap(),
        vec![BatchItem::waiting("bronze.orders".parse().unwrap(), vec![])],
    );
    // A process of this machine that no longer runs (no process started
    // at boot tick 0 has this test's pid).
    let mut dead = rat_executor::Owner::current();
    dead.process.start = 0;
    store.insert_batch(&batch, &dead.to_string()).await.unwrap();
    let alive = Batch::new(batch.namespace.clone(), batch.items.clone());
    store
        .insert_batch(&alive, &rat_executor::Owner::current().to_string())
        .await
        .unwrap();

    let dir = server.stop().await;
    let server = Server::start_in(dir, |_| {}).await;
    let (_, ended) = server.get(&format!("/api/v1/batches/{}", batch.id)).await;
    assert_eq!(ended["status"], "failed", "{ended}");
    assert_eq!(ended["items"][0]["state"], "skipped");
    assert_eq!(
        ended["items"][0]["reason"],
        "the process driving the batch ended"
    );
    // A live driver's batch is left to it.
    let (_, running) = server.get(&format!("/api/v1/batches/{}", alive.id)).await;
    assert_eq!(running["status"], "running", "{running}");
}
