//! `/metrics` on a real server, parsed by the reference parser of the
//! OpenMetrics text format (prometheus_client, in the test venv): HTTP
//! requests by matched route and status with latency histograms, runs by
//! pipeline and status with their durations, runs waiting and running,
//! schedule firings — each moving with what the test does. Behind the
//! API's auth.
#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use common::Server;
use rat_core::config::SecretRef;
use rat_server::auth::AuthConfig;
use rat_server::scheduler::SchedulerConfig;
use reqwest::StatusCode;
use serde_json::{Value, json};

/// Every sample of an exposition as (name, labels, value), by the
/// reference parser (which refuses a malformed exposition).
async fn parsed(text: &str) -> Vec<(String, Value, f64)> {
    let venv = std::env::var("RAT_VENV").expect("RAT_VENV (scripts/env.sh)");
    let script = "import sys, json\n\
        from prometheus_client.openmetrics.parser import text_string_to_metric_families as parse\n\
        out = [[s.name, s.labels, s.value] for f in parse(sys.stdin.read()) for s in f.samples]\n\
        print(json.dumps(out))";
    let mut child = tokio::process::Command::new(format!("{venv}/bin/python"))
        .args(["-c", script])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    use tokio::io::AsyncWriteExt;
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(text.as_bytes()).await.unwrap();
    drop(stdin);
    let out = child.wait_with_output().await.unwrap();
    assert!(
        out.status.success(),
        "{}\n{text}",
        String::from_utf8_lossy(&out.stderr)
    );
    let samples: Vec<(String, Value, f64)> = serde_json::from_slice(&out.stdout).unwrap();
    samples
}

async fn scrape(server: &Server) -> Vec<(String, Value, f64)> {
    let response = server
        .http
        .get(server.url("/metrics"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let kind = response.headers()["content-type"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(kind.starts_with("application/openmetrics-text"), "{kind}");
    parsed(&response.text().await.unwrap()).await
}

/// The value of the sample `name` whose labels include `labels` (0 when
/// there is none yet).
fn value(samples: &[(String, Value, f64)], name: &str, labels: Value) -> f64 {
    samples
        .iter()
        .filter(|(n, l, _)| {
            n == name
                && labels
                    .as_object()
                    .unwrap()
                    .iter()
                    .all(|(k, v)| l.get(k) == Some(v))
        })
        .map(|(_, _, v)| v)
        .sum()
}

/// Scrapes until the finished-runs counter of `pipeline` is `count` (the
/// lease holder counts runs as it follows them, every 100 ms).
async fn until_counted(server: &Server, pipeline: &str, count: f64) -> Vec<(String, Value, f64)> {
    for _ in 0..300 {
        let samples = scrape(server).await;
        let counted = value(
            &samples,
            "rat_runs_finished_total",
            json!({"pipeline": pipeline}),
        );
        if counted >= count {
            return samples;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("{pipeline} was never counted {count} time(s)");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn counters_move_with_requests_runs_and_firings() {
    let server = Server::sample_with(|s| {
        s.scheduler = Some(SchedulerConfig {
            tick: Duration::from_millis(100),
            lease: Duration::from_secs(5),
            owner: "metrics".into(),
            ..SchedulerConfig::default()
        })
    })
    .await;
    for _ in 0..3 {
        assert_eq!(server.get("/api/v1/pipelines").await.0, StatusCode::OK);
    }
    assert_eq!(
        server
            .get("/api/v1/runs/0195f0aa0000700080000000000000aa")
            .await
            .0
            .as_u16()
            / 100,
        4
    );
    assert_eq!(
        server.get("/no/such/route/42").await.0,
        StatusCode::NOT_FOUND
    );

    assert_eq!(
        server.run_to_end("bronze.customers").await["status"],
        "success"
    );
    server.fail_a_run().await;
    let (_, made) = server
        .post(
            "/api/v1/schedules",
            json!({"pipeline": "bronze.customers", "webhook": true}),
        )
        .await;
    let (status, fired) = server
        .call_webhook(made["id"].as_str().unwrap(), made["webhook_token"].as_str())
        .await;
    assert_eq!(status, StatusCode::ACCEPTED);
    server.wait_for_end(fired["run_id"].as_str().unwrap()).await;

    // Counters only grow: once both are counted, the last scrape has both.
    until_counted(&server, "default.bronze.boom", 1.0).await;
    let samples = until_counted(&server, "default.bronze.customers", 2.0).await;
    let pipelines = json!({"route": "/api/v1/pipelines", "method": "GET", "status": "200"});
    assert_eq!(value(&samples, "rat_http_requests_total", pipelines), 3.0);
    assert_eq!(
        value(
            &samples,
            "rat_http_request_duration_seconds_count",
            json!({"route": "/api/v1/pipelines", "method": "GET"})
        ),
        3.0
    );
    // An unknown path is one series, not one per path.
    assert_eq!(
        value(
            &samples,
            "rat_http_requests_total",
            json!({"route": "unmatched", "status": "404"})
        ),
        1.0
    );
    assert!(
        samples
            .iter()
            .all(|(_, l, _)| !l.to_string().contains("/no/such"))
    );
    let run = |pipeline: &str, status: &str| {
        value(
            &samples,
            "rat_runs_finished_total",
            json!({"pipeline": pipeline, "status": status}),
        )
    };
    assert_eq!(run("default.bronze.customers", "success"), 2.0);
    assert_eq!(run("default.bronze.boom", "failed"), 1.0);
    assert_eq!(
        value(
            &samples,
            "rat_run_duration_seconds_count",
            json!({"pipeline": "default.bronze.customers"})
        ),
        2.0
    );
    assert!(
        value(
            &samples,
            "rat_run_duration_seconds_sum",
            json!({"pipeline": "default.bronze.customers"})
        ) > 0.0
    );
    assert_eq!(
        value(&samples, "rat_runs", json!({"state": "pending"})),
        0.0
    );
    assert_eq!(
        value(&samples, "rat_runs", json!({"state": "running"})),
        0.0
    );
    assert_eq!(
        value(
            &samples,
            "rat_schedule_firings_total",
            json!({"trigger": "webhook", "outcome": "started"})
        ),
        1.0
    );

    // They move on: one more run, one more request.
    assert_eq!(
        server.run_to_end("bronze.customers").await["status"],
        "success"
    );
    let samples = until_counted(&server, "default.bronze.customers", 3.0).await;
    assert_eq!(
        run("default.bronze.customers", "success") + 1.0,
        value(
            &samples,
            "rat_runs_finished_total",
            json!({"pipeline": "default.bronze.customers", "status": "success"}),
        )
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_are_behind_the_apis_auth() {
    let dir = tempfile::tempdir().unwrap();
    let key_file = dir.path().join("api-key");
    std::fs::write(&key_file, "metrics-test-key-0123456789\n").unwrap();
    let server = Server::sample_with(|setup| {
        setup.auth = AuthConfig::api_key(SecretRef::File(key_file));
    })
    .await;
    let refused = server
        .http
        .get(server.url("/metrics"))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);
    let scraped = server
        .http
        .get(server.url("/metrics"))
        .bearer_auth("metrics-test-key-0123456789")
        .send()
        .await
        .unwrap();
    assert_eq!(scraped.status(), StatusCode::OK);
    let samples = parsed(&scraped.text().await.unwrap()).await;
    // The refused scrape was counted, under its route.
    assert_eq!(
        value(
            &samples,
            "rat_http_requests_total",
            json!({"route": "/metrics", "status": "401"})
        ),
        1.0
    );
}
