//! The caller itself and sharing: `/me`, `/sharing`, `/sharing/{id}`,
//! `/sharing/transfer`, and namespaces' members.

use axum::http::StatusCode;

use super::{Api, Paging};
use crate::api::{Grant, Me, NamespaceMembers, NewGrant, Ownership, Page, Transfer};
use crate::error::{ApiResult, Json, Path, Query};

pub(super) async fn me(Api(api): Api) -> ApiResult<axum::Json<Me>> {
    Ok(axum::Json(api.me().await?))
}

pub(super) async fn share(
    Api(api): Api,
    Json(body): Json<NewGrant>,
) -> ApiResult<(StatusCode, axum::Json<Grant>)> {
    Ok((StatusCode::CREATED, axum::Json(api.share(&body).await?)))
}

pub(super) async fn grants(
    Api(api): Api,
    Query(paging): Query<Paging>,
) -> ApiResult<axum::Json<Page<Grant>>> {
    let page = api.grants(paging.limit()?, paging.offset()).await?;
    Ok(axum::Json(page))
}

pub(super) async fn unshare(Api(api): Api, Path(id): Path<String>) -> ApiResult<StatusCode> {
    api.unshare(&id).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub(super) async fn transfer(
    Api(api): Api,
    Json(body): Json<Transfer>,
) -> ApiResult<axum::Json<Ownership>> {
    Ok(axum::Json(api.transfer(&body).await?))
}

pub(super) async fn members(
    Api(api): Api,
    Path(namespace): Path<String>,
) -> ApiResult<axum::Json<NamespaceMembers>> {
    Ok(axum::Json(api.namespace_members(&namespace).await?))
}

pub(super) async fn add_member(
    Api(api): Api,
    Path((namespace, member)): Path<(String, String)>,
) -> ApiResult<axum::Json<NamespaceMembers>> {
    Ok(axum::Json(
        api.add_namespace_member(&namespace, &member).await?,
    ))
}

pub(super) async fn remove_member(
    Api(api): Api,
    Path((namespace, member)): Path<(String, String)>,
) -> ApiResult<axum::Json<NamespaceMembers>> {
    Ok(axum::Json(
        api.remove_namespace_member(&namespace, &member).await?,
    ))
}
