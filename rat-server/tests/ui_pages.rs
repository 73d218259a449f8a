//! The web IDE's pages over a real server (server-rendered HTML; the
//! browser tests drive them once they have scripts): Home shows recent
//! runs, failing quality tests, tables per layer and schedules due, as
//! the caller may see them; assets are embedded; errors are pages.
#![allow(clippy::unwrap_used)]

mod common;

use common::{Server, team};
use reqwest::StatusCode;
use serde_json::json;

/// `GET path`: status, content type, body.
async fn fetch(server: &Server, path: &str) -> (StatusCode, String, String) {
    let response = server.http.get(server.url(path)).send().await.unwrap();
    let status = response.status();
    let kind = response
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    (status, kind, response.text().await.unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn home_shows_runs_failing_tests_tables_and_schedules() {
    let server = Server::sample().await;
    let (status, kind, empty) = fetch(&server, "/").await;
    assert_eq!(status, StatusCode::OK, "{empty}");
    assert!(kind.starts_with("text/html"), "{kind}");
    for words in [
        "<title>Home · rat</title>",
        "No runs yet",
        "No bronze tables.",
        "No schedule is due.",
    ] {
        assert!(empty.contains(words), "{words}: {empty}");
    }

    // One run: it, its failing (warn) test, its table under bronze.
    assert_eq!(
        server.run_to_end("bronze.orders").await["status"],
        "success"
    );
    let (status, created) = server
        .post(
            "/api/v1/schedules",
            json!({"pipeline": "bronze.orders", "cron": "0 6 * * *"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let (_, _, home) = fetch(&server, "/").await;
    for words in [
        "<td>default.bronze.orders</td>",
        r#"<span class="status status-success">success</span>"#,
        "<strong>amount_not_negative</strong>, 147 violating rows",
        "<li>default.bronze.orders</li>",
        "bronze <span class=\"count\">(1)</span>",
        "No silver tables.",
        "default.bronze.orders at <time>",
    ] {
        assert!(home.contains(words), "{words}: {home}");
    }
    assert!(!home.contains("No runs yet"), "{home}");

    let (status, kind, css) = fetch(&server, "/assets/rat.css").await;
    assert_eq!(
        (status, kind.as_str()),
        (StatusCode::OK, "text/css; charset=utf-8")
    );
    assert!(css.contains(":focus-visible"), "{css}");
    let (status, kind, missing) = fetch(&server, "/assets/nope.js").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(
        kind.starts_with("text/html") && missing.contains("no asset &#x27;nope.js&#x27;"),
        "{missing}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pages_ask_for_the_same_credentials_as_the_api() {
    let server = team(&[("ada", &["admin"]), ("otto", &[])], |_| {}).await;
    let bare = reqwest::get(server.url("/")).await.unwrap();
    assert_eq!(bare.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        server.run_to_end("bronze.customers").await["status"],
        "success"
    );
    let (status, _, admin) = fetch(&server, "/").await;
    assert_eq!(status, StatusCode::OK, "{admin}");
    assert!(
        admin.contains("<td>default.bronze.customers</td>"),
        "{admin}"
    );
    // An outsider's Home holds nothing of a namespace he is not in.
    let otto = server
        .http
        .get(server.url("/"))
        .header("x-api-key", common::team_key("otto"))
        .send()
        .await
        .unwrap();
    assert_eq!(otto.status(), StatusCode::OK);
    let otto = otto.text().await.unwrap();
    assert!(
        !otto.contains("default.bronze.customers") && otto.contains("No runs yet"),
        "{otto}"
    );
}
