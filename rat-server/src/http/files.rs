//! Project files: list, read, write, delete.

use axum::http::StatusCode;

use super::{Api, Paging};
use crate::api::{FileContent, Page, ProjectFile, WriteFile};
use crate::error::{ApiResult, Json, Path, Query};

pub(super) async fn list(
    Api(api): Api,
    Path(namespace): Path<String>,
    Query(paging): Query<Paging>,
) -> ApiResult<axum::Json<Page<ProjectFile>>> {
    Ok(axum::Json(
        paging.page(api.project_files(&namespace).await?)?,
    ))
}

pub(super) async fn read(
    Api(api): Api,
    Path((namespace, path)): Path<(String, String)>,
) -> ApiResult<axum::Json<FileContent>> {
    Ok(axum::Json(api.read_project_file(&namespace, &path).await?))
}

pub(super) async fn write(
    Api(api): Api,
    Path((namespace, path)): Path<(String, String)>,
    Json(body): Json<WriteFile>,
) -> ApiResult<axum::Json<ProjectFile>> {
    let written = api
        .write_project_file(&namespace, &path, &body.content)
        .await?;
    Ok(axum::Json(written))
}

pub(super) async fn delete(
    Api(api): Api,
    Path((namespace, path)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    api.delete_project_file(&namespace, &path).await?;
    Ok(StatusCode::NO_CONTENT)
}
