//! schemathesis (a property-based HTTP fuzzer, from the test venv) against
//! the served OpenAPI document of a real server: no request it generates
//! may get a 5xx. The document must also name every route the server has.
#![allow(clippy::unwrap_used)]

mod common;

use std::collections::BTreeSet;

use common::Server;

#[test]
fn the_document_names_every_route() {
    let document = rat_server::http::openapi_document();
    let documented: BTreeSet<&str> = document["paths"]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    let served = [
        "/features",
        "/namespaces",
        "/namespaces/{namespace}/notifications",
        "/namespaces/{namespace}/notifications/{id}",
        "/namespaces/{namespace}/notifications/{id}/deliveries",
        "/pipelines",
        "/pipelines/{namespace}/{layer}/{name}",
        "/pipelines/{namespace}/{layer}/{name}/tests",
        "/pipelines/{namespace}/{layer}/{name}/tests/run",
        "/pipelines/{namespace}/{layer}/{name}/tests/{test}",
        "/pipelines/{namespace}/{layer}/{name}/preview",
        "/pipelines/{namespace}/{layer}/{name}/compile",
        "/pipelines/{namespace}/{layer}/{name}/versions",
        "/pipelines/{namespace}/{layer}/{name}/versions/{version}",
        "/pipelines/{namespace}/{layer}/{name}/versions/{version}/rollback",
        "/pipelines/{namespace}/{layer}/{name}/draft",
        "/pipelines/{namespace}/{layer}/{name}/publish",
        "/lineage",
        "/runs",
        "/runs/{id}",
        "/runs/{id}/cancel",
        "/runs/{id}/logs",
        "/batches/{id}",
        "/batches/{id}/cancel",
        "/tables",
        "/tables/{namespace}/{layer}/{name}",
        "/tables/{namespace}/{layer}/{name}/preview",
        "/tables/{namespace}/{layer}/{name}/history",
        "/tables/{namespace}/{layer}/{name}/rollback",
        "/tables/{namespace}/{layer}/{name}/maintain",
        "/query",
        "/schedules",
        "/schedules/{id}",
        "/schedules/{id}/firings",
        "/webhooks/{id}",
        "/landing-zones",
        "/landing-zones/{namespace}/{zone}",
        "/landing-zones/{namespace}/{zone}/files",
        "/landing-zones/{namespace}/{zone}/files/{file}",
        "/landing-zones/{namespace}/{zone}/files/{file}/preview",
        "/files/{namespace}",
        "/files/{namespace}/{path}",
    ];
    assert_eq!(documented, served.into_iter().collect());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn schemathesis_finds_no_server_error() {
    let venv = std::env::var("RAT_VENV").expect("RAT_VENV (scripts/env.sh)");
    // No scheduler: a schedule the fuzzer makes (every second, say) would
    // start runs for the rest of the test.
    let server = Server::sample_with(|s| s.scheduler = None).await;
    // Tables to read, runs and logs to list.
    for pipeline in ["bronze.customers", "bronze.orders"] {
        assert_eq!(server.run_to_end(pipeline).await["status"], "success");
    }
    let schema = server.url("/api/v1/openapi.json");
    let out = tokio::process::Command::new(format!("{venv}/bin/schemathesis"))
        .args(["run", &schema, "--url", &server.url("/api/v1")])
        .args(["--checks", "not_a_server_error"])
        // One worker: schemathesis's own generator is not thread-safe in
        // every phase (an internal "recursion depth mismatch" otherwise).
        .args(["--max-examples", "15", "--seed", "20261122"])
        .args([
            "--workers",
            "1",
            "--max-time",
            "75",
            "--request-timeout",
            "30",
        ])
        .args(["--report-dir"])
        .arg(server.dir.path().join("schemathesis"))
        .env("NO_COLOR", "1")
        // Its caches (.schemathesis, .hypothesis) go with the test's folder.
        .current_dir(server.dir.path())
        .output()
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "schemathesis found failures:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // It really exercised the API.
    assert!(stdout.contains("passed"), "{stdout}");
}
