//! Landing zones over HTTP on a real server: zones made, described and
//! deleted; files uploaded as streamed multipart bodies, listed,
//! downloaded, previewed and deleted; bad names, oversized and truncated
//! uploads refused with nothing stored; and a run that reads a zone
//! archiving what it read.
#![allow(clippy::unwrap_used)]

mod common;

use std::path::Path;

use common::{Server, assert_error};
use reqwest::StatusCode;
use serde_json::{Value, json};

const ZONES: &str = "/api/v1/landing-zones";

async fn upload(server: &Server, zone: &str, files: &[(&str, Vec<u8>)]) -> (StatusCode, Value) {
    server.upload(zone, files).await
}

/// Everything under a zone's folder on disk, hidden files included.
fn on_disk(server: &Server, zone: &str) -> Vec<String> {
    let folder = server.dir.path().join("landing").join(zone);
    let mut names: Vec<String> = walk(&folder)
        .into_iter()
        .map(|p| p.strip_prefix(&folder).unwrap().display().to_string())
        .collect();
    names.sort();
    names
}

fn walk(folder: &Path) -> Vec<std::path::PathBuf> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(folder).into_iter().flatten() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            found.extend(walk(&path));
        } else {
            found.push(path);
        }
    }
    found
}

fn names(page: &Value) -> Vec<&str> {
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["name"].as_str().unwrap())
        .collect()
}

#[tokio::test]
async fn zones_are_made_described_listed_and_deleted_with_names_checked() {
    let server = Server::sample().await;
    let (status, zone) = server
        .post(
            ZONES,
            json!({"name": "orders_drop", "description": "shop exports",
                   "expected_format": "csv", "archive": true}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{zone}");
    assert_eq!(zone["namespace"], "default");
    assert_eq!(zone["expected_format"], "csv");
    assert_eq!(zone["archive"], true);
    assert_eq!(zone["files"], 0);
    assert_eq!(on_disk(&server, "orders_drop"), ["_zone.yaml"]);

    let (status, listed) = server.get(ZONES).await;
    assert_eq!(status, StatusCode::OK, "{listed}");
    assert_eq!(names(&listed), ["orders_drop"]);
    let (status, got) = server.get(&format!("{ZONES}/default/orders_drop")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(got["description"], "shop exports");

    assert_error(
        &server.post(ZONES, json!({"name": "orders_drop"})).await,
        StatusCode::CONFLICT,
        "already_exists",
        &["orders_drop"],
    );
    let long = "z".repeat(64);
    for bad in ["../x", "a/b", "", long.as_str(), "Orders"] {
        let refused = server.post(ZONES, json!({"name": bad})).await;
        assert_error(
            &refused,
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_input",
            &[],
        );
        assert_eq!(
            refused.1["error"]["context"]["field"], "zone",
            "{bad}: {refused:?}"
        );
    }
    assert_error(
        &server
            .post(ZONES, json!({"name": "z", "expected_format": "xml"}))
            .await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_input",
        &["xml"],
    );
    assert_error(
        &server
            .post(ZONES, json!({"name": "z", "namespace": "nowhere"}))
            .await,
        StatusCode::NOT_FOUND,
        "not_found",
        &["nowhere"],
    );
    assert_error(
        &server.get(&format!("{ZONES}/default/nothing")).await,
        StatusCode::NOT_FOUND,
        "not_found",
        &["nothing"],
    );
    assert_error(
        &server.get(&format!("{ZONES}/default/{long}")).await,
        StatusCode::BAD_REQUEST,
        "bad_request",
        &["zone"],
    );

    let (status, _) = server
        .call(
            reqwest::Method::DELETE,
            &format!("{ZONES}/default/orders_drop"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert!(on_disk(&server, "orders_drop").is_empty());
    assert_error(
        &server
            .call(
                reqwest::Method::DELETE,
                &format!("{ZONES}/default/orders_drop"),
                None,
            )
            .await,
        StatusCode::NOT_FOUND,
        "not_found",
        &["orders_drop"],
    );
}

#[tokio::test]
async fn uploads_land_whole_or_not_at_all() {
    let server = Server::sample_with(|setup| setup.landing.max_file_bytes = 1024 * 1024).await;
    server
        .post(ZONES, json!({"name": "drops", "expected_format": "csv"}))
        .await;
    let csv = b"id,city\n1,Oslo\n2,Lima\n".to_vec();
    let (status, stored) = upload(
        &server,
        "drops",
        &[("a.csv", csv.clone()), ("b.csv", csv.clone())],
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{stored}");
    assert_eq!(stored["files"][0]["name"], "a.csv");
    assert_eq!(stored["files"][1]["size"], csv.len());

    // Bad names, formats and sizes: refused, and nothing new is stored.
    let before = on_disk(&server, "drops");
    assert_eq!(before, ["_zone.yaml", "a.csv", "b.csv"]);
    let long = format!("{}.csv", "f".repeat(256));
    for name in [
        "../x.csv",
        "a/b.csv",
        "_zone.yaml",
        ".hidden.csv",
        long.as_str(),
    ] {
        let refused = upload(&server, "drops", &[(name, csv.clone())]).await;
        assert_eq!(
            refused.0,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{name}: {refused:?}"
        );
        assert_eq!(refused.1["error"]["context"]["field"], "file", "{name}");
    }
    assert_error(
        &upload(&server, "drops", &[("notes.txt", csv.clone())]).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_input",
        &["notes.txt", "csv, json or parquet"],
    );
    assert_error(
        &upload(&server, "drops", &[("a.json", b"{}".to_vec())]).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_input",
        &["expects csv"],
    );
    let big = vec![b'x'; 1024 * 1024 + 1];
    assert_error(
        &upload(&server, "drops", &[("big.csv", big)]).await,
        StatusCode::PAYLOAD_TOO_LARGE,
        "too_large",
        &["big.csv", "1048576"],
    );
    assert_error(
        &upload(&server, "nothing", &[("a.csv", csv.clone())]).await,
        StatusCode::NOT_FOUND,
        "not_found",
        &["nothing"],
    );

    // A body cut short: the part that arrived is not kept.
    let boundary = "rat-test-boundary";
    let truncated = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"cut.csv\"\r\n\
         Content-Type: text/csv\r\n\r\nid,city\n1,Oslo\n"
    );
    let response = server
        .http
        .post(server.url(&format!("{ZONES}/default/drops/files")))
        .header(
            "content-type",
            format!("multipart/form-data; boundary={boundary}"),
        )
        .body(truncated)
        .send()
        .await
        .unwrap();
    let status = response.status();
    let body: Value = response.json().await.unwrap();
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("cut short"),
        "{body}"
    );
    let not_multipart = server
        .post(&format!("{ZONES}/default/drops/files"), json!({"a": 1}))
        .await;
    assert_eq!(
        not_multipart.0,
        StatusCode::BAD_REQUEST,
        "{not_multipart:?}"
    );
    assert_eq!(on_disk(&server, "drops"), before);

    // Listed, downloaded, deleted.
    let (_, files) = server.get(&format!("{ZONES}/default/drops/files")).await;
    assert_eq!(names(&files), ["a.csv", "b.csv"]);
    let downloaded = server
        .http
        .get(server.url(&format!("{ZONES}/default/drops/files/a.csv")))
        .send()
        .await
        .unwrap();
    assert_eq!(downloaded.status(), StatusCode::OK);
    assert_eq!(downloaded.bytes().await.unwrap(), csv);
    let (status, _) = server
        .call(
            reqwest::Method::DELETE,
            &format!("{ZONES}/default/drops/files/a.csv"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_error(
        &server
            .get(&format!("{ZONES}/default/drops/files/a.csv"))
            .await,
        StatusCode::NOT_FOUND,
        "not_found",
        &["a.csv"],
    );
    let (_, zone) = server.get(&format!("{ZONES}/default/drops")).await;
    assert_eq!(zone["files"], 1);
    assert_eq!(zone["bytes"], csv.len());
}

#[tokio::test]
async fn a_preview_shows_the_first_rows_and_the_detected_schema() {
    let server = Server::sample().await;
    server.post(ZONES, json!({"name": "drops"})).await;
    let mut csv = String::from("id,city,seen_at\n");
    for i in 0..50 {
        csv.push_str(&format!("{i},city_{i},2024-01-0{} 10:00:00\n", 1 + i % 9));
    }
    upload(&server, "drops", &[("people.csv", csv.into_bytes())]).await;
    upload(
        &server,
        "drops",
        &[("broken.json", b"{\"a\": [1, 2".to_vec())],
    )
    .await;

    let (status, preview) = server
        .get(&format!(
            "{ZONES}/default/drops/files/people.csv/preview?rows=5"
        ))
        .await;
    assert_eq!(status, StatusCode::OK, "{preview}");
    let schema: Vec<(&str, &str)> = preview["schema"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (c["name"].as_str().unwrap(), c["type"].as_str().unwrap()))
        .collect();
    assert_eq!(
        schema,
        [
            ("id", "BIGINT"),
            ("city", "VARCHAR"),
            ("seen_at", "TIMESTAMP")
        ]
    );
    assert_eq!(preview["rows"].as_array().unwrap().len(), 5);
    assert_eq!(
        preview["rows"][4],
        json!([4, "city_4", "2024-01-05 10:00:00"])
    );
    assert_eq!(preview["truncated"], true);

    let refused = server
        .get(&format!("{ZONES}/default/drops/files/broken.json/preview"))
        .await;
    assert_error(
        &refused,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_input",
        &["broken.json"],
    );
    assert_eq!(
        refused.1["error"]["context"]["file"],
        "landing/drops/broken.json"
    );
    assert_error(
        &server
            .get(&format!(
                "{ZONES}/default/drops/files/people.csv/preview?rows=0"
            ))
            .await,
        StatusCode::BAD_REQUEST,
        "bad_request",
        &["rows"],
    );
}

/// A bronze pipeline over a zone: `SELECT * FROM landing_zone(zone)`.
async fn pipeline_over(server: &Server, name: &str, zone: &str) {
    let body = json!({
        "layer": "bronze",
        "name": name,
        "sql": format!("SELECT * FROM {{{{ landing_zone('{zone}') }}}}"),
    });
    let (status, created) = server.post("/api/v1/pipelines", body).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
}

#[tokio::test]
async fn a_successful_run_archives_what_it_read_and_a_failed_one_keeps_it() {
    let server = Server::sample().await;
    server
        .post(ZONES, json!({"name": "shop", "archive": true}))
        .await;
    server.post(ZONES, json!({"name": "kept"})).await;
    upload(&server, "shop", &[("a.csv", b"id\n1\n2\n".to_vec())]).await;
    upload(&server, "kept", &[("a.csv", b"id\n1\n".to_vec())]).await;
    pipeline_over(&server, "from_shop", "shop").await;
    pipeline_over(&server, "from_kept", "kept").await;

    let run = server.run_to_end("bronze.from_shop").await;
    assert_eq!(run["status"], "success", "{run}");
    let run_id = run["run_id"].as_str().unwrap();
    let (_, waiting) = server.get(&format!("{ZONES}/default/shop/files")).await;
    assert!(names(&waiting).is_empty(), "{waiting}");
    let (_, archived) = server
        .get(&format!("{ZONES}/default/shop/files?archived=true"))
        .await;
    assert_eq!(names(&archived), [format!("_processed/{run_id}/a.csv")]);
    let (_, logs) = server.get(&format!("/api/v1/runs/{run_id}/logs")).await;
    assert!(logs.to_string().contains("archived 1 files"), "{logs}");

    // The next run reads only what landed since.
    upload(&server, "shop", &[("b.csv", b"id\n3\n".to_vec())]).await;
    assert_eq!(
        server.run_to_end("bronze.from_shop").await["status"],
        "success"
    );
    let (_, rows) = server
        .post(
            "/api/v1/query",
            json!({"sql": "SELECT id FROM bronze.from_shop"}),
        )
        .await;
    assert_eq!(rows["rows"], json!([[3]]), "{rows}");

    // A zone without archiving keeps its files.
    assert_eq!(
        server.run_to_end("bronze.from_kept").await["status"],
        "success"
    );
    let (_, kept) = server.get(&format!("{ZONES}/default/kept/files")).await;
    assert_eq!(names(&kept), ["a.csv"]);

    // A run whose gate fails publishes nothing and archives nothing.
    upload(&server, "shop", &[("c.csv", b"id\n4\n".to_vec())]).await;
    let (status, replaced) = server
        .call(
            reqwest::Method::PUT,
            "/api/v1/pipelines/default/bronze/from_shop",
            Some(json!({
                "sql": "SELECT * FROM {{ landing_zone('shop') }}",
                "tests": {"gate": "SELECT * FROM {{ this }} WHERE id = 4"},
            })),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{replaced}");
    assert_eq!(
        server.run_to_end("bronze.from_shop").await["status"],
        "failed"
    );
    let (_, waiting) = server.get(&format!("{ZONES}/default/shop/files")).await;
    assert_eq!(names(&waiting), ["c.csv"]);
}

#[tokio::test]
async fn the_client_streams_uploads_and_downloads_through_the_same_api() {
    use futures::{StreamExt, TryStreamExt};
    use rat_server::api::{NewLandingZone, PlatformApi, ZoneRef};

    let server = Server::sample().await;
    let client = rat_server::client::Client::new(&server.base, None).unwrap();
    let zone = ZoneRef::parse("default", "drops").unwrap();
    client
        .create_landing_zone(&NewLandingZone {
            namespace: None,
            name: "drops".into(),
            settings: Default::default(),
        })
        .await
        .unwrap();
    // Many small chunks: the body is sent as they come.
    let chunks: Vec<rat_core::Result<bytes::Bytes>> = (0..1000)
        .map(|i| Ok(bytes::Bytes::from(format!("{i}\n"))))
        .collect();
    let header = futures::stream::iter([Ok(bytes::Bytes::from_static(b"n\n"))]);
    let data = header.chain(futures::stream::iter(chunks)).boxed();
    let stored = client
        .upload_landing_file(&zone, "n.csv", data)
        .await
        .unwrap();
    let expected: String = std::iter::once("n\n".to_owned())
        .chain((0..1000).map(|i| format!("{i}\n")))
        .collect();
    assert_eq!(stored.size, expected.len() as u64);
    let back: Vec<bytes::Bytes> = client
        .read_landing_file(&zone, "n.csv")
        .await
        .unwrap()
        .try_collect()
        .await
        .unwrap();
    assert_eq!(back.concat(), expected.as_bytes());
    let preview = client
        .preview_landing_file(&zone, "n.csv", 3)
        .await
        .unwrap();
    assert_eq!(preview.output.rows, [[json!(0)], [json!(1)], [json!(2)]]);
    // A stream that fails midway: the server keeps nothing.
    let failing = futures::stream::iter([
        Ok(bytes::Bytes::from_static(b"n\n1\n")),
        Err(rat_core::Error::internal("the source went away")),
    ])
    .boxed();
    assert!(
        client
            .upload_landing_file(&zone, "half.csv", failing)
            .await
            .is_err()
    );
    let files = client.landing_files(&zone, false).await.unwrap();
    assert_eq!(
        files.iter().map(|f| f.name.as_str()).collect::<Vec<_>>(),
        ["n.csv"]
    );
    let err = client
        .landing_zone(&ZoneRef::parse("default", "nothing").unwrap())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), rat_core::ErrorKind::NotFound);
}
