//! Notifications on a real server with its scheduler, delivered to real
//! receivers on loopback: a run that finishes with a failed warn test, a
//! run that fails and a schedule that skips are posted, signed with the
//! hook's secret (checked here with HMAC-SHA256); a receiver that fails
//! once gets the retry, one that never answers is given up on after the
//! bounded attempts; a hook of another namespace hears nothing. Bad hooks
//! are refused by field.
#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use axum::http::StatusCode;
use common::receiver::{next, receiver, verified};
use common::{Server, assert_error};
use rat_server::NotifierSettings;
use rat_server::scheduler::SchedulerConfig;
use reqwest::Method;
use serde_json::{Value, json};

async fn hook(server: &Server, namespace: &str, url: &str, events: Value) -> (String, String) {
    let (status, made) = server
        .post(
            &format!("/api/v1/namespaces/{namespace}/notifications"),
            json!({"url": url, "events": events}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{made}");
    (
        made["id"].as_str().unwrap().to_owned(),
        made["secret"].as_str().unwrap().to_owned(),
    )
}

async fn deliveries(server: &Server, namespace: &str, id: &str) -> Vec<Value> {
    let (status, page) = server
        .get(&format!(
            "/api/v1/namespaces/{namespace}/notifications/{id}/deliveries"
        ))
        .await;
    assert_eq!(status, StatusCode::OK, "{page}");
    page["items"].as_array().unwrap().clone()
}

fn server_settings() -> Option<SchedulerConfig> {
    Some(SchedulerConfig {
        tick: Duration::from_millis(100),
        lease: Duration::from_secs(5),
        owner: "notifier".into(),
        notifier: NotifierSettings {
            max_attempts: 3,
            first_retry: Duration::from_millis(100),
            timeout: Duration::from_secs(5),
        },
        ..SchedulerConfig::default()
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_are_delivered_signed_retried_and_given_up_on() {
    let server = Server::sample_with(|s| s.scheduler = server_settings()).await;
    let hooks = "/api/v1/namespaces/default/notifications";

    // Refused hooks name the field.
    for (body, field) in [
        (json!({"url": "ftp://x/y", "events": ["run_failed"]}), "url"),
        (
            json!({"url": "http://me:pw@host/h", "events": ["run_failed"]}),
            "url",
        ),
        (json!({"url": "not a url", "events": ["run_failed"]}), "url"),
        (json!({"url": "http://host/h", "events": []}), "events"),
        (
            json!({"url": "http://host/h", "events": ["run_exploded"]}),
            "run_exploded",
        ),
    ] {
        let refused = server.post(hooks, body.clone()).await;
        assert_eq!(
            refused.0,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{body}: {:?}",
            refused.1
        );
        assert!(
            refused.1.to_string().contains(field),
            "{body}: {:?}",
            refused.1
        );
    }
    let nowhere = server
        .post(
            "/api/v1/namespaces/nowhere/notifications",
            json!({"url": "http://host/h", "events": ["run_failed"]}),
        )
        .await;
    assert_error(&nowhere, StatusCode::NOT_FOUND, "not_found", &["nowhere"]);

    // A receiver that fails its first post, one nobody listens on, and a
    // hook of another namespace.
    let (url, mut received) = receiver(1).await;
    let (id, secret) = hook(
        &server,
        "default",
        &url,
        json!(["run_failed", "quality_failed", "schedule_skipped"]),
    )
    .await;
    assert_eq!(secret.len(), 64);
    let (_, shown) = server.get(&format!("{hooks}/{id}")).await;
    assert!(
        shown.get("secret").is_none() && !shown.to_string().contains(&secret),
        "{shown}"
    );
    let closed = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let dead_url = format!("http://{}/hook", closed.local_addr().unwrap());
    drop(closed);
    let (dead, _) = hook(&server, "default", &dead_url, json!(["quality_failed"])).await;
    let (status, _) = server
        .post("/api/v1/namespaces", json!({"name": "other"}))
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let (other_url, _other) = receiver(0).await;
    let (other, _) = hook(&server, "other", &other_url, json!(EVERY_EVENT)).await;

    // bronze.orders succeeds with its warn test failing: quality_failed.
    assert_eq!(
        server.run_to_end("bronze.orders").await["status"],
        "success"
    );
    let first = next(&mut received).await;
    let retried = next(&mut received).await;
    assert_eq!(first.body, retried.body, "the same delivery, tried again");
    let event = verified(&retried, &secret);
    assert_eq!(event["kind"], "quality_failed", "{event}");
    assert_eq!(event["pipeline"], "default.bronze.orders");
    assert_eq!(event["failed_tests"][0]["name"], "amount_not_negative");
    assert_eq!(event["failed_tests"][0]["severity"], "warn");

    // A run that fails: run_failed, with its error.
    server.fail_a_run().await;
    let event = verified(&next(&mut received).await, &secret);
    assert_eq!(
        (&event["kind"], &event["status"]),
        (&json!("run_failed"), &json!("failed"))
    );
    assert!(
        event["message"].as_str().unwrap().contains("boom"),
        "{event}"
    );

    // A schedule that skips: schedule_skipped, with why.
    let (status, made) = server
        .post(
            "/api/v1/schedules",
            json!({"pipeline": "bronze.boom", "webhook": true}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let (status, _) = server
        .call(
            Method::DELETE,
            "/api/v1/pipelines/default/bronze/boom",
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, refused) = server
        .call_webhook(made["id"].as_str().unwrap(), made["webhook_token"].as_str())
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{refused}");
    let event = verified(&next(&mut received).await, &secret);
    assert_eq!(event["kind"], "schedule_skipped");
    assert!(
        event["message"].as_str().unwrap().contains("no pipeline"),
        "{event}"
    );

    // The delivery log: attempts and outcome of each. The receiver saw the
    // last post before the notifier recorded its answer: wait for that.
    wait_for_state(&server, &id, "delivered").await;
    let log = deliveries(&server, "default", &id).await;
    let summary: Vec<(String, String, u64)> = log
        .iter()
        .map(|d| {
            (
                d["event"]["kind"].as_str().unwrap().to_owned(),
                d["state"].as_str().unwrap().to_owned(),
                d["attempts"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            ("schedule_skipped".into(), "delivered".into(), 1),
            ("run_failed".into(), "delivered".into(), 1),
            ("quality_failed".into(), "delivered".into(), 2),
        ]
    );
    // Given up on after the bounded attempts, each error kept.
    let dead_log = wait_for_state(&server, &dead, "failed").await;
    assert_eq!(dead_log["attempts"], 3, "{dead_log}");
    assert!(
        dead_log["last_error"]
            .as_str()
            .unwrap()
            .contains("no answer"),
        "{dead_log}"
    );
    assert!(!dead_log.to_string().contains(&dead_url), "{dead_log}");
    // The other namespace's hook heard nothing.
    assert!(deliveries(&server, "other", &other).await.is_empty());
    let hidden = server
        .get(&format!("/api/v1/namespaces/other/notifications/{id}"))
        .await;
    assert_error(&hidden, StatusCode::NOT_FOUND, "not_found", &[]);

    let (status, _) = server
        .call(Method::DELETE, &format!("{hooks}/{id}"), None)
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let gone = server.get(&format!("{hooks}/{id}/deliveries")).await;
    assert_error(&gone, StatusCode::NOT_FOUND, "not_found", &[]);
}

const EVERY_EVENT: [&str; 4] = [
    "run_finished",
    "run_failed",
    "quality_failed",
    "schedule_skipped",
];

/// Polls a hook's newest delivery until it is in `state` (the notifier
/// passes every 100 ms; three attempts take under a second); fails after
/// 30 s.
async fn wait_for_state(server: &Server, hook: &str, state: &str) -> Value {
    for _ in 0..600 {
        if let Some(newest) = deliveries(server, "default", hook).await.first()
            && newest["state"] == state
        {
            return newest.clone();
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("hook {hook}'s delivery never became {state}");
}
