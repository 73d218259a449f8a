//! The web IDE in a real browser (Debian's Chromium, installed by
//! scripts/browser.sh, driven by Playwright from the test venv) against a
//! real server: the flows of tests/browser/flows.py, each failing on any
//! console error or unexpected failed request. Screenshots land in
//! `$CARGO_TARGET_DIR/ui-screenshots/` (scripts/screenshots.sh copies
//! them to docs/).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::PathBuf;

use common::oidc_issuer::OidcIssuer;
use common::{Server, team, team_key};
use rat_server::auth::{AuthConfig, OidcSignIn};
use reqwest::StatusCode;
use serde_json::json;

/// Where the flows write their screenshots.
fn screenshots() -> PathBuf {
    let target = std::env::var("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|_| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target"));
    target.join("ui-screenshots")
}

/// Runs flow `name` against `server`; its output when it passed.
async fn flow(server: &Server, name: &str, extra: &[&str]) -> String {
    flow_at(server, "", name, extra).await
}

/// [`flow`] against the server's UI under `prefix` (its base path).
async fn flow_at(server: &Server, prefix: &str, name: &str, extra: &[&str]) -> String {
    let venv = std::env::var("RAT_VENV").expect("RAT_VENV (scripts/env.sh)");
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/browser/flows.py");
    let output = tokio::process::Command::new(format!("{venv}/bin/python"))
        .arg(script)
        .arg(name)
        .arg(format!("{}{prefix}", server.base))
        .arg(screenshots())
        .args(extra)
        .kill_on_drop(true)
        .output()
        .await
        .expect("the test venv's python (scripts/test-env.sh)");
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "flow {name} failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
}

/// A silver pipeline over the sample's orders (its rows say `v1`), and
/// those orders loaded.
async fn paid_orders(server: &Server) {
    let (status, created) = server
        .post(
            "/api/v1/pipelines",
            json!({
                "layer": "silver",
                "name": "paid_orders",
                "sql": "-- Orders that were paid.\nSELECT order_id, amount, ordered_at, 'v1' AS code_version\nFROM {{ ref('bronze.orders') }}\nWHERE status = 'paid'\n",
            }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    assert_eq!(
        server.run_to_end("bronze.orders").await["status"],
        "success"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn write_check_preview_save_run_and_explore() {
    let server = Server::sample().await;
    paid_orders(&server).await;
    // A first snapshot to go back to.
    let first = server.run_to_end("silver.paid_orders").await;
    assert_eq!(first["status"], "success");
    let out = flow(&server, "author", &[]).await;
    println!("{out}");
    // What the browser did, as the API sees it: a new version, a run that
    // succeeded, its table.
    let (_, versions) = server
        .get("/api/v1/pipelines/default/silver/paid_orders/versions")
        .await;
    // Created, saved from the editor, a test added, version 1 again.
    let versions = versions["items"].as_array().unwrap();
    assert!(versions.len() >= 3, "{versions:?}");
    let (_, code) = server
        .get("/api/v1/pipelines/default/silver/paid_orders")
        .await;
    assert!(code["source"].as_str().unwrap().contains("'v1'"), "{code}");
    // The draft published from the browser.
    assert!(
        code["source"]
            .as_str()
            .unwrap()
            .contains("-- drafted in the browser")
            && code["draft"].is_null(),
        "{code}"
    );
    // Version 1 had no tests: its files came back whole.
    assert_eq!(code["tests"], serde_json::json!([]), "{code}");
    let (status, table) = server
        .get("/api/v1/tables/default/silver/paid_orders")
        .await;
    assert_eq!(status, StatusCode::OK, "{table}");
    // The settings form's save.
    let (_, enriched) = server
        .get("/api/v1/pipelines/default/silver/orders_enriched")
        .await;
    assert_eq!(
        enriched["settings"]["merge_strategy"], "incremental",
        "{enriched}"
    );
    assert_eq!(
        enriched["settings"]["unique_key"],
        serde_json::json!(["order_id"])
    );
    assert_eq!(enriched["settings"]["partition_by"][0]["transform"], "day");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sign_in_follow_a_run_and_refuse_a_forged_change() {
    let server = team(&[("ada", &["admin"]), ("rex", &[])], |_| {}).await;
    paid_orders(&server).await;
    // Rex may discover what is in `default`, not read its data.
    let (status, _) = server
        .call(
            reqwest::Method::PUT,
            "/api/v1/namespaces/default/members/user:rex",
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let out = flow(&server, "signin", &[&team_key("ada"), &team_key("rex")]).await;
    println!("{out}");
    let (_, runs) = server
        .get("/api/v1/runs?pipeline=default.silver.paid_orders")
        .await;
    let runs = runs["items"].as_array().unwrap();
    assert_eq!(runs.len(), 1, "the forged POST started nothing: {runs:?}");
    assert_eq!(runs[0]["started_by"], "ada");
    // Shared from Settings, then revoked: the audit log has both.
    let (_, grants) = server.get("/api/v1/sharing").await;
    assert_eq!(grants["items"], json!([]), "{grants}");
    let (_, audit) = server.get("/api/v1/audit?object=/api/v1/sharing").await;
    let verbs: Vec<&str> = audit["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["outcome"] == "ok")
        .map(|e| e["verb"].as_str().unwrap())
        .collect();
    assert!(
        verbs.iter().any(|v| v.starts_with("POST"))
            && verbs.iter().any(|v| v.starts_with("DELETE")),
        "{audit}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sign_in_at_an_oidc_issuer_with_pkce_and_run_as_that_person() {
    let issuer = OidcIssuer::start();
    let server = Server::sample_with(|setup| {
        setup.auth = AuthConfig::oidc(issuer.url.clone(), "rat").with_sign_in(OidcSignIn {
            scopes: vec!["profile".into(), "email".into(), "groups".into()],
            ..OidcSignIn::public_client("rat-ide")
        });
    })
    .await;
    issuer.register(&server.url("/login/callback")).await;
    let out = flow(&server, "oidc", &[]).await;
    println!("{out}");
    // Without the session, the API asks for a token.
    let (status, _) = server.get("/api/v1/runs").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_runs_timeline_grows_while_it_runs_and_shows_timings_when_it_ends() {
    // Python runs in runner processes (the workspace build puts
    // rat-runner beside the test binaries' directory).
    let runner = std::env::current_exe()
        .unwrap()
        .parent()
        .unwrap()
        .with_file_name("rat-runner");
    assert!(
        runner.is_file(),
        "{runner:?}: build the workspace first (cargo build --workspace)"
    );
    let server = Server::sample_with(|setup| {
        setup.executor = rat_server::config::ExecutorConfig::Process {
            pool: Default::default(),
            runner: Some(runner),
            python_workers: Some(0),
        };
    })
    .await;
    // A Python pipeline that holds its execute phase until the browser
    // flow opens the gate (bounded: a minute at most).
    let gate = server.dir.path().join("gate");
    let code = format!(
        "# @merge_strategy: full_refresh\nimport os, time\n\
         log.info('waiting for the gate')\n\
         for _ in range(3000):\n    if os.path.exists({gate:?}):\n        break\n    time.sleep(0.02)\n\
         result = pa.table({{'a': [1]}})\n"
    );
    let (status, created) = server
        .post(
            "/api/v1/pipelines",
            json!({"layer": "bronze", "name": "waits", "python": code,
                   "tests": {"a_is_one": "SELECT * FROM {{ this }} WHERE a <> 1"}}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let out = flow(&server, "live-run", &[gate.to_str().unwrap()]).await;
    println!("{out}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_lineage_traces_what_a_pipeline_reads_and_what_reads_it() {
    // (At 500 pipelines, timed in the browser: `rat-benches ui-lineage`.)
    let server = Server::sample().await;
    assert_eq!(
        server.run_to_end("bronze.orders").await["status"],
        "success"
    );
    let out = flow(&server, "lineage", &[]).await;
    println!("{out}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_dropped_on_a_landing_zone_is_uploaded_and_previewed() {
    let server = Server::sample().await;
    let out = flow(&server, "landing", &[]).await;
    println!("{out}");
    let (_, files) = server
        .get("/api/v1/landing-zones/default/drops/files")
        .await;
    assert_eq!(files["items"][0]["name"], "cities.csv", "{files}");
    assert_eq!(files["items"][0]["size"], 28, "{files}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn schedules_are_added_with_a_preview_paused_resumed_and_deleted() {
    let server = Server::sample().await;
    let out = flow(&server, "schedules", &[]).await;
    println!("{out}");
    let (_, left) = server.get("/api/v1/schedules").await;
    let left = left["items"].as_array().unwrap();
    assert_eq!(left.len(), 1, "{left:?}");
    assert_eq!(left[0]["pipeline"], "default.silver.orders_enriched");
    assert_eq!(left[0]["enabled"], true);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn behind_a_proxy_prefix_the_pages_and_their_calls_stay_under_it() {
    let base = rat_server::http::BasePath::parse("/tools/rat").unwrap();
    let server = Server::sample_with(|setup| setup.base_path = base).await;
    // Creating, uploading (XMLHttpRequest), previewing: every call the
    // page makes is relative to its <base>.
    let out = flow_at(&server, "/tools/rat", "landing", &["noshots"]).await;
    println!("{out}");
    let (status, _) = server
        .get("/tools/rat/api/v1/landing-zones/default/drops/files")
        .await;
    assert_eq!(status, StatusCode::OK);
}
