//! The audit log at the request boundary: every request that changes
//! something, and every request authentication or an access check
//! refused, is appended (who, the verb as method and route, the path,
//! the outcome, the request id) once it has been answered; and `GET
//! /audit` reads it. Query strings and bodies are never recorded, so no
//! token or secret can reach the log.

use std::sync::Arc;

use axum::extract::{MatchedPath, OriginalUri, Request, State};
use axum::http::{Method, StatusCode};
use axum::middleware::Next;
use axum::response::Response;
use chrono::{SubsecRound, Utc};
use rat_core::audit::{AuditEntry, AuditOutcome};

use super::{Api, Paging, REQUEST_ID};
use crate::api::{AuditQuery, Page, PlatformApi};
use crate::auth::Principal;
use crate::error::{ApiResult, Denied, Query};

/// Routes a POST reaches that only read (dry runs, queries).
const READ_ONLY_POSTS: [&str; 4] = ["/preview", "/compile", "/tests/run", "/query"];

/// Appends the entry of a request that changed something or was refused.
pub(super) async fn record(
    State(api): State<Arc<dyn PlatformApi>>,
    request: Request,
    next: Next,
) -> Response {
    let method = request.method().clone();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |p| p.as_str().to_owned());
    // The path as the caller sent it (a nested router sees it without its
    // prefix), decoded so filters match `role:x` however it was escaped.
    let path = request
        .extensions()
        .get::<OriginalUri>()
        .map_or_else(|| request.uri().path(), |uri| uri.path());
    let object = percent_encoding::percent_decode_str(path)
        .decode_utf8_lossy()
        .into_owned();
    let request_id = request
        .headers()
        .get(&REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let response = next.run(request).await;
    let status = response.status();
    let denied = matches!(status, StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN)
        || response.extensions().get::<Denied>().is_some();
    if !(denied || changes(&method, &route)) {
        return response;
    }
    let Some(auditor) = api.auditor() else {
        return response;
    };
    let principal = response
        .extensions()
        .get::<Principal>()
        .map_or_else(|| anonymous(&route, status), |p| p.id.clone());
    let entry = AuditEntry {
        id: uuid::Uuid::now_v7().simple().to_string(),
        at: Utc::now().trunc_subsecs(6),
        principal,
        verb: format!("{method} {route}"),
        object,
        outcome: match (denied, status.is_success()) {
            (true, _) => AuditOutcome::Denied,
            (false, true) => AuditOutcome::Ok,
            (false, false) => AuditOutcome::Failed,
        },
        status: status.as_u16(),
        request_id,
    };
    if let Err(e) = auditor.record_audit(&entry).await {
        tracing::error!(verb = %entry.verb, "cannot append to the audit log: {e}");
    }
    response
}

/// Who a request without a principal was: a webhook's caller (its token
/// is its credential), nobody when authentication refused it, else the
/// one implicit admin of auth `none`.
fn anonymous(route: &str, status: StatusCode) -> String {
    if route.starts_with("/api/v1/webhooks/") {
        return "webhook".to_owned();
    }
    match status {
        StatusCode::UNAUTHORIZED => "anonymous".to_owned(),
        _ => crate::platform::IMPLICIT_ADMIN.to_owned(),
    }
}

/// Whether a request of `method` to `route` may change something.
fn changes(method: &Method, route: &str) -> bool {
    match *method {
        Method::GET | Method::HEAD | Method::OPTIONS => false,
        Method::POST => !READ_ONLY_POSTS.iter().any(|tail| route.ends_with(tail)),
        _ => true,
    }
}

pub(super) async fn entries(
    Api(api): Api,
    Query(params): Query<AuditParams>,
) -> ApiResult<axum::Json<Page<AuditEntry>>> {
    let paging = Paging {
        limit: params.limit,
        offset: params.offset,
    };
    let query = AuditQuery {
        principal: params.principal,
        object: params.object,
        verb: params.verb,
        outcome: params.outcome,
        since: params.since,
        until: params.until,
    };
    let page = api
        .audit_log(&query, paging.limit()?, paging.offset())
        .await?;
    Ok(axum::Json(page))
}

/// The query string of `GET /audit`: [`AuditQuery`] and paging.
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct AuditParams {
    principal: Option<String>,
    object: Option<String>,
    verb: Option<String>,
    outcome: Option<AuditOutcome>,
    since: Option<chrono::DateTime<Utc>>,
    until: Option<chrono::DateTime<Utc>>,
    limit: Option<u32>,
    #[serde(default)]
    offset: u32,
}
