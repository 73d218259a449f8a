//! A namespace's notification hooks: list, create, read, delete, and each
//! hook's deliveries.

use axum::http::StatusCode;

use super::{Api, Paging};
use crate::api::{Delivery, NewHook, NotificationHook, Page};
use crate::error::{ApiResult, Json, Path, Query};

type HookPath = Path<(String, String)>;

pub(super) async fn list(
    Api(api): Api,
    Path(namespace): Path<String>,
    Query(paging): Query<Paging>,
) -> ApiResult<axum::Json<Page<NotificationHook>>> {
    let hooks = api.notification_hooks(&namespace).await?;
    Ok(axum::Json(paging.page(hooks)?))
}

pub(super) async fn create(
    Api(api): Api,
    Path(namespace): Path<String>,
    Json(hook): Json<NewHook>,
) -> ApiResult<(StatusCode, axum::Json<NotificationHook>)> {
    let created = api.create_notification_hook(&namespace, &hook).await?;
    Ok((StatusCode::CREATED, axum::Json(created)))
}

pub(super) async fn get(
    Api(api): Api,
    Path((namespace, id)): HookPath,
) -> ApiResult<axum::Json<NotificationHook>> {
    Ok(axum::Json(api.notification_hook(&namespace, &id).await?))
}

pub(super) async fn delete(
    Api(api): Api,
    Path((namespace, id)): HookPath,
) -> ApiResult<StatusCode> {
    api.delete_notification_hook(&namespace, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub(super) async fn deliveries(
    Api(api): Api,
    Path((namespace, id)): HookPath,
    Query(paging): Query<Paging>,
) -> ApiResult<axum::Json<Page<Delivery>>> {
    let page = api
        .hook_deliveries(&namespace, &id, paging.limit()?, paging.offset())
        .await?;
    Ok(axum::Json(page))
}
