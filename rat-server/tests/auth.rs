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
use rat_server::auth::{AuthConfig, MIN_KEY_REFRESH};
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
        setup.auth = AuthConfig::ApiKey {
            key: SecretRef::File(key_file),
        };
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
        json!({"iss": self.url, "aud": audience, "sub": "alice", "iat": now, "exp": now + expires_in})
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oidc_tokens_are_checked_against_the_issuers_keys() {
    let issuer = Issuer::start(vec![jwk("a")]).await;
    let server = Server::sample_with(|setup| {
        setup.auth = AuthConfig::Oidc {
            issuer: issuer.url.clone(),
            audience: "rat".into(),
            jwks_uri: None,
        };
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
        ("{type: api_key}", "key"),
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
        (
            AuthConfig::Oidc {
                issuer: "login.example".into(),
                audience: "rat".into(),
                jwks_uri: None,
            },
            "issuer",
        ),
        (
            AuthConfig::Oidc {
                issuer: "https://x".into(),
                audience: " ".into(),
                jwks_uri: None,
            },
            "audience",
        ),
        (
            AuthConfig::ApiKey {
                key: SecretRef::Env("RAT_TEST_NO_SUCH_VARIABLE".into()),
            },
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
    setup.auth = AuthConfig::ApiKey {
        key: SecretRef::File(short),
    };
    let err = setup.open().await.unwrap_err().to_string();
    assert!(
        err.contains("16 characters") && !err.contains("abc'"),
        "{err}"
    );
}
