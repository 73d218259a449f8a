//! A client of the API: each call returns the [`api`](crate::api) types,
//! failures come back as [`rat_core::Error`]s with the server's kind and
//! message, and [`Client`] is an [`Executor`] — so code that drives runs
//! (the CLI's DAG scheduler) works the same against a server.

use std::fmt;

use async_trait::async_trait;
use futures::StreamExt;
use futures::stream::BoxStream;
use rat_core::{
    Error, ErrorKind, Executor, LogCursor, LogRecord, Result, RunFilter, RunId, RunRecord,
    RunRequest, TableRef,
};
use reqwest::{Method, StatusCode};
use secrecy::{ExposeSecret, SecretString};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::api::{
    ErrorEnvelope, Features, Lineage, MAX_PAGE, Page, PipelineDetail, PipelineSummary, QueryOutput,
    QueryRequest, RunAccepted, Schedule, ScheduleRequest, SubmitRun, TableSummary,
};

/// The API of one server.
///
/// ```no_run
/// # async fn demo() -> rat_core::Result<()> {
/// let client = rat_server::client::Client::new("http://127.0.0.1:8080", None)?;
/// for run in client.runs(&Default::default()).await? {
///     println!("{} {}", run.run_id, run.status);
/// }
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Client {
    api: String,
    http: reqwest::Client,
    token: Option<SecretString>,
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("api", &self.api)
            .field("token", &self.token.as_ref().map(|_| "<redacted>"))
            .finish()
    }
}

/// The error kind an envelope's code names.
fn kind_of(code: &str, status: StatusCode) -> ErrorKind {
    match code {
        "invalid_input"
        | "bad_request"
        | "payload_too_large"
        | "unsupported_media_type"
        | "unauthorized" => ErrorKind::InvalidInput,
        "not_found" => ErrorKind::NotFound,
        "already_exists" => ErrorKind::AlreadyExists,
        "conflict" | "cancelled" => ErrorKind::Conflict,
        "queue_full" => ErrorKind::QueueFull,
        "query" | "quality_gate" => ErrorKind::Query,
        "timeout" => ErrorKind::Timeout,
        "storage" => ErrorKind::Storage,
        "catalog" => ErrorKind::Catalog,
        "unsupported" => ErrorKind::Unsupported,
        _ if status.is_client_error() => ErrorKind::InvalidInput,
        _ => ErrorKind::Internal,
    }
}

/// The error a failed answer carries: the envelope's kind and message.
fn refusal(status: StatusCode, body: &[u8]) -> Error {
    match serde_json::from_slice::<ErrorEnvelope>(body) {
        Ok(envelope) => Error::new(
            kind_of(&envelope.error.code, status),
            envelope.error.message,
        ),
        Err(_) => Error::internal(format!("the server answered {status}")),
    }
}

impl Client {
    /// A client of the server at `url` (`http(s)://host:port`), sending
    /// `token` as a bearer token when given.
    pub fn new(url: &str, token: Option<SecretString>) -> Result<Self> {
        let url = url.trim_end_matches('/');
        if !(url.starts_with("http://") || url.starts_with("https://")) {
            return Err(Error::invalid(format!(
                "server '{}' must be an http(s) URL",
                url.escape_default()
            ))
            .with_context("field", "--server"));
        }
        let http = reqwest::Client::builder()
            .connect_timeout(std::time::Duration::from_secs(10))
            .build()
            .map_err(|e| Error::internal(format!("HTTP client: {e}")))?;
        Ok(Self {
            api: format!("{url}/api/v1"),
            http,
            token,
        })
    }

    fn request(&self, method: Method, path: &str) -> reqwest::RequestBuilder {
        let request = self.http.request(method, format!("{}{path}", self.api));
        match &self.token {
            Some(token) => request.bearer_auth(token.expose_secret()),
            None => request,
        }
    }

    async fn send<T: DeserializeOwned>(&self, request: reqwest::RequestBuilder) -> Result<T> {
        let response = request.send().await.map_err(|e| {
            Error::new(ErrorKind::Executor, format!("cannot reach the server: {e}"))
                .with_retryable(true)
        })?;
        let status = response.status();
        let bytes = response.bytes().await.map_err(|e| {
            Error::new(
                ErrorKind::Executor,
                format!("reading the server's answer: {e}"),
            )
        })?;
        if !status.is_success() {
            return Err(match serde_json::from_slice::<ErrorEnvelope>(&bytes) {
                Ok(envelope) => Error::new(
                    kind_of(&envelope.error.code, status),
                    envelope.error.message,
                ),
                Err(_) => Error::new(ErrorKind::Internal, format!("the server answered {status}")),
            });
        }
        // 204 No Content: the unit type reads it from `null`.
        let bytes = if bytes.is_empty() {
            "null".into()
        } else {
            bytes
        };
        serde_json::from_slice(&bytes)
            .map_err(|e| Error::internal(format!("unexpected answer from the server: {e}")))
    }

    async fn get<T: DeserializeOwned>(&self, path: &str) -> Result<T> {
        self.send(self.request(Method::GET, path)).await
    }

    async fn post<T: DeserializeOwned>(&self, path: &str, body: &impl Serialize) -> Result<T> {
        self.send(self.request(Method::POST, path).json(body)).await
    }

    /// Every page of a list.
    async fn all<T: DeserializeOwned>(&self, path: &str) -> Result<Vec<T>> {
        let join = if path.contains('?') { '&' } else { '?' };
        let mut items = Vec::new();
        loop {
            let page: Page<T> = self
                .get(&format!(
                    "{path}{join}limit={MAX_PAGE}&offset={}",
                    items.len()
                ))
                .await?;
            let more = page.has_more;
            items.extend(page.items);
            if !more {
                return Ok(items);
            }
        }
    }

    /// Which implementations the server runs.
    pub async fn features(&self) -> Result<Features> {
        self.get("/features").await
    }

    /// Pipelines of `namespace` (all when `None`).
    pub async fn pipelines(&self, namespace: Option<&str>) -> Result<Vec<PipelineSummary>> {
        let query = namespace
            .map(|ns| format!("?namespace={ns}"))
            .unwrap_or_default();
        self.all(&format!("/pipelines{query}")).await
    }

    /// One pipeline's files and settings.
    pub async fn pipeline(&self, table: &TableRef) -> Result<PipelineDetail> {
        self.get(&format!(
            "/pipelines/{}/{}/{}",
            table.namespace, table.layer, table.name
        ))
        .await
    }

    /// The pipelines of `namespace` and the `ref()`s between them.
    pub async fn lineage(&self, namespace: &str) -> Result<Lineage> {
        self.get(&format!("/lineage?namespace={namespace}")).await
    }

    /// Submits a run.
    pub async fn submit_run(&self, request: &SubmitRun) -> Result<RunAccepted> {
        self.post("/runs", request).await
    }

    /// Runs matching `filter`, newest first.
    pub async fn runs(&self, filter: &RunFilter) -> Result<Vec<RunRecord>> {
        let mut query = vec![format!(
            "limit={}",
            filter.limit.unwrap_or(50).min(MAX_PAGE)
        )];
        if let Some(table) = &filter.table {
            query.push(format!("pipeline={table}"));
        }
        if let Some(ns) = &filter.namespace {
            query.push(format!("namespace={ns}"));
        }
        if let Some(layer) = &filter.layer {
            query.push(format!("layer={layer}"));
        }
        if !filter.statuses.is_empty() {
            let statuses: Vec<&str> = filter.statuses.iter().map(|s| s.as_str()).collect();
            query.push(format!("status={}", statuses.join(",")));
        }
        if filter.offset > 0 {
            query.push(format!("offset={}", filter.offset));
        }
        let page: Page<RunRecord> = self.get(&format!("/runs?{}", query.join("&"))).await?;
        Ok(page.items)
    }

    /// Tables of `namespace` (all when `None`).
    pub async fn tables(&self, namespace: Option<&str>) -> Result<Vec<TableSummary>> {
        let query = namespace
            .map(|ns| format!("?namespace={ns}"))
            .unwrap_or_default();
        self.all(&format!("/tables{query}")).await
    }

    /// One read-only query.
    pub async fn query(&self, request: &QueryRequest) -> Result<QueryOutput> {
        self.post("/query", request).await
    }

    /// All schedules.
    pub async fn schedules(&self) -> Result<Vec<Schedule>> {
        self.all("/schedules").await
    }

    /// Adds a schedule.
    pub async fn create_schedule(&self, request: &ScheduleRequest) -> Result<Schedule> {
        self.post("/schedules", request).await
    }

    /// Deletes a schedule.
    pub async fn delete_schedule(&self, id: &str) -> Result<()> {
        self.send(self.request(Method::DELETE, &format!("/schedules/{id}")))
            .await
    }

    /// Log lines from `from_seq` as they happen, until the run ends (a
    /// `text/event-stream` read as it arrives).
    pub async fn follow_logs(
        &self,
        run: &RunId,
        from_seq: u64,
    ) -> Result<BoxStream<'static, LogRecord>> {
        let response = self
            .request(
                Method::GET,
                &format!("/runs/{run}/logs?from_seq={from_seq}"),
            )
            .header(reqwest::header::ACCEPT, "text/event-stream")
            .send()
            .await
            .map_err(|e| {
                Error::new(ErrorKind::Executor, format!("cannot reach the server: {e}"))
            })?;
        if !response.status().is_success() {
            let status = response.status();
            let bytes = response.bytes().await.unwrap_or_default();
            return Err(refusal(status, &bytes));
        }
        let chunks = response.bytes_stream();
        let lines = futures::stream::unfold(
            (chunks, String::new(), false),
            |(mut chunks, mut buffer, done)| async move {
                if done {
                    return None;
                }
                loop {
                    if let Some(end) = buffer.find("\n\n") {
                        let block: String = buffer.drain(..end + 2).collect();
                        match sse_block(&block) {
                            SseBlock::Line(line) => {
                                return Some((Some(line), (chunks, buffer, false)));
                            }
                            SseBlock::End => return None,
                            SseBlock::Other => continue,
                        }
                    }
                    match chunks.next().await {
                        Some(Ok(bytes)) => buffer.push_str(&String::from_utf8_lossy(&bytes)),
                        _ => return None,
                    }
                }
            },
        );
        Ok(lines.filter_map(|line| async move { line }).boxed())
    }
}

enum SseBlock {
    Line(LogRecord),
    End,
    Other,
}

/// One server-sent event: a `log` line, the `end`, or something to skip
/// (keep-alive comments).
fn sse_block(block: &str) -> SseBlock {
    let mut event = "message";
    let mut data = String::new();
    for line in block.lines() {
        if let Some(v) = line.strip_prefix("event:") {
            event = v.trim();
        } else if let Some(v) = line.strip_prefix("data:") {
            data.push_str(v.trim_start());
        }
    }
    match event {
        "end" => SseBlock::End,
        "log" => serde_json::from_str(&data).map_or(SseBlock::Other, SseBlock::Line),
        _ => SseBlock::Other,
    }
}

#[async_trait]
impl Executor for Client {
    async fn submit(&self, request: RunRequest) -> Result<RunId> {
        let accepted = self
            .submit_run(&SubmitRun {
                pipeline: request.table.to_string(),
                limits: request.limits,
            })
            .await?;
        Ok(accepted.run_id)
    }

    async fn status(&self, run: &RunId) -> Result<RunRecord> {
        self.get(&format!("/runs/{run}")).await
    }

    async fn logs(&self, run: &RunId, cursor: LogCursor) -> Result<BoxStream<'static, LogRecord>> {
        if cursor.follow {
            return self.follow_logs(run, cursor.from_seq).await;
        }
        #[derive(serde::Deserialize)]
        struct Lines {
            items: Vec<LogRecord>,
        }
        let lines: Lines = self
            .get(&format!(
                "/runs/{run}/logs?from_seq={}&limit=10000",
                cursor.from_seq
            ))
            .await?;
        Ok(futures::stream::iter(lines.items).boxed())
    }

    async fn cancel(&self, run: &RunId) -> Result<()> {
        let _: RunRecord = self.post(&format!("/runs/{run}/cancel"), &()).await?;
        Ok(())
    }
}
