//! Landing zones: list, create, describe, delete; their files listed,
//! uploaded (multipart, streamed), downloaded, deleted and previewed.

use axum::body::Body;
use axum::extract::Multipart;
use axum::extract::multipart::MultipartRejection;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use futures::StreamExt;
use serde::Deserialize;
use tokio::sync::mpsc;

use super::{Api, Paging};
use crate::api::{FilePreview, LandingFile, LandingZone, NewLandingZone, Page, Uploaded, ZoneRef};
use crate::error::{ApiError, ApiResult, Json, Path, Query, multipart_rejection};
use crate::platform::MAX_QUERY_ROWS;

/// Most files one upload request may carry.
pub const MAX_UPLOAD_FILES: usize = 100;

#[derive(Debug, Deserialize)]
pub(super) struct Filter {
    namespace: Option<String>,
}

type ZonePath = Path<(String, String)>;
type FilePath = Path<(String, String, String)>;

fn zone_of(namespace: &str, zone: &str) -> ApiResult<ZoneRef> {
    ZoneRef::parse(namespace, zone).map_err(|e| ApiError::bad_request(e.to_string()))
}

fn file_of(Path((ns, zone, file)): FilePath) -> ApiResult<(ZoneRef, String)> {
    let zone = zone_of(&ns, &zone)?;
    rat_core::project::landing::file_name(&file)
        .map_err(|e| ApiError::bad_request(e.to_string()))?;
    Ok((zone, file))
}

pub(super) async fn list(
    Api(api): Api,
    Query(filter): Query<Filter>,
    Query(paging): Query<Paging>,
) -> ApiResult<axum::Json<Page<LandingZone>>> {
    let zones = api.landing_zones(filter.namespace.as_deref()).await?;
    Ok(axum::Json(paging.page(zones)?))
}

pub(super) async fn create(
    Api(api): Api,
    Json(body): Json<NewLandingZone>,
) -> ApiResult<(StatusCode, axum::Json<LandingZone>)> {
    let zone = api.create_landing_zone(&body).await?;
    Ok((StatusCode::CREATED, axum::Json(zone)))
}

pub(super) async fn get(
    Api(api): Api,
    Path((ns, zone)): ZonePath,
) -> ApiResult<axum::Json<LandingZone>> {
    Ok(axum::Json(api.landing_zone(&zone_of(&ns, &zone)?).await?))
}

pub(super) async fn delete(Api(api): Api, Path((ns, zone)): ZonePath) -> ApiResult<StatusCode> {
    api.delete_landing_zone(&zone_of(&ns, &zone)?).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Deserialize)]
pub(super) struct FilesFilter {
    #[serde(default)]
    archived: bool,
}

pub(super) async fn files(
    Api(api): Api,
    Path((ns, zone)): ZonePath,
    Query(filter): Query<FilesFilter>,
    Query(paging): Query<Paging>,
) -> ApiResult<axum::Json<Page<LandingFile>>> {
    let files = api
        .landing_files(&zone_of(&ns, &zone)?, filter.archived)
        .await?;
    Ok(axum::Json(paging.page(files)?))
}

/// `multipart/form-data` with one or more file parts, each streamed into
/// the zone under its file name as it arrives.
pub(super) async fn upload(
    Api(api): Api,
    Path((ns, zone)): ZonePath,
    body: Result<Multipart, MultipartRejection>,
) -> ApiResult<(StatusCode, axum::Json<Uploaded>)> {
    let zone = zone_of(&ns, &zone)?;
    let mut body = body.map_err(multipart_rejection)?;
    let mut uploaded = Uploaded { files: Vec::new() };
    while let Some(mut field) = body.next_field().await.map_err(multipart_error)? {
        if uploaded.files.len() == MAX_UPLOAD_FILES {
            return Err(ApiError::bad_request(format!(
                "an upload carries at most {MAX_UPLOAD_FILES} files"
            )));
        }
        let Some(name) = field.file_name().map(str::to_owned) else {
            return Err(ApiError::bad_request(
                "every part of an upload must be a file with a file name",
            ));
        };
        // The part borrows the body; a channel hands its chunks to the
        // platform's 'static stream while both run in this task.
        let (tx, rx) = mpsc::channel::<rat_core::Result<Bytes>>(4);
        let pump = async move {
            loop {
                let chunk = match field.chunk().await {
                    Ok(Some(chunk)) => Ok(chunk),
                    Ok(None) => break,
                    Err(e) => Err(rat_core::Error::invalid(format!(
                        "the upload of '{}' was cut short: {}",
                        field.file_name().unwrap_or_default(),
                        e.body_text()
                    ))
                    .with_context("field", "file")),
                };
                let failed = chunk.is_err();
                if tx.send(chunk).await.is_err() || failed {
                    break;
                }
            }
        };
        let data = futures::stream::unfold(rx, |mut rx| async move {
            rx.recv().await.map(|chunk| (chunk, rx))
        })
        .boxed();
        let (_, stored) = tokio::join!(pump, api.upload_landing_file(&zone, &name, data));
        uploaded.files.push(stored?);
    }
    if uploaded.files.is_empty() {
        return Err(ApiError::bad_request("the upload holds no file"));
    }
    Ok((StatusCode::CREATED, axum::Json(uploaded)))
}

fn multipart_error(e: axum::extract::multipart::MultipartError) -> ApiError {
    ApiError::bad_request(format!("upload body: {}", e.body_text()))
}

pub(super) async fn download(Api(api): Api, path: FilePath) -> ApiResult<Response> {
    let (zone, file) = file_of(path)?;
    let data = api.read_landing_file(&zone, &file).await?;
    let body = Body::from_stream(data.map(|chunk| chunk.map_err(std::io::Error::other)));
    Ok((
        [
            (header::CONTENT_TYPE, "application/octet-stream".to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{file}\""),
            ),
        ],
        body,
    )
        .into_response())
}

pub(super) async fn delete_file(Api(api): Api, path: FilePath) -> ApiResult<StatusCode> {
    let (zone, file) = file_of(path)?;
    api.delete_landing_file(&zone, &file).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Deserialize)]
pub(super) struct Preview {
    rows: Option<u32>,
}

pub(super) async fn preview(
    Api(api): Api,
    path: FilePath,
    Query(preview): Query<Preview>,
) -> ApiResult<axum::Json<FilePreview>> {
    let (zone, file) = file_of(path)?;
    let rows = preview.rows.unwrap_or(20);
    if !(1..=MAX_QUERY_ROWS).contains(&rows) {
        return Err(ApiError::bad_request(format!(
            "rows {rows} is out of range: 1 to {MAX_QUERY_ROWS}"
        )));
    }
    Ok(axum::Json(
        api.preview_landing_file(&zone, &file, rows).await?,
    ))
}
