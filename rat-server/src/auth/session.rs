//! Browser sessions: the web IDE keeps the caller's credential (an API key
//! or an OIDC token) in an `HttpOnly`, `SameSite=Strict` cookie, because a
//! browser cannot add an `Authorization` header to a page load or to an
//! `EventSource`. A request carried by that cookie and changing state must
//! also send `X-CSRF-Token`: the value of the readable `rat_csrf` cookie,
//! an HMAC of the session under itself (the "signed double submit" of
//! OWASP's cheat sheet), so another site can neither read nor forge it and
//! any instance of the server can check it without shared state.

use axum::http::{HeaderMap, HeaderValue, Method, header};
use hmac::{Hmac, Mac};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, percent_decode_str, utf8_percent_encode};
use sha2::Sha256;

/// The cookie holding the credential (never readable by scripts).
pub(crate) const SESSION_COOKIE: &str = "rat_session";
/// The cookie holding the CSRF token (readable by the UI's scripts).
pub(crate) const CSRF_COOKIE: &str = "rat_csrf";
/// The header a cookie-carried change must repeat the token in.
pub(crate) const CSRF_HEADER: &str = "x-csrf-token";

/// Bytes a cookie value may hold as they are; the rest is %-encoded (a
/// JWT passes unchanged, an API key may hold anything).
const COOKIE_SAFE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// Where a request's credential came from.
#[derive(Clone, PartialEq, Eq)]
pub(crate) enum Credential {
    /// `Authorization: Bearer` or `X-API-Key`: sent on purpose, so a
    /// forged cross-site request cannot carry it.
    Header(String),
    /// The session cookie: sent by the browser on its own.
    Cookie(String),
}

impl std::fmt::Debug for Credential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Credential::Header(_) => "Header(<redacted>)",
            Credential::Cookie(_) => "Cookie(<redacted>)",
        })
    }
}

impl Credential {
    /// The credential of `headers`: a header's before the cookie's.
    pub(crate) fn of(headers: &HeaderMap) -> Option<Self> {
        let bearer = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .or_else(|| headers.get("x-api-key").and_then(|v| v.to_str().ok()))
            .map(|v| v.trim().to_string());
        bearer
            .map(Credential::Header)
            .or_else(|| cookie(headers, SESSION_COOKIE).map(Credential::Cookie))
    }

    /// The secret itself.
    pub(crate) fn secret(&self) -> &str {
        match self {
            Credential::Header(s) | Credential::Cookie(s) => s,
        }
    }

    /// Why this request may not go on, when it changes state on the
    /// strength of the cookie alone.
    pub(crate) fn forgery(&self, method: &Method, headers: &HeaderMap) -> Option<&'static str> {
        let Credential::Cookie(session) = self else {
            return None;
        };
        if matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS) {
            return None;
        }
        let given = headers.get(CSRF_HEADER).and_then(|v| v.to_str().ok());
        match given {
            None => Some("this change needs the X-CSRF-Token header (the rat_csrf cookie's value)"),
            Some(given) if crate::auth::same(given.as_bytes(), csrf_token(session).as_bytes()) => {
                None
            }
            Some(_) => Some("the X-CSRF-Token header does not match this session"),
        }
    }
}

/// The CSRF token of a session.
pub(crate) fn csrf_token(session: &str) -> String {
    // HMAC-SHA256 accepts a key of any length.
    let mut mac = Hmac::<Sha256>::new_from_slice(session.as_bytes())
        .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
    mac.update(b"rat csrf v1");
    mac.finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The value of cookie `name`, %-decoded.
pub(crate) fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, _)| *key == name)
        .and_then(|(_, value)| percent_decode_str(value).decode_utf8().ok())
        .map(|v| v.into_owned())
        .filter(|v| !v.is_empty())
}

/// The `Set-Cookie` headers starting a session for `secret` under `path`
/// (`Secure` when the browser reached us over HTTPS).
pub(crate) fn start(secret: &str, path: &str, secure: bool) -> [HeaderValue; 2] {
    let secure = if secure { "; Secure" } else { "" };
    let session = format!(
        "{SESSION_COOKIE}={}; Path={path}; HttpOnly; SameSite=Strict{secure}",
        utf8_percent_encode(secret, COOKIE_SAFE)
    );
    let csrf = format!(
        "{CSRF_COOKIE}={}; Path={path}; SameSite=Strict{secure}",
        csrf_token(secret)
    );
    [session, csrf].map(|c| {
        HeaderValue::try_from(c).unwrap_or_else(|_| unreachable!("the value is %-encoded"))
    })
}

/// The `Set-Cookie` headers ending the session.
pub(crate) fn end(path: &str) -> [HeaderValue; 2] {
    [SESSION_COOKIE, CSRF_COOKIE].map(|name| {
        HeaderValue::try_from(format!(
            "{name}=; Path={path}; Max-Age=0; HttpOnly; SameSite=Strict"
        ))
        .unwrap_or_else(|_| unreachable!("a fixed value"))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for (k, v) in pairs {
            headers.append(
                axum::http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
                HeaderValue::from_str(v).unwrap(),
            );
        }
        headers
    }

    #[test]
    fn a_header_beats_the_cookie_and_the_cookie_round_trips() {
        let key = "k e;y=%\"ü";
        let [set, _] = start(key, "/", false);
        let value = set.to_str().unwrap().split(';').next().unwrap().to_string();
        let headers = with(&[("cookie", &format!("other=1; {value}"))]);
        assert_eq!(
            Credential::of(&headers),
            Some(Credential::Cookie(key.into()))
        );
        let headers = with(&[("cookie", &value), ("x-api-key", "abc")]);
        assert_eq!(
            Credential::of(&headers),
            Some(Credential::Header("abc".into()))
        );
        assert_eq!(Credential::of(&with(&[("cookie", "rat_session=")])), None);
    }

    #[test]
    fn a_cookie_carried_change_needs_the_token() {
        let session = Credential::Cookie("secret-key".into());
        let token = csrf_token("secret-key");
        assert!(session.forgery(&Method::GET, &HeaderMap::new()).is_none());
        assert!(session.forgery(&Method::POST, &HeaderMap::new()).is_some());
        let wrong = with(&[(CSRF_HEADER, &csrf_token("another"))]);
        assert!(session.forgery(&Method::DELETE, &wrong).is_some());
        let right = with(&[(CSRF_HEADER, &token)]);
        assert!(session.forgery(&Method::PUT, &right).is_none());
        // A header credential is not ambient: no token asked.
        let header = Credential::Header("secret-key".into());
        assert!(header.forgery(&Method::POST, &HeaderMap::new()).is_none());
        assert!(!format!("{session:?}").contains("secret"));
    }
}
