//! Every endpoint of the API against a real server on loopback, with its
//! error cases: bad identifiers, invalid YAML/SQL on save (nothing
//! written), unknown and malformed ids, cancel of a finished run,
//! oversized bodies, unknown routes and methods.
#![allow(clippy::unwrap_used)]

mod common;

use common::{Server, assert_error, read_events};
use reqwest::{Method, StatusCode};
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_features_and_namespaces() {
    let server = Server::sample().await;
    let (status, health) = server.get("/health").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(health["status"], "ok");
    let (_, features) = server.get("/api/v1/features").await;
    assert_eq!(features["storage"], "local");
    assert_eq!(features["catalog"], "sql");
    assert_eq!(features["executor"], "local");

    let (_, list) = server.get("/api/v1/namespaces").await;
    assert_eq!(list["items"], json!([{"name": "default"}]));
    let (status, created) = server
        .post("/api/v1/namespaces", json!({"name": "finance"}))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let (_, list) = server.get("/api/v1/namespaces").await;
    assert_eq!(
        list["items"],
        json!([{"name": "default"}, {"name": "finance"}])
    );
    assert_error(
        &server
            .post("/api/v1/namespaces", json!({"name": "finance"}))
            .await,
        StatusCode::CONFLICT,
        "already_exists",
        &["finance"],
    );
    for bad in ["Finance", "../x", "a b", "*", ""] {
        assert_error(
            &server
                .post("/api/v1/namespaces", json!({"name": bad}))
                .await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_input",
            &[],
        );
    }
    let (_, page) = server.get("/api/v1/namespaces?limit=1&offset=1").await;
    assert_eq!(page["items"], json!([{"name": "finance"}]));
    assert_eq!(page["has_more"], false);
    assert_error(
        &server.get("/api/v1/namespaces?limit=201").await,
        StatusCode::BAD_REQUEST,
        "bad_request",
        &["limit 201", "200"],
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pipelines_are_validated_before_anything_is_written() {
    let server = Server::sample().await;
    let (_, list) = server.get("/api/v1/pipelines").await;
    let tables: Vec<&str> = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["table"].as_str().unwrap())
        .collect();
    assert_eq!(
        tables,
        [
            "default.bronze.customers",
            "default.bronze.orders",
            "default.silver.orders_enriched",
            "default.gold.revenue_by_country",
            "default.gold.top_customers"
        ]
    );
    let (_, bronze) = server.get("/api/v1/pipelines?layer=bronze&limit=1").await;
    assert_eq!(bronze["items"].as_array().unwrap().len(), 1);
    assert_eq!(bronze["has_more"], true);

    let (status, detail) = server
        .get("/api/v1/pipelines/default/bronze/customers")
        .await;
    assert_eq!(status, StatusCode::OK, "{detail}");
    assert!(detail["source"].as_str().unwrap().contains("customer_id"));
    assert_eq!(detail["language"], "sql");
    assert!(detail["config"].as_str().unwrap().contains("full_refresh"));
    assert_eq!(detail["settings"]["merge_strategy"], "full_refresh");
    assert_eq!(detail["tests"][0]["name"], "unique_customer_id");

    // Create, then the same again.
    let new = json!({"layer": "gold", "name": "big_orders",
        "sql": "SELECT * FROM {{ ref('silver.orders_enriched') }} WHERE amount > 100",
        "tests": {"positive": "SELECT * FROM {{ this }} WHERE amount <= 0"}});
    let (status, created) = server.post("/api/v1/pipelines", new.clone()).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    assert_eq!(created["table"], "default.gold.big_orders");
    assert_error(
        &server.post("/api/v1/pipelines", new).await,
        StatusCode::CONFLICT,
        "already_exists",
        &["big_orders"],
    );
    let big = "pipelines/gold/big_orders";
    assert!(
        server
            .dir
            .path()
            .join(big)
            .join("tests/quality/positive.sql")
            .is_file()
    );

    // Invalid YAML, SQL, template or settings: 422 naming the file, and the
    // pipeline on disk is untouched.
    let path = "/api/v1/pipelines/default/gold/big_orders";
    let before = std::fs::read_to_string(server.dir.path().join(big).join("pipeline.sql")).unwrap();
    let cases = [
        (
            json!({"sql": "SELECT 1 AS x", "config": "merge_strategy: [unclosed"}),
            "config.yaml",
        ),
        (json!({"sql": "SELEC 1"}), "pipeline.sql"),
        (json!({"sql": "SELECT {{ nope( }}"}), "pipeline.sql"),
        (
            json!({"sql": "SELECT 1 AS x", "config": "merge_strategy: sideways"}),
            "sideways",
        ),
        (
            json!({"sql": "SELECT 1 AS x", "tests": {"Bad Name": "SELECT 1"}}),
            "Bad Name",
        ),
        (json!({"sql": "DELETE FROM t"}), "pipeline.sql"),
    ];
    for (body, named) in cases {
        let got = server.call(Method::PUT, path, Some(body.clone())).await;
        assert_error(
            &got,
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_input",
            &[named],
        );
    }
    let after = std::fs::read_to_string(server.dir.path().join(big).join("pipeline.sql")).unwrap();
    assert_eq!(before, after);
    assert!(
        server
            .dir
            .path()
            .join(big)
            .join("tests/quality/positive.sql")
            .is_file()
    );

    // A replace writes exactly the files given: the test goes.
    let (status, replaced) = server
        .call(
            Method::PUT,
            path,
            Some(json!({"sql": "SELECT 2 AS x", "config": "description: two"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{replaced}");
    assert_eq!(replaced["tests"], json!([]));
    assert!(
        !server
            .dir
            .path()
            .join(big)
            .join("tests/quality/positive.sql")
            .exists()
    );
    assert_eq!(replaced["config"], "description: two");

    let (status, _) = server.call(Method::DELETE, path, None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_error(
        &server.get(path).await,
        StatusCode::NOT_FOUND,
        "not_found",
        &["big_orders"],
    );
    assert_error(
        &server.call(Method::DELETE, path, None).await,
        StatusCode::NOT_FOUND,
        "not_found",
        &[],
    );
    assert_error(
        &server
            .call(Method::PUT, path, Some(json!({"sql": "SELECT 1"})))
            .await,
        StatusCode::NOT_FOUND,
        "not_found",
        &[],
    );
    // Bad identifiers in the path.
    for bad in [
        "/api/v1/pipelines/default/platinum/customers",
        "/api/v1/pipelines/default/bronze/Customers",
        "/api/v1/pipelines/BAD/bronze/customers",
    ] {
        assert_error(
            &server.get(bad).await,
            StatusCode::BAD_REQUEST,
            "bad_request",
            &[],
        );
    }

    let (_, lineage) = server.get("/api/v1/lineage?namespace=default").await;
    assert_eq!(lineage["nodes"].as_array().unwrap().len(), 5);
    assert!(lineage["edges"].as_array().unwrap().contains(&json!({
        "from": "default.bronze.orders", "to": "default.silver.orders_enriched"
    })));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn runs_are_submitted_listed_cancelled_and_logged() {
    let server = Server::sample().await;
    let record = server.run_to_end("bronze.customers").await;
    assert_eq!(record["status"], "success", "{record}");
    assert_eq!(record["result"]["rows_written"], 200);
    assert!(record["result"]["quality"].as_array().unwrap().len() == 1);
    let id = record["run_id"].as_str().unwrap();

    let (_, listed) = server
        .get("/api/v1/runs?namespace=default&layer=bronze&status=success,failed")
        .await;
    assert_eq!(listed["items"][0]["run_id"], id);
    let (_, none) = server.get("/api/v1/runs?layer=gold").await;
    assert_eq!(none["items"], json!([]));
    let (_, by_pipeline) = server.get("/api/v1/runs?pipeline=bronze.customers").await;
    assert_eq!(by_pipeline["items"].as_array().unwrap().len(), 1);
    // By submission time: RFC 3339 (an offset is a `+`, escaped) or dates.
    let (_, since) = server
        .get("/api/v1/runs?since=2000-01-01T00:00:00%2B02:00&until=2100-01-01")
        .await;
    assert_eq!(since["items"][0]["run_id"], id);
    let (_, before) = server.get("/api/v1/runs?until=2000-01-01").await;
    assert_eq!(before["items"], json!([]));
    assert_error(
        &server.get("/api/v1/runs?since=tomorrow").await,
        StatusCode::BAD_REQUEST,
        "bad_request",
        &["'tomorrow'", "since"],
    );
    assert_error(
        &server.get("/api/v1/runs?status=done").await,
        StatusCode::BAD_REQUEST,
        "bad_request",
        &["'done'"],
    );

    // Logs as JSON pages.
    let (_, logs) = server.get(&format!("/api/v1/runs/{id}/logs?limit=2")).await;
    assert_eq!(logs["items"].as_array().unwrap().len(), 2);
    assert_eq!(logs["next_seq"], 2);

    // Cancel of a finished run, unknown and malformed ids.
    assert_error(
        &server
            .post(&format!("/api/v1/runs/{id}/cancel"), json!({}))
            .await,
        StatusCode::CONFLICT,
        "conflict",
        &[],
    );
    let unknown = rat_core::RunId::generate();
    assert_error(
        &server.get(&format!("/api/v1/runs/{unknown}")).await,
        StatusCode::NOT_FOUND,
        "not_found",
        &[],
    );
    assert_error(
        &server
            .post(&format!("/api/v1/runs/{unknown}/cancel"), json!({}))
            .await,
        StatusCode::NOT_FOUND,
        "not_found",
        &[],
    );
    assert_error(
        &server.get("/api/v1/runs/not-a-run/logs").await,
        StatusCode::BAD_REQUEST,
        "bad_request",
        &["not-a-run"],
    );
    // Unknown pipelines and bad requests.
    assert_error(
        &server
            .post("/api/v1/runs", json!({"pipeline": "gold.nothing"}))
            .await,
        StatusCode::NOT_FOUND,
        "not_found",
        &["gold.nothing"],
    );
    assert_error(
        &server
            .post("/api/v1/runs", json!({"pipeline": "gold/../x"}))
            .await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_input",
        &[],
    );
    assert_error(
        &server
            .post("/api/v1/runs", json!({"pipelin": "bronze.orders"}))
            .await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_input",
        &["pipelin"],
    );
    assert_error(
        &server
            .post(
                "/api/v1/runs",
                json!({"pipeline": "bronze.orders", "limits": {"memory_limit": "lots"}}),
            )
            .await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_input",
        &["lots"],
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn live_logs_are_pushed_and_resume_after_the_last_event() {
    let server = Server::sample().await;
    let (_, accepted) = server
        .post("/api/v1/runs", json!({"pipeline": "bronze.orders"}))
        .await;
    let id = accepted["run_id"].as_str().unwrap().to_owned();
    let url = server.url(&format!("/api/v1/runs/{id}/logs"));
    let response = server
        .http
        .get(&url)
        .header("accept", "text/event-stream")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/event-stream")
    );
    let events = read_events(response, |e| e.event == "end").await;
    let end = events.last().unwrap();
    assert_eq!(end.event, "end");
    assert_eq!(end.data["status"], "success", "{:?}", end.data);
    let seqs: Vec<u64> = events
        .iter()
        .filter(|e| e.event == "log")
        .map(|e| {
            assert_eq!(e.id.as_deref().unwrap(), e.data["seq"].to_string());
            e.data["seq"].as_u64().unwrap()
        })
        .collect();
    assert!(seqs.len() >= 3, "{seqs:?}");
    assert_eq!(seqs, (0..seqs.len() as u64).collect::<Vec<_>>(), "no gap");

    // Reconnecting after the second line: the rest, no gap, no duplicate.
    let response = server
        .http
        .get(&url)
        .header("accept", "text/event-stream")
        .header("last-event-id", "1")
        .send()
        .await
        .unwrap();
    let resumed: Vec<u64> = read_events(response, |e| e.event == "end")
        .await
        .iter()
        .filter(|e| e.event == "log")
        .map(|e| e.data["seq"].as_u64().unwrap())
        .collect();
    assert_eq!(resumed, seqs[2..]);
    let bad = server
        .http
        .get(&url)
        .header("accept", "text/event-stream")
        .header("last-event-id", "x")
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), StatusCode::BAD_REQUEST);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tables_preview_and_read_only_queries() {
    let server = Server::sample().await;
    for pipeline in ["bronze.customers", "bronze.orders"] {
        assert_eq!(server.run_to_end(pipeline).await["status"], "success");
    }
    let (_, tables) = server.get("/api/v1/tables").await;
    let customers = &tables["items"][0];
    assert_eq!(customers["table"], "default.bronze.customers");
    assert_eq!(customers["records"], 200);

    let (status, detail) = server.get("/api/v1/tables/default/bronze/customers").await;
    assert_eq!(status, StatusCode::OK, "{detail}");
    let fields: Vec<&str> = detail["schema"]["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["name"].as_str().unwrap())
        .collect();
    assert_eq!(fields, ["customer_id", "name", "country", "signed_up_on"]);
    assert_eq!(detail["snapshots"].as_array().unwrap().len(), 1);
    assert_eq!(detail["snapshots"][0]["summary"]["operation"], "append");
    assert!(detail["partition_spec"]["fields"].is_array());

    let (_, preview) = server
        .get("/api/v1/tables/default/bronze/customers/preview?rows=3")
        .await;
    assert_eq!(
        preview["rows"].as_array().map(Vec::len),
        Some(3),
        "{preview}"
    );
    assert_eq!(preview["truncated"], true);
    assert_error(
        &server
            .get("/api/v1/tables/default/gold/top_customers")
            .await,
        StatusCode::NOT_FOUND,
        "not_found",
        &[],
    );
    assert_error(
        &server
            .get("/api/v1/tables/default/bronze/customers/preview?rows=0")
            .await,
        StatusCode::BAD_REQUEST,
        "bad_request",
        &["rows 0"],
    );

    let (status, out) = server
        .post(
            "/api/v1/query",
            json!({"sql": "SELECT country, count(*) AS n FROM bronze.customers GROUP BY 1 ORDER BY 1", "limit": 2}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{out}");
    assert_eq!(out["columns"], json!(["country", "n"]));
    assert_eq!(out["rows"].as_array().unwrap().len(), 2);
    assert_eq!(out["truncated"], true);
    for write in [
        "DELETE FROM bronze.customers",
        "CREATE TABLE x AS SELECT 1",
        "COPY bronze.customers TO '/tmp/x.csv'",
        "SELECT 1; DROP TABLE bronze.customers",
    ] {
        let got = server.post("/api/v1/query", json!({"sql": write})).await;
        assert_eq!(
            got.0,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{write}: {}",
            got.1
        );
    }
    let (_, still) = server.get("/api/v1/tables").await;
    assert_eq!(still["items"][0]["records"], 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn previews_and_queries_read_an_earlier_snapshot_when_asked() {
    let server = Server::sample().await;
    let create = json!({"layer": "bronze", "name": "counter", "sql": "SELECT 1 AS v"});
    assert_eq!(
        server.post("/api/v1/pipelines", create).await.0,
        StatusCode::CREATED
    );
    assert_eq!(
        server.run_to_end("bronze.counter").await["status"],
        "success"
    );
    let (_, history) = server
        .get("/api/v1/tables/default/bronze/counter/history")
        .await;
    let first = history[0]["snapshot_id"].as_i64().unwrap();
    let (status, saved) = server
        .call(
            reqwest::Method::PUT,
            "/api/v1/pipelines/default/bronze/counter",
            Some(json!({"sql": "SELECT 2 AS v"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{saved}");
    assert_eq!(
        server.run_to_end("bronze.counter").await["status"],
        "success"
    );

    let (_, now) = server
        .get("/api/v1/tables/default/bronze/counter/preview")
        .await;
    assert_eq!(now["rows"], json!([[2]]), "{now}");
    let (status, then) = server
        .get(&format!(
            "/api/v1/tables/default/bronze/counter/preview?snapshot_id={first}"
        ))
        .await;
    assert_eq!(
        (status, &then["rows"]),
        (StatusCode::OK, &json!([[1]])),
        "{then}"
    );
    let (status, joined) = server
        .post(
            "/api/v1/query",
            json!({
                "sql": "SELECT v FROM bronze.counter",
                "snapshots": {"bronze.counter": first},
            }),
        )
        .await;
    assert_eq!(
        (status, &joined["rows"]),
        (StatusCode::OK, &json!([[1]])),
        "{joined}"
    );

    assert_error(
        &server
            .get("/api/v1/tables/default/bronze/counter/preview?snapshot_id=42")
            .await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_input",
        &["no snapshot 42"],
    );
    assert_error(
        &server
            .post(
                "/api/v1/query",
                json!({"sql": "SELECT 1", "snapshots": {"bronze.counter": first}}),
            )
            .await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_input",
        &["default.bronze.counter", "does not read"],
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_requests_get_the_envelope() {
    let server = Server::sample().await;
    assert_error(
        &server.get("/api/v1/nothing").await,
        StatusCode::NOT_FOUND,
        "not_found",
        &[],
    );
    assert_error(
        &server.call(Method::DELETE, "/api/v1/runs", None).await,
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        &[],
    );
    let response = server
        .http
        .post(server.url("/api/v1/runs"))
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], "bad_request");
    let response = server
        .http
        .post(server.url("/api/v1/runs"))
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    // Last: the server closes a connection whose body it did not read.
    let big = "x".repeat(2 * 1024 * 1024);
    assert_error(
        &server.post("/api/v1/query", json!({"sql": big})).await,
        StatusCode::PAYLOAD_TOO_LARGE,
        "too_large",
        &[],
    );
}

/// Liveness is the process answering; readiness asks the run store, the
/// catalog and storage, and turns 503 (naming the component, not the
/// error) when one fails: here the project folder, which is the storage's
/// root, becomes a file.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn liveness_and_readiness_name_each_component() {
    let server = Server::sample().await;
    let (status, live) = server.get("/health/live").await;
    assert_eq!(
        (status, live["status"].as_str()),
        (StatusCode::OK, Some("ok"))
    );
    let (status, ready) = server.get("/health/ready").await;
    assert_eq!(status, StatusCode::OK, "{ready}");
    assert_eq!(ready["ready"], true);
    let components: Vec<&str> = ready["checks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            assert_eq!(c["ok"], true, "{c}");
            c["component"].as_str().unwrap()
        })
        .collect();
    assert_eq!(components, ["run_store", "catalog", "storage"]);

    // The failure is logged in full, under the request's id.
    let logged = CapturedLog::install();
    let root = server.dir.path().to_owned();
    let moved = root.with_extension("moved");
    std::fs::rename(&root, &moved).unwrap();
    std::fs::write(&root, "not a folder").unwrap();
    let response = server
        .http
        .get(server.url("/health/ready"))
        .header("x-request-id", "probe-7")
        .send()
        .await
        .unwrap();
    std::fs::remove_file(&root).unwrap();
    std::fs::rename(&moved, &root).unwrap();
    let status = response.status();
    assert_eq!(response.headers()["x-request-id"], "probe-7");
    let ready: serde_json::Value = response.json().await.unwrap();
    let log = logged.text();
    assert!(
        log.lines().any(|l| l.contains("request_id=probe-7")
            && l.contains("readiness check failed")
            && l.contains("component=\"storage\"")),
        "{log}"
    );
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{ready}");
    assert_eq!(ready["ready"], false);
    let storage = &ready["checks"][2];
    assert_eq!(
        (storage["component"].as_str(), storage["ok"].as_bool()),
        (Some("storage"), Some(false))
    );
    assert_eq!(storage["error_kind"], "storage");
    assert!(
        !ready.to_string().contains(&*root.to_string_lossy()),
        "{ready}"
    );
    assert_eq!(ready["checks"][0]["ok"], true);
    assert_eq!(server.get("/health/ready").await.0, StatusCode::OK);
}

/// What this test process logs, from the moment it is installed (each
/// test is a process of its own under nextest).
struct CapturedLog(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl CapturedLog {
    fn install() -> Self {
        let buffer = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let writer = CapturedLog(buffer.clone());
        let subscriber = tracing_subscriber::fmt()
            .with_ansi(false)
            .with_writer(move || writer.clone_writer())
            .finish();
        tracing::subscriber::set_global_default(subscriber).unwrap();
        Self(buffer)
    }

    fn clone_writer(&self) -> Self {
        Self(self.0.clone())
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

impl std::io::Write for CapturedLog {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Every answer names its request: the caller's id when it sent one, a
/// new UUID otherwise, error answers and unknown routes included.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_answer_carries_a_request_id() {
    let server = Server::sample().await;
    let mut seen = std::collections::BTreeSet::new();
    for path in ["/health", "/api/v1/features", "/api/v1/no/such/route"] {
        let response = server.http.get(server.url(path)).send().await.unwrap();
        let id = response.headers()["x-request-id"]
            .to_str()
            .unwrap()
            .to_owned();
        assert!(uuid::Uuid::parse_str(&id).is_ok(), "{path}: {id}");
        seen.insert(id);
    }
    assert_eq!(seen.len(), 3, "ids repeat: {seen:?}");
    let response = server
        .http
        .get(server.url("/api/v1/features"))
        .header("x-request-id", "caller-1")
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["x-request-id"], "caller-1");
}

#[tokio::test]
async fn cors_is_off_by_default_and_answers_only_the_origins_configured() {
    let preflight = |server: &Server, origin: &str| {
        server
            .http
            .request(reqwest::Method::OPTIONS, server.url("/api/v1/runs"))
            .header("origin", origin)
            .header("access-control-request-method", "POST")
            .header(
                "access-control-request-headers",
                "authorization, content-type",
            )
            .send()
    };
    let allowed = |response: &reqwest::Response| {
        response
            .headers()
            .get("access-control-allow-origin")
            .map(|v| v.to_str().unwrap().to_owned())
    };
    let plain = Server::sample().await;
    let answer = preflight(&plain, "https://ide.example.com").await.unwrap();
    assert_eq!(allowed(&answer), None);

    let server = Server::sample_with(|setup| {
        setup.cors = Some(rat_server::http::CorsConfig {
            allowed_origins: vec!["https://ide.example.com".into()],
            max_age_secs: 60,
        });
    })
    .await;
    let answer = preflight(&server, "https://ide.example.com").await.unwrap();
    assert!(answer.status().is_success(), "{answer:?}");
    assert_eq!(allowed(&answer).as_deref(), Some("https://ide.example.com"));
    let methods = answer.headers()["access-control-allow-methods"]
        .to_str()
        .unwrap();
    assert!(methods.contains("POST"), "{methods}");
    let answer = preflight(&server, "https://evil.example.com")
        .await
        .unwrap();
    assert_eq!(allowed(&answer), None);
    // A real request from the origin is marked, and may read its request id.
    let response = server
        .http
        .get(server.url("/api/v1/features"))
        .header("origin", "https://ide.example.com")
        .send()
        .await
        .unwrap();
    assert_eq!(
        allowed(&response).as_deref(),
        Some("https://ide.example.com")
    );
    assert_eq!(
        response.headers()["access-control-expose-headers"],
        "x-request-id"
    );

    // A bad origin stops the start, naming the field and value.
    let mut setup = rat_server::ServerSetup::embedded(server.dir.path());
    setup.cors = Some(rat_server::http::CorsConfig {
        allowed_origins: vec!["https://ide.example.com/app".into()],
        max_age_secs: 60,
    });
    let err = setup.open().await.unwrap_err();
    assert_eq!(err.context("field"), Some("server.cors.allowed_origins"));
    assert!(err.to_string().contains("/app"), "{err}");
}

#[tokio::test]
async fn bodies_are_gzipped_for_callers_that_accept_it_but_event_streams_are_not() {
    let server = Server::sample().await;
    let get = |path: &str, accept: &'static str| {
        server
            .http
            .get(server.url(path))
            .header("accept-encoding", "gzip")
            .header("accept", accept)
            .send()
    };
    let document = get("/api/v1/openapi.json", "application/json")
        .await
        .unwrap();
    assert_eq!(document.headers()["content-encoding"], "gzip");
    let zipped = document.bytes().await.unwrap();
    let mut text = String::new();
    std::io::Read::read_to_string(&mut flate2::read::GzDecoder::new(&zipped[..]), &mut text)
        .unwrap();
    assert!(text.contains("\"openapi\""));
    let plain = server
        .http
        .get(server.url("/api/v1/openapi.json"))
        .send()
        .await
        .unwrap();
    assert!(plain.headers().get("content-encoding").is_none());

    let record = server.run_to_end("bronze.customers").await;
    let logs = format!("/api/v1/runs/{}/logs", record["run_id"].as_str().unwrap());
    let stream = get(&logs, "text/event-stream").await.unwrap();
    assert_eq!(stream.headers()["content-type"], "text/event-stream");
    assert!(stream.headers().get("content-encoding").is_none());
}
