//! Signing in at the OIDC issuer: `GET /login/oidc` sends the browser to
//! the issuer with a new flow ([`crate::auth::sign_in`]) in its cookie;
//! `GET /login/callback` is where the issuer sends it back with a code,
//! which becomes the session.

use axum::extract::Query;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use serde::Deserialize;

use super::login::{Return, SignInForm, form, over_https, safe_next};
use super::render::{PageError, Shell};
use crate::auth::sign_in::Flow;
use crate::auth::{same, session};

/// What the issuer sends back (RFC 6749 §4.1.2 and §4.1.2.1).
#[derive(Debug, Default, Deserialize)]
pub(super) struct Callback {
    #[serde(default)]
    code: String,
    #[serde(default)]
    state: String,
    error: Option<String>,
    error_description: Option<String>,
}

/// Where the browser reached this server: the origin the issuer's
/// redirect must come back to.
fn origin(headers: &HeaderMap) -> Option<String> {
    let host = headers.get(header::HOST)?.to_str().ok()?;
    let valid = !host.is_empty()
        && host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-.:[]".contains(c));
    let scheme = if over_https(headers) { "https" } else { "http" };
    valid.then(|| format!("{scheme}://{host}"))
}

/// The flow cookie's path: `/login/oidc` and `/login/callback` under the root.
fn flow_path(shell: &Shell) -> String {
    format!("{}login", shell.ui.root)
}

/// The sign-in form again with why, and the flow's cookie gone.
fn refused(shell: &Shell, status: StatusCode, next: &str, why: String) -> Response {
    let page = form(
        shell,
        SignInForm {
            next,
            message: Some(why),
        },
    );
    let mut response = (status, page).into_response();
    let end = Flow::end(&flow_path(shell));
    response.headers_mut().append(header::SET_COOKIE, end);
    response
}

/// The answer where this server does not sign people in at an issuer.
fn not_here() -> Response {
    let error = rat_core::Error::not_found("this server does not sign people in at an OIDC issuer");
    PageError::from(error).into_response()
}

/// `GET /login/oidc?next=`: to the issuer.
pub(super) async fn begin(shell: Shell, headers: HeaderMap, Query(q): Query<Return>) -> Response {
    if !shell.ui.auth.signs_in_at_issuer() {
        return not_here();
    }
    let next = safe_next(&shell.ui, &q.next);
    let Some(origin) = origin(&headers) else {
        let why = "the request names no usable Host".to_owned();
        return refused(&shell, StatusCode::BAD_REQUEST, &next, why);
    };
    match shell
        .ui
        .auth
        .begin_sign_in(&origin, &shell.ui.root, &next)
        .await
    {
        Ok((location, flow)) => {
            let mut response = Redirect::to(&location).into_response();
            let cookie = flow.cookie(&flow_path(&shell), over_https(&headers));
            response.headers_mut().append(header::SET_COOKIE, cookie);
            response
        }
        Err(why) => refused(&shell, StatusCode::BAD_GATEWAY, &next, why),
    }
}

/// `GET /login/callback?code=&state=`: the code redeemed, the session
/// started, then on to where the person was going. That last step is a
/// page of this server, not a redirect: the session cookie is
/// `SameSite=Strict`, and a redirect would still belong to the issuer's
/// cross-site navigation, which does not carry it.
pub(super) async fn finish(
    shell: Shell,
    headers: HeaderMap,
    Query(back): Query<Callback>,
) -> Response {
    if !shell.ui.auth.signs_in_at_issuer() {
        return not_here();
    }
    let Some(flow) = Flow::of(&headers) else {
        let why = "this sign-in was not started in this browser, or took too long: sign in again";
        return refused(&shell, StatusCode::BAD_REQUEST, &shell.ui.root, why.into());
    };
    let next = safe_next(&shell.ui, &flow.next);
    if let Some(error) = back.error {
        let detail = back
            .error_description
            .map_or(String::new(), |d| format!(" ({d})"));
        let why = format!("the issuer did not sign you in: {error}{detail}");
        return refused(&shell, StatusCode::UNAUTHORIZED, &next, why);
    }
    if back.code.is_empty() || !same(back.state.as_bytes(), flow.state.as_bytes()) {
        let why = "this answer is not for the sign-in this browser started: sign in again";
        return refused(&shell, StatusCode::BAD_REQUEST, &next, why.into());
    }
    let Some(origin) = origin(&headers) else {
        let why = "the request names no usable Host".to_owned();
        return refused(&shell, StatusCode::BAD_REQUEST, &next, why);
    };
    let token = match shell
        .ui
        .auth
        .finish_sign_in(&origin, &shell.ui.root, &back.code, &flow)
        .await
    {
        Ok(token) => token,
        Err(why) => return refused(&shell, StatusCode::UNAUTHORIZED, &next, why),
    };
    let page = shell.page(
        "signed-in.html",
        minijinja::context! { title => "Signed in", section => "login", next => next },
    );
    let mut response = match page {
        Ok(Html(body)) => Html(body).into_response(),
        Err(e) => return e.into_response(),
    };
    let cookies = response.headers_mut();
    for cookie in session::start(&token, &shell.ui.root, over_https(&headers)) {
        cookies.append(header::SET_COOKIE, cookie);
    }
    cookies.append(header::SET_COOKIE, Flow::end(&flow_path(&shell)));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_origin_is_the_host_the_browser_asked_with() {
        let with = |pairs: &[(&str, &str)]| {
            let mut headers = HeaderMap::new();
            for (k, v) in pairs {
                headers.insert(
                    axum::http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
                    v.parse().unwrap(),
                );
            }
            origin(&headers)
        };
        assert_eq!(
            with(&[("host", "127.0.0.1:8080")]).unwrap(),
            "http://127.0.0.1:8080"
        );
        let proxied = with(&[("host", "rat.example.com"), ("x-forwarded-proto", "https")]);
        assert_eq!(proxied.unwrap(), "https://rat.example.com");
        assert_eq!(with(&[("host", "evil.example/x?")]), None);
        assert_eq!(with(&[]), None);
    }
}
