//! [`Client`]: the [`PlatformApi`] of a server, over HTTP. Each verb
//! returns the [`api`](crate::api) values the server's
//! [`Platform`](crate::Platform) does, and failures come back as
//! [`rat_core::Error`]s with the server's kind, message and context, so a
//! program (the CLI) cannot tell the two apart.

mod authoring;
mod files;
mod landing;
mod namespaces;
mod notifications;
mod triggers;
mod versions;

use std::fmt;

use async_trait::async_trait;
use futures::StreamExt;
use futures::stream::BoxStream;
use rat_core::storage::ByteStream;
use rat_core::{Error, ErrorKind, LogRecord, Result, RunFilter, RunId, RunRecord, TableRef};
use reqwest::{Method, StatusCode};
use secrecy::{ExposeSecret, SecretString};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::api::{
    Batch, BatchRequest, ErrorEnvelope, Features, FilePreview, LandingFile, LandingZone, Lineage,
    LogPage, MAX_PAGE, MaintainRequest, MaintenanceReport, Namespace, NewLandingZone, NewNamespace,
    NewPipeline, Page, PipelineDetail, PipelineSummary, PlatformApi, QueryOutput, QueryRequest,
    Readiness, Rollback, RollbackRequest, RunAccepted, SavePipeline, Schedule, ScheduleRequest,
    SnapshotInfo, SubmitRun, TableDetail, TableSummary, ZoneRef,
};

/// The API of one server.
///
/// ```no_run
/// # async fn demo() -> rat_core::Result<()> {
/// use rat_server::api::PlatformApi;
///
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

/// The error kind an envelope's code names (the HTTP layer's own codes
/// are the client's mistakes: invalid input).
fn kind_of(code: &str, status: StatusCode) -> ErrorKind {
    match ErrorKind::from_name(code) {
        Some(kind) => kind,
        None if status.is_client_error() => ErrorKind::InvalidInput,
        None => ErrorKind::Internal,
    }
}

/// The error a failed answer carries: the envelope's kind, message and
/// context, as the server had it.
fn refusal(status: StatusCode, body: &[u8]) -> Error {
    match serde_json::from_slice::<ErrorEnvelope>(body) {
        Ok(envelope) => Error::remote(
            kind_of(&envelope.error.code, status),
            envelope.error.message,
            envelope.error.context,
        ),
        Err(_) => Error::internal(format!("the server answered {status}")),
    }
}

/// A path segment or query value, escaped.
fn escaped(text: &str) -> String {
    url::form_urlencoded::byte_serialize(text.as_bytes()).collect()
}

fn table_path(table: &TableRef) -> String {
    format!("{}/{}/{}", table.namespace, table.layer, table.name)
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

    /// The server's response, whatever its status.
    async fn reach(request: reqwest::RequestBuilder) -> Result<reqwest::Response> {
        request.send().await.map_err(|e| {
            Error::new(ErrorKind::Executor, format!("cannot reach the server: {e}"))
                .with_retryable(true)
        })
    }

    async fn answer(&self, request: reqwest::RequestBuilder) -> Result<reqwest::Response> {
        let response = Self::reach(request).await?;
        let status = response.status();
        if status.is_success() {
            return Ok(response);
        }
        let bytes = response.bytes().await.unwrap_or_default();
        Err(refusal(status, &bytes))
    }

    async fn send<T: DeserializeOwned>(&self, request: reqwest::RequestBuilder) -> Result<T> {
        let bytes = self.answer(request).await?.bytes().await.map_err(|e| {
            Error::new(
                ErrorKind::Executor,
                format!("reading the server's answer: {e}"),
            )
        })?;
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

    async fn put<T: DeserializeOwned>(&self, path: &str, body: &impl Serialize) -> Result<T> {
        self.send(self.request(Method::PUT, path).json(body)).await
    }

    async fn delete(&self, path: &str) -> Result<()> {
        self.send(self.request(Method::DELETE, path)).await
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
}

/// `?name=value&...` of the parameters that are set.
fn query_string(pairs: &[(&str, Option<String>)]) -> String {
    let set: Vec<String> = pairs
        .iter()
        .filter_map(|(k, v)| v.as_ref().map(|v| format!("{k}={}", escaped(v))))
        .collect();
    if set.is_empty() {
        String::new()
    } else {
        format!("?{}", set.join("&"))
    }
}

#[async_trait]
impl PlatformApi for Client {
    fn acting_for(&self, _principal: &crate::auth::Principal) -> std::sync::Arc<dyn PlatformApi> {
        std::sync::Arc::new(self.clone())
    }

    fn metrics(&self) -> Option<std::sync::Arc<crate::metrics::Metrics>> {
        None
    }

    fn auditor(&self) -> Option<crate::Platform> {
        None
    }

    async fn metrics_text(&self) -> Result<String> {
        // `/metrics` is beside the API, at the server's root.
        let root = self.api.trim_end_matches("/api/v1");
        let mut request = self.http.request(Method::GET, format!("{root}/metrics"));
        if let Some(token) = &self.token {
            request = request.bearer_auth(token.expose_secret());
        }
        self.answer(request).await?.text().await.map_err(|e| {
            Error::new(
                ErrorKind::Executor,
                format!("reading the server's answer: {e}"),
            )
        })
    }

    async fn features(&self) -> Result<Features> {
        self.get("/features").await
    }

    /// `/health/ready` answers `503` with the same body when not ready.
    async fn readiness(&self) -> Result<Readiness> {
        let url = format!("{}/health/ready", self.api.trim_end_matches("/api/v1"));
        let response = Self::reach(self.http.get(url)).await?;
        let status = response.status();
        let bytes = response.bytes().await.unwrap_or_default();
        serde_json::from_slice(&bytes).map_err(|_| refusal(status, &bytes))
    }

    async fn namespaces(&self) -> Result<Vec<Namespace>> {
        self.all("/namespaces").await
    }

    async fn create_namespace(&self, new: &NewNamespace) -> Result<Namespace> {
        self.post("/namespaces", new).await
    }

    async fn pipelines(
        &self,
        namespace: Option<&str>,
        layer: Option<&str>,
    ) -> Result<Vec<PipelineSummary>> {
        let query = query_string(&[
            ("namespace", namespace.map(str::to_owned)),
            ("layer", layer.map(str::to_owned)),
        ]);
        self.all(&format!("/pipelines{query}")).await
    }

    async fn pipeline(&self, table: &TableRef) -> Result<PipelineDetail> {
        self.get(&format!("/pipelines/{}", table_path(table))).await
    }

    async fn create_pipeline(&self, pipeline: &NewPipeline) -> Result<PipelineDetail> {
        self.post("/pipelines", pipeline).await
    }

    async fn replace_pipeline(
        &self,
        table: &TableRef,
        save: &SavePipeline,
    ) -> Result<PipelineDetail> {
        self.put(&format!("/pipelines/{}", table_path(table)), save)
            .await
    }

    async fn delete_pipeline(&self, table: &TableRef) -> Result<()> {
        self.delete(&format!("/pipelines/{}", table_path(table)))
            .await
    }

    async fn lineage(&self, namespace: Option<&str>) -> Result<Lineage> {
        let query = query_string(&[("namespace", namespace.map(str::to_owned))]);
        self.get(&format!("/lineage{query}")).await
    }

    async fn submit_run(&self, request: &SubmitRun) -> Result<RunAccepted> {
        self.post("/runs", request).await
    }

    async fn submit_batch(&self, request: &BatchRequest) -> Result<Batch> {
        self.post("/runs", request).await
    }

    async fn batch(&self, id: &str) -> Result<Batch> {
        self.get(&format!("/batches/{}", escaped(id))).await
    }

    async fn cancel_batch(&self, id: &str) -> Result<Batch> {
        self.post(&format!("/batches/{}/cancel", escaped(id)), &())
            .await
    }

    async fn runs(&self, filter: &RunFilter) -> Result<Vec<RunRecord>> {
        let statuses: Vec<&str> = filter.statuses.iter().map(|s| s.as_str()).collect();
        let query = query_string(&[
            (
                "limit",
                Some(filter.limit.unwrap_or(50).min(MAX_PAGE).to_string()),
            ),
            ("pipeline", filter.table.as_ref().map(ToString::to_string)),
            (
                "namespace",
                filter.namespace.as_ref().map(ToString::to_string),
            ),
            ("layer", filter.layer.as_ref().map(ToString::to_string)),
            ("status", (!statuses.is_empty()).then(|| statuses.join(","))),
            ("since", filter.since.map(|t| t.to_rfc3339())),
            ("until", filter.until.map(|t| t.to_rfc3339())),
            (
                "offset",
                (filter.offset > 0).then(|| filter.offset.to_string()),
            ),
        ]);
        let page: Page<RunRecord> = self.get(&format!("/runs{query}")).await?;
        Ok(page.items)
    }

    async fn run(&self, run: &RunId) -> Result<RunRecord> {
        self.get(&format!("/runs/{run}")).await
    }

    async fn cancel(&self, run: &RunId) -> Result<RunRecord> {
        self.post(&format!("/runs/{run}/cancel"), &()).await
    }

    async fn logs(&self, run: &RunId, from_seq: u64, limit: u32) -> Result<Vec<LogRecord>> {
        let lines: LogPage = self
            .get(&format!(
                "/runs/{run}/logs?from_seq={from_seq}&limit={limit}"
            ))
            .await?;
        Ok(lines.items)
    }

    /// A `text/event-stream` read as it arrives.
    async fn follow_logs(
        &self,
        run: &RunId,
        from_seq: u64,
    ) -> Result<BoxStream<'static, LogRecord>> {
        let request = self
            .request(
                Method::GET,
                &format!("/runs/{run}/logs?from_seq={from_seq}"),
            )
            .header(reqwest::header::ACCEPT, "text/event-stream");
        let chunks = self.answer(request).await?.bytes_stream();
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

    async fn tables(
        &self,
        namespace: Option<&str>,
        limit: u32,
        offset: u32,
    ) -> Result<Page<TableSummary>> {
        let query = query_string(&[
            ("namespace", namespace.map(str::to_owned)),
            ("limit", Some(limit.to_string())),
            ("offset", Some(offset.to_string())),
        ]);
        self.get(&format!("/tables{query}")).await
    }

    async fn table(&self, table: &TableRef) -> Result<TableDetail> {
        self.get(&format!("/tables/{}", table_path(table))).await
    }

    async fn history(&self, table: &TableRef) -> Result<Vec<SnapshotInfo>> {
        self.get(&format!("/tables/{}/history", table_path(table)))
            .await
    }

    async fn rollback(&self, table: &TableRef, to: i64) -> Result<Rollback> {
        self.post(
            &format!("/tables/{}/rollback", table_path(table)),
            &RollbackRequest { to },
        )
        .await
    }

    async fn maintain(
        &self,
        table: &TableRef,
        request: &MaintainRequest,
    ) -> Result<MaintenanceReport> {
        self.post(&format!("/tables/{}/maintain", table_path(table)), request)
            .await
    }

    async fn preview(
        &self,
        table: &TableRef,
        rows: u32,
        snapshot_id: Option<i64>,
    ) -> Result<QueryOutput> {
        let at = snapshot_id.map_or(String::new(), |id| format!("&snapshot_id={id}"));
        self.get(&format!(
            "/tables/{}/preview?rows={rows}{at}",
            table_path(table)
        ))
        .await
    }

    async fn query(&self, request: &QueryRequest) -> Result<QueryOutput> {
        self.post("/query", request).await
    }

    async fn schedules(&self) -> Result<Vec<Schedule>> {
        self.all("/schedules").await
    }

    async fn schedule(&self, id: &str) -> Result<Schedule> {
        self.get(&format!("/schedules/{}", escaped(id))).await
    }

    async fn create_schedule(&self, request: &ScheduleRequest) -> Result<Schedule> {
        self.post("/schedules", request).await
    }

    async fn replace_schedule(&self, id: &str, request: &ScheduleRequest) -> Result<Schedule> {
        self.put(&format!("/schedules/{}", escaped(id)), request)
            .await
    }

    async fn delete_schedule(&self, id: &str) -> Result<()> {
        self.delete(&format!("/schedules/{}", escaped(id))).await
    }

    async fn landing_zones(&self, namespace: Option<&str>) -> Result<Vec<LandingZone>> {
        let query = query_string(&[("namespace", namespace.map(str::to_owned))]);
        self.all(&format!("/landing-zones{query}")).await
    }

    async fn landing_zone(&self, zone: &ZoneRef) -> Result<LandingZone> {
        self.get(&landing::zone_path(zone)).await
    }

    async fn create_landing_zone(&self, zone: &NewLandingZone) -> Result<LandingZone> {
        self.post("/landing-zones", zone).await
    }

    async fn delete_landing_zone(&self, zone: &ZoneRef) -> Result<()> {
        self.delete(&landing::zone_path(zone)).await
    }

    async fn landing_files(&self, zone: &ZoneRef, archived: bool) -> Result<Vec<LandingFile>> {
        let path = landing::zone_path(zone);
        self.all(&format!("{path}/files?archived={archived}")).await
    }

    async fn upload_landing_file(
        &self,
        zone: &ZoneRef,
        name: &str,
        data: ByteStream,
    ) -> Result<LandingFile> {
        self.upload(zone, name, data).await
    }

    async fn read_landing_file(&self, zone: &ZoneRef, name: &str) -> Result<ByteStream> {
        self.download(zone, name).await
    }

    async fn delete_landing_file(&self, zone: &ZoneRef, name: &str) -> Result<()> {
        self.delete(&landing::file_path(zone, name)).await
    }

    async fn preview_landing_file(
        &self,
        zone: &ZoneRef,
        name: &str,
        rows: u32,
    ) -> Result<FilePreview> {
        let path = landing::file_path(zone, name);
        self.get(&format!("{path}/preview?rows={rows}")).await
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
