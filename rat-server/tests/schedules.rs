//! Schedules over HTTP, and the scheduler: a missed cron time fires once
//! at start-up then advances (no backfill), an upstream success fires its
//! downstream once, and of two instances on one store only the lease
//! holder fires.
#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use common::{Server, assert_error};
use rat_server::scheduler::SchedulerConfig;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

fn fast(owner: &str) -> Option<SchedulerConfig> {
    Some(SchedulerConfig {
        tick: Duration::from_millis(100),
        lease: Duration::from_secs(5),
        owner: owner.into(),
        ..SchedulerConfig::default()
    })
}

async fn runs_of(server: &Server, pipeline: &str) -> Vec<Value> {
    let (_, page) = server
        .get(&format!("/api/v1/runs?pipeline={pipeline}&limit=200"))
        .await;
    page["items"].as_array().unwrap().clone()
}

/// Waits `ticks` scheduler ticks, then returns the runs of `pipeline`.
async fn after_ticks(server: &Server, pipeline: &str, ticks: u64) -> Vec<Value> {
    tokio::time::sleep(Duration::from_millis(100 * ticks)).await;
    runs_of(server, pipeline).await
}

async fn wait_for_runs(server: &Server, pipeline: &str, count: usize) -> Vec<Value> {
    for _ in 0..200 {
        let runs = runs_of(server, pipeline).await;
        if runs.len() >= count {
            return runs;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("{pipeline} never had {count} run(s)");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn schedules_are_validated_and_kept() {
    let server = Server::sample_with(|s| s.scheduler = None).await;
    let (status, created) = server
        .post(
            "/api/v1/schedules",
            json!({"pipeline": "bronze.orders", "cron": "0  6 * * 1-5"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    assert_eq!(
        created["trigger"],
        json!({"type": "cron", "expression": "0 6 * * 1-5"})
    );
    assert!(created["next_fire_at"].is_string());
    let id = created["id"].as_str().unwrap();
    let (_, got) = server.get(&format!("/api/v1/schedules/{id}")).await;
    assert_eq!(got, created);

    let cases = [
        (
            json!({"pipeline": "bronze.orders", "cron": "61 * * * *"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "61",
        ),
        (
            json!({"pipeline": "bronze.orders", "cron": "0 0 6 * * * 2027"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "7 fields",
        ),
        (
            json!({"pipeline": "bronze.orders"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "exactly one",
        ),
        (
            json!({"pipeline": "bronze.orders", "cron": "* * * * *", "after": "bronze.customers"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "exactly one",
        ),
        (
            json!({"pipeline": "bronze.orders", "after": "bronze.orders"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "itself",
        ),
        (
            json!({"pipeline": "gold.nothing", "cron": "* * * * *"}),
            StatusCode::NOT_FOUND,
            "gold.nothing",
        ),
        (
            json!({"pipeline": "bronze.orders", "after": "gold/x"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "gold/x",
        ),
        (
            json!({"pipeline": "bronze.orders", "cron": "* * * * *", "when": 1}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "when",
        ),
    ];
    for (body, status, named) in cases {
        let got = server.post("/api/v1/schedules", body.clone()).await;
        assert_eq!(got.0, status, "{body}: {}", got.1);
        assert!(
            got.1["error"]["message"].as_str().unwrap().contains(named),
            "{body}: {}",
            got.1
        );
    }

    let (status, replaced) = server
        .call(
            Method::PUT,
            &format!("/api/v1/schedules/{id}"),
            Some(
                json!({"pipeline": "bronze.orders", "after": "bronze.customers", "enabled": false}),
            ),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{replaced}");
    assert_eq!(replaced["next_fire_at"], Value::Null);
    assert_eq!(replaced["enabled"], false);
    let (_, list) = server.get("/api/v1/schedules").await;
    assert_eq!(list["items"].as_array().unwrap().len(), 1);
    let (status, _) = server
        .call(Method::DELETE, &format!("/api/v1/schedules/{id}"), None)
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_error(
        &server.get(&format!("/api/v1/schedules/{id}")).await,
        StatusCode::NOT_FOUND,
        "not_found",
        &[id],
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missed_time_fires_once_at_start_up_then_advances() {
    let first = Server::sample_with(|s| s.scheduler = None).await;
    // Hourly, last due three days ago: 72 missed times, one run.
    let (_, created) = first
        .post(
            "/api/v1/schedules",
            json!({"pipeline": "bronze.customers", "cron": "0 * * * *"}),
        )
        .await;
    let id = created["id"].as_str().unwrap().to_owned();
    let store = first.server.platform.schedule_store().clone();
    let mut schedule = store.schedule(&id).await.unwrap();
    let missed = chrono::Utc::now() - chrono::Duration::days(3);
    schedule.next_fire_at = Some(missed);
    store.replace_schedule(&schedule).await.unwrap();
    drop(store);
    let dir = first.stop().await;

    let second = Server::start_in(dir, |s| s.scheduler = fast("second")).await;
    let runs = wait_for_runs(&second, "bronze.customers", 1).await;
    let run = runs[0]["run_id"].as_str().unwrap().to_owned();
    assert_eq!(second.wait_for_end(&run).await["status"], "success");
    let later = after_ticks(&second, "bronze.customers", 5).await;
    assert_eq!(later.len(), 1, "no backfill");
    let (_, fired) = second.get(&format!("/api/v1/schedules/{id}")).await;
    assert_eq!(fired["last_run_id"], run.as_str());
    let next: chrono::DateTime<chrono::Utc> =
        fired["next_fire_at"].as_str().unwrap().parse().unwrap();
    assert!(next > chrono::Utc::now(), "{next}");
    let (_, features) = second.get("/api/v1/features").await;
    assert_eq!(features["scheduler"], true);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upstream_success_runs_its_downstream_once() {
    let server = Server::sample_with(|s| s.scheduler = fast("only")).await;
    // An older success does not count.
    assert_eq!(
        server.run_to_end("bronze.orders").await["status"],
        "success"
    );
    let (status, created) = server
        .post(
            "/api/v1/schedules",
            json!({"pipeline": "bronze.customers", "after": "bronze.orders"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    assert!(after_ticks(&server, "bronze.customers", 5).await.is_empty());

    assert_eq!(
        server.run_to_end("bronze.orders").await["status"],
        "success"
    );
    let runs = wait_for_runs(&server, "bronze.customers", 1).await;
    let run = runs[0]["run_id"].as_str().unwrap().to_owned();
    assert_eq!(server.wait_for_end(&run).await["status"], "success");
    assert_eq!(after_ticks(&server, "bronze.customers", 5).await.len(), 1);
    // A failed upstream run fires nothing.
    std::fs::write(
        server
            .dir
            .path()
            .join("pipelines/bronze/orders/tests/quality/never.sql"),
        "SELECT 1 AS always_fails",
    )
    .unwrap();
    assert_eq!(server.run_to_end("bronze.orders").await["status"], "failed");
    assert_eq!(after_ticks(&server, "bronze.customers", 5).await.len(), 1);
}

/// Whether each server reports that it fires schedules.
async fn leaders(servers: &[&Server]) -> Vec<bool> {
    let mut leading = Vec::new();
    for server in servers {
        leading.push(server.get("/api/v1/features").await.1["scheduler"] == true);
    }
    leading
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn of_two_instances_only_the_lease_holder_fires() {
    let a = Server::sample_with(|s| s.scheduler = fast("a")).await;
    let b = Server::beside(&a, |s| s.scheduler = fast("b")).await;
    two_instances_fire_once(&a, &b).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_postgres_two_instances_share_runs_and_one_fires() {
    let keep = tempfile::tempdir().unwrap();
    let store = common::fresh_postgres(keep.path()).await;
    let a = Server::sample_with(|s| {
        s.run_store = store.clone();
        s.scheduler = fast("a");
    })
    .await;
    let b = Server::beside(&a, |s| {
        s.run_store = store.clone();
        s.scheduler = fast("b");
    })
    .await;
    let (_, features) = a.get("/api/v1/features").await;
    assert_eq!(features["run_store"], "postgres");
    // A run submitted to one instance is visible from the other.
    let record = a.run_to_end("bronze.orders").await;
    let id = record["run_id"].as_str().unwrap();
    let (status, seen) = b.get(&format!("/api/v1/runs/{id}")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(seen["status"], "success");
    two_instances_fire_once(&a, &b).await;

    // The leader goes away: the other takes over.
    let leading = leaders(&[&a, &b]).await;
    let (gone, stays) = if leading[0] { (a, b) } else { (b, a) };
    drop(gone.stop().await);
    for _ in 0..100 {
        if leaders(&[&stays]).await == [true] {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("no instance took over the scheduler");
}

async fn two_instances_fire_once(a: &Server, b: &Server) {
    tokio::time::sleep(Duration::from_millis(300)).await;
    let leading = leaders(&[a, b]).await;
    assert_eq!(leading.iter().filter(|l| **l).count(), 1, "{leading:?}");

    // Both serve the API; a due schedule runs once.
    let (_, created) = b
        .post(
            "/api/v1/schedules",
            json!({"pipeline": "bronze.customers", "cron": "0 0 1 1 *"}),
        )
        .await;
    let store = a.server.platform.schedule_store().clone();
    let mut schedule = store
        .schedule(created["id"].as_str().unwrap())
        .await
        .unwrap();
    schedule.next_fire_at = Some(chrono::Utc::now() - chrono::Duration::minutes(1));
    store.replace_schedule(&schedule).await.unwrap();
    wait_for_runs(a, "bronze.customers", 1).await;
    assert_eq!(after_ticks(b, "bronze.customers", 10).await.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_lease_holder_prunes_old_runs_and_maintains_tables() {
    // No housekeeping until the three runs have ended, then every tick.
    let server = Server::sample_with(|s| s.scheduler = None).await;
    let mut ids = Vec::new();
    for _ in 0..3 {
        let (status, accepted) = server
            .post("/api/v1/runs", json!({"pipeline": "bronze.orders"}))
            .await;
        assert_eq!(status, StatusCode::ACCEPTED, "{accepted}");
        let id = accepted["run_id"].as_str().unwrap().to_owned();
        assert_eq!(server.wait_for_end(&id).await["status"], "success");
        ids.push(id);
    }
    assert_eq!(runs_of(&server, "bronze.orders").await.len(), 3);

    let config = SchedulerConfig {
        tick: Duration::from_millis(100),
        lease: Duration::from_secs(5),
        owner: "housekeeper".into(),
        housekeeping: Some(Duration::from_millis(200)),
        run_retention: rat_core::RunRetention {
            keep_runs: 1,
            ..Default::default()
        },
        ..SchedulerConfig::default()
    };
    // Driven by the scheduler as the lease holder: wait for its pass.
    let scheduler = rat_server::scheduler::spawn(server.server.platform.clone(), config.clone());
    let mut left = runs_of(&server, "bronze.orders").await;
    for _ in 0..200 {
        if left.len() == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
        left = runs_of(&server, "bronze.orders").await;
    }
    scheduler.abort();
    assert_eq!(left.len(), 1, "{left:?}");
    assert_eq!(left[0]["run_id"], ids[2].as_str(), "the newest run is kept");
    let (_, table) = server.get("/api/v1/tables/default/bronze/orders").await;
    assert!(table["records"].as_u64().unwrap() > 0, "{table}");

    // The same pass, called directly: nothing more to prune, every table
    // maintained without error.
    let done = server
        .server
        .platform
        .housekeep(&config.run_retention)
        .await
        .unwrap();
    assert_eq!(done.runs_pruned, 0);
    assert!(
        done.tables_maintained >= 1 && done.tables_failed == 0,
        "{done:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cron_previews_say_when_an_expression_fires_next() {
    let server = Server::sample().await;
    let (status, next) = server
        .get("/api/v1/cron?expression=0%206%20*%20*%20*&count=2")
        .await;
    assert_eq!(status, StatusCode::OK, "{next}");
    let times = next["next"].as_array().unwrap();
    assert_eq!(times.len(), 2);
    assert!(
        times
            .iter()
            .all(|t| t.as_str().unwrap().ends_with("T06:00:00Z")),
        "{next}"
    );
    assert_error(
        &server.get("/api/v1/cron?expression=*%20*").await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_input",
        &["2 fields"],
    );
    assert_error(
        &server
            .get("/api/v1/cron?expression=*%20*%20*%20*%20*&count=99")
            .await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_input",
        &["count 99"],
    );
}
