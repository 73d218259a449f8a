//! Signing in to the web IDE over a real server with API keys: the form,
//! the session cookie and what it lets through, CSRF on every change the
//! cookie alone would carry, signing out, and no login at all without
//! authentication.
#![allow(clippy::unwrap_used)]

mod common;

use common::oidc_issuer::OidcIssuer;
use common::{Server, team, team_key};
use rat_server::auth::{AuthConfig, OidcSignIn};
use reqwest::header::{COOKIE, LOCATION, SET_COOKIE};
use reqwest::{Client, StatusCode, redirect};
use serde_json::{Value, json};

/// A client that shows redirects instead of following them.
fn browser() -> Client {
    Client::builder()
        .redirect(redirect::Policy::none())
        .build()
        .unwrap()
}

/// `Set-Cookie` headers of a response, whole.
fn set_cookies(response: &reqwest::Response) -> Vec<String> {
    response
        .headers()
        .get_all(SET_COOKIE)
        .iter()
        .map(|v| v.to_str().unwrap().to_string())
        .collect()
}

/// `name=value` of the cookie `name` among `cookies`.
fn pair(cookies: &[String], name: &str) -> String {
    cookies
        .iter()
        .find(|c| c.starts_with(&format!("{name}=")))
        .unwrap_or_else(|| panic!("no {name} in {cookies:?}"))
        .split(';')
        .next()
        .unwrap()
        .to_string()
}

async fn sign_in(server: &Server, credential: &str, next: &str) -> reqwest::Response {
    browser()
        .post(server.url("/login"))
        .form(&[("credential", credential), ("next", next)])
        .send()
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_form_starts_a_session_the_pages_and_the_api_accept() {
    let server = team(&[("ada", &["admin"]), ("otto", &[])], |_| {}).await;
    let ui = browser();

    // A page without a session: to the form, and back after.
    let bare = ui
        .get(server.url("/runs?status=failed"))
        .send()
        .await
        .unwrap();
    assert_eq!(bare.status(), StatusCode::SEE_OTHER);
    let to = bare.headers()[LOCATION].to_str().unwrap().to_string();
    assert_eq!(to, "/login?next=%2Fruns%3Fstatus%3Dfailed");
    let form = ui.get(server.url(&to)).send().await.unwrap();
    assert_eq!(form.status(), StatusCode::OK);
    let form = form.text().await.unwrap().replace("&#x2f;", "/");
    assert!(
        form.contains(r#"name="next" value="/runs?status=failed""#)
            && form.contains(r#"type="password""#)
            && form.contains("API key"),
        "{form}"
    );

    // A wrong key: the form again, with why, and no cookie.
    let wrong = sign_in(&server, "not-a-key-at-all-000", "/runs").await;
    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
    assert!(set_cookies(&wrong).is_empty());
    let wrong = wrong.text().await.unwrap();
    assert!(
        wrong.contains("the API key is not valid") && !wrong.contains("not-a-key-at-all"),
        "{wrong}"
    );
    let empty = sign_in(&server, "  ", "/").await;
    assert_eq!(empty.status(), StatusCode::UNPROCESSABLE_ENTITY);

    // The right key: the cookies, then where the person was going.
    let signed = sign_in(&server, &team_key("ada"), "/runs?status=failed").await;
    assert_eq!(signed.status(), StatusCode::SEE_OTHER);
    assert_eq!(signed.headers()[LOCATION], "/runs?status=failed");
    let cookies = set_cookies(&signed);
    let session_cookie = cookies
        .iter()
        .find(|c| c.starts_with("rat_session="))
        .unwrap();
    for attribute in ["HttpOnly", "SameSite=Strict", "Path=/"] {
        assert!(session_cookie.contains(attribute), "{session_cookie}");
    }
    let csrf_cookie = cookies.iter().find(|c| c.starts_with("rat_csrf=")).unwrap();
    assert!(
        !csrf_cookie.contains("HttpOnly"),
        "scripts read it: {csrf_cookie}"
    );
    let csrf = pair(&cookies, "rat_csrf")["rat_csrf=".len()..].to_string();
    assert!(!csrf.contains(&team_key("ada")));
    let jar = format!(
        "{}; {}",
        pair(&cookies, "rat_session"),
        pair(&cookies, "rat_csrf")
    );

    let home = ui
        .get(server.url("/"))
        .header(COOKIE, &jar)
        .send()
        .await
        .unwrap();
    assert_eq!(home.status(), StatusCode::OK);
    assert!(home.text().await.unwrap().contains("Sign out"));
    let me = ui
        .get(server.url("/api/v1/me"))
        .header(COOKIE, &jar)
        .send()
        .await
        .unwrap();
    assert_eq!(me.status(), StatusCode::OK);
    assert_eq!(me.json::<Value>().await.unwrap()["id"], "ada");

    // A change carried by the cookie alone is refused; with the token it
    // goes through. A header credential needs no token.
    let body = json!({"name": "scratch"});
    let forged = ui
        .post(server.url("/api/v1/namespaces"))
        .header(COOKIE, &jar)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), StatusCode::FORBIDDEN);
    let forged: Value = forged.json().await.unwrap();
    assert_eq!(forged["error"]["code"], "csrf", "{forged}");
    let mistaken = ui
        .post(server.url("/api/v1/namespaces"))
        .header(COOKIE, &jar)
        .header("x-csrf-token", "0".repeat(64))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(mistaken.status(), StatusCode::FORBIDDEN);
    let made = ui
        .post(server.url("/api/v1/namespaces"))
        .header(COOKIE, &jar)
        .header("x-csrf-token", &csrf)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(
        made.status(),
        StatusCode::CREATED,
        "{}",
        made.text().await.unwrap()
    );
    let (status, namespace) = server.get("/api/v1/namespaces/scratch").await;
    assert_eq!(status, StatusCode::OK, "{namespace}");
    // Both refusals are in the audit log, as refusals.
    let (_, audit) = server
        .get("/api/v1/audit?object=/api/v1/namespaces&limit=100")
        .await;
    let refused: Vec<&Value> = audit["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["status"] == 403)
        .collect();
    assert_eq!(refused.len(), 2, "{audit}");

    // Signing out ends both cookies.
    let out = ui
        .post(server.url("/logout"))
        .header(COOKIE, &jar)
        .send()
        .await
        .unwrap();
    assert_eq!(out.status(), StatusCode::SEE_OTHER);
    assert_eq!(out.headers()[LOCATION], "/login");
    let ended = set_cookies(&out);
    assert!(
        ended.iter().all(|c| c.contains("Max-Age=0")) && ended.len() == 2,
        "{ended:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_session_is_ended_and_next_never_leaves_the_ui() {
    let server = team(&[("ada", &["admin"])], |_| {}).await;
    let stale = browser()
        .get(server.url("/tables"))
        .header(COOKIE, "rat_session=removed-key-0123456789")
        .send()
        .await
        .unwrap();
    assert_eq!(stale.status(), StatusCode::SEE_OTHER);
    assert_eq!(stale.headers()[LOCATION], "/login?next=%2Ftables");
    assert!(
        set_cookies(&stale)
            .iter()
            .any(|c| c.starts_with("rat_session=;"))
    );
    // The API answers 401 to the same cookie (no redirect for scripts).
    let api = browser()
        .get(server.url("/api/v1/pipelines"))
        .header(COOKIE, "rat_session=removed-key-0123456789")
        .send()
        .await
        .unwrap();
    assert_eq!(api.status(), StatusCode::UNAUTHORIZED);

    for next in [
        "https://evil.example/",
        "//evil.example/",
        "/login",
        "/\\evil",
    ] {
        let signed = sign_in(&server, &team_key("ada"), next).await;
        assert_eq!(signed.status(), StatusCode::SEE_OTHER, "{next}");
        assert_eq!(signed.headers()[LOCATION], "/", "{next}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_issuer_sign_in_starts_with_pkce_and_refuses_what_it_did_not_start() {
    let issuer = OidcIssuer::start();
    let server = Server::sample_with(|setup| {
        setup.auth = AuthConfig::oidc(issuer.url.clone(), "rat")
            .with_sign_in(OidcSignIn::public_client("rat-ide"));
    })
    .await;
    issuer.register(&server.url("/login/callback")).await;
    let get = |path: &str, cookie: Option<&str>| {
        let mut request = browser().get(server.url(path));
        if let Some(cookie) = cookie {
            request = request.header(COOKIE, cookie);
        }
        request.send()
    };
    let login = get("/login?next=%2Fruns", None)
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        login.contains(r#"href="login/oidc?next=&#x2f;runs""#),
        "{login}"
    );

    // To the issuer's authorization endpoint, its flow in a Lax cookie.
    let started = get("/login/oidc?next=%2Fruns", None).await.unwrap();
    assert_eq!(started.status(), StatusCode::SEE_OTHER);
    let to = url::Url::parse(started.headers()[LOCATION].to_str().unwrap()).unwrap();
    assert!(
        to.as_str().starts_with(&format!("{}/auth?", issuer.url)),
        "{to}"
    );
    let query: std::collections::HashMap<_, _> = to.query_pairs().into_owned().collect();
    assert_eq!(query["client_id"], "rat-ide");
    assert_eq!(query["code_challenge_method"], "S256");
    assert_eq!(query["scope"], "openid profile email");
    assert_eq!(query["redirect_uri"], server.url("/login/callback"));
    let cookies = set_cookies(&started);
    let flow = cookies.iter().find(|c| c.starts_with("rat_oidc=")).unwrap();
    assert!(
        flow.contains("Path=/login; Max-Age=600; HttpOnly; SameSite=Lax"),
        "{flow}"
    );
    assert!(flow.contains(&query["state"]), "{flow}");
    let flow = pair(&cookies, "rat_oidc");

    // The issuer's refusal, said; a state this browser did not get, or
    // no flow at all, refused; each ends the flow.
    let refused = get(
        "/login/callback?error=access_denied&error_description=no%20thanks",
        Some(&flow),
    )
    .await
    .unwrap();
    assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);
    assert!(
        set_cookies(&refused)
            .iter()
            .any(|c| c.starts_with("rat_oidc=;"))
    );
    let page = refused.text().await.unwrap();
    assert!(
        page.contains("did not sign you in: access_denied (no thanks)"),
        "{page}"
    );
    let forged = get("/login/callback?code=abc&state=forged", Some(&flow))
        .await
        .unwrap();
    assert_eq!(forged.status(), StatusCode::BAD_REQUEST);
    assert!(
        forged
            .text()
            .await
            .unwrap()
            .contains("not for the sign-in this browser started")
    );
    let stray = get("/login/callback?code=abc&state=x", None).await.unwrap();
    assert_eq!(stray.status(), StatusCode::BAD_REQUEST);
    // A right state with a code the issuer never gave: its refusal.
    let state = &query["state"];
    let bad_code = get(
        &format!("/login/callback?code=made-up&state={state}"),
        Some(&flow),
    )
    .await
    .unwrap();
    assert_eq!(bad_code.status(), StatusCode::UNAUTHORIZED);
    let page = bad_code.text().await.unwrap();
    assert!(
        page.contains("the issuer refused the sign-in: invalid_grant"),
        "{page}"
    );
    assert!(!page.contains(state.as_str()), "no flow secret on the page");

    // Where nobody signs in at an issuer, the routes are not there.
    let keys = team(&[("ada", &["admin"])], |_| {}).await;
    let none = browser().get(keys.url("/login/oidc")).send().await.unwrap();
    assert_eq!(none.status(), StatusCode::NOT_FOUND);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_authentication_there_is_nothing_to_sign_in_to() {
    let server = Server::sample().await;
    let login = browser().get(server.url("/login")).send().await.unwrap();
    assert_eq!(login.status(), StatusCode::SEE_OTHER);
    assert_eq!(login.headers()[LOCATION], "/");
    let home = browser()
        .get(server.url("/"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(!home.contains("Sign out"), "{home}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn under_a_base_path_everything_answers_below_it() {
    let base = rat_server::http::BasePath::parse("/tools/rat/").unwrap();
    let server = team(&[("ada", &["admin"])], |setup| setup.base_path = base).await;
    let ui = browser();
    let get = |path: &str| {
        ui.get(server.url(path))
            .header("x-api-key", team_key("ada"))
            .send()
    };
    assert_eq!(
        get("/tools/rat/api/v1/pipelines").await.unwrap().status(),
        StatusCode::OK
    );
    assert_eq!(
        get("/tools/rat/health").await.unwrap().status(),
        StatusCode::OK
    );
    assert_eq!(
        get("/api/v1/pipelines").await.unwrap().status(),
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        get("/tools/ratx/").await.unwrap().status(),
        StatusCode::NOT_FOUND
    );
    let bare = get("/tools/rat").await.unwrap();
    assert_eq!(bare.status(), StatusCode::PERMANENT_REDIRECT);
    assert_eq!(bare.headers()[LOCATION], "/tools/rat/");
    let home = get("/tools/rat/").await.unwrap().text().await.unwrap();
    assert!(
        home.replace("&#x2f;", "/")
            .contains(r#"<base href="/tools/rat/">"#),
        "{home}"
    );
    assert_eq!(
        get("/tools/rat/assets/app.js").await.unwrap().status(),
        StatusCode::OK
    );

    // Signing in stays under the prefix: the form, next, the cookie's path.
    let page = ui.get(server.url("/tools/rat/runs")).send().await.unwrap();
    assert_eq!(
        page.headers()[LOCATION],
        "/tools/rat/login?next=%2Ftools%2Frat%2Fruns"
    );
    let signed = browser()
        .post(server.url("/tools/rat/login"))
        .form(&[
            ("credential", team_key("ada").as_str()),
            ("next", "/tools/rat/runs"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(signed.headers()[LOCATION], "/tools/rat/runs");
    assert!(
        set_cookies(&signed)
            .iter()
            .all(|c| c.contains("Path=/tools/rat/"))
    );
    // The audit log names objects below the prefix, as anywhere.
    let refused = ui
        .get(server.url("/tools/rat/api/v1/pipelines"))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);
    let (_, audit) = server.get("/tools/rat/api/v1/audit?limit=100").await;
    assert!(
        audit["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["object"] == "/api/v1/pipelines"),
        "{audit}"
    );
}

#[test]
fn a_base_path_is_validated_where_it_is_configured() {
    let dir = tempfile::tempdir().unwrap();
    let load =
        |yaml: &str| rat_server::ServerSetup::from_yaml(yaml, dir.path(), dir.path(), Vec::new());
    let (setup, _) = load("server: {base_path: /rat/}").unwrap();
    assert_eq!(setup.base_path.as_str(), "/rat");
    for bad in ["rat", "/a/../b", "/a b", "/ä"] {
        let err = load(&format!("server: {{base_path: '{bad}'}}"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("server.base_path"), "{bad}: {err}");
    }
}
