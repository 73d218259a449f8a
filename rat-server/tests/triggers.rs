//! Triggers beside cron and upstream schedules, on a real server with its
//! scheduler: a file landing in a zone (matching a glob) fires once per
//! new file and never for files there before; a webhook fires only with
//! its token, within its rate; a cron expression may have seconds. Every
//! firing is recorded — with its run, or why it started none (a paused
//! schedule, a deleted pipeline) — and a refused call records nothing.
#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use common::{Server, assert_error};
use rat_server::scheduler::SchedulerConfig;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

fn fast() -> Option<SchedulerConfig> {
    Some(SchedulerConfig {
        tick: Duration::from_millis(100),
        lease: Duration::from_secs(5),
        owner: "triggers".into(),
        ..SchedulerConfig::default()
    })
}

async fn firings(server: &Server, id: &str) -> Vec<Value> {
    let (status, page) = server.get(&format!("/api/v1/schedules/{id}/firings")).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    page["items"].as_array().unwrap().clone()
}

/// Polls the schedule's history until it holds `count` firings (the
/// scheduler ticks every 100 ms); fails after 20 s.
async fn wait_for_firings(server: &Server, id: &str, count: usize) -> Vec<Value> {
    for _ in 0..400 {
        let found = firings(server, id).await;
        if found.len() >= count {
            return found;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("schedule {id} never fired {count} time(s)");
}

async fn webhook(server: &Server, id: &str, token: Option<&str>) -> (StatusCode, Value) {
    server.call_webhook(id, token).await
}

async fn schedule(server: &Server, body: Value) -> Value {
    let (status, created) = server.post("/api/v1/schedules", body).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    created
}

/// A webhook schedule of bronze.customers: the reply, its id and token.
async fn webhook_schedule(server: &Server) -> (Value, String, String) {
    let created = schedule(
        server,
        json!({"pipeline": "bronze.customers", "webhook": true}),
    )
    .await;
    let id = created["id"].as_str().unwrap().to_owned();
    let token = created["webhook_token"].as_str().unwrap().to_owned();
    (created, id, token)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_landing_trigger_fires_once_for_each_new_matching_file() {
    let server = Server::sample_with(|s| s.scheduler = fast()).await;
    let (status, _) = server
        .post("/api/v1/landing-zones", json!({"name": "drops"}))
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let (status, _) = server
        .upload("drops", &[("before.csv", b"id\n1\n".to_vec())])
        .await;
    assert_eq!(status, StatusCode::CREATED);

    // Refused definitions name what is wrong.
    for (body, words) in [
        (
            json!({"pipeline": "bronze.customers", "landing": "nowhere"}),
            vec!["nowhere"],
        ),
        (
            json!({"pipeline": "bronze.customers", "landing": "drops", "pattern": "[a-"}),
            vec!["pattern", "[a-"],
        ),
        (
            json!({"pipeline": "bronze.customers", "landing": "drops", "pattern": "x/*.csv"}),
            vec!["folders"],
        ),
        (
            json!({"pipeline": "bronze.customers", "pattern": "*.csv"}),
            vec!["landing"],
        ),
        (
            json!({"pipeline": "bronze.customers", "landing": "drops", "webhook": true}),
            vec!["exactly one"],
        ),
        (
            json!({"pipeline": "bronze.customers", "landing": "../x"}),
            vec!["landing"],
        ),
    ] {
        let refused = server.post("/api/v1/schedules", body.clone()).await;
        assert!(refused.0.is_client_error(), "{body}: {refused:?}");
        let message = refused.1["error"]["message"].as_str().unwrap().to_owned();
        for word in words {
            assert!(message.contains(word), "{body}: {message}");
        }
    }

    let created = schedule(
        &server,
        json!({"pipeline": "bronze.customers", "landing": "drops", "pattern": "*.csv"}),
    )
    .await;
    assert_eq!(
        created["trigger"],
        json!({"type": "landing", "zone": "drops", "pattern": "*.csv"})
    );
    let id = created["id"].as_str().unwrap();

    // A new file fires it; the one there before does not.
    server
        .upload("drops", &[("first.csv", b"id\n2\n".to_vec())])
        .await;
    let fired = wait_for_firings(&server, id, 1).await;
    assert_eq!(fired[0]["kind"], "landing");
    assert_eq!(
        fired[0]["detail"], "landed in default.drops: first.csv",
        "{fired:?}"
    );
    let run = fired[0]["run_id"].as_str().unwrap();
    assert_eq!(server.wait_for_end(run).await["status"], "success");

    // A file the glob does not match never fires it; the next .csv does,
    // naming only itself (nothing seen before fires again).
    server
        .upload("drops", &[("notes.txt", b"hello".to_vec())])
        .await;
    server
        .upload("drops", &[("second.csv", b"id\n3\n".to_vec())])
        .await;
    let fired = wait_for_firings(&server, id, 2).await;
    assert_eq!(fired.len(), 2, "{fired:?}");
    assert_eq!(fired[0]["detail"], "landed in default.drops: second.csv");
    assert!(fired[0]["skipped"].is_null());

    // The zone deleted: recorded once as skipped, and the schedule paused.
    let run = fired[0]["run_id"].as_str().unwrap();
    assert_eq!(server.wait_for_end(run).await["status"], "success");
    let (status, _) = server
        .call(Method::DELETE, "/api/v1/landing-zones/default/drops", None)
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let fired = wait_for_firings(&server, id, 3).await;
    let why = fired[0]["skipped"].as_str().unwrap();
    assert!(
        why.contains("'default.drops' no longer exists"),
        "{fired:?}"
    );
    let (_, paused) = server.get(&format!("/api/v1/schedules/{id}")).await;
    assert_eq!(paused["enabled"], false, "{paused}");
    assert_eq!(firings(&server, id).await.len(), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_webhook_fires_only_with_its_token_and_within_its_rate() {
    let server = Server::sample_with(|s| s.scheduler = fast()).await;
    let (created, id, token) = webhook_schedule(&server).await;
    assert_eq!(token.len(), 64);
    let hash: String = Sha256::digest(token.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert_eq!(created["trigger"]["token_sha256"], hash.as_str());
    let (_, read) = server.get(&format!("/api/v1/schedules/{id}")).await;
    assert!(read.get("webhook_token").is_none(), "shown once: {read}");
    assert!(!read.to_string().contains(&token));

    // Refused alike: no token, a wrong one, an unknown schedule, another
    // schedule's id. Nothing fires.
    let cron = schedule(
        &server,
        json!({"pipeline": "bronze.orders", "cron": "0 6 * * *"}),
    )
    .await;
    let cron_id = cron["id"].as_str().unwrap();
    for (to, with) in [
        (id.as_str(), None),
        (id.as_str(), Some("0".repeat(64))),
        (id.as_str(), Some(token[..63].to_owned())),
        ("0195f0aa-0000-7000-8000-000000000000", Some(token.clone())),
        (cron_id, Some(token.clone())),
    ] {
        let refused = webhook(&server, to, with.as_deref()).await;
        assert_error(&refused, StatusCode::UNAUTHORIZED, "unauthorized", &[]);
    }
    assert!(firings(&server, &id).await.is_empty());
    let (_, runs) = server.get("/api/v1/runs").await;
    assert_eq!(runs["items"], json!([]));

    // The token fires it: a run, recorded.
    let (status, fired) = webhook(&server, &id, Some(&token)).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{fired}");
    assert_eq!(fired["kind"], "webhook");
    let run = fired["run_id"].as_str().unwrap();
    assert_eq!(server.wait_for_end(run).await["status"], "success");
    assert_eq!(firings(&server, &id).await[0]["id"], fired["id"]);

    // A burst, then the rate: refused with when to try again.
    for _ in 1..rat_server::WEBHOOK_BURST {
        let (status, fired) = webhook(&server, &id, Some(&token)).await;
        assert_eq!(status, StatusCode::ACCEPTED, "{fired}");
    }
    let limited = webhook(&server, &id, Some(&token)).await;
    assert_error(
        &limited,
        StatusCode::TOO_MANY_REQUESTS,
        "rate_limited",
        &["try again in"],
    );
    let count = firings(&server, &id).await.len();
    assert_eq!(count, rat_server::WEBHOOK_BURST as usize);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_paused_schedule_or_a_deleted_pipeline_is_recorded_as_skipped() {
    let server = Server::sample_with(|s| s.scheduler = None).await;
    let (_, id, token) = webhook_schedule(&server).await;

    // Paused: a new definition keeps the token.
    let (status, paused) = server
        .call(
            Method::PUT,
            &format!("/api/v1/schedules/{id}"),
            Some(json!({"pipeline": "bronze.customers", "webhook": true, "enabled": false})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{paused}");
    assert!(paused.get("webhook_token").is_none());
    let refused = webhook(&server, &id, Some(&token)).await;
    assert_error(&refused, StatusCode::CONFLICT, "conflict", &["paused"]);

    // The pipeline deleted: the firing is kept, with why.
    let (status, _) = server
        .call(
            Method::PUT,
            &format!("/api/v1/schedules/{id}"),
            Some(json!({"pipeline": "bronze.customers", "webhook": true})),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = server
        .call(
            Method::DELETE,
            "/api/v1/pipelines/default/bronze/customers",
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let refused = webhook(&server, &id, Some(&token)).await;
    assert_error(&refused, StatusCode::CONFLICT, "conflict", &["no pipeline"]);

    let history = firings(&server, &id).await;
    let skipped: Vec<&str> = history
        .iter()
        .map(|f| f["skipped"].as_str().unwrap())
        .collect();
    assert_eq!(history.len(), 2, "{history:?}");
    assert!(
        skipped[0].contains("no pipeline 'default.bronze.customers'"),
        "{skipped:?}"
    );
    assert!(skipped[1].contains("paused"), "{skipped:?}");
    assert!(history.iter().all(|f| f["run_id"].is_null()));
    let (_, page) = server
        .get(&format!("/api/v1/schedules/{id}/firings?limit=1"))
        .await;
    assert_eq!(
        (page["items"].as_array().unwrap().len(), &page["has_more"]),
        (1, &json!(true))
    );
    let unknown = server.get("/api/v1/schedules/nope/firings").await;
    assert_error(&unknown, StatusCode::NOT_FOUND, "not_found", &["nope"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cron_expression_may_name_seconds() {
    let server = Server::sample_with(|s| s.scheduler = fast()).await;
    let seven = server
        .post(
            "/api/v1/schedules",
            json!({"pipeline": "bronze.customers", "cron": "* * * * * * *"}),
        )
        .await;
    assert_error(
        &seven,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_input",
        &["6 with seconds"],
    );
    let created = schedule(
        &server,
        json!({"pipeline": "bronze.customers", "cron": "*/2 * * * * *"}),
    )
    .await;
    let id = created["id"].as_str().unwrap();
    let next: chrono::DateTime<chrono::Utc> =
        created["next_fire_at"].as_str().unwrap().parse().unwrap();
    assert!(
        next - chrono::Utc::now() <= chrono::Duration::seconds(2),
        "{created}"
    );
    let fired = wait_for_firings(&server, id, 2).await;
    assert!(fired.iter().all(|f| f["kind"] == "cron"), "{fired:?}");
    let at = |f: &Value| {
        f["at"]
            .as_str()
            .unwrap()
            .parse::<chrono::DateTime<chrono::Utc>>()
            .unwrap()
    };
    assert!(at(&fired[0]) > at(&fired[1]));
}
