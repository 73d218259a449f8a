//! Sharing through the HTTP API, with named API keys as the principals:
//! a pipeline's creator owns its table and shares it; grants, transfers
//! and revocations take effect on the next request; what a caller may not
//! see is 404, what it may see but not do, 403.
#![allow(clippy::unwrap_used)]

mod common;

use common::{Server, assert_error, call_as as call};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

/// (name, roles): each key is `common::team_key(name)`.
const PEOPLE: [(&str, &[&str]); 4] = [
    ("ada", &["admin"]),
    ("owen", &[]),
    ("rex", &[]),
    ("wes", &["engineer"]),
];

async fn team() -> Server {
    common::team(&PEOPLE, |_| {}).await
}

async fn share(
    server: &Server,
    who: &str,
    object: &str,
    grantee: &str,
    level: &str,
) -> (StatusCode, Value) {
    let body = json!({"object": object, "grantee": grantee, "level": level});
    call(server, who, Method::POST, "/api/v1/sharing", Some(body)).await
}

async fn grant_ids(server: &Server, who: &str) -> Vec<String> {
    let (status, page) = call(server, who, Method::GET, "/api/v1/sharing", None).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["id"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn owners_share_and_give_away_what_they_made() {
    let server = team().await;
    // Owen may create pipelines in `default` as its member; nobody else is.
    let (status, members) = call(
        &server,
        "ada",
        Method::PUT,
        "/api/v1/namespaces/default/members/user:owen",
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{members}");
    assert_eq!(members["members"], json!(["user:owen"]));
    let table = "default.bronze.mine";
    let pipeline = json!({"layer": "bronze", "name": "mine", "sql": "SELECT 1 AS id"});
    let (status, made) = call(
        &server,
        "owen",
        Method::POST,
        "/api/v1/pipelines",
        Some(pipeline),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{made}");

    // Rex sees nothing of it yet: as if it were not there.
    let hidden = share(&server, "rex", table, "user:rex", "write").await;
    assert_error(&hidden, StatusCode::NOT_FOUND, "not_found", &[table]);
    let absent = share(&server, "rex", "default.bronze.absent", "user:rex", "write").await;
    assert_eq!(
        hidden.1["error"]["message"]
            .as_str()
            .unwrap()
            .replace("mine", "absent"),
        absent.1["error"]["message"]
    );

    // Its owner shares it; the grantee sees the grant, others do not.
    let (status, grant) = share(&server, "owen", table, "user:rex", "read").await;
    assert_eq!(status, StatusCode::CREATED, "{grant}");
    assert_eq!(
        (&grant["granted_by"], &grant["level"]),
        (&json!("owen"), &json!("read")),
        "{grant}"
    );
    let id = grant["id"].as_str().unwrap().to_owned();
    assert_eq!(grant_ids(&server, "rex").await, [id.as_str()]);
    assert_eq!(grant_ids(&server, "owen").await, [id.as_str()]);
    assert!(grant_ids(&server, "wes").await.is_empty());
    let twice = share(&server, "owen", table, "user:rex", "write").await;
    assert_error(
        &twice,
        StatusCode::CONFLICT,
        "already_exists",
        &["user:rex"],
    );

    // A reader may see it, not share it; only an admin shares a pattern.
    let refused = share(&server, "rex", table, "user:wes", "read").await;
    assert_error(
        &refused,
        StatusCode::FORBIDDEN,
        "forbidden",
        &["rex", table],
    );
    let pattern = share(
        &server,
        "owen",
        "default.bronze.*",
        "role:engineer",
        "write",
    )
    .await;
    assert_error(&pattern, StatusCode::FORBIDDEN, "forbidden", &["admin"]);
    let (status, by_role) =
        share(&server, "ada", "default.bronze.*", "role:engineer", "write").await;
    assert_eq!(status, StatusCode::CREATED, "{by_role}");
    assert_eq!(
        grant_ids(&server, "wes").await,
        [by_role["id"].as_str().unwrap()]
    );
    assert_eq!(grant_ids(&server, "ada").await.len(), 2);

    // Given away: the new owner may share it; the old one, a member still,
    // sees it but may no longer share it.
    let transfer = |who: &'static str, owner: &str| {
        let body = json!({"table": table, "owner": owner});
        let server = &server;
        async move {
            call(
                server,
                who,
                Method::POST,
                "/api/v1/sharing/transfer",
                Some(body),
            )
            .await
        }
    };
    let refused = transfer("rex", "rex").await;
    assert_error(&refused, StatusCode::FORBIDDEN, "forbidden", &["rex"]);
    let (status, owned) = transfer("owen", "rex").await;
    assert_eq!(
        (status, &owned),
        (StatusCode::OK, &json!({"table": table, "owner": "rex"}))
    );
    let (status, _) = share(&server, "rex", table, "user:wes", "read").await;
    assert_eq!(status, StatusCode::CREATED);
    let gone = share(&server, "owen", table, "user:owen", "read").await;
    assert_error(&gone, StatusCode::FORBIDDEN, "forbidden", &["owen", table]);

    // Revoked by whoever may: the others get 404, as for no grant at all.
    let unshare = |who: &'static str, id: String| {
        let server = &server;
        async move {
            call(
                server,
                who,
                Method::DELETE,
                &format!("/api/v1/sharing/{id}"),
                None,
            )
            .await
        }
    };
    let by_role_id = by_role["id"].as_str().unwrap().to_owned();
    assert_error(
        &unshare("wes", by_role_id.clone()).await,
        StatusCode::NOT_FOUND,
        "not_found",
        &["grant"],
    );
    assert_eq!(
        unshare("ada", by_role_id.clone()).await.0,
        StatusCode::NO_CONTENT
    );
    assert_error(
        &unshare("ada", by_role_id).await,
        StatusCode::NOT_FOUND,
        "not_found",
        &["grant"],
    );
    assert_eq!(
        unshare("owen", id).await.0,
        StatusCode::NO_CONTENT,
        "whoever made a grant revokes it"
    );
    assert!(
        !grant_ids(&server, "rex").await.is_empty(),
        "rex still holds the grant rex made"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_shares_are_refused_naming_the_field() {
    let server = team().await;
    for (body, words) in [
        (
            json!({"object": "x", "grantee": "user:rex", "level": "read"}),
            vec!["ns.layer.name", "object"],
        ),
        (
            json!({"object": "default.bronze.*", "grantee": "rex", "level": "read"}),
            vec!["user:ID", "grantee"],
        ),
        (
            json!({"object": "default.bronze.*", "grantee": "user:rex", "level": "own"}),
            vec!["level"],
        ),
        (
            json!({"object": "default.bronze.*", "grantee": "user:rex", "level": "read", "x": 1}),
            vec!["x"],
        ),
    ] {
        let got = call(&server, "ada", Method::POST, "/api/v1/sharing", Some(body)).await;
        assert_error(
            &got,
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_input",
            &words,
        );
    }
    let body = json!({"table": "default.bronze.customers", "owner": " "});
    let got = call(
        &server,
        "ada",
        Method::POST,
        "/api/v1/sharing/transfer",
        Some(body),
    )
    .await;
    assert_error(
        &got,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_input",
        &["owner"],
    );
    assert!(grant_ids(&server, "ada").await.is_empty());
}
