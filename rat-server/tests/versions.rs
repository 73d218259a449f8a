//! Versions and drafts of pipelines' code over HTTP on a real server:
//! every save (pipeline, test, file) numbered with who and why; versions
//! read and rolled back to (a deleted pipeline restored); a draft that
//! previews and test-runs while runs keep using the published code, then
//! published or discarded. Refused saves record nothing.
#![allow(clippy::unwrap_used)]

mod common;

use common::{Server, assert_error};
use rat_core::config::SecretRef;
use rat_server::auth::AuthConfig;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

const CUSTOMERS: &str = "/api/v1/pipelines/default/bronze/customers";
const SQL_FILE: &str = "pipelines/bronze/customers/pipeline.sql";

fn read(server: &Server, path: &str) -> String {
    std::fs::read_to_string(server.dir.path().join(path)).unwrap()
}

/// The versions listed, newest first, as (number, state, message).
async fn versions(server: &Server, pipeline: &str) -> Vec<(u64, String, String)> {
    let (status, page) = server.get(&format!("{pipeline}/versions")).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| {
            (
                v["version"].as_u64().unwrap(),
                v["state"].as_str().unwrap().to_owned(),
                v["message"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect()
}

fn save(sql: &str, config: &str, extra: Value) -> Value {
    let mut body = json!({"sql": sql, "config": config, "tests": {}});
    for (key, value) in extra.as_object().unwrap() {
        body[key] = value.clone();
    }
    body
}

#[tokio::test]
async fn every_save_is_a_version_that_can_be_read_and_rolled_back() {
    let server = Server::sample().await;
    let original = read(&server, SQL_FILE);
    let config = read(&server, "pipelines/bronze/customers/config.yaml");
    let no_versions = server.get(&format!("{CUSTOMERS}/versions")).await;
    assert_eq!(no_versions.0, StatusCode::OK);
    assert_eq!(no_versions.1["items"], json!([]));

    // The first save records what storage held before it, then itself.
    let edited = "SELECT i AS customer_id, 'c' || i AS name FROM range(1, 11) AS t(i)";
    let (status, detail) = server
        .call(
            Method::PUT,
            CUSTOMERS,
            Some(save(
                edited,
                &config,
                json!({"message": "  ten customers "}),
            )),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{detail}");
    assert_eq!(detail["version"]["version"], 2, "{detail}");
    assert_eq!(detail["version"]["message"], "ten customers");
    assert_eq!(detail["version"]["author"], Value::Null);
    assert_eq!(detail["draft"], Value::Null);
    let listed = versions(&server, CUSTOMERS).await;
    assert_eq!(listed[0], (2, "published".into(), "ten customers".into()));
    assert_eq!(listed[1].0, 1);
    assert!(listed[1].2.contains("found in storage"), "{listed:?}");

    // Tests and files saved through their own routes are versions too.
    let (status, _) = server
        .post(
            &format!("{CUSTOMERS}/tests"),
            json!({"name": "has_rows", "sql": "SELECT 1 WHERE (SELECT count(*) FROM {{ this }}) = 0"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let (status, _) = server
        .call(
            Method::PUT,
            &format!("/api/v1/files/default/{SQL_FILE}"),
            Some(json!({"content": format!("{edited} -- via files")})),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let listed = versions(&server, CUSTOMERS).await;
    assert_eq!(
        listed[0],
        (4, "published".into(), format!("wrote {SQL_FILE}"))
    );
    assert_eq!(
        listed[1],
        (
            3,
            "published".into(),
            "added quality test 'has_rows'".into()
        )
    );

    // A refused save records nothing and changes nothing.
    let refused = server
        .call(
            Method::PUT,
            CUSTOMERS,
            Some(save("SELEC nope", &config, json!({}))),
        )
        .await;
    assert_eq!(
        refused.0,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{:?}",
        refused.1
    );
    let bell = server
        .call(
            Method::PUT,
            CUSTOMERS,
            Some(save(edited, &config, json!({"message": "ring\u{7}"}))),
        )
        .await;
    assert_error(
        &bell,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_input",
        &["message"],
    );
    assert_eq!(versions(&server, CUSTOMERS).await.len(), 4);
    assert!(read(&server, SQL_FILE).ends_with("-- via files"));

    // One version with its files; paging; unknown versions.
    let (status, first) = server.get(&format!("{CUSTOMERS}/versions/1")).await;
    assert_eq!(status, StatusCode::OK, "{first}");
    assert_eq!(first["files"]["sql"], original.as_str());
    assert!(first["files"]["tests"]["unique_customer_id"].is_string());
    let (_, page) = server
        .get(&format!("{CUSTOMERS}/versions?limit=2&offset=1"))
        .await;
    let numbers: Vec<u64> = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["version"].as_u64().unwrap())
        .collect();
    assert_eq!((numbers, &page["has_more"]), (vec![3, 2], &json!(true)));
    let unknown = server.get(&format!("{CUSTOMERS}/versions/99")).await;
    assert_error(
        &unknown,
        StatusCode::NOT_FOUND,
        "not_found",
        &["no version 99"],
    );
    let not_a_number = server.get(&format!("{CUSTOMERS}/versions/x1")).await;
    assert_error(
        &not_a_number,
        StatusCode::BAD_REQUEST,
        "bad_request",
        &["x1"],
    );
    let no_pipeline = server
        .get("/api/v1/pipelines/default/bronze/nope/versions")
        .await;
    assert_error(&no_pipeline, StatusCode::NOT_FOUND, "not_found", &["nope"]);
    let no_rollback = server
        .call(
            Method::POST,
            &format!("{CUSTOMERS}/versions/99/rollback"),
            None,
        )
        .await;
    assert_error(&no_rollback, StatusCode::NOT_FOUND, "not_found", &["99"]);

    // Rolling back is a new version with the old files.
    let (status, detail) = server
        .post(
            &format!("{CUSTOMERS}/versions/1/rollback"),
            json!({"message": "back to the generated 200"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{detail}");
    assert_eq!(detail["version"]["version"], 5);
    assert_eq!(read(&server, SQL_FILE), original);
    assert!(
        !server
            .dir
            .path()
            .join("pipelines/bronze/customers/tests/quality/has_rows.sql")
            .exists()
    );
    assert_eq!(
        server.get(CUSTOMERS).await.1["version"]["version"],
        5,
        "the pipeline shows the version it is"
    );

    // A deleted pipeline keeps its history, and a rollback restores it.
    let (status, _) = server.call(Method::DELETE, CUSTOMERS, None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(versions(&server, CUSTOMERS).await.len(), 5);
    let (status, detail) = server
        .call(
            Method::POST,
            &format!("{CUSTOMERS}/versions/4/rollback"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{detail}");
    assert_eq!(detail["version"]["message"], "rolled back to version 4");
    assert!(read(&server, SQL_FILE).ends_with("-- via files"));
}

#[tokio::test]
async fn a_draft_previews_and_tests_while_runs_use_the_published_code() {
    let server = Server::sample().await;
    let published = read(&server, SQL_FILE);
    let config = read(&server, "pipelines/bronze/customers/config.yaml");
    let draft_sql = published.replace(
        "AS signed_up_on",
        "AS signed_up_on,\n    'draft' AS draft_marker",
    );
    let draft_tests =
        json!({"only_one_customer": "SELECT * FROM {{ this }} WHERE customer_id > 1"});

    let no_draft = server.get(&format!("{CUSTOMERS}/draft")).await;
    assert_error(&no_draft, StatusCode::NOT_FOUND, "not_found", &["no draft"]);
    let preview_no_draft = server
        .post(&format!("{CUSTOMERS}/preview"), json!({"draft": true}))
        .await;
    assert_error(
        &preview_no_draft,
        StatusCode::NOT_FOUND,
        "not_found",
        &["no draft"],
    );
    let bad_draft = server
        .call(
            Method::PUT,
            CUSTOMERS,
            Some(save("SELECT FROM WHERE", &config, json!({"draft": true}))),
        )
        .await;
    assert_eq!(
        bad_draft.0,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{:?}",
        bad_draft.1
    );
    assert!(versions(&server, CUSTOMERS).await.is_empty());

    let mut body = save(
        &draft_sql,
        &config,
        json!({"draft": true, "message": "add a marker"}),
    );
    body["tests"] = draft_tests.clone();
    let (status, draft) = server.call(Method::PUT, CUSTOMERS, Some(body)).await;
    assert_eq!(status, StatusCode::OK, "{draft}");
    assert_eq!(draft["version"]["state"], "draft");
    assert_eq!(draft["version"]["version"], 2);
    assert_eq!(
        read(&server, SQL_FILE),
        published,
        "storage keeps the published code"
    );
    let (_, detail) = server.get(CUSTOMERS).await;
    assert_eq!(detail["version"]["version"], 1);
    assert_eq!(detail["draft"]["version"], 2);
    let (status, got) = server.get(&format!("{CUSTOMERS}/draft")).await;
    assert_eq!(status, StatusCode::OK, "{got}");
    assert_eq!(got["source"], draft_sql.as_str());

    // Runs use the published code.
    assert_eq!(
        server.run_to_end("bronze.customers").await["status"],
        "success"
    );
    let (_, table) = server.get("/api/v1/tables/default/bronze/customers").await;
    let columns: Vec<&str> = table["schema"]["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["name"].as_str().unwrap())
        .collect();
    assert!(!columns.contains(&"draft_marker"), "{columns:?}");

    // The draft previews and test-runs; the published code does not see it.
    let column_names = |preview: &Value| -> Vec<String> {
        preview["columns"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c.as_str().unwrap().to_owned())
            .collect()
    };
    let (status, preview) = server
        .post(
            &format!("{CUSTOMERS}/preview"),
            json!({"draft": true, "limit": 3}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{preview}");
    assert!(column_names(&preview).contains(&"draft_marker".to_owned()));
    let (_, preview) = server
        .post(&format!("{CUSTOMERS}/preview"), json!({}))
        .await;
    assert!(!column_names(&preview).contains(&"draft_marker".to_owned()));
    let (status, report) = server
        .post(&format!("{CUSTOMERS}/tests/run"), json!({"draft": true}))
        .await;
    assert_eq!(status, StatusCode::OK, "{report}");
    let names: Vec<&str> = report["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["only_one_customer"]);
    assert_eq!(report["passed"], false);
    let (_, report) = server
        .post(&format!("{CUSTOMERS}/tests/run"), json!({}))
        .await;
    assert_eq!(report["passed"], true, "{report}");

    // Publish: the draft's files become the code, a new version.
    let (status, detail) = server
        .post(
            &format!("{CUSTOMERS}/publish"),
            json!({"message": "ship the marker"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{detail}");
    assert_eq!(detail["version"]["version"], 3);
    assert_eq!(detail["draft"], Value::Null);
    assert_eq!(read(&server, SQL_FILE), draft_sql);
    assert!(
        server
            .dir
            .path()
            .join("pipelines/bronze/customers/tests/quality/only_one_customer.sql")
            .exists()
    );
    let again = server
        .call(Method::POST, &format!("{CUSTOMERS}/publish"), None)
        .await;
    assert_error(&again, StatusCode::NOT_FOUND, "not_found", &["no draft"]);

    // Discard: the draft is gone, kept in the history as discarded.
    let body = save(&published, &config, json!({"draft": true}));
    let (status, _) = server.call(Method::PUT, CUSTOMERS, Some(body)).await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = server
        .call(Method::DELETE, &format!("{CUSTOMERS}/draft"), None)
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let listed = versions(&server, CUSTOMERS).await;
    let states: Vec<&str> = listed.iter().map(|v| v.1.as_str()).collect();
    assert_eq!(states, ["discarded", "published", "draft", "published"]);
    assert_eq!(listed[1].2, "ship the marker");
    assert_eq!(
        server.get(&format!("{CUSTOMERS}/draft")).await.0,
        StatusCode::NOT_FOUND
    );
    let twice = server
        .call(Method::DELETE, &format!("{CUSTOMERS}/draft"), None)
        .await;
    assert_error(&twice, StatusCode::NOT_FOUND, "not_found", &["no draft"]);

    // Drafts need a saved pipeline; creating one takes no draft flag.
    let unsaved = server
        .call(
            Method::PUT,
            "/api/v1/pipelines/default/bronze/not_yet",
            Some(json!({"sql": "SELECT 1 AS x", "draft": true})),
        )
        .await;
    assert_error(&unsaved, StatusCode::NOT_FOUND, "not_found", &["not_yet"]);
    let create_draft = server
        .post(
            "/api/v1/pipelines",
            json!({"layer": "bronze", "name": "not_yet", "sql": "SELECT 1 AS x", "draft": true}),
        )
        .await;
    assert_error(
        &create_draft,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_input",
        &["draft"],
    );
}

#[tokio::test]
async fn a_version_names_who_saved_it() {
    let dir = tempfile::tempdir().unwrap();
    let key_file = dir.path().join("api-key");
    std::fs::write(&key_file, "versions-test-key-0123456789\n").unwrap();
    let server = Server::sample_with(|setup| {
        setup.auth = AuthConfig::api_key(SecretRef::File(key_file));
    })
    .await;
    let config = read(&server, "pipelines/bronze/customers/config.yaml");
    let response = server
        .http
        .put(server.url(CUSTOMERS))
        .bearer_auth("versions-test-key-0123456789")
        .json(&save("SELECT 1 AS customer_id", &config, json!({})))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let detail: Value = response.json().await.unwrap();
    assert_eq!(detail["version"]["author"], "api-key", "{detail}");
}
