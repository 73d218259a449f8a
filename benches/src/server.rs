//! The HTTP server under load and its live logs.
//!
//! - Load: `submissions` run submissions from 32 concurrent clients against
//!   a server with 2 workers and a queue of 8. Each is accepted (202) or
//!   refused (429), every accepted run must end with a record (none lost),
//!   and `GET /runs/{id}` latency is measured under that load against the
//!   same request on the idle server (baseline, same process).
//! - Live logs: each log line's delay from the engine writing it (its
//!   `at`) to a `text/event-stream` client reading it; target p50 < 50 ms.
//!   Baseline: the same lines fetched by polling the JSON endpoint every
//!   100 ms, the usual alternative.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail, ensure};
use futures::StreamExt;
use rat_server::ServerSetup;
use rat_server::config::ExecutorConfig;
use serde_json::{Value, json};
use tokio::sync::Mutex;

use crate::report::{percentiles, table};
use crate::setup::BenchProject;

const CLIENTS: usize = 32;

struct Running {
    base: String,
    http: reqwest::Client,
    _server: rat_server::Server,
    _project: BenchProject,
}

async fn start(workers: usize, queue: usize) -> Result<Running> {
    let project = BenchProject::new()?;
    project.write("pipelines/bronze/tiny/pipeline.sql", "SELECT 1 AS n")?;
    project.write(
        "pipelines/bronze/chatty/pipeline.sql",
        "SELECT i AS n FROM range(100000) t(i)",
    )?;
    let mut setup = ServerSetup::embedded(Path::new(project.path()));
    setup.executor = ExecutorConfig::Local(rat_executor::PoolConfig {
        workers,
        queue,
        ..Default::default()
    });
    setup.scheduler = None;
    let server = setup.open().await?;
    let base = format!("{}/api/v1", crate::setup::serve(&server).await?);
    Ok(Running {
        base,
        http: reqwest::Client::builder()
            .pool_max_idle_per_host(64)
            .build()?,
        _server: server,
        _project: project,
    })
}

impl Running {
    async fn submit(&self, pipeline: &str) -> Result<(u16, Value)> {
        let response = self
            .http
            .post(format!("{}/runs", self.base))
            .json(&json!({"pipeline": pipeline}))
            .send()
            .await?;
        let status = response.status().as_u16();
        Ok((status, response.json().await?))
    }

    /// One `GET /runs/{id}`: its latency in milliseconds and the record.
    async fn get(&self, id: &str) -> Result<(f64, Value)> {
        let clock = Instant::now();
        let response = self
            .http
            .get(format!("{}/runs/{id}", self.base))
            .send()
            .await?;
        ensure!(
            response.status() == 200,
            "GET /runs/{id}: {}",
            response.status()
        );
        let record: Value = response.json().await?;
        Ok((clock.elapsed().as_secs_f64() * 1000.0, record))
    }

    async fn wait_for_end(&self, id: &str) -> Result<Value> {
        let deadline = Instant::now() + Duration::from_secs(300);
        loop {
            let (_, record) = self.get(id).await?;
            if ["success", "failed", "cancelled"].contains(&record["status"].as_str().unwrap_or(""))
            {
                return Ok(record);
            }
            ensure!(Instant::now() < deadline, "run {id} never ended");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

pub(crate) async fn run(submissions: usize) -> Result<()> {
    load(submissions).await?;
    live_logs().await
}

async fn load(submissions: usize) -> Result<()> {
    let server = Arc::new(start(2, 8).await?);
    // Warm-up creates the table; then the idle baseline.
    let (_, first) = server.submit("bronze.tiny").await?;
    let first_id = first["run_id"].as_str().context("run id")?.to_owned();
    server.wait_for_end(&first_id).await?;
    let mut idle = Vec::new();
    for _ in 0..200 {
        idle.push(server.get(&first_id).await?.0);
    }

    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let accepted = Arc::new(Mutex::new(Vec::<String>::new()));
    let loaded = Arc::new(Mutex::new(Vec::<f64>::new()));
    let refused = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let clock = Instant::now();
    let clients = (0..CLIENTS).map(|_| {
        let (server, next, accepted, loaded, refused) = (
            server.clone(),
            next.clone(),
            accepted.clone(),
            loaded.clone(),
            refused.clone(),
        );
        let first_id = first_id.clone();
        async move {
            // Bounded: each client stops once the shared count is spent.
            while next.fetch_add(1, std::sync::atomic::Ordering::SeqCst) < submissions {
                let (status, body) = server.submit("bronze.tiny").await?;
                let id = match status {
                    202 => {
                        let id = body["run_id"].as_str().context("run id")?.to_owned();
                        accepted.lock().await.push(id.clone());
                        id
                    }
                    429 => {
                        ensure!(body["error"]["code"] == "queue_full", "{body}");
                        refused.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                        first_id.clone()
                    }
                    other => bail!("POST /runs answered {other}: {body}"),
                };
                let (ms, _) = server.get(&id).await?;
                loaded.lock().await.push(ms);
            }
            anyhow::Ok(())
        }
    });
    futures::stream::iter(clients)
        .buffer_unordered(CLIENTS)
        .collect::<Vec<_>>()
        .await
        .into_iter()
        .collect::<Result<Vec<_>>>()?;
    let submitting = clock.elapsed();

    let accepted = accepted.lock().await.clone();
    let refused = refused.load(std::sync::atomic::Ordering::SeqCst);
    let mut ended = 0;
    for id in &accepted {
        let record = server.wait_for_end(id).await?;
        ensure!(record["status"] == "success", "run {id}: {record}");
        ended += 1;
    }
    let lost = accepted.len() - ended;
    ensure!(
        accepted.len() + refused == submissions,
        "a submission got neither 202 nor 429"
    );

    let (i50, i99) = percentiles(&mut idle);
    let mut loaded = loaded.lock().await.clone();
    let (l50, l99) = percentiles(&mut loaded);
    println!(
        "\nserver load: {submissions} submissions from {CLIENTS} clients, 2 workers, queue 8 \
         (submitting took {:.1} s)\n",
        submitting.as_secs_f64()
    );
    table(
        &[
            "accepted (202)",
            "refused (429)",
            "ended with a record",
            "lost",
        ],
        &[vec![
            accepted.len().to_string(),
            refused.to_string(),
            ended.to_string(),
            lost.to_string(),
        ]],
    );
    println!();
    table(
        &["GET /runs/{id}", "p50 ms", "p99 ms", "p50 ratio to idle"],
        &[
            vec![
                "idle".into(),
                format!("{i50:.2}"),
                format!("{i99:.2}"),
                "1.00".into(),
            ],
            vec![
                "under load".into(),
                format!("{l50:.2}"),
                format!("{l99:.2}"),
                format!("{:.2}", l50 / i50),
            ],
        ],
    );
    Ok(())
}

/// Lines of one run as an SSE client sees them: delay from `at`, in ms.
async fn sse_delays(server: &Running, id: &str) -> Result<Vec<f64>> {
    let mut response = server
        .http
        .get(format!("{}/runs/{id}/logs", server.base))
        .header("accept", "text/event-stream")
        .send()
        .await?;
    let mut buffer = String::new();
    let mut delays = Vec::new();
    while let Some(chunk) = response.chunk().await? {
        let now = chrono::Utc::now();
        buffer.push_str(std::str::from_utf8(&chunk)?);
        while let Some(end) = buffer.find("\n\n") {
            let block: String = buffer.drain(..end + 2).collect();
            if block.contains("event: end") {
                return Ok(delays);
            }
            if let Some(data) = block.lines().find_map(|l| l.strip_prefix("data: ")) {
                let line: Value = serde_json::from_str(data)?;
                let at: chrono::DateTime<chrono::Utc> =
                    line["at"].as_str().context("at")?.parse()?;
                delays.push((now - at).num_microseconds().context("overflow")? as f64 / 1000.0);
            }
        }
    }
    Ok(delays)
}

/// The same lines by polling `GET /runs/{id}/logs` every 100 ms.
async fn polled_delays(server: &Running, id: &str) -> Result<Vec<f64>> {
    let mut next_seq = 0;
    let mut delays = Vec::new();
    loop {
        let page: Value = server
            .http
            .get(format!(
                "{}/runs/{id}/logs?from_seq={next_seq}",
                server.base
            ))
            .send()
            .await?
            .json()
            .await?;
        let now = chrono::Utc::now();
        for line in page["items"].as_array().context("items")? {
            let at: chrono::DateTime<chrono::Utc> = line["at"].as_str().context("at")?.parse()?;
            delays.push((now - at).num_microseconds().context("overflow")? as f64 / 1000.0);
        }
        next_seq = page["next_seq"].as_u64().context("next_seq")?;
        let (_, record) = server.get(id).await?;
        if record["status"] != "pending" && record["status"] != "running" {
            // One last page for lines written just before the end.
            if page["items"].as_array().is_some_and(|a| a.is_empty()) {
                return Ok(delays);
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn live_logs() -> Result<()> {
    let server = start(2, 8).await?;
    let (_, warm) = server.submit("bronze.chatty").await?;
    server
        .wait_for_end(warm["run_id"].as_str().context("id")?)
        .await?;
    let (mut sse, mut polled) = (Vec::new(), Vec::new());
    for round in 0..20 {
        let (_, accepted) = server.submit("bronze.chatty").await?;
        let id = accepted["run_id"].as_str().context("id")?.to_owned();
        // Interleaved, so both see the same machine.
        if round % 2 == 0 {
            sse.extend(sse_delays(&server, &id).await?);
        } else {
            polled.extend(polled_delays(&server, &id).await?);
        }
        server.wait_for_end(&id).await?;
    }
    ensure!(!sse.is_empty() && !polled.is_empty(), "no log lines seen");
    let (s50, s99) = percentiles(&mut sse);
    let (p50, p99) = percentiles(&mut polled);
    println!("\nlive logs: delay from a line being written to a client reading it (ms)\n");
    table(
        &["client", "lines", "p50", "p99", "target p50"],
        &[
            vec![
                "text/event-stream".into(),
                sse.len().to_string(),
                format!("{s50:.2}"),
                format!("{s99:.2}"),
                "< 50".into(),
            ],
            vec![
                "JSON polled every 100 ms".into(),
                polled.len().to_string(),
                format!("{p50:.2}"),
                format!("{p99:.2}"),
                "-".into(),
            ],
        ],
    );
    Ok(())
}
