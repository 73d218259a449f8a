//! Pipeline SQL reads only what its run resolved, through `rat run`
//! (embedded: the project's own files too) and through `rat serve`
//! (strict): every escape below fails with an error naming the pipeline
//! file and what was refused, and leaves no table and no snapshot; refs,
//! cross-namespace refs and landing zones still work.
#![allow(clippy::unwrap_used)]

mod common;

use std::io::Read;
use std::net::TcpListener;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use common::{rat, write};
use rat_core::{Catalog, RunContext, RunEngine, RunSpec, RunStatus, TracingLogSink};
use serde_json::{Value, json};

/// An HTTP server on loopback counting the connections it gets: a
/// pipeline reading `http://127.0.0.1:PORT/` must never reach it.
fn counting_server() -> (String, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/rows.csv", listener.local_addr().unwrap());
    let hits = Arc::new(AtomicUsize::new(0));
    let counter = hits.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            counter.fetch_add(1, Ordering::SeqCst);
            let mut stream = stream.unwrap();
            let mut request = [0u8; 1024];
            let _ = stream.read(&mut request);
            let _ = std::io::Write::write_all(
                &mut stream,
                b"HTTP/1.1 200 OK\r\ncontent-length: 4\r\n\r\na\n1\n",
            );
        }
    });
    (url, hits)
}

/// Escapes by path: (pipeline name, SQL, what the error must name).
fn path_escapes(
    project: &Path,
    outside: &Path,
    url: &str,
    other_files: &str,
) -> Vec<(&'static str, String, String)> {
    let p = project.display();
    let o = outside.display();
    vec![
        (
            "etc_passwd",
            "SELECT * FROM read_csv('/etc/passwd')".into(),
            "/etc/passwd".into(),
        ),
        (
            "catalog_file",
            format!("SELECT * FROM read_blob('{p}/.rat/catalog.db')"),
            format!("{p}/.rat/catalog.db"),
        ),
        (
            "catalog_glob",
            format!("SELECT * FROM read_blob('{p}/.rat/*.db')"),
            ".rat/*.db".into(),
        ),
        (
            "dot_dot",
            format!("SELECT * FROM read_csv('{p}/landing/../../outside/secret.csv')"),
            "secret.csv".into(),
        ),
        (
            "outside_path",
            format!("SELECT * FROM read_csv('{o}/secret.csv')"),
            format!("{o}/secret.csv"),
        ),
        (
            "symlink",
            format!("SELECT * FROM read_csv('{p}/seeds/link.csv')"),
            format!("{p}/seeds/link.csv"),
        ),
        ("glob_root", "SELECT * FROM glob('/*')".into(), "/*".into()),
        (
            "http_url",
            format!("SELECT * FROM read_csv('{url}')"),
            url.to_owned(),
        ),
        (
            "other_namespace",
            format!("SELECT * FROM read_parquet('{other_files}')"),
            other_files.to_owned(),
        ),
    ]
}

/// Escapes by statement: refused before anything runs, naming the file.
fn statement_escapes(project: &Path) -> Vec<(&'static str, String, String)> {
    let p = project.display();
    vec![
        (
            "set_access",
            "SET enable_external_access = true".into(),
            "SELECT".into(),
        ),
        ("install", "INSTALL httpfs".into(), "SELECT".into()),
        (
            "attach",
            format!("ATTACH '{p}/.rat/catalog.db' AS c"),
            "SELECT".into(),
        ),
        (
            "copy_in_cte",
            format!("WITH x AS (COPY (SELECT 1) TO '{p}/copied.csv') SELECT 1"),
            "syntax".into(),
        ),
    ]
}

/// A project with the fixtures every escape aims at: a secret outside it,
/// a symlink inside pointing there, a seed file it may read (embedded),
/// a landing zone, and upstream pipelines to ref().
fn project_with_fixtures(root: &Path) -> (std::path::PathBuf, std::path::PathBuf) {
    let project = root.join("project");
    let outside = root.join("outside");
    write(&outside, "secret.csv", "password\nhunter2\n");
    write(&project, "seeds/plants.csv", "plant\nfern\n");
    std::os::unix::fs::symlink(outside.join("secret.csv"), project.join("seeds/link.csv")).unwrap();
    write(&project, "landing/drops/a.csv", "id,n\n1,10\n2,20\n");
    write(
        &project,
        "pipelines/bronze/drops/pipeline.sql",
        "SELECT * FROM {{ landing_zone('drops') }}",
    );
    write(
        &project,
        "pipelines/silver/doubled/pipeline.sql",
        "SELECT id, n * 2 AS n FROM {{ ref('bronze.drops') }}",
    );
    (project, outside)
}

fn assert_named(error: &str, file: &str, named: &str) {
    assert!(
        error.contains(file) && error.contains(named),
        "the error names neither {file} nor {named}: {error}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rat_run_reads_only_what_a_run_resolved_and_the_project_s_own_files() {
    let tmp = tempfile::tempdir().unwrap();
    let root = std::fs::canonicalize(tmp.path()).unwrap();
    let (project, outside) = project_with_fixtures(&root);
    // Another namespace's table, made by the engine directly.
    write(
        &project,
        "other/pipelines/bronze/secret/pipeline.sql",
        "SELECT 'classified' AS s",
    );
    {
        let lakehouse = rat_core::LakehouseConfig::embedded(&project);
        let engine = rat_runner::Engine::open(&lakehouse, Default::default())
            .await
            .unwrap();
        let ctx = RunContext {
            cancel: Default::default(),
            log: Arc::new(TracingLogSink),
        };
        let result = engine
            .execute(RunSpec::new("other.bronze.secret".parse().unwrap()), ctx)
            .await;
        assert_eq!(result.status, RunStatus::Success, "{:?}", result.error);
    }
    let other_files = format!(
        "{}/.rat/warehouse/other/bronze/secret/data/*/*/*.parquet",
        project.display()
    );
    let (url, hits) = counting_server();
    let escapes = path_escapes(&project, &outside, &url, &other_files);
    for (name, sql, _) in &escapes {
        write(
            &project,
            &format!("pipelines/bronze/{name}/pipeline.sql"),
            sql,
        );
    }
    write(
        &project,
        "pipelines/bronze/seeds/pipeline.sql",
        &format!(
            "SELECT * FROM read_csv('{}/seeds/plants.csv')",
            project.display()
        ),
    );
    write(
        &project,
        "pipelines/gold/across/pipeline.sql",
        "SELECT s FROM {{ ref('other.bronze.secret') }}",
    );

    let out = rat(&project, &["run", "--json"]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    let by_table = |name: &str| -> Value {
        report["runs"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["table"] == format!("default.bronze.{name}"))
            .cloned()
            .unwrap_or_else(|| panic!("no run of {name}: {report}"))
    };
    for (name, _, named) in &escapes {
        let run = by_table(name);
        assert_eq!(run["status"], "failed", "{name}: {run}");
        let error = run["error"]["message"].as_str().unwrap();
        assert!(
            error.contains("refused by the SQL sandbox"),
            "{name}: {error}"
        );
        assert_named(
            error,
            &format!("pipelines/bronze/{name}/pipeline.sql"),
            named,
        );
    }
    assert_eq!(
        hits.load(Ordering::SeqCst),
        0,
        "a pipeline reached the HTTP server"
    );
    // What may be read was: landing zones, refs (across namespaces too),
    // the project's own files.
    for ok in [
        "default.bronze.drops",
        "default.silver.doubled",
        "default.bronze.seeds",
        "default.gold.across",
    ] {
        let run = report["runs"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["table"] == ok)
            .unwrap();
        assert_eq!(run["status"], "success", "{ok}: {run}");
    }
    let tables: Value =
        serde_json::from_slice(&rat(&project, &["tables", "--json"]).stdout).unwrap();
    let names: Vec<&str> = tables
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["table"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "default.bronze.drops",
            "default.bronze.seeds",
            "default.silver.doubled",
            "default.gold.across",
            "other.bronze.secret"
        ],
        "a refused pipeline left a table"
    );

    // Statements are refused before anything runs.
    for (name, sql, named) in statement_escapes(&project) {
        write(
            &project,
            &format!("pipelines/bronze/{name}/pipeline.sql"),
            &sql,
        );
        let out = rat(&project, &["run", &format!("bronze.{name}")]);
        assert_eq!(out.status.code(), Some(2), "{name}: {out:?}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_named(
            &stderr,
            &format!("pipelines/bronze/{name}/pipeline.sql"),
            &named,
        );
        std::fs::remove_dir_all(project.join(format!("pipelines/bronze/{name}"))).unwrap();
    }
    assert!(!project.join("copied.csv").exists());

    // A rat-runner process per run (--isolate) holds to the same rules.
    let out = rat(
        &project,
        &[
            "run",
            "--isolate",
            "--json",
            "bronze.etc_passwd",
            "bronze.seeds",
        ],
    );
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["runs"][0]["executor"], "process");
    let error = report["runs"][0]["error"]["message"].as_str().unwrap();
    assert_named(
        error,
        "pipelines/bronze/etc_passwd/pipeline.sql",
        "/etc/passwd",
    );
    assert_eq!(report["runs"][1]["status"], "success", "{report}");

    // A refused change to an existing table leaves its snapshot.
    let before: Value =
        serde_json::from_slice(&rat(&project, &["tables", "--json"]).stdout).unwrap();
    write(
        &project,
        "pipelines/bronze/drops/pipeline.sql",
        "SELECT * FROM read_csv('/etc/passwd')",
    );
    let out = rat(&project, &["run", "bronze.drops"]);
    assert_eq!(out.status.code(), Some(1));
    let after: Value =
        serde_json::from_slice(&rat(&project, &["tables", "--json"]).stdout).unwrap();
    assert_eq!(before, after);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_s_pipelines_read_only_what_their_run_resolved() {
    let tmp = tempfile::tempdir().unwrap();
    let root = std::fs::canonicalize(tmp.path()).unwrap();
    let (project, outside) = project_with_fixtures(&root);
    write(
        &project,
        "rat.yaml",
        "server:\n  listen: 127.0.0.1:0\n  executor: {type: local, workers: 4}\n",
    );
    let served = common::serve(&project, &[]);
    let api = format!("{}/api/v1", served.url);
    let http = reqwest::Client::new();
    let post = |path: &str, body: Value| {
        let request = http.post(format!("{api}{path}")).json(&body);
        async move { request.send().await.unwrap() }
    };
    let client = served.client();

    // Team B's table, which team A's pipeline must not read by path.
    assert_eq!(
        post("/namespaces", json!({"name": "team_b"}))
            .await
            .status(),
        201
    );
    let created = post(
        "/pipelines",
        json!({"namespace": "team_b", "layer": "bronze", "name": "secret", "sql": "SELECT 'classified' AS s"}),
    )
    .await;
    assert_eq!(created.status(), 201);
    let run = post("/runs", json!({"pipeline": "team_b.bronze.secret"})).await;
    let run: Value = run.json().await.unwrap();
    let record =
        common::wait_for_end(&client, &run["run_id"].as_str().unwrap().parse().unwrap()).await;
    assert_eq!(record.status, RunStatus::Success, "{:?}", record.error);
    let other_files = format!(
        "{}/.rat/warehouse/team_b/bronze/secret/data/*/*/*.parquet",
        project.display()
    );

    let (url, hits) = counting_server();
    let mut escapes = path_escapes(&project, &outside, &url, &other_files);
    // A strict server reads no project file either.
    escapes.push((
        "seed_file",
        format!(
            "SELECT * FROM read_csv('{}/seeds/plants.csv')",
            project.display()
        ),
        "plants.csv".into(),
    ));
    let mut runs = Vec::new();
    for (name, sql, _) in &escapes {
        let saved = post(
            "/pipelines",
            json!({"layer": "bronze", "name": name, "sql": sql}),
        )
        .await;
        assert_eq!(
            saved.status(),
            201,
            "{name}: {}",
            saved.text().await.unwrap()
        );
        let run: Value = post("/runs", json!({"pipeline": format!("bronze.{name}")}))
            .await
            .json()
            .await
            .unwrap();
        runs.push(
            run["run_id"]
                .as_str()
                .unwrap()
                .parse::<rat_core::RunId>()
                .unwrap(),
        );
    }
    for ((name, _, named), run) in escapes.iter().zip(&runs) {
        let record = common::wait_for_end(&client, run).await;
        assert_eq!(record.status, RunStatus::Failed, "{name}");
        let error = record.error.unwrap().message;
        assert!(
            error.contains("refused by the SQL sandbox"),
            "{name}: {error}"
        );
        assert_named(
            &error,
            &format!("pipelines/bronze/{name}/pipeline.sql"),
            named,
        );
    }
    assert_eq!(
        hits.load(Ordering::SeqCst),
        0,
        "a pipeline reached the HTTP server"
    );

    // Statements are refused when saved, naming the file.
    for (name, sql, named) in statement_escapes(&project) {
        let saved = post(
            "/pipelines",
            json!({"layer": "bronze", "name": name, "sql": sql}),
        )
        .await;
        assert_eq!(saved.status(), 422, "{name}");
        let body: Value = saved.json().await.unwrap();
        let message = body["error"]["message"].as_str().unwrap();
        assert_named(
            message,
            &format!("pipelines/bronze/{name}/pipeline.sql"),
            &named,
        );
    }

    // Landing zones, refs and cross-namespace refs work; nothing refused
    // left a table.
    for (name, sql) in [("across", "SELECT s FROM {{ ref('team_b.bronze.secret') }}")] {
        let saved = post(
            "/pipelines",
            json!({"layer": "gold", "name": name, "sql": sql}),
        )
        .await;
        assert_eq!(saved.status(), 201);
    }
    for pipeline in ["bronze.drops", "silver.doubled", "gold.across"] {
        let run: Value = post("/runs", json!({"pipeline": pipeline}))
            .await
            .json()
            .await
            .unwrap();
        let record =
            common::wait_for_end(&client, &run["run_id"].as_str().unwrap().parse().unwrap()).await;
        assert_eq!(
            record.status,
            RunStatus::Success,
            "{pipeline}: {:?}",
            record.error
        );
    }
    let catalog = rat_runner::catalog::SqlCatalog::open(
        project.join(".rat/catalog.db"),
        project.join(".rat/warehouse"),
    )
    .await
    .unwrap();
    let tables = catalog
        .list_tables(&rat_core::ident::namespace("default").unwrap())
        .await
        .unwrap();
    let names: Vec<String> = tables.iter().map(|t| t.to_string()).collect();
    assert_eq!(
        names,
        [
            "default.bronze.drops",
            "default.silver.doubled",
            "default.gold.across"
        ],
        "a refused pipeline left a table"
    );
}
