//! `rat serve` composes the server from rat.yaml's `server:` section and
//! serves the project: here with the process executor (a rat-runner per
//! run), checked over HTTP, then stopped with Ctrl-C.
#![allow(clippy::unwrap_used)]

mod common;

use common::write;
use rat_core::RunStatus;
use rat_server::api::PlatformApi;

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
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let client = served.client();
        let features = client.features().await.unwrap();
        assert_eq!(features.executor, "process");
        assert_eq!(features.run_store, "sqlite");
        let run = common::submit(&client, "bronze.numbers").await;
        let record = common::wait_for_end(&client, &run).await;
        assert_eq!(record.status, RunStatus::Success, "{:?}", record.error);
        assert_eq!(record.executor, "process");
        assert_eq!(record.result.unwrap().rows_written, 5);
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
