//! Landing zones on S3 (SeaweedFS on loopback): an upload streams as a
//! multipart upload completed only at its end, so a refused one leaves no
//! object; a run reads the zone's objects and archives them under
//! `_processed/`. Needs `scripts/test-services.sh start`.
#![allow(clippy::unwrap_used)]

mod common;

use common::{Server, assert_error};
use rat_core::StorageExt;
use reqwest::StatusCode;
use reqwest::multipart::{Form, Part};
use serde_json::{Value, json};

/// Test-only key of the loopback server (scripts/services/seaweedfs-iam.json),
/// handed over as a secret file so the test needs nothing from the
/// environment.
const SECRET: &str = "rat-test-admin-secret";

fn lakehouse(prefix: &str, dir: &std::path::Path) -> rat_core::LakehouseConfig {
    std::fs::write(dir.join("s3.secret"), SECRET).unwrap();
    let yaml = format!(
        "storage:\n  type: s3\n  bucket: lake\n  prefix: {prefix}\n  endpoint: http://127.0.0.1:8333\n  path_style: true\n  \
         credentials: {{type: static, access_key_id: rat-test-admin, secret_access_key: {{file: s3.secret}}}}\n\
         catalog: {{type: sql, path: catalog.db, warehouse: warehouse}}\n"
    );
    rat_server::ServerSetup::from_yaml(&yaml, dir, dir, Vec::new())
        .unwrap()
        .0
        .lakehouse
}

async fn upload(server: &Server, name: &str, bytes: Vec<u8>) -> (StatusCode, Value) {
    let form = Form::new().part("file", Part::bytes(bytes).file_name(name.to_owned()));
    let response = server
        .http
        .post(server.url("/api/v1/landing-zones/default/shop/files"))
        .multipart(form)
        .send()
        .await
        .unwrap();
    (response.status(), response.json().await.unwrap())
}

#[tokio::test]
async fn uploads_and_archives_work_on_s3_and_a_refused_upload_leaves_no_object() {
    let prefix = format!("landing{}", &rat_core::RunId::generate().as_str()[20..]);
    let dir = tempfile::tempdir().unwrap();
    let config = lakehouse(&prefix, dir.path());
    let storage = rat_runner::lakehouse::open_storage(&config.storage).unwrap();
    let server = Server::start_in(dir, |setup| {
        setup.lakehouse = config.clone();
        setup.landing.max_file_bytes = 11 * 1024 * 1024;
    })
    .await;
    let (status, zone) = server
        .post(
            "/api/v1/landing-zones",
            json!({"name": "shop", "archive": true}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{zone}");
    assert_eq!(
        upload(&server, "a.csv", b"id\n1\n2\n".to_vec()).await.0,
        StatusCode::CREATED
    );
    // Past the S3 writer's 10 MiB buffer (a multipart upload has begun,
    // then is aborted) and over the limit.
    assert_error(
        &upload(&server, "big.csv", vec![b'1'; 11 * 1024 * 1024 + 1]).await,
        StatusCode::PAYLOAD_TOO_LARGE,
        "too_large",
        &["big.csv"],
    );
    let keys = |objects: Vec<rat_core::ObjectMeta>| -> Vec<String> {
        objects.into_iter().map(|o| o.key.to_string()).collect()
    };
    assert_eq!(
        keys(storage.list_all("landing/shop/").await.unwrap()),
        ["landing/shop/_zone.yaml", "landing/shop/a.csv"]
    );
    let (status, preview) = server
        .get("/api/v1/landing-zones/default/shop/files/a.csv/preview")
        .await;
    assert_eq!(status, StatusCode::OK, "{preview}");
    assert_eq!(preview["rows"], json!([[1], [2]]));

    let (status, created) = server
        .post(
            "/api/v1/pipelines",
            json!({"layer": "bronze", "name": "shop",
                   "sql": "SELECT * FROM {{ landing_zone('shop') }}"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let run = server.run_to_end("bronze.shop").await;
    assert_eq!(run["status"], "success", "{run}");
    let run_id = run["run_id"].as_str().unwrap();
    assert_eq!(
        keys(storage.list_all("landing/shop/").await.unwrap()),
        [
            "landing/shop/_processed/".to_owned() + run_id + "/a.csv",
            "landing/shop/_zone.yaml".to_owned(),
        ]
    );
    let archived =
        rat_core::ObjectKey::new(format!("landing/shop/_processed/{run_id}/a.csv")).unwrap();
    assert_eq!(
        storage.get(&archived).await.unwrap().as_ref(),
        b"id\n1\n2\n"
    );
    let (_, rows) = server
        .post(
            "/api/v1/query",
            json!({"sql": "SELECT count(*) AS n FROM bronze.shop"}),
        )
        .await;
    assert_eq!(rows["rows"], json!([[2]]), "{rows}");
}
