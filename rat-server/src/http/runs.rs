//! Runs: submit, list, read, cancel, logs (JSON pages or a live
//! `text/event-stream`, resumable with `Last-Event-ID`).

use std::convert::Infallible;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use futures::StreamExt;
use rat_core::{RunFilter, RunId, RunRecord, RunStatus, TableRef};
use serde::Deserialize;

use super::Paging;
use crate::Platform;
use crate::api::{Page, RunAccepted, SubmitRun};
use crate::error::{ApiError, ApiResult, Json, Path, Query};
use crate::platform::parse_namespace;

fn run_id(Path(id): Path<String>) -> ApiResult<RunId> {
    id.parse()
        .map_err(|e: rat_core::Error| ApiError::bad_request(e.to_string()))
}

pub(super) async fn submit(
    State(platform): State<Platform>,
    Json(request): Json<SubmitRun>,
) -> ApiResult<(StatusCode, axum::Json<RunAccepted>)> {
    Ok((
        StatusCode::ACCEPTED,
        axum::Json(platform.submit(&request).await?),
    ))
}

#[derive(Debug, Deserialize)]
pub(super) struct Filter {
    namespace: Option<String>,
    layer: Option<String>,
    pipeline: Option<String>,
    /// One status or several, comma-separated.
    status: Option<String>,
}

impl Filter {
    fn to_run_filter(&self, paging: &Paging) -> ApiResult<RunFilter> {
        let bad = |e: rat_core::Error| ApiError::bad_request(e.to_string());
        let mut filter = RunFilter {
            namespace: self
                .namespace
                .as_deref()
                .map(parse_namespace)
                .transpose()
                .map_err(bad)?,
            layer: self
                .layer
                .as_deref()
                .map(str::parse)
                .transpose()
                .map_err(bad)?,
            table: self
                .pipeline
                .as_deref()
                .map(|p| TableRef::parse(p, rat_core::DEFAULT_NAMESPACE))
                .transpose()
                .map_err(bad)?,
            // One more than asked: whether another page follows.
            limit: Some(paging.limit()? + 1),
            offset: paging.offset(),
            ..RunFilter::default()
        };
        for status in self.status.iter().flat_map(|s| s.split(',')) {
            filter
                .statuses
                .push(status.trim().parse::<RunStatus>().map_err(bad)?);
        }
        Ok(filter)
    }
}

pub(super) async fn list(
    State(platform): State<Platform>,
    Query(filter): Query<Filter>,
    Query(paging): Query<Paging>,
) -> ApiResult<axum::Json<Page<RunRecord>>> {
    let runs = platform.runs(&filter.to_run_filter(&paging)?).await?;
    Ok(axum::Json(Page::of(runs, paging.limit()?, paging.offset())))
}

pub(super) async fn get(
    State(platform): State<Platform>,
    id: Path<String>,
) -> ApiResult<axum::Json<RunRecord>> {
    Ok(axum::Json(platform.run(&run_id(id)?).await?))
}

pub(super) async fn cancel(
    State(platform): State<Platform>,
    id: Path<String>,
) -> ApiResult<(StatusCode, axum::Json<RunRecord>)> {
    let record = platform.cancel(&run_id(id)?).await?;
    Ok((StatusCode::ACCEPTED, axum::Json(record)))
}

#[derive(Debug, Deserialize)]
pub(super) struct LogQuery {
    #[serde(default)]
    from_seq: u64,
    limit: Option<u32>,
}

/// JSON: `{"items": [LogRecord...], "next_seq": N}`. With
/// `Accept: text/event-stream`: one `log` event per line (its `id` is the
/// line's sequence number) as it happens, then an `end` event with the
/// run's record; `Last-Event-ID` resumes after that line.
pub(super) async fn logs(
    State(platform): State<Platform>,
    id: Path<String>,
    Query(query): Query<LogQuery>,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let run = run_id(id)?;
    let wants_events = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("text/event-stream"));
    if !wants_events {
        let limit = query.limit.unwrap_or(1000);
        let items = platform.logs(&run, query.from_seq, limit).await?;
        let next_seq = items.last().map_or(query.from_seq, |l| l.seq + 1);
        let body = serde_json::json!({"items": items, "next_seq": next_seq});
        return Ok(axum::Json(body).into_response());
    }
    let from_seq = match headers.get("last-event-id") {
        Some(value) => value
            .to_str()
            .ok()
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(|seq| seq + 1)
            .ok_or_else(|| ApiError::bad_request("Last-Event-ID must be a line number"))?,
        None => query.from_seq,
    };
    let lines = platform.follow_logs(&run, from_seq).await?;
    let events = lines.map(|line| {
        Event::default()
            .id(line.seq.to_string())
            .event("log")
            .json_data(&line)
    });
    let end = futures::stream::once(async move {
        let record = platform.run(&run).await;
        let data = match &record {
            Ok(r) => serde_json::to_value(r).unwrap_or_default(),
            Err(e) => serde_json::json!({"error": e.to_string()}),
        };
        Event::default().event("end").json_data(data)
    });
    let stream = events.chain(end).map(|event| {
        Ok::<_, Infallible>(
            event.unwrap_or_else(|e| Event::default().event("error").data(e.to_string())),
        )
    });
    Ok(Sse::new(stream)
        .keep_alive(KeepAlive::default())
        .into_response())
}
