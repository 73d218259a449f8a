//! Pipelines: list, read, create, replace, delete, lineage.

use axum::extract::State;
use axum::http::StatusCode;
use serde::Deserialize;

use super::Paging;
use crate::Platform;
use crate::api::{Lineage, NewPipeline, Page, PipelineDetail, PipelineFiles, PipelineSummary};
use crate::error::{ApiError, ApiResult, Json, Path, Query};
use crate::platform::pipeline_table;

#[derive(Debug, Deserialize)]
pub(super) struct Filter {
    namespace: Option<String>,
    layer: Option<String>,
}

type TablePath = Path<(String, String, String)>;

/// A table from its path parts; a malformed part is a bad request.
pub(super) fn table_of(Path((ns, layer, name)): TablePath) -> ApiResult<rat_core::TableRef> {
    pipeline_table(&ns, &layer, &name).map_err(|e| ApiError::bad_request(e.to_string()))
}

pub(super) async fn list(
    State(platform): State<Platform>,
    Query(filter): Query<Filter>,
    Query(paging): Query<Paging>,
) -> ApiResult<axum::Json<Page<PipelineSummary>>> {
    let all = platform
        .pipelines(filter.namespace.as_deref(), filter.layer.as_deref())
        .await?;
    Ok(axum::Json(paging.page(all)?))
}

pub(super) async fn get(
    State(platform): State<Platform>,
    path: TablePath,
) -> ApiResult<axum::Json<PipelineDetail>> {
    Ok(axum::Json(platform.pipeline(&table_of(path)?).await?))
}

pub(super) async fn create(
    State(platform): State<Platform>,
    Json(body): Json<NewPipeline>,
) -> ApiResult<(StatusCode, axum::Json<PipelineDetail>)> {
    let namespace = body
        .namespace
        .as_deref()
        .unwrap_or(rat_core::DEFAULT_NAMESPACE);
    let table = pipeline_table(namespace, &body.layer, &body.name)?;
    let created = platform.create_pipeline(&table, &body.files).await?;
    Ok((StatusCode::CREATED, axum::Json(created)))
}

pub(super) async fn replace(
    State(platform): State<Platform>,
    path: TablePath,
    Json(files): Json<PipelineFiles>,
) -> ApiResult<axum::Json<PipelineDetail>> {
    let table = table_of(path)?;
    Ok(axum::Json(platform.replace_pipeline(&table, &files).await?))
}

pub(super) async fn delete(
    State(platform): State<Platform>,
    path: TablePath,
) -> ApiResult<StatusCode> {
    platform.delete_pipeline(&table_of(path)?).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Deserialize)]
pub(super) struct LineageFilter {
    namespace: Option<String>,
}

pub(super) async fn lineage(
    State(platform): State<Platform>,
    Query(filter): Query<LineageFilter>,
) -> ApiResult<axum::Json<Lineage>> {
    Ok(axum::Json(
        platform.lineage(filter.namespace.as_deref()).await?,
    ))
}
