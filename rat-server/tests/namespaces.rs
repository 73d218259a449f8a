//! Namespaces through the HTTP API: described (the description is the
//! Iceberg `comment` property, read back by pyiceberg), and deleted with
//! everything they hold — refused while they hold pipelines or tables
//! unless forced, and while a run of theirs is going.
#![allow(clippy::unwrap_used)]

mod common;

use common::{Server, assert_error};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

/// The namespace's properties as pyiceberg reads them from the catalog.
fn iceberg_properties(server: &Server, namespace: &str) -> Value {
    let venv = std::env::var("RAT_VENV").expect("RAT_VENV (scripts/env.sh)");
    let state = server.dir.path().join(".rat");
    let script = format!(
        "import json\nfrom pyiceberg.catalog.sql import SqlCatalog\n\
         c = SqlCatalog('rat', uri='sqlite:///{}/catalog.db', warehouse='file://{}/warehouse')\n\
         print(json.dumps(c.load_namespace_properties('{namespace}')))\n",
        state.display(),
        state.display()
    );
    let out = std::process::Command::new(format!("{venv}/bin/python"))
        .args(["-c", &script])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

#[tokio::test]
async fn a_namespace_is_described_in_the_catalog() {
    let server = Server::sample().await;
    let (status, made) = server
        .post(
            "/api/v1/namespaces",
            json!({"name": "sales", "description": "orders"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{made}");
    assert_eq!(made, json!({"name": "sales", "description": "orders"}));

    let path = "/api/v1/namespaces/sales";
    let change = |body: Value| server.call(Method::PATCH, path, Some(body));
    let (status, changed) = change(json!({"description": "orders, daily"})).await;
    assert_eq!(status, StatusCode::OK, "{changed}");
    assert_eq!(changed["description"], "orders, daily");
    assert_eq!(server.get(path).await.1, changed);
    // A field left out stays.
    assert_eq!(change(json!({})).await.1, changed);
    let (_, list) = server.get("/api/v1/namespaces").await;
    assert!(
        list["items"].as_array().unwrap().contains(&changed),
        "{list}"
    );
    assert_eq!(
        iceberg_properties(&server, "sales")["comment"],
        "orders, daily"
    );

    // Refused, and the description stays.
    for (body, words) in [
        (
            json!({"description": "x".repeat(1001)}),
            vec!["description", "1000"],
        ),
        (
            json!({"description": "bell\u{7}"}),
            vec!["description", "control"],
        ),
        (json!({"owner": "ann"}), vec!["owner"]),
        (json!({"description": 3}), vec!["description"]),
    ] {
        assert_error(
            &change(body).await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_input",
            &words,
        );
    }
    assert_eq!(server.get(path).await.1, changed);
    for (path, status, code) in [
        (
            "/api/v1/namespaces/nope",
            StatusCode::NOT_FOUND,
            "not_found",
        ),
        (
            "/api/v1/namespaces/Bad",
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_input",
        ),
    ] {
        let got = server
            .call(Method::PATCH, path, Some(json!({"description": "x"})))
            .await;
        assert_error(&got, status, code, &["namespace"]);
    }

    // Cleared; `default` takes one too.
    let (_, cleared) = change(json!({"description": null})).await;
    assert_eq!(cleared, json!({"name": "sales"}));
    assert!(
        iceberg_properties(&server, "sales")
            .get("comment")
            .is_none()
    );
    let (status, default) = server
        .call(
            Method::PATCH,
            "/api/v1/namespaces/default",
            Some(json!({"description": "the sample shop"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{default}");
    assert_eq!(server.get("/api/v1/namespaces/default").await.1, default);
}

/// `sales` with a pipeline and its table, a landing zone with a file, a
/// schedule and a notification hook.
async fn busy_namespace(server: &Server) {
    server
        .post("/api/v1/namespaces", json!({"name": "sales"}))
        .await;
    let pipeline =
        json!({"namespace": "sales", "layer": "bronze", "name": "days", "sql": "SELECT 1 AS id"});
    let (status, made) = server.post("/api/v1/pipelines", pipeline).await;
    assert_eq!(status, StatusCode::CREATED, "{made}");
    assert_eq!(
        server.run_to_end("sales.bronze.days").await["status"],
        "success"
    );
    let zone = json!({"namespace": "sales", "name": "drops"});
    assert_eq!(
        server.post("/api/v1/landing-zones", zone).await.0,
        StatusCode::CREATED
    );
    let (status, _) = server
        .upload_to("sales", "drops", &[("a.csv", b"id\n1\n".to_vec())])
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let schedule = json!({"pipeline": "sales.bronze.days", "cron": "0 3 * * *"});
    assert_eq!(
        server.post("/api/v1/schedules", schedule).await.0,
        StatusCode::CREATED
    );
    let hook = json!({"url": "http://127.0.0.1:9/hook", "events": ["run_failed"]});
    let (status, _) = server
        .post("/api/v1/namespaces/sales/notifications", hook)
        .await;
    assert_eq!(status, StatusCode::CREATED);
}

#[tokio::test]
async fn a_namespace_holding_work_is_deleted_only_when_forced() {
    let server = Server::sample().await;
    busy_namespace(&server).await;
    let server = &server;
    let delete = |query: &'static str| async move {
        let path = format!("/api/v1/namespaces/sales{query}");
        server.call(Method::DELETE, &path, None).await
    };
    let refused = delete("").await;
    assert_error(
        &refused,
        StatusCode::CONFLICT,
        "conflict",
        &["1 pipeline(s) and 1 table(s)", "force"],
    );
    // Nothing went.
    for path in [
        "/api/v1/namespaces/sales",
        "/api/v1/pipelines/sales/bronze/days",
        "/api/v1/tables/sales/bronze/days",
        "/api/v1/landing-zones/sales/drops/files",
        "/api/v1/namespaces/sales/notifications",
    ] {
        assert_eq!(server.get(path).await.0, StatusCode::OK, "{path}");
    }
    assert_error(
        &server
            .call(Method::DELETE, "/api/v1/namespaces/default", None)
            .await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_input",
        &["default namespace"],
    );
    let table_dir = server.dir.path().join(".rat/warehouse/sales/bronze/days");
    assert!(table_dir.join("data").exists() || table_dir.join("metadata").exists());

    let (status, removed) = delete("?force=true").await;
    assert_eq!(status, StatusCode::OK, "{removed}");
    assert_eq!(removed["pipelines"], 1, "{removed}");
    assert_eq!(removed["tables"], 1, "{removed}");
    assert_eq!(removed["landing_zones"], 1, "{removed}");
    assert_eq!(removed["schedules"], 1, "{removed}");
    assert_eq!(removed["notification_hooks"], 1, "{removed}");
    assert!(removed["files"].as_u64().unwrap() >= 3, "{removed}");

    for path in [
        "/api/v1/namespaces/sales",
        "/api/v1/tables/sales/bronze/days",
        "/api/v1/pipelines/sales/bronze/days",
    ] {
        assert_eq!(server.get(path).await.0, StatusCode::NOT_FOUND, "{path}");
    }
    let (_, list) = server.get("/api/v1/namespaces").await;
    assert!(!list.to_string().contains("\"sales\""), "{list}");
    let (_, schedules) = server.get("/api/v1/schedules").await;
    assert_eq!(schedules["items"], json!([]), "{schedules}");
    let left = walk(&server.dir.path().join("sales"));
    assert!(left.is_empty(), "project files stay: {left:?}");
    let left = walk(&table_dir);
    assert!(left.is_empty(), "table files stay: {left:?}");
    // The versions of its code stay, as for a deleted pipeline.
    let (_, versions) = server
        .get("/api/v1/pipelines/sales/bronze/days/versions")
        .await;
    assert_eq!(versions["items"].as_array().unwrap().len(), 1, "{versions}");

    // Made again, it starts empty; an empty one needs no force.
    server
        .post("/api/v1/namespaces", json!({"name": "sales"}))
        .await;
    let (_, zones) = server.get("/api/v1/landing-zones?namespace=sales").await;
    assert_eq!(zones["items"], json!([]), "{zones}");
    let (status, removed) = delete("").await;
    assert_eq!(status, StatusCode::OK, "{removed}");
    assert_eq!(removed["files"], 0, "{removed}");
    assert_error(
        &delete("").await,
        StatusCode::NOT_FOUND,
        "not_found",
        &["sales"],
    );
}

#[tokio::test]
async fn a_namespace_is_not_deleted_while_a_run_of_it_is_going() {
    let server = Server::sample().await;
    server
        .post("/api/v1/namespaces", json!({"name": "slow"}))
        .await;
    // Long enough to be cancelled, not to end.
    let sql =
        "SELECT count(*) AS n FROM range(300000) a, range(300000) b WHERE a.range + b.range < 0";
    let pipeline = json!({"namespace": "slow", "layer": "bronze", "name": "big", "sql": sql});
    assert_eq!(
        server.post("/api/v1/pipelines", pipeline).await.0,
        StatusCode::CREATED
    );
    let (status, accepted) = server
        .post("/api/v1/runs", json!({"pipeline": "slow.bronze.big"}))
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{accepted}");
    let run = accepted["run_id"].as_str().unwrap().to_owned();
    // Pending or running: either way it is going.
    let refused = server
        .call(Method::DELETE, "/api/v1/namespaces/slow?force=true", None)
        .await;
    assert_error(
        &refused,
        StatusCode::CONFLICT,
        "conflict",
        &[&run, "cancel"],
    );
    assert_eq!(
        server.get("/api/v1/pipelines/slow/bronze/big").await.0,
        StatusCode::OK
    );
    server
        .post(&format!("/api/v1/runs/{run}/cancel"), json!({}))
        .await;
    assert_eq!(server.wait_for_end(&run).await["status"], "cancelled");
    let (status, removed) = server
        .call(Method::DELETE, "/api/v1/namespaces/slow?force=true", None)
        .await;
    assert_eq!(status, StatusCode::OK, "{removed}");
    assert_eq!(removed["pipelines"], 1, "{removed}");
}

/// Every file under `dir` (none when it is gone).
fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    entries
        .flatten()
        .flat_map(|e| match e.file_type().unwrap().is_dir() {
            true => walk(&e.path()),
            false => vec![e.path()],
        })
        .collect()
}
