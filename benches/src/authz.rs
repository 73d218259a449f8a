//! What access checks cost: `GET /pipelines` and `POST /query` on a server
//! whose grant store holds `grants` grants (spread over a thousand other
//! principals and roles; the caller, a member of the namespace, holds a
//! few of them by its role), against the same requests on the same
//! project served without authentication (allow-all, no checks), the two
//! servers asked in turn so noise hits both alike. Target: ratio ≤ 1.2.

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, ensure};
use futures::StreamExt;
use rat_core::config::SecretRef;
use rat_server::ServerSetup;
use rat_server::auth::{AuthConfig, NamedKey};
use serde_json::{Value, json};

use crate::report::{median, table};
use crate::setup::BenchProject;

/// Pipelines in the namespace listed.
const PIPELINES: usize = 150;
/// Principals (and as many roles) the other grants go to.
const OTHERS: usize = 1000;
const ADMIN_KEY: &str = "admin-key-0123456789";
const CALLER_KEY: &str = "caller-key-0123456789";

struct Served {
    base: String,
    http: reqwest::Client,
    key: Option<&'static str>,
    _server: rat_server::Server,
    _project: BenchProject,
}

impl Served {
    async fn start(authenticated: bool) -> Result<Self> {
        let project = BenchProject::new()?;
        for i in 0..PIPELINES {
            project.write(
                &format!("pipelines/bronze/p{i:03}/pipeline.sql"),
                &format!("SELECT {i} AS n"),
            )?;
        }
        project.write(
            "pipelines/bronze/facts/pipeline.sql",
            "SELECT i AS n FROM range(1000) t(i)",
        )?;
        let mut setup = ServerSetup::embedded(Path::new(project.path()));
        setup.scheduler = None;
        if authenticated {
            let key = |name: &str, key: &str| -> Result<SecretRef> {
                let path = project.path().join(format!(".{name}.key"));
                std::fs::write(&path, key)?;
                Ok(SecretRef::File(path))
            };
            setup.auth = AuthConfig::ApiKey {
                key: None,
                api_keys: vec![
                    NamedKey {
                        name: "admin".into(),
                        key: key("admin", ADMIN_KEY)?,
                        roles: vec!["admin".into()],
                    },
                    NamedKey {
                        name: "caller".into(),
                        key: key("caller", CALLER_KEY)?,
                        roles: vec!["analyst".into()],
                    },
                ],
            };
        }
        let server = setup.open().await?;
        let base = format!("{}/api/v1", crate::setup::serve(&server).await?);
        let served = Served {
            base,
            http: reqwest::Client::builder()
                .pool_max_idle_per_host(64)
                .build()?,
            key: authenticated.then_some(ADMIN_KEY),
            _server: server,
            _project: project,
        };
        let (status, run) = served
            .call("POST", "/runs", Some(json!({"pipeline": "bronze.facts"})))
            .await?;
        ensure!(status == 202, "run: {status} {run}");
        let id = run["run_id"].as_str().context("run id")?.to_owned();
        let deadline = Instant::now() + Duration::from_secs(120);
        while served.call("GET", &format!("/runs/{id}"), None).await?.1["status"] != "success" {
            ensure!(Instant::now() < deadline, "the facts run never succeeded");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        Ok(served)
    }

    async fn call(&self, method: &str, path: &str, body: Option<Value>) -> Result<(u16, Value)> {
        let mut request = self
            .http
            .request(method.parse()?, format!("{}{path}", self.base));
        if let Some(key) = self.key {
            request = request.header("x-api-key", key);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await?;
        let status = response.status().as_u16();
        Ok((status, response.json().await.unwrap_or(Value::Null)))
    }

    /// `grants` grants: the caller's role reads `facts` and nine pipelines
    /// and the namespace lets it discover; the rest go to others, on
    /// single tables and on patterns.
    async fn grant(&self, grants: usize) -> Result<()> {
        let (status, _) = self
            .call("PUT", "/namespaces/default/members/role:analyst", None)
            .await?;
        ensure!(status == 200, "member: {status}");
        let mut bodies = vec![
            json!({"object": "default.bronze.facts", "grantee": "role:analyst", "level": "read"}),
        ];
        for i in 0..9 {
            bodies.push(json!({"object": format!("default.bronze.p{i:03}"), "grantee": "role:analyst", "level": "read"}));
        }
        for i in bodies.len()..grants {
            let grantee = match i % 2 {
                0 => format!("user:u{}", i % OTHERS),
                _ => format!("role:r{}", i % OTHERS),
            };
            let object = match i % 50 {
                0 => format!("ns{}.*", i % 97),
                _ => format!("default.bronze.p{:03}", (i / OTHERS) % PIPELINES),
            };
            bodies.push(json!({"object": object, "grantee": grantee, "level": if i % 3 == 0 { "write" } else { "read" }}));
        }
        let made = futures::stream::iter(bodies)
            .map(|body| self.call("POST", "/sharing", Some(body)))
            .buffer_unordered(16)
            .collect::<Vec<_>>()
            .await;
        let mut created = 0;
        for result in made {
            let (status, answer) = result?;
            // A pattern naming an absent namespace is refused, and the
            // modulo arithmetic repeats a few pairs: both are fine here.
            if status == 201 {
                created += 1;
            } else {
                ensure!(
                    [409, 404, 422].contains(&status),
                    "share: {status} {answer}"
                );
            }
        }
        ensure!(
            created * 10 >= grants * 9,
            "only {created} of {grants} grants made"
        );
        Ok(())
    }
}

/// One request's latency in milliseconds; its status must be 200.
async fn timed(served: &Served, method: &str, path: &str, body: Option<Value>) -> Result<Duration> {
    let clock = Instant::now();
    let (status, answer) = served.call(method, path, body).await?;
    let elapsed = clock.elapsed();
    ensure!(status == 200, "{method} {path}: {status} {answer}");
    Ok(elapsed)
}

pub(crate) async fn run(grants: usize, repeat: usize) -> Result<()> {
    let open = Served::start(false).await?;
    let mut checked = Served::start(true).await?;
    let clock = Instant::now();
    checked.grant(grants).await?;
    println!(
        "{grants} grants made in {:.1} s",
        clock.elapsed().as_secs_f64()
    );
    checked.key = Some(CALLER_KEY);

    // What the caller sees: every pipeline (a member), and the facts.
    let (_, page) = checked
        .call("GET", &format!("/pipelines?limit={}", PIPELINES + 1), None)
        .await?;
    ensure!(
        page["items"].as_array().map(Vec::len) == Some(PIPELINES + 1),
        "the caller should discover every pipeline: {page}"
    );
    let query = json!({"sql": "SELECT count(*) AS n FROM \"default\".bronze.facts"});
    let (status, answer) = checked.call("POST", "/query", Some(query.clone())).await?;
    ensure!(
        status == 200 && answer["rows"][0][0].to_string().contains("1000"),
        "query: {status} {answer}"
    );

    let list = format!("/pipelines?limit={}", PIPELINES + 1);
    let cases: [(&str, &str, &str, Option<Value>); 2] = [
        ("GET /pipelines", "GET", list.as_str(), None),
        ("POST /query", "POST", "/query", Some(query)),
    ];
    let mut rows = Vec::new();
    for (name, method, path, body) in cases {
        let (mut base, mut with) = (Vec::new(), Vec::new());
        for _ in 0..3 {
            timed(&open, method, path, body.clone()).await?;
            timed(&checked, method, path, body.clone()).await?;
        }
        for _ in 0..repeat {
            base.push(timed(&open, method, path, body.clone()).await?);
            with.push(timed(&checked, method, path, body.clone()).await?);
        }
        let (b, w) = (median(&base), median(&with));
        let ratio = w.as_secs_f64() / b.as_secs_f64();
        rows.push(vec![
            name.to_owned(),
            format!("{:.2}", b.as_secs_f64() * 1000.0),
            format!("{:.2}", w.as_secs_f64() * 1000.0),
            format!("{ratio:.2}"),
            if ratio <= 1.2 { "ok" } else { "over 1.2" }.to_owned(),
        ]);
    }
    println!("\naccess checks, {grants} grants, median of {repeat} interleaved requests:");
    table(
        &[
            "request",
            "allow-all ms",
            "grant store ms",
            "ratio",
            "target <= 1.2",
        ],
        &rows,
    );
    Ok(())
}
