//! Schedules: list, create, read, replace, delete.

use axum::extract::State;
use axum::http::StatusCode;

use super::Paging;
use crate::Platform;
use crate::api::{Page, Schedule, ScheduleRequest};
use crate::error::{ApiResult, Json, Path, Query};

pub(super) async fn list(
    State(platform): State<Platform>,
    Query(paging): Query<Paging>,
) -> ApiResult<axum::Json<Page<Schedule>>> {
    Ok(axum::Json(paging.page(platform.schedules().await?)?))
}

pub(super) async fn create(
    State(platform): State<Platform>,
    Json(request): Json<ScheduleRequest>,
) -> ApiResult<(StatusCode, axum::Json<Schedule>)> {
    let created = platform.create_schedule(&request).await?;
    Ok((StatusCode::CREATED, axum::Json(created)))
}

pub(super) async fn get(
    State(platform): State<Platform>,
    Path(id): Path<String>,
) -> ApiResult<axum::Json<Schedule>> {
    Ok(axum::Json(platform.schedule(&id).await?))
}

pub(super) async fn replace(
    State(platform): State<Platform>,
    Path(id): Path<String>,
    Json(request): Json<ScheduleRequest>,
) -> ApiResult<axum::Json<Schedule>> {
    Ok(axum::Json(platform.replace_schedule(&id, &request).await?))
}

pub(super) async fn delete(
    State(platform): State<Platform>,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    platform.delete_schedule(&id).await?;
    Ok(StatusCode::NO_CONTENT)
}
