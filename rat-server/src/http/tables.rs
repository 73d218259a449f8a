//! Tables: list, describe, history, rollback, preview; read-only SQL.

use serde::Deserialize;

use super::pipelines::table_of;
use super::{Api, Paging};
use crate::api::{
    MaintainRequest, MaintenanceReport, Page, QueryOutput, QueryRequest, Rollback, RollbackRequest,
    SnapshotInfo, TableDetail, TableSummary,
};
use crate::error::{ApiError, ApiResult, Json, Path, Query};
use crate::platform::MAX_QUERY_ROWS;

#[derive(Debug, Deserialize)]
pub(super) struct Filter {
    namespace: Option<String>,
}

pub(super) async fn list(
    Api(api): Api,
    Query(filter): Query<Filter>,
    Query(paging): Query<Paging>,
) -> ApiResult<axum::Json<Page<TableSummary>>> {
    let page = api
        .tables(
            filter.namespace.as_deref(),
            paging.limit()?,
            paging.offset(),
        )
        .await?;
    Ok(axum::Json(page))
}

pub(super) async fn get(
    Api(api): Api,
    path: Path<(String, String, String)>,
) -> ApiResult<axum::Json<TableDetail>> {
    Ok(axum::Json(api.table(&table_of(path)?).await?))
}

#[derive(Debug, Deserialize)]
pub(super) struct Preview {
    rows: Option<u32>,
    /// An earlier snapshot to read instead of `main`'s current one.
    snapshot_id: Option<i64>,
}

pub(super) async fn preview(
    Api(api): Api,
    path: Path<(String, String, String)>,
    Query(preview): Query<Preview>,
) -> ApiResult<axum::Json<QueryOutput>> {
    let rows = preview.rows.unwrap_or(20);
    if !(1..=MAX_QUERY_ROWS).contains(&rows) {
        return Err(ApiError::bad_request(format!(
            "rows {rows} is out of range: 1 to {MAX_QUERY_ROWS}"
        )));
    }
    let table = table_of(path)?;
    Ok(axum::Json(
        api.preview(&table, rows, preview.snapshot_id).await?,
    ))
}

pub(super) async fn query(
    Api(api): Api,
    Json(request): Json<QueryRequest>,
) -> ApiResult<axum::Json<QueryOutput>> {
    Ok(axum::Json(api.query(&request).await?))
}

pub(super) async fn history(
    Api(api): Api,
    path: Path<(String, String, String)>,
) -> ApiResult<axum::Json<Vec<SnapshotInfo>>> {
    Ok(axum::Json(api.history(&table_of(path)?).await?))
}

pub(super) async fn maintain(
    Api(api): Api,
    path: Path<(String, String, String)>,
    Json(request): Json<MaintainRequest>,
) -> ApiResult<axum::Json<MaintenanceReport>> {
    Ok(axum::Json(api.maintain(&table_of(path)?, &request).await?))
}

pub(super) async fn rollback(
    Api(api): Api,
    path: Path<(String, String, String)>,
    Json(request): Json<RollbackRequest>,
) -> ApiResult<axum::Json<Rollback>> {
    Ok(axum::Json(
        api.rollback(&table_of(path)?, request.to).await?,
    ))
}
