//! A pipeline's quality tests (list, read, add, write, delete, run on
//! `main`), compile and preview.

use axum::http::StatusCode;

use super::pipelines::{TablePath, table_of};
use super::{Api, Paging};
use crate::api::{
    CompiledPipeline, NewQualityTest, Page, PipelinePreview, PreviewRequest, QualityTest,
    QualityTestSql, TestReport, TestRunRequest,
};
use crate::error::{ApiError, ApiResult, Json, Path, Query};
use crate::platform::pipeline_table;

type TestPath = Path<(String, String, String, String)>;

/// A table and a test name from the path.
fn test_of(Path((ns, layer, name, test)): TestPath) -> ApiResult<(rat_core::TableRef, String)> {
    let table =
        pipeline_table(&ns, &layer, &name).map_err(|e| ApiError::bad_request(e.to_string()))?;
    Ok((table, test))
}

/// An optional body's value; no body asks for the defaults.
pub(super) fn or_default<T: Default>(body: Option<Json<T>>) -> T {
    body.map(|Json(b)| b).unwrap_or_default()
}

pub(super) async fn list(
    Api(api): Api,
    path: TablePath,
    Query(paging): Query<Paging>,
) -> ApiResult<axum::Json<Page<QualityTest>>> {
    let tests = api.quality_tests(&table_of(path)?).await?;
    Ok(axum::Json(paging.page(tests)?))
}

pub(super) async fn get(Api(api): Api, path: TestPath) -> ApiResult<axum::Json<QualityTest>> {
    let (table, test) = test_of(path)?;
    Ok(axum::Json(api.quality_test(&table, &test).await?))
}

pub(super) async fn create(
    Api(api): Api,
    path: TablePath,
    Json(body): Json<NewQualityTest>,
) -> ApiResult<(StatusCode, axum::Json<QualityTest>)> {
    let created = api.create_quality_test(&table_of(path)?, &body).await?;
    Ok((StatusCode::CREATED, axum::Json(created)))
}

pub(super) async fn replace(
    Api(api): Api,
    path: TestPath,
    Json(body): Json<QualityTestSql>,
) -> ApiResult<axum::Json<QualityTest>> {
    let (table, test) = test_of(path)?;
    Ok(axum::Json(
        api.replace_quality_test(&table, &test, &body.sql).await?,
    ))
}

pub(super) async fn delete(Api(api): Api, path: TestPath) -> ApiResult<StatusCode> {
    let (table, test) = test_of(path)?;
    api.delete_quality_test(&table, &test).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub(super) async fn run(
    Api(api): Api,
    path: TablePath,
    body: Option<Json<TestRunRequest>>,
) -> ApiResult<axum::Json<TestReport>> {
    let request = or_default(body);
    Ok(axum::Json(
        api.run_quality_tests(&table_of(path)?, &request).await?,
    ))
}

pub(super) async fn preview(
    Api(api): Api,
    path: TablePath,
    body: Option<Json<PreviewRequest>>,
) -> ApiResult<axum::Json<PipelinePreview>> {
    let request = or_default(body);
    Ok(axum::Json(
        api.preview_pipeline(&table_of(path)?, &request).await?,
    ))
}

pub(super) async fn compile(
    Api(api): Api,
    path: TablePath,
    body: Option<Json<PreviewRequest>>,
) -> ApiResult<axum::Json<CompiledPipeline>> {
    let request = or_default(body);
    Ok(axum::Json(
        api.compile_pipeline(&table_of(path)?, &request).await?,
    ))
}
