//! Runs: submit (one, or a batch in DAG order), list, read, cancel, logs
//! (JSON pages or a live `text/event-stream`, resumable with
//! `Last-Event-ID`); batches: read, cancel.

use std::convert::Infallible;

use axum::http::{HeaderMap, StatusCode, header};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use futures::StreamExt;
use rat_core::{RunFilter, RunId, RunRecord, RunStatus, TableRef};
use serde::Deserialize;

use super::{Api, Paging};
use crate::api::{Batch, BatchRequest, LogPage, Page, SubmitRun};
use crate::error::{ApiError, ApiResult, Json, Path, Query};
use crate::platform::parse_namespace;

fn run_id(Path(id): Path<String>) -> ApiResult<RunId> {
    id.parse()
        .map_err(|e: rat_core::Error| ApiError::bad_request(e.to_string()))
}

/// `{"pipeline": ...}` is one run (answered with its [`RunAccepted`]);
/// `{"pipelines": [...]}` or `{"all": true}` a batch (answered with the
/// [`Batch`]).
///
/// [`RunAccepted`]: crate::api::RunAccepted
pub(super) async fn submit(
    Api(api): Api,
    Json(body): Json<serde_json::Value>,
) -> ApiResult<Response> {
    let invalid = |e: serde_json::Error| {
        ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_input",
            format!("request body: {e}"),
        )
    };
    if body.get("pipeline").is_some() {
        let request: SubmitRun = serde_json::from_value(body).map_err(invalid)?;
        let accepted = api.submit_run(&request).await?;
        return Ok((StatusCode::ACCEPTED, axum::Json(accepted)).into_response());
    }
    let request: BatchRequest = serde_json::from_value(body).map_err(invalid)?;
    let batch = api.submit_batch(&request).await?;
    Ok((StatusCode::ACCEPTED, axum::Json(batch)).into_response())
}

pub(super) async fn batch(Api(api): Api, Path(id): Path<String>) -> ApiResult<axum::Json<Batch>> {
    Ok(axum::Json(api.batch(&id).await?))
}

pub(super) async fn cancel_batch(
    Api(api): Api,
    Path(id): Path<String>,
) -> ApiResult<(StatusCode, axum::Json<Batch>)> {
    Ok((
        StatusCode::ACCEPTED,
        axum::Json(api.cancel_batch(&id).await?),
    ))
}

#[derive(Debug, Deserialize)]
pub(super) struct Filter {
    namespace: Option<String>,
    layer: Option<String>,
    pipeline: Option<String>,
    /// One status or several, comma-separated.
    status: Option<String>,
    /// Submitted at this time or later (RFC 3339, or a date).
    since: Option<String>,
    /// Submitted before this time.
    until: Option<String>,
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
            since: self
                .since
                .as_deref()
                .map(|t| RunFilter::parse_time("since", t))
                .transpose()
                .map_err(bad)?,
            until: self
                .until
                .as_deref()
                .map(|t| RunFilter::parse_time("until", t))
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
    Api(api): Api,
    Query(filter): Query<Filter>,
    Query(paging): Query<Paging>,
) -> ApiResult<axum::Json<Page<RunRecord>>> {
    let runs = api.runs(&filter.to_run_filter(&paging)?).await?;
    Ok(axum::Json(Page::of(runs, paging.limit()?, paging.offset())))
}

pub(super) async fn get(Api(api): Api, id: Path<String>) -> ApiResult<axum::Json<RunRecord>> {
    Ok(axum::Json(api.run(&run_id(id)?).await?))
}

pub(super) async fn cancel(
    Api(api): Api,
    id: Path<String>,
) -> ApiResult<(StatusCode, axum::Json<RunRecord>)> {
    let record = api.cancel(&run_id(id)?).await?;
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
    Api(api): Api,
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
        let items = api.logs(&run, query.from_seq, limit).await?;
        let next_seq = items.last().map_or(query.from_seq, |l| l.seq + 1);
        return Ok(axum::Json(LogPage { items, next_seq }).into_response());
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
    let lines = api.follow_logs(&run, from_seq).await?;
    let events = lines.map(|line| {
        Event::default()
            .id(line.seq.to_string())
            .event("log")
            .json_data(&line)
    });
    let end = futures::stream::once(async move {
        let record = api.run(&run).await;
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
