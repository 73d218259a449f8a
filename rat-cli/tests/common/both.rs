//! Running one command locally and through a `rat serve` over the same
//! project (API key auth, token from RAT_TOKEN), and comparing what each
//! printed, for the tests that hold both faces to one answer.
#![allow(dead_code)]

use std::path::Path;
use std::process::{Command, Output};

use serde_json::Value;

use super::Served;

pub const KEY: &str = "rat-both-ways-test-key-42";

pub fn serve(project: &Path) -> Served {
    std::fs::write(project.join("api-key"), KEY).unwrap();
    std::fs::write(
        project.join("rat.yaml"),
        "storage: {type: local, root: .}\n\
         catalog: {type: sql, path: .rat/catalog.db, warehouse: .rat/warehouse}\n\
         server:\n  listen: 127.0.0.1:0\n  auth: {type: api_key, key: {file: api-key}}\n",
    )
    .unwrap();
    super::serve(project, &[])
}

/// `rat --server URL <args>` with the token in the environment.
pub fn remote_rat(served: &Served, token: Option<&str>, args: &[&str]) -> Output {
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

/// Runs `args` locally and remotely: both outputs, local first.
pub fn both(project: &Path, served: &Served, args: &[&str]) -> (Output, Output) {
    (
        super::rat(project, args),
        remote_rat(served, Some(KEY), args),
    )
}

/// The same exit code and byte-identical stdout.
pub fn same(project: &Path, served: &Served, args: &[&str]) -> Output {
    let (local, remote) = both(project, served, args);
    assert_eq!(
        local.status.code(),
        remote.status.code(),
        "{args:?}: {local:?} / {remote:?}"
    );
    assert_eq!(
        String::from_utf8_lossy(&local.stdout),
        String::from_utf8_lossy(&remote.stdout),
        "{args:?}"
    );
    local
}

/// `value` with what differs between two executions of one command
/// masked: ids, times, durations, snapshot ids, log line times, and who
/// started a run (nobody locally, the server's caller through it).
pub fn masked(value: &Value) -> Value {
    const VOLATILE: [&str; 18] = [
        "batch",
        "run_id",
        "id",
        "snapshot_id",
        "base_snapshot_id",
        "submitted_at",
        "started_at",
        "finished_at",
        "created_at",
        "next_fire_at",
        "millis",
        "timing",
        "timings",
        "owner",
        "started_by",
        "handle",
        "at",
        "message",
    ];
    match value {
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| {
                    let v = if VOLATILE.contains(&k.as_str()) {
                        Value::String("*".into())
                    } else {
                        masked(v)
                    };
                    (k.clone(), v)
                })
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(masked).collect()),
        other => other.clone(),
    }
}

pub fn json(out: &Output) -> Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "{e}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

/// Byte-identical once masked.
pub fn same_masked(local: &Output, remote: &Output, what: &str) {
    assert_eq!(local.status.code(), remote.status.code(), "{what}");
    let (l, r) = (masked(&json(local)), masked(&json(remote)));
    assert_eq!(l.to_string(), r.to_string(), "{what}");
}

/// A copy of the sample project, and a server over it.
pub fn sample_served() -> (tempfile::TempDir, Served) {
    let dir = tempfile::tempdir().unwrap();
    super::copy_tree(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/sample-project"),
        dir.path(),
    );
    let served = serve(dir.path());
    (dir, served)
}
