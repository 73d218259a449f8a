//! Pipelines: list, read, create, replace, delete, lineage.

use axum::http::StatusCode;
use serde::Deserialize;

use super::{Api, Paging};
use crate::api::{Lineage, NewPipeline, Page, PipelineDetail, PipelineSummary, SavePipeline};
use crate::error::{ApiError, ApiResult, Json, Path, Query};
use crate::platform::pipeline_table;

#[derive(Debug, Deserialize)]
pub(super) struct Filter {
    namespace: Option<String>,
    layer: Option<String>,
}

pub(super) type TablePath = Path<(String, String, String)>;

/// A table from its path parts; a malformed part is a bad request.
pub(super) fn table_of(Path((ns, layer, name)): TablePath) -> ApiResult<rat_core::TableRef> {
    pipeline_table(&ns, &layer, &name).map_err(|e| ApiError::bad_request(e.to_string()))
}

pub(super) async fn list(
    Api(api): Api,
    Query(filter): Query<Filter>,
    Query(paging): Query<Paging>,
) -> ApiResult<axum::Json<Page<PipelineSummary>>> {
    let all = api
        .pipelines(filter.namespace.as_deref(), filter.layer.as_deref())
        .await?;
    Ok(axum::Json(paging.page(all)?))
}

pub(super) async fn get(Api(api): Api, path: TablePath) -> ApiResult<axum::Json<PipelineDetail>> {
    Ok(axum::Json(api.pipeline(&table_of(path)?).await?))
}

pub(super) async fn create(
    Api(api): Api,
    Json(body): Json<NewPipeline>,
) -> ApiResult<(StatusCode, axum::Json<PipelineDetail>)> {
    let created = api.create_pipeline(&body).await?;
    Ok((StatusCode::CREATED, axum::Json(created)))
}

pub(super) async fn replace(
    Api(api): Api,
    path: TablePath,
    Json(save): Json<SavePipeline>,
) -> ApiResult<axum::Json<PipelineDetail>> {
    let table = table_of(path)?;
    Ok(axum::Json(api.replace_pipeline(&table, &save).await?))
}

pub(super) async fn delete(Api(api): Api, path: TablePath) -> ApiResult<StatusCode> {
    api.delete_pipeline(&table_of(path)?).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Deserialize)]
pub(super) struct LineageFilter {
    namespace: Option<String>,
}

pub(super) async fn lineage(
    Api(api): Api,
    Query(filter): Query<LineageFilter>,
) -> ApiResult<axum::Json<Lineage>> {
    Ok(axum::Json(api.lineage(filter.namespace.as_deref()).await?))
}
