//! Python pipelines through the HTTP API: saved and read back as
//! `pipeline.py`, validated on save (syntax, literal `ref()`s), and refused
//! by name when the server runs pipelines in-process with strict access
//! (Python code has no sandbox there).
#![allow(clippy::unwrap_used)]

mod common;

use common::{Server, assert_error};
use reqwest::{Method, StatusCode};
use serde_json::json;

const SCRIPT: &str = "# @merge_strategy: full_refresh\n\
    result = duckdb_conn.sql(f\"SELECT * FROM {ref('bronze.customers')}\")\n";

#[tokio::test]
async fn python_pipelines_are_saved_validated_and_refused_in_process() {
    let server = Server::sample().await;
    let new = json!({"layer": "silver", "name": "py_customers", "python": SCRIPT});
    let (status, created) = server.post("/api/v1/pipelines", new).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    assert_eq!(created["language"], "python");
    assert_eq!(
        created["source_file"],
        "pipelines/silver/py_customers/pipeline.py"
    );
    assert_eq!(created["settings"]["merge_strategy"], "full_refresh");
    let path = "/api/v1/pipelines/default/silver/py_customers";
    let (_, detail) = server.get(path).await;
    assert_eq!(detail["source"], SCRIPT);
    let (_, listed) = server.get("/api/v1/pipelines?layer=silver").await;
    assert!(
        listed["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["table"] == "default.silver.py_customers"),
        "a Python pipeline is listed: {listed}"
    );
    let (_, lineage) = server.get("/api/v1/lineage").await;
    assert!(
        lineage["edges"].as_array().unwrap().contains(
            &json!({"from": "default.bronze.customers", "to": "default.silver.py_customers"})
        ),
        "{lineage}"
    );

    // Bad code is refused and the saved script stays.
    let dir = server.dir.path().join("pipelines/silver/py_customers");
    for (body, words) in [
        (
            json!({"python": "result = (\n"}),
            vec!["syntax error", "line: 1"],
        ),
        (
            json!({"python": "t = 'bronze.x'\nresult = ref(t)\n"}),
            vec!["literal name", "line: 2"],
        ),
        (json!({"python": "x", "sql": "SELECT 1"}), vec!["not both"]),
        (
            json!({}),
            vec!["sql (pipeline.sql) or python (pipeline.py)"],
        ),
    ] {
        let got = server.call(Method::PUT, path, Some(body)).await;
        assert_error(
            &got,
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_input",
            &words,
        );
    }
    assert_eq!(
        std::fs::read_to_string(dir.join("pipeline.py")).unwrap(),
        SCRIPT
    );

    // This server runs pipelines in-process and strictly: no Python.
    server.run_to_end("default.bronze.customers").await;
    let record = server.run_to_end("default.silver.py_customers").await;
    assert_eq!(record["status"], "failed", "{record}");
    let message = record["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("in-process executor cannot sandbox Python"),
        "{message}"
    );

    // Switching the pipeline to SQL removes the script.
    let (status, replaced) = server
        .call(Method::PUT, path, Some(json!({"sql": "SELECT 1 AS n"})))
        .await;
    assert_eq!(status, StatusCode::OK, "{replaced}");
    assert_eq!(replaced["language"], "sql");
    assert!(!dir.join("pipeline.py").exists());
    let (status, _) = server.call(Method::DELETE, path, None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
}
