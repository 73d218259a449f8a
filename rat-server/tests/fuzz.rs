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
        "/me",
        "/sharing",
        "/sharing/transfer",
        "/sharing/{id}",
        "/namespaces",
        "/namespaces/{namespace}",
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
        "/cron",
        "/webhooks/{id}",
        "/landing-zones",
        "/landing-zones/{namespace}/{zone}",
        "/landing-zones/{namespace}/{zone}/files",
        "/landing-zones/{namespace}/{zone}/files/{file}",
        "/landing-zones/{namespace}/{zone}/files/{file}/preview",
        "/files/{namespace}",
        "/files/{namespace}/{path}",
        "/audit",
        "/namespaces/{namespace}/members",
        "/namespaces/{namespace}/members/{member}",
    ];
    assert_eq!(documented, served.into_iter().collect());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn schemathesis_finds_no_server_error() {
    let venv = std::env::var("RAT_VENV").expect("RAT_VENV (scripts/env.sh)");
    // Both bounds sit below the runner's kill (180 s), so a stall is
    // reported here with the server's side of it.
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(150);
    // Each request's start and end (tower-http's trace events), so a
    // failure can say which requests the server was still answering.
    let trace = tempfile::NamedTempFile::new().unwrap();
    let writer = std::sync::Mutex::new(trace.reopen().unwrap());
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new(
            "tower_http=debug,rat_server::http=info",
        ))
        .with_writer(writer)
        .with_ansi(false)
        .try_init()
        .unwrap();
    // If the runtime itself is blocked the tokio deadline cannot fire; this
    // one is on its own thread and shows where every thread waits.
    let trace_path = trace.path().to_owned();
    let _watchdog = common::watchdog::arm(std::time::Duration::from_secs(165), move || {
        requests_report(&trace_path)
    });
    // No scheduler: a schedule the fuzzer makes (every second, say) would
    // start runs for the rest of the test.
    let server = Server::sample_with(|s| s.scheduler = None).await;
    // Tables to read, runs and logs to list.
    for pipeline in ["bronze.customers", "bronze.orders"] {
        assert_eq!(server.run_to_end(pipeline).await["status"], "success");
    }
    let schema = server.url("/api/v1/openapi.json");
    let output = server.dir.path().join("schemathesis.out");
    let errors = server.dir.path().join("schemathesis.err");
    let run = tokio::process::Command::new(format!("{venv}/bin/schemathesis"))
        .args(["run", &schema, "--url", &server.url("/api/v1")])
        .args(["--checks", "not_a_server_error"])
        // One worker: schemathesis's own generator is not thread-safe in
        // every phase (an internal "recursion depth mismatch" otherwise).
        // Bounded by work, not time: with `--max-time` schemathesis repeats
        // its phases until the budget is spent and a cycle begun near the
        // end runs on, so under load the run outgrew every bound set here.
        .args(["--max-examples", "15", "--seed", "20261122"])
        .args(["--workers", "1", "--request-timeout", "30"])
        .args(["--report-dir"])
        .arg(server.dir.path().join("schemathesis"))
        .env("NO_COLOR", "1")
        // Its caches (.schemathesis, .hypothesis) go with the test's folder.
        .current_dir(server.dir.path())
        // To a file, so a stall still shows how far it got.
        .stdout(std::fs::File::create(&output).unwrap())
        .stderr(std::fs::File::create(&errors).unwrap())
        .kill_on_drop(true)
        .status();
    let status = tokio::time::timeout_at(deadline, run).await;
    let stdout = std::fs::read_to_string(&output).unwrap_or_default();
    let stderr = std::fs::read_to_string(&errors).unwrap_or_default();
    let Ok(status) = status else {
        panic!(
            "schemathesis did not finish within 150 s of the test's start\n{stdout}\n{stderr}\n{}",
            requests_report(trace.path())
        )
    };
    assert!(
        status.unwrap().success(),
        "schemathesis found failures:\n{stdout}\n{stderr}\n{}",
        requests_report(trace.path())
    );
    // Shown by the runner when a later check fails.
    println!("{stdout}");
    // It really exercised the API.
    assert!(stdout.contains("passed"), "{stdout}");
    // And the stall report would have had the server's side to show.
    let report = requests_report(trace.path());
    assert!(report.contains("latency="), "{report}");
}

/// From the server's trace: the requests it started and never finished,
/// and the slowest it finished.
fn requests_report(trace: &std::path::Path) -> String {
    let text = std::fs::read_to_string(trace).unwrap_or_default();
    let id_of = |line: &str| {
        line.split("request_id=")
            .nth(1)
            .and_then(|rest| rest.split_whitespace().next())
            .map(str::to_owned)
    };
    let mut open: std::collections::BTreeMap<String, String> = Default::default();
    let mut done: Vec<(u64, String)> = Vec::new();
    for line in text.lines() {
        let Some(id) = id_of(line) else { continue };
        if line.contains("started processing request") {
            open.insert(id, line.to_owned());
        } else if line.contains("finished processing request") {
            open.remove(&id);
            let millis = line
                .split("latency=")
                .nth(1)
                .and_then(|rest| rest.split_whitespace().next())
                .and_then(|n| n.parse().ok())
                .unwrap_or(0);
            done.push((millis, line.to_owned()));
        }
    }
    done.sort();
    let slowest: Vec<&str> = done.iter().rev().take(5).map(|(_, l)| l.as_str()).collect();
    let unfinished: Vec<&str> = open.values().map(String::as_str).collect();
    format!(
        "requests the server never finished:\n{}\nslowest finished:\n{}",
        unfinished.join("\n"),
        slowest.join("\n")
    )
}

#[test]
fn the_stall_report_names_requests_never_finished() {
    let trace = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(
        trace.path(),
        "DEBUG request{request_id=a method=GET path=/x}: started processing request\n\
         DEBUG request{request_id=b method=GET path=/stuck}: started processing request\n\
         DEBUG request{request_id=a method=GET path=/x}: finished processing request latency=12 ms status=200\n",
    )
    .unwrap();
    let report = requests_report(trace.path());
    let (unfinished, slowest) = report.split_once("slowest finished:").unwrap();
    assert!(
        unfinished.contains("path=/stuck") && !unfinished.contains("path=/x"),
        "{report}"
    );
    assert!(slowest.contains("latency=12 ms"), "{report}");
}
