//! What a caller may not see stays unseen, and runs act for whoever
//! started them: for an outsider, a table it may not discover answers
//! exactly as a missing one — its metadata, a `ref()` in a preview, a
//! `SELECT` in `/query`; and a scheduled run whose owner lost the read
//! grant its code needs fails when it starts, naming the refusal, with
//! the table it would have written untouched.
#![allow(clippy::unwrap_used)]

mod common;

use common::{Server, call_as, team};
use rat_executor::PoolConfig;
use rat_server::config::ExecutorConfig;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

/// (name, roles): ada the admin, rita who reads shop's orders by grant,
/// otto the outsider (a member of his own namespace only).
const PEOPLE: [(&str, &[&str]); 3] = [("ada", &["admin"]), ("rita", &[]), ("otto", &[])];

/// `shop.bronze.orders`, made and run by the admin; `mine`, where rita
/// and otto are members; rita may read the orders.
async fn shop(tune: impl FnOnce(&mut rat_server::ServerSetup)) -> (Server, String) {
    let server = team(&PEOPLE, tune).await;
    for ns in ["shop", "mine"] {
        let (status, made) = call_as(
            &server,
            "ada",
            Method::POST,
            "/api/v1/namespaces",
            Some(json!({"name": ns})),
        )
        .await;
        assert_eq!(status, StatusCode::CREATED, "{made}");
    }
    for member in ["user:rita", "user:otto"] {
        let path = format!("/api/v1/namespaces/mine/members/{member}");
        assert_eq!(
            call_as(&server, "ada", Method::PUT, &path, None).await.0,
            StatusCode::OK
        );
    }
    let orders = json!({"namespace": "shop", "layer": "bronze", "name": "orders",
                        "sql": "SELECT 1 AS order_id, 9.5 AS amount"});
    create(&server, "ada", orders).await;
    server.run_to_end("shop.bronze.orders").await;
    let grant = json!({"object": "shop.bronze.orders", "grantee": "user:rita", "level": "read"});
    let (status, grant) =
        call_as(&server, "ada", Method::POST, "/api/v1/sharing", Some(grant)).await;
    assert_eq!(status, StatusCode::CREATED, "{grant}");
    (server, grant["id"].as_str().unwrap().to_owned())
}

/// Creates a pipeline as `who`, which must succeed.
async fn create(server: &Server, who: &str, pipeline: Value) {
    let (status, made) = call_as(
        server,
        who,
        Method::POST,
        "/api/v1/pipelines",
        Some(pipeline),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{made}");
}

/// An answer about the table `exists`, with `absent` named instead.
fn as_if_absent(answer: &(StatusCode, Value), exists: &str, absent: &str) -> (StatusCode, String) {
    (answer.0, answer.1.to_string().replace(exists, absent))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_outsider_cannot_tell_a_hidden_table_from_a_missing_one() {
    let (server, _) = shop(|_| {}).await;
    let probes: [(&str, Method, String, Option<Value>); 4] = [
        (
            "metadata",
            Method::GET,
            "/api/v1/tables/shop/bronze/{name}".into(),
            None,
        ),
        (
            "data",
            Method::GET,
            "/api/v1/tables/shop/bronze/{name}/preview".into(),
            None,
        ),
        (
            "a ref() in a preview",
            Method::POST,
            "/api/v1/pipelines/mine/silver/probe/preview".into(),
            Some(json!({"sql": "SELECT * FROM {{ ref('shop.bronze.{name}') }}"})),
        ),
        (
            "a query",
            Method::POST,
            "/api/v1/query".into(),
            Some(json!({"sql": "SELECT * FROM shop.bronze.{name}"})),
        ),
    ];
    for (what, method, path, body) in probes {
        let ask = |name: &str| {
            let path = path.replace("{name}", name);
            let body = body
                .as_ref()
                .map(|b| serde_json::from_str(&b.to_string().replace("{name}", name)).unwrap());
            let (server, method) = (&server, method.clone());
            async move { call_as(server, "otto", method, &path, body).await }
        };
        let hidden = ask("orders").await;
        let missing = ask("nothing").await;
        assert!(hidden.0.is_client_error(), "{what}: {hidden:?}");
        assert_eq!(
            as_if_absent(&hidden, "orders", "nothing"),
            (missing.0, missing.1.to_string()),
            "{what}"
        );
        // Rita, who may read it, sees it through each.
        let (status, seen) = call_as(
            &server,
            "rita",
            method.clone(),
            &path.replace("{name}", "orders"),
            body.as_ref()
                .map(|b| serde_json::from_str(&b.to_string().replace("{name}", "orders")).unwrap()),
        )
        .await;
        assert_eq!(status.as_u16() / 100, 2, "{what} as rita: {seen}");
    }
    // Nor by listing: the namespace and its tables are not there for him.
    let (_, tables) = call_as(
        &server,
        "otto",
        Method::GET,
        "/api/v1/tables?namespace=shop",
        None,
    )
    .await;
    assert_eq!(tables["items"], json!([]), "{tables}");
    let (_, me) = call_as(&server, "otto", Method::GET, "/api/v1/me", None).await;
    assert_eq!(me["namespaces"], json!(["mine"]), "{me}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scheduled_run_whose_owner_lost_its_grant_fails_at_start() {
    // One worker, so a run can be held pending behind another.
    let (server, grant) = shop(|setup| {
        setup.executor = ExecutorConfig::Local(PoolConfig {
            workers: 1,
            ..PoolConfig::default()
        });
    })
    .await;
    let copy = json!({"namespace": "mine", "layer": "silver", "name": "copy",
                      "sql": "SELECT * FROM {{ ref('shop.bronze.orders') }}"});
    create(&server, "rita", copy).await;
    let (status, first) = call_as(
        &server,
        "rita",
        Method::POST,
        "/api/v1/runs",
        Some(json!({"pipeline": "mine.silver.copy"})),
    )
    .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{first}");
    let first = server.wait_for_end(first["run_id"].as_str().unwrap()).await;
    assert_eq!(
        (&first["status"], &first["started_by"]),
        (&json!("success"), &json!("rita")),
        "{first}"
    );
    let before = server
        .get("/api/v1/tables/mine/silver/copy/history")
        .await
        .1;

    // Her schedule, fired by its webhook, acts for her; it waits behind a
    // long run of the admin's.
    let hook = json!({"pipeline": "mine.silver.copy", "webhook": true});
    let (status, schedule) = call_as(
        &server,
        "rita",
        Method::POST,
        "/api/v1/schedules",
        Some(hook),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{schedule}");
    assert_eq!(schedule["owner"]["id"], "rita", "{schedule}");
    let long = json!({"namespace": "shop", "layer": "bronze", "name": "long",
                      "sql": "SELECT count(*) AS n FROM range(300000) a, range(300000) b WHERE a.range + b.range < 0"});
    create(&server, "ada", long).await;
    let (_, long) = call_as(
        &server,
        "ada",
        Method::POST,
        "/api/v1/runs",
        Some(json!({"pipeline": "shop.bronze.long"})),
    )
    .await;
    let long = long["run_id"].as_str().unwrap().to_owned();
    let (status, fired) = server
        .call_webhook(
            schedule["id"].as_str().unwrap(),
            Some(schedule["webhook_token"].as_str().unwrap()),
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{fired}");
    let queued = fired["run_id"].as_str().unwrap().to_owned();
    let (_, pending) = server.get(&format!("/api/v1/runs/{queued}")).await;
    assert_eq!(
        (&pending["status"], &pending["started_by"]),
        (&json!("pending"), &json!("rita")),
        "{pending}"
    );

    // The grant goes; then the long run, and hers starts — and stops.
    let revoked = call_as(
        &server,
        "ada",
        Method::DELETE,
        &format!("/api/v1/sharing/{grant}"),
        None,
    )
    .await;
    assert_eq!(revoked.0, StatusCode::NO_CONTENT, "{revoked:?}");
    server
        .post(&format!("/api/v1/runs/{long}/cancel"), json!({}))
        .await;
    let ended = server.wait_for_end(&queued).await;
    assert_eq!(ended["status"], "failed", "{ended}");
    let message = ended["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("rita may not read shop.bronze.orders")
            && message.contains("mine.silver.copy"),
        "{ended}"
    );
    assert_eq!(ended["started_at"], Value::Null, "never started: {ended}");
    assert_eq!(
        server
            .get("/api/v1/tables/mine/silver/copy/history")
            .await
            .1,
        before,
        "main untouched"
    );

    // Asked again now, it is refused at once, naming the file.
    let (status, refused) = call_as(
        &server,
        "rita",
        Method::POST,
        "/api/v1/runs",
        Some(json!({"pipeline": "mine.silver.copy"})),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{refused}");
    assert!(
        refused["error"]["context"]["file"]
            .as_str()
            .unwrap()
            .ends_with("pipeline.sql"),
        "{refused}"
    );
}
