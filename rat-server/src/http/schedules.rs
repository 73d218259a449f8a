//! Schedules: list, create, read, replace, delete, their firings; the
//! webhook that fires one (outside auth: its token is the credential).

use axum::http::StatusCode;

use super::{Api, Paging};
use axum::http::{HeaderMap, header};

use crate::api::{CronNext, FiringRecord, Page, Schedule, ScheduleRequest};
use crate::error::{ApiError, ApiResult, Json, Path, Query};

pub(super) async fn list(
    Api(api): Api,
    Query(paging): Query<Paging>,
) -> ApiResult<axum::Json<Page<Schedule>>> {
    Ok(axum::Json(paging.page(api.schedules().await?)?))
}

pub(super) async fn create(
    Api(api): Api,
    Json(request): Json<ScheduleRequest>,
) -> ApiResult<(StatusCode, axum::Json<Schedule>)> {
    let created = api.create_schedule(&request).await?;
    Ok((StatusCode::CREATED, axum::Json(created)))
}

pub(super) async fn get(Api(api): Api, Path(id): Path<String>) -> ApiResult<axum::Json<Schedule>> {
    Ok(axum::Json(api.schedule(&id).await?))
}

pub(super) async fn replace(
    Api(api): Api,
    Path(id): Path<String>,
    Json(request): Json<ScheduleRequest>,
) -> ApiResult<axum::Json<Schedule>> {
    Ok(axum::Json(api.replace_schedule(&id, &request).await?))
}

pub(super) async fn delete(Api(api): Api, Path(id): Path<String>) -> ApiResult<StatusCode> {
    api.delete_schedule(&id).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub(super) async fn firings(
    Api(api): Api,
    Path(id): Path<String>,
    Query(paging): Query<Paging>,
) -> ApiResult<axum::Json<Page<FiringRecord>>> {
    let page = api
        .schedule_firings(&id, paging.limit()?, paging.offset())
        .await?;
    Ok(axum::Json(page))
}

/// `POST /webhooks/{id}` with `Authorization: Bearer TOKEN` (or
/// `X-Rat-Token: TOKEN`): the firing, `202`.
pub(super) async fn webhook(
    Api(api): Api,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> ApiResult<(StatusCode, axum::Json<FiringRecord>)> {
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .or_else(|| headers.get("x-rat-token").and_then(|v| v.to_str().ok()))
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::UNAUTHORIZED,
                "unauthorized",
                "a webhook token is required (Authorization: Bearer TOKEN)",
            )
        })?;
    let fired = api.fire_webhook(&id, token).await?;
    Ok((StatusCode::ACCEPTED, axum::Json(fired)))
}

#[derive(Debug, serde::Deserialize)]
pub(super) struct CronQuery {
    expression: String,
    count: Option<usize>,
}

/// `GET /cron?expression=&count=`: when a cron expression fires next.
pub(super) async fn cron(Query(q): Query<CronQuery>) -> ApiResult<axum::Json<CronNext>> {
    let next = crate::next_cron_times(&q.expression, chrono::Utc::now(), q.count.unwrap_or(3))?;
    Ok(axum::Json(CronNext {
        expression: q.expression,
        next,
    }))
}
