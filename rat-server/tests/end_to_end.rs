//! The platform end to end on a real server with its scheduler: a CSV
//! uploaded to a landing zone fires the landing trigger of the bronze
//! pipeline reading it; its success fires the silver pipeline after it;
//! each run's end reaches a receiver on loopback as a signed
//! notification; the consumed file moves to the zone's `_processed/`.
#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use common::Server;
use common::receiver::{next, receiver, verified};
use rat_server::NotifierSettings;
use rat_server::scheduler::SchedulerConfig;
use reqwest::StatusCode;
use serde_json::{Value, json};

async fn created(server: &Server, path: &str, body: Value) -> Value {
    let (status, made) = server.post(path, body).await;
    assert_eq!(status, StatusCode::CREATED, "{path}: {made}");
    made
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_landed_csv_runs_bronze_then_silver_and_tells_a_receiver() {
    let server = Server::sample_with(|s| {
        s.scheduler = Some(SchedulerConfig {
            tick: Duration::from_millis(100),
            lease: Duration::from_secs(5),
            owner: "end-to-end".into(),
            notifier: NotifierSettings {
                first_retry: Duration::from_millis(100),
                ..NotifierSettings::default()
            },
            ..SchedulerConfig::default()
        })
    })
    .await;
    created(
        &server,
        "/api/v1/landing-zones",
        json!({"name": "shop_drop", "expected_format": "csv", "archive": true}),
    )
    .await;
    created(
        &server,
        "/api/v1/pipelines",
        json!({"layer": "bronze", "name": "drops",
               "sql": "SELECT * FROM {{ landing_zone('shop_drop') }}"}),
    )
    .await;
    created(
        &server,
        "/api/v1/pipelines",
        json!({"layer": "silver", "name": "big_drops",
               "sql": "SELECT id, upper(city) AS city FROM {{ ref('bronze.drops') }} WHERE amount > 10"}),
    )
    .await;
    created(
        &server,
        "/api/v1/schedules",
        json!({"pipeline": "bronze.drops", "landing": "shop_drop", "pattern": "*.csv"}),
    )
    .await;
    created(
        &server,
        "/api/v1/schedules",
        json!({"pipeline": "silver.big_drops", "after": "bronze.drops"}),
    )
    .await;
    let (url, mut received) = receiver(0).await;
    let hook = created(
        &server,
        "/api/v1/namespaces/default/notifications",
        json!({"url": url, "events": ["run_finished"]}),
    )
    .await;
    let secret = hook["secret"].as_str().unwrap().to_owned();

    let csv = b"id,city,amount\n1,oslo,5\n2,lima,50\n3,pune,500\n".to_vec();
    let (status, uploaded) = server.upload("shop_drop", &[("day1.csv", csv)]).await;
    assert_eq!(status, StatusCode::CREATED, "{uploaded}");

    // Bronze ends first, then silver: each told, signed.
    let bronze = verified(&next(&mut received).await, &secret);
    assert_eq!(
        (&bronze["pipeline"], &bronze["status"]),
        (&json!("default.bronze.drops"), &json!("success")),
        "{bronze}"
    );
    let silver = verified(&next(&mut received).await, &secret);
    assert_eq!(
        (&silver["pipeline"], &silver["status"]),
        (&json!("default.silver.big_drops"), &json!("success")),
        "{silver}"
    );

    // What silver wrote, and where the file went.
    let (status, out) = server
        .post(
            "/api/v1/query",
            json!({"sql": "SELECT id, city FROM silver.big_drops ORDER BY id"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{out}");
    assert_eq!(out["rows"], json!([[2, "LIMA"], [3, "PUNE"]]));
    let zone = "/api/v1/landing-zones/default/shop_drop/files";
    let (_, waiting) = server.get(zone).await;
    assert_eq!(waiting["items"], json!([]), "{waiting}");
    let (_, archived) = server.get(&format!("{zone}?archived=true")).await;
    let bronze_run = bronze["run_id"].as_str().unwrap();
    assert_eq!(
        archived["items"][0]["name"],
        format!("_processed/{bronze_run}/day1.csv")
    );
}
