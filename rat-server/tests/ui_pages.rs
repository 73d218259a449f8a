//! The web IDE's pages over a real server (server-rendered HTML; the
//! browser tests drive them once they have scripts): Home shows recent
//! runs, failing quality tests, tables per layer and schedules due, as
//! the caller may see them; assets are embedded; errors are pages.
#![allow(clippy::unwrap_used)]

mod common;

use common::{Server, team};
use reqwest::StatusCode;
use serde_json::json;

/// `GET path`: status, content type, body (with `&#x2f;` read as `/`, as
/// a browser reads it: the templates escape `/` in text and attributes).
async fn fetch(server: &Server, path: &str) -> (StatusCode, String, String) {
    let response = server.http.get(server.url(path)).send().await.unwrap();
    let status = response.status();
    let kind = response
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    let body = response.text().await.unwrap().replace("&#x2f;", "/");
    (status, kind, body)
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
        r#"<a class="status status-success" href="runs/"#,
        "<strong>amount_not_negative</strong>, 147 violating rows",
        "<li>default.bronze.orders</li>",
        "bronze <span class=\"count\">(1)</span>",
        "No silver tables.",
        "default.bronze.orders at <time>",
    ] {
        assert!(home.contains(words), "{words}: {home}");
    }
    assert!(!home.contains("No runs yet"), "{home}");

    // Asset URLs carry their content's digest: an upgrade is not hidden
    // by a browser's day-long cache.
    let version = home
        .split(r#"href="assets/rat.css?v="#)
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .unwrap_or_default();
    assert_eq!(version.len(), 16, "{home}");
    assert!(
        home.contains(&format!(r#"src="assets/app.js?v={version}""#)),
        "{home}"
    );
    let (status, kind, css) = fetch(&server, &format!("/assets/rat.css?v={version}")).await;
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
    // Without credentials a page leads to the sign-in form (and the
    // API's answer stays 401: tests/ui_session.rs).
    let bare = reqwest::get(server.url("/runs")).await.unwrap();
    assert_eq!(bare.url().path(), "/login");
    assert_eq!(bare.url().query(), Some("next=%2Fruns"));
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn runs_are_filtered_by_pipeline_and_status_and_settings_say_who_is_asking() {
    let server = Server::sample().await;
    assert_eq!(
        server.run_to_end("bronze.customers").await["status"],
        "success"
    );
    server.fail_a_run().await;
    let (status, _, all) = fetch(&server, "/runs").await;
    assert_eq!(status, StatusCode::OK, "{all}");
    assert!(
        all.contains("<td>default.bronze.customers</td>")
            && all.contains("<td>default.bronze.boom</td>"),
        "{all}"
    );
    assert!(
        all.contains("boom"),
        "the failure's message is shown: {all}"
    );

    let (_, _, failed) = fetch(&server, "/runs?pipeline=&status=failed").await;
    assert!(
        failed.contains("default.bronze.boom") && !failed.contains("default.bronze.customers"),
        "{failed}"
    );
    assert!(
        failed.contains(r#"<option value="failed" selected>"#),
        "the form keeps its filter: {failed}"
    );
    let (_, _, one) = fetch(&server, "/runs?pipeline=bronze.customers").await;
    assert!(
        one.contains("default.bronze.customers") && !one.contains("default.bronze.boom"),
        "{one}"
    );
    let (_, _, none) = fetch(&server, "/runs?pipeline=gold.nothing_yet").await;
    assert!(none.contains("No run matches these filters."), "{none}");
    // By submission time: the last hour has both; before 2000 neither.
    let (_, _, recent) = fetch(&server, "/runs?within=1h&status=failed").await;
    assert!(
        recent.contains("default.bronze.boom") && !recent.contains("default.bronze.customers"),
        "{recent}"
    );
    assert!(
        recent.contains(r#"<option value="1h" selected>"#),
        "{recent}"
    );
    let (_, _, old) = fetch(&server, "/runs?until=2000-01-01").await;
    assert!(
        old.contains("No run matches these filters.") && old.contains(r#"value="2000-01-01""#),
        "{old}"
    );
    let (_, _, later) = fetch(&server, "/runs?since=2000-01-01&until=2100-01-01").await;
    assert!(later.contains("default.bronze.boom"), "{later}");
    for (query, field) in [("since=soon", "since"), ("within=forever", "within")] {
        let (status, _, bad) = fetch(&server, &format!("/runs?{query}")).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{bad}");
        assert!(bad.contains(field), "{bad}");
    }

    // A bad filter is an error page naming the field, not a server error.
    let (status, kind, bad) = fetch(&server, "/runs?pipeline=Not%20A%20Table").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{bad}");
    assert!(
        kind.starts_with("text/html") && bad.contains("pipeline") && bad.contains("role=\"alert\""),
        "{bad}"
    );
    let (status, _, bad) = fetch(&server, "/runs?status=sleeping").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{bad}");
    assert!(bad.contains("sleeping"), "{bad}");

    let (status, _, settings) = fetch(&server, "/settings").await;
    assert_eq!(status, StatusCode::OK, "{settings}");
    for words in [
        "<dd>local</dd>",
        "(admin: may do everything)",
        "<dt>Run store</dt><dd>sqlite</dd>",
        "there is nobody to share with",
        "<dd>none</dd>",
    ] {
        assert!(settings.contains(words), "{words}: {settings}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_explorer_lists_tables_and_shows_columns_and_snapshots() {
    let server = Server::sample().await;
    let (_, _, empty) = fetch(&server, "/tables").await;
    assert!(empty.contains("No tables yet"), "{empty}");
    assert_eq!(
        server.run_to_end("bronze.customers").await["status"],
        "success"
    );
    assert_eq!(
        server.run_to_end("bronze.customers").await["status"],
        "success"
    );

    let (status, _, list) = fetch(&server, "/tables?namespace=default").await;
    assert_eq!(status, StatusCode::OK, "{list}");
    assert!(
        list.contains(r#"<a href="tables/default/bronze/customers">default.bronze.customers</a>"#),
        "{list}"
    );
    assert!(list.contains("<td>200</td>"), "rows: {list}");
    assert!(list.contains(r#"<base href="/">"#), "{list}");

    let (status, _, page) = fetch(&server, "/tables/default/bronze/customers").await;
    assert_eq!(status, StatusCode::OK, "{page}");
    let (_, detail) = server.get("/api/v1/tables/default/bronze/customers").await;
    for column in detail["columns"].as_array().unwrap() {
        let cell = format!(
            "<td><code>{}</code></td><td>{}</td>",
            column["name"].as_str().unwrap(),
            column["type"].as_str().unwrap()
        );
        assert!(page.contains(&cell), "{cell}: {page}");
    }
    let (_, history) = server
        .get("/api/v1/tables/default/bronze/customers/history")
        .await;
    assert_eq!(history.as_array().unwrap().len(), 2, "{history}");
    for snapshot in history.as_array().unwrap() {
        let id = format!("<code>{}</code>", snapshot["snapshot_id"]);
        assert!(page.contains(&id), "{id}: {page}");
    }

    let (status, _, missing) = fetch(&server, "/tables/default/bronze/nothing").await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{missing}");
    assert!(
        missing.contains("default.bronze.nothing") && missing.contains("role=\"alert\""),
        "{missing}"
    );
    let (status, _, bad) = fetch(&server, "/tables/Bad/bronze/x").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{bad}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pipelines_are_listed_by_layer_and_searched() {
    let server = Server::sample().await;
    let (status, _, all) = fetch(&server, "/pipelines").await;
    assert_eq!(status, StatusCode::OK, "{all}");
    let (_, listed) = server.get("/api/v1/pipelines?limit=200").await;
    for p in listed["items"].as_array().unwrap() {
        let name = p["name"].as_str().unwrap();
        let cell = format!("/{name}\">{name}</a></td>");
        assert!(all.contains(&cell), "{cell}: {all}");
    }
    let (_, _, gold) = fetch(&server, "/pipelines?layer=gold").await;
    assert!(
        gold.contains(">revenue_by_country</a></td>") && !gold.contains(">customers</a></td>"),
        "{gold}"
    );
    assert!(gold.contains(r#"<option value="gold" selected>"#), "{gold}");
    let (_, _, found) = fetch(&server, "/pipelines?q=ORDERS").await;
    assert!(
        found.contains(r#"<a href="pipelines/default/bronze/orders">orders</a>"#)
            && found.contains(">orders_enriched</a></td>"),
        "{found}"
    );
    assert!(!found.contains(">customers</a></td>"), "{found}");
    assert!(
        found.contains(r#"href="runs?pipeline=default.bronze.orders""#),
        "{found}"
    );
    let (_, _, none) = fetch(&server, "/pipelines?q=zzz").await;
    assert!(none.contains("No pipeline matches."), "{none}");
    let (status, _, bad) = fetch(&server, "/pipelines?layer=platinum").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{bad}");
    assert!(bad.contains("platinum"), "{bad}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_starter_is_accepted_and_offered_by_the_form() {
    use rat_core::project::{Language, MergeStrategy, PipelineFiles};
    let server = Server::sample().await;
    for language in [Language::Sql, Language::Python] {
        for strategy in MergeStrategy::ALL {
            let name = format!("{language:?}_{}", strategy.as_str()).to_lowercase();
            let mut body =
                serde_json::to_value(PipelineFiles::starter(language, strategy)).unwrap();
            body["layer"] = json!("bronze");
            body["name"] = json!(name);
            let (status, created) = server.post("/api/v1/pipelines", body).await;
            assert_eq!(status, StatusCode::CREATED, "{name}: {created}");
        }
    }
    // (Each one runs: rat-runner's tests/python_pipelines.rs.)
    let run = server.run_to_end("bronze.sql_incremental").await;
    assert_eq!(run["status"], "success", "{run}");
    // The form offers them all.
    let (_, _, page) = fetch(&server, "/pipelines").await;
    assert!(
        page.contains("data-new-pipeline") && page.contains("python/scd2"),
        "{page}"
    );
}
