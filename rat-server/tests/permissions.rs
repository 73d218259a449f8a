//! The permission matrix: every endpoint, as every kind of principal —
//! an admin, a table's owner, a reader by grant, a writer by role, a
//! member of the namespace only, an outsider, nobody — on objects in two
//! namespaces, against a real server. Each cell's status follows from the
//! table of rows in `permissions/model.rs` and what each principal may do
//! (`Space::standing`); then
//! the audit log must hold exactly the matrix's mutating and refused
//! requests, once each, with their principal and outcome; and the lists
//! show each principal what it may discover, nothing more.
#![allow(clippy::unwrap_used)]

mod common;
#[path = "permissions/model.rs"]
mod model;

use std::collections::HashMap;
use std::time::{Duration, Instant};

use common::Server;
use reqwest::Method;
use serde_json::{Value, json};

use model::*;

struct Matrix {
    server: Server,
    /// A client without credentials.
    anonymous: reqwest::Client,
}

/// One answered request of the matrix.
#[derive(Debug)]
struct Cell {
    who: Who,
    method: Method,
    path: String,
    status: u16,
    request_id: String,
    /// Whether the audit log must hold it, and with what outcome.
    audited: Option<&'static str>,
}

impl Matrix {
    async fn start() -> Self {
        Matrix {
            server: common::team(&PEOPLE, |_| {}).await,
            anonymous: reqwest::Client::new(),
        }
    }

    fn request(&self, who: Who, method: Method, path: &str) -> reqwest::RequestBuilder {
        let url = self.server.url(path);
        match who {
            Who::Key(i) => self
                .server
                .http
                .request(method, url)
                .header("x-api-key", common::team_key(PEOPLE[i].0)),
            // The team's client speaks as the admin by default.
            Who::Anonymous => self.anonymous.request(method, url),
        }
    }

    async fn send(&self, request: reqwest::RequestBuilder) -> (u16, Value) {
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        let text = response.text().await.unwrap();
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    async fn call(
        &self,
        who: Who,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> (u16, Value) {
        let mut request = self.request(who, method, path);
        if let Some(body) = body {
            request = request.json(&body);
        }
        self.send(request).await
    }

    /// `call`, which must answer `status`; its JSON.
    async fn must(
        &self,
        who: Who,
        method: Method,
        path: &str,
        body: Option<Value>,
        status: u16,
    ) -> Value {
        let (got, value) = self.call(who, method.clone(), path, body).await;
        assert_eq!(got, status, "{method} {path} as {}: {value}", who.name());
        value
    }

    async fn upload(&self, who: Who, zone: &str, name: &str) -> reqwest::RequestBuilder {
        let part =
            reqwest::multipart::Part::bytes(b"id,x\n1,a\n".to_vec()).file_name(name.to_owned());
        self.request(who, Method::POST, &format!("{zone}/files"))
            .multipart(reqwest::multipart::Form::new().part("file", part))
    }

    async fn revoke_nobodys(&self) {
        let grants = self
            .must(ADA, Method::GET, "/api/v1/sharing?limit=200", None, 200)
            .await;
        for grant in grants["items"].as_array().unwrap() {
            if grant["grantee"] == "user:nobody" {
                let path = format!("/api/v1/sharing/{}", grant["id"].as_str().unwrap());
                self.must(ADA, Method::DELETE, &path, None, 204).await;
            }
        }
    }

    async fn runs_ended(&self) {
        let start = Instant::now();
        loop {
            let runs = self
                .must(ADA, Method::GET, "/api/v1/runs?limit=200", None, 200)
                .await;
            let going = runs["items"]
                .as_array()
                .unwrap()
                .iter()
                .any(|r| ["pending", "running"].contains(&r["status"].as_str().unwrap()));
            if !going {
                return;
            }
            assert!(
                start.elapsed() < Duration::from_secs(120),
                "runs never ended: {runs}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Makes namespace `ns` with a pipeline `t` (run once, tested, a
    /// batch, a schedule), a hook, a landing zone with a file and a
    /// document. In `alpha`, olga owns `t` and the people hold what
    /// [`PEOPLE`] says; in `beta`, the admin made everything.
    async fn setup(&self, ns: &'static str) -> Space {
        use Method as M;
        let owner = if ns == "alpha" { Who::Key(1) } else { ADA };
        self.must(
            ADA,
            M::POST,
            "/api/v1/namespaces",
            Some(json!({"name": ns})),
            201,
        )
        .await;
        if ns == "alpha" {
            for member in ["user:olga", "user:mia"] {
                let path = format!("/api/v1/namespaces/{ns}/members/{member}");
                self.must(ADA, M::PUT, &path, None, 200).await;
            }
            let grant = json!({"object": "alpha.*", "grantee": "role:engineer", "level": "write"});
            self.must(ADA, M::POST, "/api/v1/sharing", Some(grant), 201)
                .await;
        }
        let pipeline =
            json!({"namespace": ns, "layer": "bronze", "name": "t", "sql": "SELECT 1 AS id"});
        self.must(owner, M::POST, "/api/v1/pipelines", Some(pipeline), 201)
            .await;
        let t = format!("/api/v1/pipelines/{ns}/bronze/t");
        let test = json!({"name": "t_ok", "sql": "SELECT * FROM {{ this }} WHERE id IS NULL"});
        self.must(owner, M::POST, &format!("{t}/tests"), Some(test), 201)
            .await;
        if ns == "alpha" {
            let grant =
                json!({"object": "alpha.bronze.t", "grantee": "user:rita", "level": "read"});
            self.must(owner, M::POST, "/api/v1/sharing", Some(grant), 201)
                .await;
        }
        let run = self
            .must(
                owner,
                M::POST,
                "/api/v1/runs",
                Some(json!({"pipeline": format!("{ns}.bronze.t")})),
                202,
            )
            .await["run_id"]
            .as_str()
            .unwrap()
            .to_owned();
        self.runs_ended().await;
        let batch = json!({"namespace": ns, "pipelines": ["bronze.t"]});
        let batch = self
            .must(owner, M::POST, "/api/v1/runs", Some(batch), 202)
            .await["id"]
            .as_str()
            .unwrap()
            .to_owned();
        self.runs_ended().await;
        let cron = json!({"pipeline": format!("{ns}.bronze.t"), "cron": "0 6 * * *"});
        let schedule = self
            .must(owner, M::POST, "/api/v1/schedules", Some(cron), 201)
            .await["id"]
            .as_str()
            .unwrap()
            .to_owned();
        let hook = json!({"url": "http://127.0.0.1:9/hook", "events": ["run_failed"]});
        let hooks = format!("/api/v1/namespaces/{ns}/notifications");
        let hook = self.must(ADA, M::POST, &hooks, Some(hook), 201).await["id"]
            .as_str()
            .unwrap()
            .to_owned();
        let zone = json!({"namespace": ns, "name": "inbox"});
        self.must(ADA, M::POST, "/api/v1/landing-zones", Some(zone), 201)
            .await;
        let zone = format!("/api/v1/landing-zones/{ns}/inbox");
        let (status, uploaded) = self.send(self.upload(ADA, &zone, "a.csv").await).await;
        assert_eq!(status, 201, "{uploaded}");
        let readme = json!({"content": "# hello\n"});
        self.must(
            ADA,
            M::PUT,
            &format!("/api/v1/files/{ns}/README.md"),
            Some(readme),
            200,
        )
        .await;
        let history = self
            .must(
                ADA,
                M::GET,
                &format!("/api/v1/tables/{ns}/bronze/t/history"),
                None,
                200,
            )
            .await;
        let snapshot = history[0]["snapshot_id"].as_i64().unwrap();
        Space {
            ns,
            run,
            batch,
            schedule,
            hook,
            snapshot,
        }
    }

    /// Readies a row's object; the id `{id}` stands for, if any.
    async fn prepare(&self, space: &Space, prep: &Prep) -> Option<String> {
        use Method as M;
        let ns = space.ns;
        let id = |value: Value| Some(value["id"].as_str().unwrap().to_owned());
        match prep {
            Prep::None => None,
            Prep::Requests(requests) => {
                for (who, method, path, body) in requests {
                    self.call(*who, method.clone(), path, body.clone()).await;
                }
                None
            }
            Prep::UploadDoomed => {
                let zone = format!("/api/v1/landing-zones/{ns}/inbox");
                self.send(self.upload(ADA, &zone, "doomed.csv").await).await;
                None
            }
            Prep::NoGrant => {
                self.revoke_nobodys().await;
                None
            }
            Prep::Grant => {
                self.revoke_nobodys().await;
                let grant = json!({"object": format!("{ns}.bronze.t"), "grantee": "user:nobody", "level": "read"});
                id(self
                    .must(ADA, M::POST, "/api/v1/sharing", Some(grant), 201)
                    .await)
            }
            Prep::Hook => {
                let hook = json!({"url": "http://127.0.0.1:9/hook", "events": ["run_failed"]});
                let hooks = format!("/api/v1/namespaces/{ns}/notifications");
                id(self.must(ADA, M::POST, &hooks, Some(hook), 201).await)
            }
            Prep::Schedule => {
                let cron = json!({"pipeline": format!("{ns}.bronze.t"), "cron": "0 7 * * *"});
                id(self
                    .must(ADA, M::POST, "/api/v1/schedules", Some(cron), 201)
                    .await)
            }
            Prep::RunsEnded => {
                self.runs_ended().await;
                None
            }
        }
    }

    /// Every cell of `space`'s rows: each principal's status against the
    /// expected one (all mismatches reported together).
    async fn run(&self, space: &Space, cells: &mut Vec<Cell>, wrong: &mut Vec<String>) {
        for row in rows(space) {
            for who in Who::all() {
                let id = self.prepare(space, &row.prep).await;
                let path = match &id {
                    Some(id) => row.path.replace("{id}", id),
                    None => row.path.clone(),
                };
                let request_id = format!("matrix-{}", cells.len());
                let mut request = match &row.body {
                    Body::Upload(name) => {
                        let zone = path.trim_end_matches("/files");
                        self.upload(who, zone, name).await
                    }
                    _ => self.request(who, row.method.clone(), &path),
                };
                if let Body::Json(body) = &row.body {
                    request = request.json(body);
                }
                let (status, answer) = self.send(request.header("x-request-id", &request_id)).await;
                let expected = space.expected(who, &row);
                if status != expected {
                    wrong.push(format!(
                        "{} {path} as {}: {status}, expected {expected}: {answer}",
                        row.method,
                        who.name()
                    ));
                }
                cells.push(Cell {
                    who,
                    method: row.method.clone(),
                    path,
                    status,
                    request_id,
                    audited: audited(&row, status),
                });
            }
        }
    }
}

/// The outcome the audit log must record for a cell, if any: every
/// request that changes something, and every refused one (401, 403, 404
/// for an object hidden from the caller).
fn audited(row: &Row, status: u16) -> Option<&'static str> {
    let reads = row.method == Method::GET
        || ["/preview", "/compile", "/tests/run", "/query"]
            .iter()
            .any(|tail| row.path.ends_with(tail));
    let hidden = status == 404 && !matches!(row.refusal, Refusal::Uniform(_));
    match status {
        401 | 403 => Some("denied"),
        _ if hidden => Some("denied"),
        _ if reads => None,
        200..=299 => Some("ok"),
        _ => Some("failed"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_endpoint_answers_every_principal_as_the_model_says() {
    let matrix = Matrix::start().await;
    let alpha = matrix.setup("alpha").await;
    let beta = matrix.setup("beta").await;
    let mut cells = Vec::new();
    let mut wrong = Vec::new();
    matrix.run(&alpha, &mut cells, &mut wrong).await;
    matrix.run(&beta, &mut cells, &mut wrong).await;
    assert!(
        wrong.is_empty(),
        "{} of {} cells differ from the model:\n{}",
        wrong.len(),
        cells.len(),
        wrong.join("\n")
    );

    // The lists: each principal discovers alpha's objects as the model
    // says, beta's only the admin.
    for (i, (name, _)) in PEOPLE.iter().enumerate() {
        let who = Who::Key(i);
        let visible = |value: &Value, field: &str| -> Vec<String> {
            let mut seen: Vec<String> = value["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|item| item[field].as_str().unwrap().to_owned())
                .filter(|n| {
                    n == "alpha" || n == "beta" || n.starts_with("alpha.") || n.starts_with("beta.")
                })
                .collect();
            seen.sort();
            seen.dedup();
            seen
        };
        let expected_ns: Vec<String> = [&alpha, &beta]
            .iter()
            .filter(|s| s.standing(i, Scope::Namespace) >= May::Discover)
            .map(|s| s.ns.to_owned())
            .collect();
        let namespaces = matrix
            .must(who, Method::GET, "/api/v1/namespaces?limit=200", None, 200)
            .await;
        assert_eq!(
            visible(&namespaces, "name"),
            expected_ns,
            "namespaces as {name}"
        );
        let expected_tables: Vec<String> = [&alpha, &beta]
            .iter()
            .filter(|s| s.standing(i, Scope::Table) >= May::Discover)
            .map(|s| format!("{}.bronze.t", s.ns))
            .collect();
        for space in [&alpha, &beta] {
            let tables = matrix
                .must(
                    who,
                    Method::GET,
                    &format!("/api/v1/tables?namespace={}", space.ns),
                    None,
                    200,
                )
                .await;
            let want: Vec<String> = expected_tables
                .iter()
                .filter(|t| t.starts_with(space.ns))
                .cloned()
                .collect();
            let seen: Vec<String> = tables["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|t| t["table"].as_str().unwrap().to_owned())
                .filter(|t| t.ends_with(".bronze.t"))
                .collect();
            assert_eq!(seen, want, "tables of {} as {name}: {tables}", space.ns);
        }
    }

    // The audit log: each mutating or refused cell exactly once, with its
    // principal and outcome; nothing for a read that was let through.
    let mut entries: HashMap<String, Vec<Value>> = HashMap::new();
    let mut offset = 0;
    loop {
        let page = matrix
            .must(
                ADA,
                Method::GET,
                &format!("/api/v1/audit?limit=200&offset={offset}"),
                None,
                200,
            )
            .await;
        for entry in page["items"].as_array().unwrap() {
            // No credential reaches the log: keys travel in headers, which
            // it never records.
            assert!(!entry.to_string().contains("-key-"), "{entry}");
            if let Some(id) = entry["request_id"].as_str() {
                entries
                    .entry(id.to_owned())
                    .or_default()
                    .push(entry.clone());
            }
        }
        if page["has_more"] != true {
            break;
        }
        offset += 200;
    }
    let mut missing = Vec::new();
    for cell in &cells {
        let found = entries.get(&cell.request_id).map_or(&[][..], Vec::as_slice);
        let described = format!(
            "{} {} as {} ({})",
            cell.method,
            cell.path,
            cell.who.name(),
            cell.status
        );
        match cell.audited {
            None if found.is_empty() => {}
            None => missing.push(format!("{described}: audited though a read let through")),
            Some(outcome) => {
                if found.len() != 1 {
                    missing.push(format!("{described}: {} entries", found.len()));
                    continue;
                }
                let entry = &found[0];
                let object = cell.path.split('?').next().unwrap();
                if entry["principal"] != cell.who.name()
                    || entry["outcome"] != outcome
                    || entry["status"] != cell.status
                    || entry["object"] != object
                    || !entry["verb"]
                        .as_str()
                        .unwrap()
                        .starts_with(cell.method.as_str())
                {
                    missing.push(format!(
                        "{described}: recorded as {entry}, expected {outcome}"
                    ));
                }
            }
        }
    }
    assert!(
        missing.is_empty(),
        "the audit log differs:\n{}",
        missing.join("\n")
    );
    let audited = cells.iter().filter(|c| c.audited.is_some()).count();
    assert!(audited > 300, "only {audited} audited cells");
}
