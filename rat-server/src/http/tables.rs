//! Tables: list, describe, preview; read-only SQL.

use axum::extract::State;
use serde::Deserialize;

use super::Paging;
use super::pipelines::table_of;
use crate::Platform;
use crate::api::{Page, QueryOutput, QueryRequest, TableDetail, TableSummary};
use crate::error::{ApiError, ApiResult, Json, Path, Query};
use crate::platform::MAX_QUERY_ROWS;

#[derive(Debug, Deserialize)]
pub(super) struct Filter {
    namespace: Option<String>,
}

pub(super) async fn list(
    State(platform): State<Platform>,
    Query(filter): Query<Filter>,
    Query(paging): Query<Paging>,
) -> ApiResult<axum::Json<Page<TableSummary>>> {
    let all = platform.tables(filter.namespace.as_deref()).await?;
    Ok(axum::Json(paging.page(all)?))
}

pub(super) async fn get(
    State(platform): State<Platform>,
    path: Path<(String, String, String)>,
) -> ApiResult<axum::Json<TableDetail>> {
    Ok(axum::Json(platform.table(&table_of(path)?).await?))
}

#[derive(Debug, Deserialize)]
pub(super) struct Preview {
    rows: Option<u32>,
}

pub(super) async fn preview(
    State(platform): State<Platform>,
    path: Path<(String, String, String)>,
    Query(preview): Query<Preview>,
) -> ApiResult<axum::Json<QueryOutput>> {
    let rows = preview.rows.unwrap_or(20);
    if !(1..=MAX_QUERY_ROWS).contains(&rows) {
        return Err(ApiError::bad_request(format!(
            "rows {rows} is out of range: 1 to {MAX_QUERY_ROWS}"
        )));
    }
    Ok(axum::Json(platform.preview(&table_of(path)?, rows).await?))
}

pub(super) async fn query(
    State(platform): State<Platform>,
    Json(request): Json<QueryRequest>,
) -> ApiResult<axum::Json<QueryOutput>> {
    Ok(axum::Json(platform.query(&request).await?))
}
