//! `rat serve` composes the server from rat.yaml's `server:` section and
//! serves the project: here with the process executor (a rat-runner per
//! run), checked over HTTP, then stopped with Ctrl-C.
#![allow(clippy::unwrap_used)]

mod common;

use std::time::{Duration, Instant};

use common::write;

#[test]
fn serve_builds_the_server_from_the_config_and_stops_on_ctrl_c() {
    let dir = tempfile::tempdir().unwrap();
    let project = dir.path();
    write(
        project,
        "pipelines/bronze/numbers/pipeline.sql",
        "SELECT range AS n FROM range(5)",
    );
    write(
        project,
        "rat.yaml",
        "storage: {type: local, root: .}\n\
         catalog: {type: sql, path: .rat/catalog.db, warehouse: .rat/warehouse}\n\
         server:\n  listen: 127.0.0.1:0\n  executor: {type: process, workers: 2}\n",
    );
    let runner = std::path::Path::new(env!("CARGO_BIN_EXE_rat")).with_file_name("rat-runner");
    let mut served = common::serve(project, &[("RAT_RUNNER", runner.to_str().unwrap())]);
    let base = served.url.clone();

    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let http = reqwest::Client::new();
        let features: serde_json::Value = http
            .get(format!("{base}/api/v1/features"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(features["executor"], "process");
        assert_eq!(features["run_store"], "sqlite");
        let accepted: serde_json::Value = http
            .post(format!("{base}/api/v1/runs"))
            .json(&serde_json::json!({"pipeline": "bronze.numbers"}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let id = accepted["run_id"].as_str().unwrap().to_owned();
        let start = Instant::now();
        loop {
            let record: serde_json::Value = http
                .get(format!("{base}/api/v1/runs/{id}"))
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            if record["status"] == "success" {
                assert_eq!(record["executor"], "process");
                assert_eq!(record["result"]["rows_written"], 5);
                break;
            }
            assert_ne!(record["status"], "failed", "{record}");
            assert!(start.elapsed() < Duration::from_secs(60), "{record}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    });

    rustix::process::kill_process(
        rustix::process::Pid::from_child(&served.child),
        rustix::process::Signal::INT,
    )
    .unwrap();
    let status = served.child.wait().unwrap();
    assert!(status.success(), "{status:?}");
}

#[test]
fn a_broken_server_section_is_refused_by_name() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "rat.yaml", "server: {executor: {type: gpu}}\n");
    let out = common::rat(
        dir.path(),
        &[
            "--config",
            dir.path().join("rat.yaml").to_str().unwrap(),
            "serve",
        ],
    );
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("gpu") && stderr.contains("rat.yaml"),
        "{stderr}"
    );
}
