//! A real server on a loopback port over a copy of the sample project, and
//! a small client for it.
#![allow(dead_code, unreachable_pub, clippy::unwrap_used, clippy::expect_used)]

pub mod oidc_issuer;
#[path = "../../../rat-executor/tests/common/postgres.rs"]
pub mod postgres;
pub mod receiver;
pub mod watchdog;

use std::path::Path;
use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode};
use serde_json::Value;

pub struct Server {
    pub base: String,
    pub dir: tempfile::TempDir,
    pub http: reqwest::Client,
    /// The composed server (its scheduler runs while it lives).
    pub server: rat_server::Server,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Server {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn copy_tree(from: &Path, to: &Path) {
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let name = entry.file_name();
        if name == ".rat" {
            continue;
        }
        let target = to.join(&name);
        if entry.file_type().unwrap().is_dir() {
            std::fs::create_dir_all(&target).unwrap();
            copy_tree(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

impl Server {
    /// The sample project, embedded layout, a local executor.
    pub async fn sample() -> Self {
        Self::sample_with(|_| {}).await
    }

    pub async fn sample_with(tune: impl FnOnce(&mut rat_server::ServerSetup)) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let sample = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/sample-project");
        copy_tree(&sample, dir.path());
        Self::start_in(dir, tune).await
    }

    /// A server over the project in `dir` (which may hold state from an
    /// earlier server).
    pub async fn start_in(
        dir: tempfile::TempDir,
        tune: impl FnOnce(&mut rat_server::ServerSetup),
    ) -> Self {
        let mut setup = rat_server::ServerSetup::embedded(dir.path());
        tune(&mut setup);
        Self::serve(setup, dir).await
    }

    async fn serve(setup: rat_server::ServerSetup, dir: tempfile::TempDir) -> Self {
        let server = setup.open().await.unwrap();
        let router = server.router();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let task = tokio::spawn(async move {
            axum::serve(listener, router).await.unwrap();
        });
        Self {
            base,
            dir,
            http: reqwest::Client::new(),
            server,
            task,
        }
    }

    /// Stops this server (its scheduler gives up the lease), keeping its
    /// project folder for the next one.
    pub async fn stop(mut self) -> tempfile::TempDir {
        self.task.abort();
        self.server.shutdown().await;
        std::mem::replace(&mut self.dir, tempfile::tempdir().unwrap())
    }

    /// A second server over the same project folder and run store.
    pub async fn beside(other: &Server, tune: impl FnOnce(&mut rat_server::ServerSetup)) -> Self {
        let mut setup = rat_server::ServerSetup::embedded(other.dir.path());
        tune(&mut setup);
        Self::serve(setup, tempfile::tempdir().unwrap()).await
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// A request with an optional JSON body: status and JSON (Null when
    /// the body is empty).
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut request = self.http.request(method, self.url(path));
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.unwrap();
        let status = response.status();
        let text = response.text().await.unwrap();
        let value = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or_else(|_| panic!("not JSON: {text}"))
        };
        (status, value)
    }

    pub async fn get(&self, path: &str) -> (StatusCode, Value) {
        self.call(Method::GET, path, None).await
    }

    pub async fn post(&self, path: &str, body: Value) -> (StatusCode, Value) {
        self.call(Method::POST, path, Some(body)).await
    }

    /// Uploads `files` (name, bytes) to `zone` of namespace `default` as
    /// one multipart body: status and JSON.
    pub async fn upload(&self, zone: &str, files: &[(&str, Vec<u8>)]) -> (StatusCode, Value) {
        self.upload_to("default", zone, files).await
    }

    /// Uploads `files` to `namespace`'s `zone`: status and JSON.
    pub async fn upload_to(
        &self,
        namespace: &str,
        zone: &str,
        files: &[(&str, Vec<u8>)],
    ) -> (StatusCode, Value) {
        let mut form = reqwest::multipart::Form::new();
        for (name, bytes) in files {
            let part = reqwest::multipart::Part::bytes(bytes.clone()).file_name(name.to_string());
            form = form.part("file", part);
        }
        let response = self
            .http
            .post(self.url(&format!("/api/v1/landing-zones/{namespace}/{zone}/files")))
            .multipart(form)
            .send()
            .await
            .unwrap();
        let status = response.status();
        (status, response.json().await.unwrap())
    }

    /// `POST /api/v1/webhooks/{id}` with `token` as the bearer (none:
    /// no token): status and JSON (Null when empty).
    pub async fn call_webhook(&self, id: &str, token: Option<&str>) -> (StatusCode, Value) {
        let mut request = self.http.post(self.url(&format!("/api/v1/webhooks/{id}")));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        let response = request.send().await.unwrap();
        let status = response.status();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    /// Creates `bronze.boom`, whose runs fail at run time (`error('boom')`),
    /// and runs it once to its failure.
    pub async fn fail_a_run(&self) {
        let (status, made) = self
            .post(
                "/api/v1/pipelines",
                serde_json::json!({"layer": "bronze", "name": "boom",
                                   "sql": "SELECT error('boom') AS x"}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{made}");
        assert_eq!(self.run_to_end("bronze.boom").await["status"], "failed");
    }

    /// Submits a run and waits for it to end; its record.
    pub async fn run_to_end(&self, pipeline: &str) -> Value {
        let (status, accepted) = self
            .post("/api/v1/runs", serde_json::json!({"pipeline": pipeline}))
            .await;
        assert_eq!(status, StatusCode::ACCEPTED, "{accepted}");
        let id = accepted["run_id"].as_str().unwrap().to_owned();
        self.wait_for_end(&id).await
    }

    pub async fn wait_for_end(&self, id: &str) -> Value {
        let start = Instant::now();
        loop {
            let (status, record) = self.get(&format!("/api/v1/runs/{id}")).await;
            assert_eq!(status, StatusCode::OK, "{record}");
            if ["success", "failed", "cancelled"].contains(&record["status"].as_str().unwrap()) {
                return record;
            }
            assert!(
                start.elapsed() < Duration::from_secs(60),
                "run {id} never ended"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

/// Asserts the error envelope: status, code, and words of the message.
pub fn assert_error(got: &(StatusCode, Value), status: StatusCode, code: &str, words: &[&str]) {
    let (got_status, body) = got;
    assert_eq!(*got_status, status, "{body}");
    assert_eq!(body["error"]["code"], code, "{body}");
    let message = body["error"]["message"].as_str().unwrap();
    for word in words {
        assert!(message.contains(word), "'{word}' not in: {message}");
    }
}

/// One server-sent event.
#[derive(Debug, Clone)]
pub struct Sse {
    pub id: Option<String>,
    pub event: String,
    pub data: Value,
}

/// Reads events from a `text/event-stream` response until `stop` says so.
pub async fn read_events(
    mut response: reqwest::Response,
    mut stop: impl FnMut(&Sse) -> bool,
) -> Vec<Sse> {
    let mut buffer = String::new();
    let mut events = Vec::new();
    while let Some(chunk) = response.chunk().await.unwrap() {
        buffer.push_str(std::str::from_utf8(&chunk).unwrap());
        while let Some(end) = buffer.find("\n\n") {
            let block: String = buffer.drain(..end + 2).collect();
            let mut event = Sse {
                id: None,
                event: "message".into(),
                data: Value::Null,
            };
            let mut data = String::new();
            for line in block.lines() {
                if let Some(v) = line.strip_prefix("id:") {
                    event.id = Some(v.trim().to_owned());
                } else if let Some(v) = line.strip_prefix("event:") {
                    event.event = v.trim().to_owned();
                } else if let Some(v) = line.strip_prefix("data:") {
                    data.push_str(v.trim_start());
                }
            }
            if data.is_empty() {
                continue; // a keep-alive comment
            }
            event.data = serde_json::from_str(&data).unwrap();
            let done = stop(&event);
            events.push(event);
            if done {
                return events;
            }
        }
    }
    events
}

/// A fresh database on the PostgreSQL of scripts/test-services.sh, as a
/// run store configuration (its URL in a file, as a secret would be).
pub async fn fresh_postgres(dir: &Path) -> rat_executor::RunStoreConfig {
    let url = postgres::fresh_database("rat_server").await;
    let name = url.rsplit('/').next().unwrap();
    let file = dir.join(format!("{name}.url"));
    std::fs::write(&file, &url).unwrap();
    rat_executor::RunStoreConfig::Postgres {
        url: rat_core::config::SecretRef::File(file),
    }
}

/// A secret in a file `name` of `dir`, as configs reference keys.
pub fn key_file(dir: &Path, name: &str, key: &str) -> rat_core::config::SecretRef {
    let path = dir.join(name);
    std::fs::write(&path, key).unwrap();
    rat_core::config::SecretRef::File(path)
}

/// The API key of `name` on a [`team`] server.
pub fn team_key(name: &str) -> String {
    format!("{name}-key-0123456789")
}

/// A server over the sample project whose principals are named API keys,
/// `(name, roles)` each with the key [`team_key`]; its `http` client
/// speaks as the first of them (so the helpers above work), [`call_as`]
/// as any.
pub async fn team(
    people: &[(&str, &[&str])],
    tune: impl FnOnce(&mut rat_server::ServerSetup),
) -> Server {
    let dir = tempfile::tempdir().unwrap();
    let keys = people
        .iter()
        .map(|(name, roles)| rat_server::auth::NamedKey {
            name: name.to_string(),
            key: key_file(dir.path(), name, &team_key(name)),
            roles: roles.iter().map(|r| r.to_string()).collect(),
        })
        .collect();
    let mut server = Server::sample_with(|setup| {
        setup.auth = rat_server::auth::AuthConfig::ApiKey {
            key: None,
            api_keys: keys,
        };
        tune(setup);
    })
    .await;
    // The key files are read at start.
    drop(dir);
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert("x-api-key", team_key(people[0].0).parse().unwrap());
    server.http = reqwest::Client::builder()
        .default_headers(headers)
        .build()
        .unwrap();
    server
}

/// `method path` as `who` of a [`team`] server: status and JSON (Null
/// when the body is empty or not JSON).
pub async fn call_as(
    server: &Server,
    who: &str,
    method: Method,
    path: &str,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let mut request = server
        .http
        .request(method, server.url(path))
        .header("x-api-key", team_key(who));
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.unwrap();
    let status = response.status();
    let text = response.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}
