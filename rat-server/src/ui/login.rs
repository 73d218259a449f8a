//! Signing in and out of the web IDE, and the gate in front of its pages.
//!
//! A person signs in by pasting what the API would take in its
//! `Authorization` header (an API key, or an OIDC access token), or at the
//! OIDC issuer ([`super::issuer`]); once the server accepts the
//! credential, it lives in the session cookie
//! ([`crate::auth::session`]) and every page and API call the UI makes
//! carries it. A page asked for without a session leads to the form and
//! back.

use std::sync::Arc;

use axum::Form;
use axum::extract::{Query, Request, State};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

use super::render::{PageResult, Shell, Ui};
use crate::auth::{self, Credential, session};

/// `?next=` of the form: where to go once signed in.
#[derive(Debug, Default, Deserialize)]
pub(super) struct Return {
    #[serde(default)]
    pub(super) next: String,
}

/// The form's fields.
#[derive(Debug, Default, Deserialize)]
pub(super) struct SignIn {
    #[serde(default)]
    credential: String,
    #[serde(default)]
    next: String,
}

/// What the form shows (never the credential typed).
pub(super) struct SignInForm<'a> {
    pub(super) next: &'a str,
    pub(super) message: Option<String>,
}

pub(super) fn form(shell: &Shell, form: SignInForm<'_>) -> PageResult {
    let asked_for = match shell.ui.auth.kind() {
        "oidc" => "Access token (OIDC)",
        _ => "API key",
    };
    shell.page(
        "login.html",
        minijinja::context! {
            title => "Sign in",
            section => "login",
            asked_for => asked_for,
            at_issuer => shell.ui.auth.signs_in_at_issuer(),
            next => form.next,
            message => form.message,
        },
    )
}

/// `GET /login`: the form (straight on when nobody is asked).
pub(super) async fn page(shell: Shell, Query(q): Query<Return>) -> Response {
    if !shell.ui.auth.asks() {
        return Redirect::to(&shell.ui.root).into_response();
    }
    let next = safe_next(&shell.ui, &q.next);
    form(
        &shell,
        SignInForm {
            next: &next,
            message: None,
        },
    )
    .into_response()
}

/// `POST /login`: checks the credential as the API would, then starts the
/// session and goes on; a refusal shows the form again with why.
pub(super) async fn sign_in(
    shell: Shell,
    headers: HeaderMap,
    Form(given): Form<SignIn>,
) -> Response {
    let next = safe_next(&shell.ui, &given.next);
    let credential = given.credential.trim();
    if credential.is_empty() {
        let message = Some("paste an API key or an access token".to_string());
        let page = form(
            &shell,
            SignInForm {
                next: &next,
                message,
            },
        );
        return (StatusCode::UNPROCESSABLE_ENTITY, page).into_response();
    }
    match shell
        .ui
        .auth
        .check(Some(&Credential::Header(credential.to_string())))
        .await
    {
        Ok(_) => {
            let mut response = Redirect::to(&next).into_response();
            for cookie in session::start(credential, &shell.ui.root, over_https(&headers)) {
                response.headers_mut().append(header::SET_COOKIE, cookie);
            }
            response
        }
        Err(why) => {
            let page = form(
                &shell,
                SignInForm {
                    next: &next,
                    message: Some(why),
                },
            );
            (StatusCode::UNAUTHORIZED, page).into_response()
        }
    }
}

/// `POST /logout`: ends the session (harmless to forge: it only signs the
/// browser out).
pub(super) async fn sign_out(shell: Shell) -> Response {
    let mut response = Redirect::to(&format!("{}login", shell.ui.root)).into_response();
    for cookie in session::end(&shell.ui.root) {
        response.headers_mut().append(header::SET_COOKIE, cookie);
    }
    response
}

/// In front of every page: what the API's check says, except that a page
/// asked for without credentials leads to the sign-in form and back.
pub(super) async fn gate(State(ui): State<Arc<Ui>>, request: Request, next: Next) -> Response {
    let method = request.method().clone();
    // The path as the browser asked for it: under the UI's base path.
    let wanted = format!(
        "{}{}",
        ui.root.trim_end_matches('/'),
        request.uri().path_and_query().map_or("/", |p| p.as_str())
    );
    let signed_in = Credential::of(request.headers()).is_some();
    let response = auth::require(State(ui.auth.clone()), request, next).await;
    if response.status() == StatusCode::UNAUTHORIZED && method == Method::GET {
        let mut to = format!("{}login?next=", ui.root);
        to.extend(percent_encoding::utf8_percent_encode(
            &wanted,
            percent_encoding::NON_ALPHANUMERIC,
        ));
        let mut redirect = Redirect::to(&to).into_response();
        if signed_in {
            // The session was refused (a key removed, a token expired).
            for cookie in session::end(&ui.root) {
                redirect.headers_mut().append(header::SET_COOKIE, cookie);
            }
        }
        return redirect;
    }
    response
}

/// `next` when it is a path of this UI, else the UI's root: the form never
/// sends anyone to another site.
pub(super) fn safe_next(ui: &Ui, next: &str) -> String {
    let inside = next.starts_with(&ui.root)
        && !next.starts_with("//")
        && !next.contains('\\')
        && !next.chars().any(char::is_control);
    if inside && !next.starts_with(&format!("{}login", ui.root)) {
        next.to_string()
    } else {
        ui.root.clone()
    }
}

/// Whether the browser reached us over HTTPS (directly or through a proxy
/// that says so), so the cookies are marked `Secure`.
pub(super) fn over_https(headers: &HeaderMap) -> bool {
    headers
        .get("x-forwarded-proto")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("https"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::Authenticator;

    #[test]
    fn next_stays_inside_the_ui() {
        let ui = Ui::new("/rat/", Authenticator::none());
        for (given, want) in [
            ("/rat/runs?status=failed", "/rat/runs?status=failed"),
            ("https://evil.example/", "/rat/"),
            ("//evil.example/rat/", "/rat/"),
            ("/other/", "/rat/"),
            ("/rat/login", "/rat/"),
            ("/rat/\\evil", "/rat/"),
            ("", "/rat/"),
        ] {
            assert_eq!(safe_next(&ui, given), want, "{given}");
        }
    }
}
