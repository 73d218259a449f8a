//! Project files over HTTP on a real server: listed (known places only),
//! read, written and deleted; bad paths refused naming the path; a
//! pipeline's file saved only when the pipeline stays valid, nothing
//! changed otherwise; descriptions from a config shown by the table.
#![allow(clippy::unwrap_used)]

mod common;

use common::{Server, assert_error};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

const FILES: &str = "/api/v1/files/default";

async fn put(server: &Server, path: &str, content: &str) -> (StatusCode, Value) {
    server
        .call(
            Method::PUT,
            &format!("{FILES}/{path}"),
            Some(json!({"content": content})),
        )
        .await
}

/// PUTs `content` at `path` and asserts it is refused as invalid, with
/// `words` in the message.
async fn refused(server: &Server, path: &str, content: &str, words: &[&str]) {
    let got = put(server, path, content).await;
    assert_error(
        &got,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_input",
        words,
    );
}

async fn delete(server: &Server, path: &str) -> (StatusCode, Value) {
    server
        .call(Method::DELETE, &format!("{FILES}/{path}"), None)
        .await
}

fn on_disk(server: &Server, path: &str) -> Option<String> {
    std::fs::read_to_string(server.dir.path().join(path)).ok()
}

#[tokio::test]
async fn known_files_are_listed_read_written_and_deleted() {
    let server = Server::sample().await;
    // Objects that are not project files: landing data, rat's own files,
    // names no path may have.
    let root = server.dir.path();
    std::fs::create_dir_all(root.join("landing/drops")).unwrap();
    std::fs::write(root.join("landing/drops/a.csv"), "id\n1\n").unwrap();
    std::fs::write(root.join("pipelines/bronze/orders/scratch.tmp"), "x").unwrap();

    let (status, page) = server.get(FILES).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    let items = page["items"].as_array().unwrap();
    let paths: Vec<&str> = items.iter().map(|f| f["path"].as_str().unwrap()).collect();
    assert!(
        paths.contains(&"pipelines/bronze/orders/pipeline.sql"),
        "{paths:?}"
    );
    assert!(
        !paths
            .iter()
            .any(|p| p.contains("landing") || p.ends_with(".tmp")),
        "{paths:?}"
    );
    let test = items
        .iter()
        .find(|f| f["path"] == "pipelines/bronze/orders/tests/quality/order_id_not_null.sql")
        .unwrap();
    assert_eq!(
        (&test["kind"], &test["pipeline"]),
        (&json!("test"), &json!("default.bronze.orders"))
    );
    let mut sorted = paths.clone();
    sorted.sort();
    assert_eq!(paths, sorted);

    // Docs are written and read as they are.
    let (status, written) = put(&server, "docs/guide/setup.md", "# Setup\n").await;
    assert_eq!(status, StatusCode::OK, "{written}");
    assert_eq!(
        (&written["kind"], &written["size"]),
        (&json!("doc"), &json!(8))
    );
    assert_eq!(
        on_disk(&server, "docs/guide/setup.md").unwrap(),
        "# Setup\n"
    );
    assert_eq!(put(&server, "README.md", "shop\n").await.0, StatusCode::OK);
    let (status, read) = server.get(&format!("{FILES}/docs/guide/setup.md")).await;
    assert_eq!(status, StatusCode::OK, "{read}");
    assert_eq!(read["content"], "# Setup\n");
    let (_, page) = server.get(FILES).await;
    assert!(
        page["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["path"] == "README.md")
    );

    assert_eq!(
        delete(&server, "docs/guide/setup.md").await.0,
        StatusCode::NO_CONTENT
    );
    assert_eq!(on_disk(&server, "docs/guide/setup.md"), None);
    assert_error(
        &server.get(&format!("{FILES}/docs/guide/setup.md")).await,
        StatusCode::NOT_FOUND,
        "not_found",
        &["has no file 'docs/guide/setup.md'"],
    );
    assert_error(
        &delete(&server, "docs/guide/setup.md").await,
        StatusCode::NOT_FOUND,
        "not_found",
        &[],
    );

    // Text only.
    std::fs::write(root.join("docs/logo.md"), [0xff, 0xfe, 0x00]).unwrap();
    assert_error(
        &server.get(&format!("{FILES}/docs/logo.md")).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_input",
        &["'docs/logo.md' is not UTF-8"],
    );
}

#[tokio::test]
async fn bad_paths_and_namespaces_are_refused_and_nothing_is_written() {
    let server = Server::sample().await;
    let long = format!("docs/{}.md", "a".repeat(300));
    // An encoded '/' keeps '..' and a leading '/' from being resolved
    // by the URL before the server sees them.
    for (path, words) in [
        ("docs%2F..%2F..%2Fescape.md", &["bad part"][..]),
        ("%2Fetc%2Fpasswd", &["relative"]),
        ("docs%5Cx.md", &["relative"]),
        ("landing/drops/a.csv", &["known places"]),
        ("secrets.yaml", &["known places"]),
        ("docs/_hidden.md", &["bad part"]),
        ("docs/a%20b.md", &["bad part"]),
        (
            "pipelines/bronze/orders/run.sh",
            &["no file of a pipeline folder"],
        ),
        ("pipelines/platinum/x/pipeline.sql", &["names no layer"]),
        (long.as_str(), &["longer than 255"]),
    ] {
        let got = put(&server, path, "x").await;
        assert_error(
            &got,
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_input",
            words,
        );
        assert_eq!(
            server.get(&format!("{FILES}/{path}")).await.0,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{path}"
        );
    }
    assert!(!server.dir.path().join("escape.md").exists());
    assert!(!server.dir.path().join("secrets.yaml").exists());
    assert_error(
        &server.get("/api/v1/files/Bad/README.md").await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_input",
        &["Bad"],
    );
    assert_error(
        &server.get("/api/v1/files/ghost").await,
        StatusCode::NOT_FOUND,
        "not_found",
        &["no namespace 'ghost'"],
    );
    let unknown_field = server
        .call(
            Method::PUT,
            &format!("{FILES}/README.md"),
            Some(json!({"content": "x", "mode": 1})),
        )
        .await;
    assert_eq!(
        unknown_field.0,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        unknown_field.1
    );
}

#[tokio::test]
async fn pipeline_files_are_saved_only_when_the_pipeline_stays_valid() {
    let server = Server::sample().await;
    let code = "pipelines/bronze/orders/pipeline.sql";
    let before = on_disk(&server, code).unwrap();
    refused(&server, code, "SELECT 1 AS id,\nFROM WHERE", &[]).await;
    assert_eq!(on_disk(&server, code).unwrap(), before);
    let config = "pipelines/bronze/orders/config.yaml";
    refused(&server, config, "partition_by: nope\n", &["partition_by"]).await;
    assert_eq!(on_disk(&server, config), None);
    refused(
        &server,
        "pipelines/bronze/orders/config.yml",
        "description: x\n",
        &["saves config.yaml"],
    )
    .await;
    refused(
        &server,
        "pipelines/gold/nothing/config.yaml",
        "description: x\n",
        &["write its code first"],
    )
    .await;
    assert!(!server.dir.path().join("pipelines/gold/nothing").exists());

    // A new pipeline, file by file; its description reaches its table.
    let new = "pipelines/silver/by_files";
    let (status, file) = put(
        &server,
        &format!("{new}/pipeline.sql"),
        "SELECT 1 AS id, 'a' AS label",
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{file}");
    assert_eq!(
        (&file["kind"], &file["pipeline"]),
        (&json!("code"), &json!("default.silver.by_files"))
    );
    let described = "description: made through files\ncolumns:\n  id: {description: the key}\n";
    assert_eq!(
        put(&server, &format!("{new}/config.yaml"), described)
            .await
            .0,
        StatusCode::OK
    );
    let test = format!("{new}/tests/quality/id_set.sql");
    assert_eq!(
        put(&server, &test, "SELECT * FROM {{ this }} WHERE id IS NULL")
            .await
            .0,
        StatusCode::OK
    );
    let (status, pipeline) = server
        .get("/api/v1/pipelines/default/silver/by_files")
        .await;
    assert_eq!(status, StatusCode::OK, "{pipeline}");
    assert_eq!(pipeline["tests"].as_array().unwrap().len(), 1, "{pipeline}");
    let run = server.run_to_end("silver.by_files").await;
    assert_eq!(run["status"], "success", "{run}");
    let (status, table) = server.get("/api/v1/tables/default/silver/by_files").await;
    assert_eq!(status, StatusCode::OK, "{table}");
    assert_eq!(table["description"], "made through files");
    assert_eq!(
        table["columns"],
        json!([
            {"name": "id", "type": "int", "required": false, "description": "the key"},
            {"name": "label", "type": "string", "required": false, "description": null}
        ])
    );

    // A test is deleted through the pipeline's save; code goes as a file.
    assert_eq!(delete(&server, &test).await.0, StatusCode::NO_CONTENT);
    assert_eq!(on_disk(&server, &test), None);
    let (_, pipeline) = server
        .get("/api/v1/pipelines/default/silver/by_files")
        .await;
    assert_eq!(pipeline["tests"], json!([]));
    assert_eq!(
        delete(&server, &format!("{new}/pipeline.sql")).await.0,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        server
            .get("/api/v1/pipelines/default/silver/by_files")
            .await
            .0,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn the_client_reads_and_writes_files_through_the_same_api() {
    use rat_server::api::FilesApi;

    let server = Server::sample().await;
    let client = rat_server::client::Client::new(&server.base, None).unwrap();
    let written = client
        .write_project_file("default", "docs/notes.md", "hello")
        .await
        .unwrap();
    assert_eq!(written.size, 5);
    let read = client
        .read_project_file("default", "docs/notes.md")
        .await
        .unwrap();
    assert_eq!(read.content, "hello");
    assert!(
        client
            .project_files("default")
            .await
            .unwrap()
            .iter()
            .any(|f| f.path == "docs/notes.md")
    );
    // Checked before it becomes a URL that would resolve the '..'.
    let err = client
        .read_project_file("default", "docs/../../etc/passwd")
        .await
        .unwrap_err();
    assert!(err.to_string().contains("bad part"), "{err}");
    client
        .delete_project_file("default", "docs/notes.md")
        .await
        .unwrap();
    let err = client
        .read_project_file("default", "docs/notes.md")
        .await
        .unwrap_err();
    assert_eq!(err.kind(), rat_core::ErrorKind::NotFound, "{err}");
}
