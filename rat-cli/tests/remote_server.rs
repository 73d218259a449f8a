//! `rat --server URL`: the same commands against a real `rat serve` (API
//! key auth, token from RAT_TOKEN), with the local mode's output formats
//! and exit codes.
#![allow(clippy::unwrap_used)]

mod common;

use std::path::Path;
use std::process::{Command, Output};

use common::Served;
use serde_json::Value;

const KEY: &str = "rat-remote-cli-test-key-42";

fn copy_tree(from: &Path, to: &Path) {
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        if entry.file_name() == ".rat" {
            continue;
        }
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            std::fs::create_dir_all(&target).unwrap();
            copy_tree(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

fn serve(project: &Path) -> Served {
    std::fs::write(project.join("api-key"), KEY).unwrap();
    std::fs::write(
        project.join("rat.yaml"),
        "storage: {type: local, root: .}\n\
         catalog: {type: sql, path: .rat/catalog.db, warehouse: .rat/warehouse}\n\
         server:\n  listen: 127.0.0.1:0\n  auth: {type: api_key, key: {file: api-key}}\n",
    )
    .unwrap();
    common::serve(project, &[])
}

/// `rat --server URL <args>` with the token in the environment.
fn remote(served: &Served, token: Option<&str>, args: &[&str]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_rat"));
    command
        .args(["--server", &served.url])
        .args(args)
        .env_remove("RAT_TOKEN");
    if let Some(token) = token {
        command.env("RAT_TOKEN", token);
    }
    command.output().unwrap()
}

fn json(out: &Output) -> Value {
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn the_cli_works_against_a_server_as_it_does_locally() {
    let dir = tempfile::tempdir().unwrap();
    let project = dir.path();
    copy_tree(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/sample-project"),
        project,
    );
    let served = serve(project);
    let key = Some(KEY);

    // The whole DAG, upstream first, through the server's executor.
    let report = json(&remote(&served, key, &["--json", "run"]));
    assert_eq!(report["status"], "success", "{report}");
    let runs = report["runs"].as_array().unwrap();
    assert_eq!(runs.len(), 5);
    assert_eq!(runs[4]["table"], "default.gold.top_customers");

    // Same JSON as the local commands over the same project.
    for args in [["--json", "tables"], ["--json", "pipelines"]] {
        let remote = json(&remote(&served, key, &args));
        let local = json(&common::rat(project, &args));
        assert_eq!(remote, local, "{args:?}");
    }
    let listed = json(&remote(&served, key, &["--json", "runs", "--limit", "3"]));
    assert_eq!(listed.as_array().unwrap().len(), 3);
    let run = runs[0]["run_id"].as_str().unwrap();
    let logs = remote(&served, key, &["logs", run, "-f"]);
    assert!(logs.status.success());
    assert!(
        String::from_utf8_lossy(&logs.stdout).contains("INFO"),
        "{logs:?}"
    );
    let out = json(&remote(
        &served,
        key,
        &[
            "--json",
            "query",
            "SELECT count(*) AS n FROM gold.top_customers",
        ],
    ));
    assert_eq!(out["rows"][0][0], 10);

    // Schedules live on the server.
    let added = json(&remote(
        &served,
        key,
        &[
            "--json",
            "schedules",
            "add",
            "bronze.orders",
            "--cron",
            "0 6 * * *",
        ],
    ));
    let id = added["id"].as_str().unwrap();
    let listed = json(&remote(&served, key, &["--json", "schedules"]));
    assert_eq!(listed[0]["id"], id);
    assert!(
        remote(&served, key, &["schedules", "delete", id])
            .status
            .success()
    );
    let locally = common::rat(project, &["schedules"]);
    assert_eq!(locally.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&locally.stderr).contains("--server"));

    // Errors: the server's message, the local exit codes.
    let cancel = remote(&served, key, &["cancel", run]);
    assert_eq!(cancel.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&cancel.stderr).contains("already ended"),
        "{cancel:?}"
    );
    let bad = remote(&served, key, &["runs", "--status", "done"]);
    assert_eq!(bad.status.code(), Some(2));
    let unknown = remote(&served, key, &["run", "gold.nothing"]);
    assert_eq!(unknown.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&unknown.stderr).contains("gold.nothing"));
    let local_only = remote(&served, key, &["history", "bronze.orders"]);
    assert_eq!(local_only.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&local_only.stderr).contains("not available with --server"));
    let refused = remote(&served, None, &["runs"]);
    assert_eq!(refused.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("API key"),
        "{refused:?}"
    );
    let wrong = remote(&served, Some("not-the-key"), &["runs"]);
    assert!(!String::from_utf8_lossy(&wrong.stderr).contains("not-the-key"));
}
