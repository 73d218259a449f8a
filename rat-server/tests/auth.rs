//! Auth against a real server: a static API key, and OIDC tokens signed by
//! test keys (tests/fixtures, test-only, never used elsewhere) served from
//! a local issuer's JWKS endpoint. `/health` stays public; a partially
//! configured auth setting stops the server from starting.
#![allow(clippy::unwrap_used)]

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use axum::routing::get;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use common::{Server, assert_error};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use rat_core::config::SecretRef;
use rat_server::auth::{AuthConfig, MIN_KEY_REFRESH, NamedKey};
use reqwest::StatusCode;
use serde_json::{Value, json};

const KEY: &str = "rat-test-api-key-0123456789";

async fn get_with(server: &Server, path: &str, headers: &[(&str, &str)]) -> (StatusCode, Value) {
    let mut request = server.http.get(server.url(path));
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = request.send().await.unwrap();
    let status = response.status();
    let text = response.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_api_key_guards_everything_but_health() {
    let dir = tempfile::tempdir().unwrap();
    let key_file = dir.path().join("api-key");
    std::fs::write(&key_file, format!("{KEY}\n")).unwrap();
    let server = Server::sample_with(|setup| {
        setup.auth = AuthConfig::api_key(SecretRef::File(key_file));
    })
    .await;
    assert_eq!(get_with(&server, "/health", &[]).await.0, StatusCode::OK);
    let refused = get_with(&server, "/api/v1/features", &[]).await;
    assert_error(
        &refused,
        StatusCode::UNAUTHORIZED,
        "unauthorized",
        &["API key"],
    );
    let wrong = get_with(
        &server,
        "/api/v1/features",
        &[("authorization", "Bearer nope")],
    )
    .await;
    assert_error(
        &wrong,
        StatusCode::UNAUTHORIZED,
        "unauthorized",
        &["not valid"],
    );
    let bearer = format!("Bearer {KEY}");
    let (status, features) =
        get_with(&server, "/api/v1/features", &[("authorization", &bearer)]).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(features["auth"], "api_key");
    assert!(!features.to_string().contains(KEY));
    let (status, _) = get_with(&server, "/api/v1/runs", &[("x-api-key", KEY)]).await;
    assert_eq!(status, StatusCode::OK);
}

/// A local OIDC issuer: discovery, a JWKS whose keys can change, and a
/// count of JWKS fetches.
struct Issuer {
    url: String,
    keys: Arc<Mutex<Vec<Value>>>,
    fetches: Arc<AtomicUsize>,
}

fn jwk(name: &str) -> Value {
    let path = format!(
        "{}/tests/fixtures/oidc-test-key-{name}.jwk.json",
        env!("CARGO_MANIFEST_DIR")
    );
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

impl Issuer {
    async fn start(keys: Vec<Value>) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let keys = Arc::new(Mutex::new(keys));
        let fetches = Arc::new(AtomicUsize::new(0));
        let discovery = json!({"issuer": url, "jwks_uri": format!("{url}/jwks")});
        let (served, counted) = (keys.clone(), fetches.clone());
        let app = axum::Router::new()
            .route(
                "/.well-known/openid-configuration",
                get(move || async move { axum::Json(discovery) }),
            )
            .route(
                "/jwks",
                get(move || async move {
                    counted.fetch_add(1, Ordering::SeqCst);
                    axum::Json(json!({"keys": *served.lock().unwrap()}))
                }),
            );
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Self { url, keys, fetches }
    }

    fn token(&self, key: &str, claims: Value) -> String {
        let pem = std::fs::read(format!(
            "{}/tests/fixtures/oidc-test-key-{key}.pem",
            env!("CARGO_MANIFEST_DIR")
        ))
        .unwrap();
        let mut header = Header::new(Algorithm::RS256);
        header.kid = Some(format!("test-key-{key}"));
        jsonwebtoken::encode(&header, &claims, &EncodingKey::from_rsa_pem(&pem).unwrap()).unwrap()
    }

    fn claims(&self, audience: &str, expires_in: i64) -> Value {
        let now = chrono::Utc::now().timestamp();
        json!({"iss": self.url, "aud": audience, "sub": "alice", "groups": ["admin"], "iat": now, "exp": now + expires_in})
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oidc_tokens_are_checked_against_the_issuers_keys() {
    let issuer = Issuer::start(vec![jwk("a")]).await;
    let server = Server::sample_with(|setup| {
        setup.auth = AuthConfig::oidc(issuer.url.clone(), "rat");
    })
    .await;
    let call = |token: String| {
        let server = &server;
        async move {
            let bearer = format!("Bearer {token}");
            get_with(server, "/api/v1/features", &[("authorization", &bearer)]).await
        }
    };

    let good = issuer.token("a", issuer.claims("rat", 300));
    let (status, features) = call(good.clone()).await;
    assert_eq!(status, StatusCode::OK, "{features}");
    assert_eq!(features["auth"], "oidc");
    assert_eq!(call(good).await.0, StatusCode::OK);
    assert_eq!(issuer.fetches.load(Ordering::SeqCst), 1, "keys are cached");

    // What a token's holder saves names its subject; a token naming none
    // is refused.
    let sql = "SELECT 1 AS customer_id";
    let saved = server
        .http
        .put(server.url("/api/v1/pipelines/default/bronze/customers"))
        .bearer_auth(issuer.token("a", issuer.claims("rat", 300)))
        .json(&json!({"sql": sql, "message": "from alice"}))
        .send()
        .await
        .unwrap();
    assert_eq!(saved.status(), StatusCode::OK);
    let saved: Value = saved.json().await.unwrap();
    assert_eq!(saved["version"]["author"], "alice", "{saved}");
    let mut anonymous = issuer.claims("rat", 300);
    anonymous.as_object_mut().unwrap().remove("sub");
    assert_error(
        &call(issuer.token("a", anonymous)).await,
        StatusCode::UNAUTHORIZED,
        "unauthorized",
        &["subject"],
    );

    let expired = issuer.token("a", issuer.claims("rat", -600));
    assert_error(
        &call(expired).await,
        StatusCode::UNAUTHORIZED,
        "unauthorized",
        &["ExpiredSignature"],
    );
    let elsewhere = issuer.token("a", issuer.claims("another-api", 300));
    assert_error(
        &call(elsewhere).await,
        StatusCode::UNAUTHORIZED,
        "unauthorized",
        &["InvalidAudience"],
    );
    let mut forged = issuer.claims("rat", 300);
    forged["iss"] = json!("https://evil.example");
    let forged = issuer.token("a", forged);
    assert_error(
        &call(forged).await,
        StatusCode::UNAUTHORIZED,
        "unauthorized",
        &["InvalidIssuer"],
    );

    // Unsigned (`alg: none`), and a valid token with its signature cut off.
    let part = |v: Value| URL_SAFE_NO_PAD.encode(v.to_string());
    let unsigned = format!(
        "{}.{}.",
        part(json!({"alg": "none", "typ": "JWT", "kid": "test-key-a"})),
        part(issuer.claims("rat", 300))
    );
    assert_error(
        &call(unsigned).await,
        StatusCode::UNAUTHORIZED,
        "unauthorized",
        &[],
    );
    let good = issuer.token("a", issuer.claims("rat", 300));
    let stripped = good.rsplit_once('.').unwrap().0.to_owned() + ".";
    assert_error(
        &call(stripped).await,
        StatusCode::UNAUTHORIZED,
        "unauthorized",
        &[],
    );

    // A key the issuer does not publish: refused after one refetch.
    tokio::time::sleep(MIN_KEY_REFRESH).await;
    let fetches = issuer.fetches.load(Ordering::SeqCst);
    let unknown = issuer.token("b", issuer.claims("rat", 300));
    assert_error(
        &call(unknown.clone()).await,
        StatusCode::UNAUTHORIZED,
        "unauthorized",
        &["test-key-b"],
    );
    assert_eq!(issuer.fetches.load(Ordering::SeqCst), fetches + 1);
    // ...and not refetched again for every such token.
    assert_error(
        &call(unknown.clone()).await,
        StatusCode::UNAUTHORIZED,
        "unauthorized",
        &[],
    );
    assert_eq!(issuer.fetches.load(Ordering::SeqCst), fetches + 1);

    let no_token = get_with(&server, "/api/v1/features", &[]).await;
    assert_error(
        &no_token,
        StatusCode::UNAUTHORIZED,
        "unauthorized",
        &["bearer"],
    );
    assert_eq!(get_with(&server, "/health", &[]).await.0, StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rotated_key_is_picked_up_on_its_first_token() {
    let issuer = Issuer::start(vec![jwk("a")]).await;
    let server = Server::sample_with(|setup| {
        setup.auth = AuthConfig::Oidc {
            issuer: issuer.url.clone(),
            audience: "rat".into(),
            jwks_uri: Some(format!("{}/jwks", issuer.url)),
            roles_claim: None,
            sign_in: None,
        };
    })
    .await;
    let bearer = |token: String| format!("Bearer {token}");
    let first = bearer(issuer.token("a", issuer.claims("rat", 300)));
    assert_eq!(
        get_with(&server, "/api/v1/runs", &[("authorization", &first)])
            .await
            .0,
        StatusCode::OK
    );
    // The issuer rotates to key b; the cache holds only a.
    *issuer.keys.lock().unwrap() = vec![jwk("a"), jwk("b")];
    tokio::time::sleep(MIN_KEY_REFRESH).await;
    let rotated = bearer(issuer.token("b", issuer.claims("rat", 300)));
    assert_eq!(
        get_with(&server, "/api/v1/runs", &[("authorization", &rotated)])
            .await
            .0,
        StatusCode::OK
    );
    assert_eq!(issuer.fetches.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn half_configured_auth_stops_the_start() {
    let cases = [
        ("{type: oidc, issuer: https://login.example}", "audience"),
        ("{type: oidc, audience: rat}", "issuer"),
        ("{type: api_key, key: plain-text-secret}", "{env: VAR}"),
        ("{type: oauth}", "oauth"),
        (
            "{type: oidc, issuer: https://x, audience: rat, extra: 1}",
            "extra",
        ),
    ];
    for (yaml, named) in cases {
        let err = serde_yaml_ng::from_str::<AuthConfig>(yaml)
            .unwrap_err()
            .to_string();
        assert!(err.contains(named), "{yaml}: {err}");
        assert!(!err.contains("plain-text-secret"), "{err}");
    }
    let checked = [
        (AuthConfig::oidc("login.example", "rat"), "issuer"),
        (AuthConfig::oidc("https://x", " "), "audience"),
        (
            AuthConfig::api_key(SecretRef::Env("RAT_TEST_NO_SUCH_VARIABLE".into())),
            "RAT_TEST_NO_SUCH_VARIABLE",
        ),
    ];
    let dir = tempfile::tempdir().unwrap();
    for (config, named) in checked {
        let mut setup = rat_server::ServerSetup::embedded(dir.path());
        setup.auth = config;
        let err = setup.open().await.unwrap_err().to_string();
        assert!(err.contains(named), "{err}");
    }
    let short = dir.path().join("short-key");
    std::fs::write(&short, "abc").unwrap();
    let mut setup = rat_server::ServerSetup::embedded(dir.path());
    setup.auth = AuthConfig::api_key(SecretRef::File(short));
    let err = setup.open().await.unwrap_err().to_string();
    assert!(
        err.contains("16 characters") && !err.contains("abc'"),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn named_api_keys_are_principals_with_their_roles() {
    let dir = tempfile::tempdir().unwrap();
    let file = |name: &str, key: &str| common::key_file(dir.path(), name, key);
    let keys = vec![
        NamedKey {
            name: "ci".into(),
            key: file("ci", "ci-key-0123456789abcdef"),
            roles: vec!["data-engineer".into()],
        },
        NamedKey {
            name: "ann".into(),
            key: file("ann", "ann-key-0123456789abcdef"),
            roles: vec!["admin".into()],
        },
    ];
    let server = Server::sample_with(|setup| {
        setup.auth = AuthConfig::ApiKey {
            key: None,
            api_keys: keys,
        };
    })
    .await;
    let (status, ci) = get_with(
        &server,
        "/api/v1/me",
        &[("x-api-key", "ci-key-0123456789abcdef")],
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{ci}");
    assert_eq!(ci["id"], "ci");
    assert_eq!(ci["roles"], json!(["data-engineer"]));
    assert_eq!(ci["admin"], false);
    assert_eq!(ci["namespaces"], json!([]), "a member of none yet: {ci}");
    // The admin makes the role a member of `default` and lets it write
    // there; the key's holder sees the namespace on its next request.
    let bearer = "Bearer ann-key-0123456789abcdef";
    let added = server
        .http
        .put(server.url("/api/v1/namespaces/default/members/role:data-engineer"))
        .header("authorization", bearer)
        .send()
        .await
        .unwrap();
    assert_eq!(added.status(), StatusCode::OK);
    let granted = server
        .http
        .post(server.url("/api/v1/sharing"))
        .header("authorization", bearer)
        .json(&json!({"object": "default.*", "grantee": "role:data-engineer", "level": "write"}))
        .send()
        .await
        .unwrap();
    assert_eq!(granted.status(), StatusCode::CREATED);
    let (_, ci) = get_with(
        &server,
        "/api/v1/me",
        &[("x-api-key", "ci-key-0123456789abcdef")],
    )
    .await;
    assert_eq!(ci["namespaces"], json!(["default"]), "{ci}");
    let (_, ann) = get_with(&server, "/api/v1/me", &[("authorization", bearer)]).await;
    assert_eq!(
        (&ann["id"], &ann["admin"]),
        (&json!("ann"), &json!(true)),
        "{ann}"
    );
    let wrong = get_with(
        &server,
        "/api/v1/me",
        &[("x-api-key", "ci-key-0123456789abcdeX")],
    )
    .await;
    assert_error(
        &wrong,
        StatusCode::UNAUTHORIZED,
        "unauthorized",
        &["not valid"],
    );
    // What a key saves names it.
    let table = "/api/v1/pipelines/default/bronze/customers";
    let (_, detail) = get_with(&server, table, &[("x-api-key", "ci-key-0123456789abcdef")]).await;
    let mut save = json!({"sql": format!("{}\n", detail["source"].as_str().unwrap())});
    save["message"] = json!("from ci");
    let saved = server
        .http
        .put(server.url(table))
        .header("x-api-key", "ci-key-0123456789abcdef")
        .json(&save)
        .send()
        .await
        .unwrap();
    assert_eq!(saved.status(), StatusCode::OK);
    let (_, versions) = get_with(
        &server,
        &format!("{table}/versions"),
        &[("authorization", bearer)],
    )
    .await;
    assert_eq!(versions["items"][0]["author"], "ci", "{versions}");

    // Without authentication: the one implicit admin.
    let open = Server::sample().await;
    let (_, me) = open.get("/api/v1/me").await;
    assert_eq!(
        (&me["id"], &me["admin"]),
        (&json!("local"), &json!(true)),
        "{me}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_oidc_token_gives_its_name_email_and_roles() {
    let issuer = Issuer::start(vec![jwk("a")]).await;
    let server = Server::sample_with(|setup| {
        setup.auth = AuthConfig::oidc(issuer.url.clone(), "rat");
    })
    .await;
    let me = |server: &Server, claims: Value| {
        let bearer = format!("Bearer {}", issuer.token("a", claims));
        let request = server
            .http
            .get(server.url("/api/v1/me"))
            .header("authorization", bearer);
        async move {
            let response = request.send().await.unwrap();
            (response.status(), response.json::<Value>().await.unwrap())
        }
    };
    let mut claims = issuer.claims("rat", 300);
    claims["name"] = json!("Alice A.");
    claims["email"] = json!("alice@example.com");
    claims["groups"] = json!(["analyst", "data-engineer", " bad "]);
    let (status, alice) = me(&server, claims.clone()).await;
    assert_eq!(status, StatusCode::OK, "{alice}");
    assert_eq!(alice["id"], "alice");
    assert_eq!(alice["name"], "Alice A.");
    assert_eq!(alice["email"], "alice@example.com");
    // A name that is not a usable role is left out.
    assert_eq!(alice["roles"], json!(["analyst", "data-engineer"]));
    assert_eq!(alice["admin"], false);

    // Roles where Keycloak puts them: a dotted path into the claims.
    let keycloak = Server::sample_with(|setup| {
        setup.auth = AuthConfig::Oidc {
            issuer: issuer.url.clone(),
            audience: "rat".into(),
            jwks_uri: None,
            roles_claim: Some("realm_access.roles".into()),
            sign_in: None,
        };
    })
    .await;
    claims["realm_access"] = json!({"roles": ["admin"]});
    let (_, admin) = me(&keycloak, claims.clone()).await;
    assert_eq!(
        (&admin["roles"], &admin["admin"]),
        (&json!(["admin"]), &json!(true)),
        "{admin}"
    );
    let (_, plain) = me(&server, claims).await;
    assert_eq!(plain["admin"], false, "{plain}");
}

#[tokio::test]
async fn api_keys_and_the_roles_claim_are_validated() {
    let dir = tempfile::tempdir().unwrap();
    let file = |name: &str, key: &str| common::key_file(dir.path(), name, key);
    let named = |name: &str, key: SecretRef, roles: &[&str]| NamedKey {
        name: name.into(),
        key,
        roles: roles.iter().map(|r| r.to_string()).collect(),
    };
    let long = file("long", "k-0123456789abcdef");
    let cases = [
        (vec![], "api_keys"),
        (
            vec![
                named("a", long.clone(), &[]),
                named("a", file("b", "k-abcdef0123456789"), &[]),
            ],
            "two API keys are named 'a'",
        ),
        (
            vec![named("a", long.clone(), &[]), named("b", long.clone(), &[])],
            "api_keys[1].key",
        ),
        (vec![named("a", file("short", "abc"), &[])], "16 characters"),
        (
            vec![named("a", long.clone(), &["bad\nrole"])],
            "api_keys[0]",
        ),
        (vec![named(" ", long.clone(), &[])], "api_keys[0]"),
    ];
    for (keys, named) in cases {
        let mut setup = rat_server::ServerSetup::embedded(dir.path());
        setup.auth = AuthConfig::ApiKey {
            key: None,
            api_keys: keys,
        };
        let err = setup.open().await.unwrap_err().to_string();
        assert!(err.contains(named), "{named}: {err}");
        assert!(!err.contains("k-0123456789abcdef"), "{err}");
    }
    let mut setup = rat_server::ServerSetup::embedded(dir.path());
    setup.auth = AuthConfig::Oidc {
        issuer: "https://login.example".into(),
        audience: "rat".into(),
        jwks_uri: None,
        roles_claim: Some("realm_access..roles".into()),
        sign_in: None,
    };
    let err = setup.open().await.unwrap_err().to_string();
    assert!(err.contains("roles_claim"), "{err}");
    // The YAML form.
    let yaml = "{type: api_key, api_keys: [{name: ci, key: {env: RAT_CI_KEY}, roles: [analyst]}]}";
    let config: AuthConfig = serde_yaml_ng::from_str(yaml).unwrap();
    assert!(
        matches!(config, AuthConfig::ApiKey { key: None, ref api_keys } if api_keys[0].name == "ci")
    );
}
