//! A pipeline's versions (list, read, roll back to) and its draft (read,
//! publish, discard); drafts are saved by `PUT` with `draft: true`.

use axum::http::StatusCode;

use super::authoring::or_default;
use super::pipelines::{TablePath, table_of};
use super::{Api, Paging};
use crate::api::{Page, PipelineDetail, PipelineVersion, VersionNote, VersionSummary};
use crate::error::{ApiError, ApiResult, Json, Path, Query};
use crate::platform::pipeline_table;

type VersionPath = Path<(String, String, String, String)>;

/// A table and a version number from the path.
fn version_of(
    Path((ns, layer, name, version)): VersionPath,
) -> ApiResult<(rat_core::TableRef, u64)> {
    let table =
        pipeline_table(&ns, &layer, &name).map_err(|e| ApiError::bad_request(e.to_string()))?;
    let version = version.parse().map_err(|_| {
        ApiError::bad_request(format!(
            "version '{}' is not a version number (1, 2, ...)",
            version.escape_default()
        ))
    })?;
    Ok((table, version))
}

pub(super) async fn list(
    Api(api): Api,
    path: TablePath,
    Query(paging): Query<Paging>,
) -> ApiResult<axum::Json<Page<VersionSummary>>> {
    let table = table_of(path)?;
    let page = api
        .pipeline_versions(&table, paging.limit()?, paging.offset())
        .await?;
    Ok(axum::Json(page))
}

pub(super) async fn get(
    Api(api): Api,
    path: VersionPath,
) -> ApiResult<axum::Json<PipelineVersion>> {
    let (table, version) = version_of(path)?;
    Ok(axum::Json(api.pipeline_version(&table, version).await?))
}

pub(super) async fn rollback(
    Api(api): Api,
    path: VersionPath,
    body: Option<Json<VersionNote>>,
) -> ApiResult<axum::Json<PipelineDetail>> {
    let (table, version) = version_of(path)?;
    let note = or_default(body);
    Ok(axum::Json(
        api.rollback_pipeline(&table, version, &note).await?,
    ))
}

pub(super) async fn draft(Api(api): Api, path: TablePath) -> ApiResult<axum::Json<PipelineDetail>> {
    Ok(axum::Json(api.pipeline_draft(&table_of(path)?).await?))
}

pub(super) async fn publish(
    Api(api): Api,
    path: TablePath,
    body: Option<Json<VersionNote>>,
) -> ApiResult<axum::Json<PipelineDetail>> {
    let note = or_default(body);
    Ok(axum::Json(
        api.publish_draft(&table_of(path)?, &note).await?,
    ))
}

pub(super) async fn discard(Api(api): Api, path: TablePath) -> ApiResult<StatusCode> {
    api.discard_draft(&table_of(path)?).await?;
    Ok(StatusCode::NO_CONTENT)
}
