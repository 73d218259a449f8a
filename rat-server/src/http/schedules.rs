//! Schedules: list, create, read, replace, delete.

use axum::http::StatusCode;

use super::{Api, Paging};
use crate::api::{Page, Schedule, ScheduleRequest};
use crate::error::{ApiResult, Json, Path, Query};

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
