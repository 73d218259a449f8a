//! `rat --config rat.yaml` on the sample project against SeaweedFS (S3
//! storage, Iceberg REST catalog), in process and with a runner process per
//! run. Needs `scripts/test-services.sh start`.
#![allow(clippy::unwrap_used)]

mod common;

use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

const SECRET_VAR: &str = "RAT_TEST_S3_SECRET";
/// Test-only key of the loopback server (scripts/services/seaweedfs-iam.json).
const SECRET: &str = "rat-test-admin-secret";

fn rat_with_config(project: &Path, config: &Path, args: &[&str]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_rat"));
    command
        .arg("--project")
        .arg(project)
        .arg("--config")
        .arg(config)
        .args(args)
        .env(SECRET_VAR, SECRET)
        .env_remove("AWS_ACCESS_KEY_ID")
        .env_remove("AWS_SECRET_ACCESS_KEY")
        .env_remove("AWS_SESSION_TOKEN");
    command.output().unwrap()
}

fn python() -> PathBuf {
    let venv = std::env::var_os("RAT_VENV")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(std::env::var_os("HOME").unwrap()).join(".cache/rat/venv")
        });
    venv.join("bin/python")
}

fn upload_sample(prefix: &str) {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/sample-project");
    let script = format!(
        "import boto3, os\n\
         s3 = boto3.client('s3', endpoint_url='http://127.0.0.1:8333', region_name='us-east-1', \
         aws_access_key_id='rat-test-admin', aws_secret_access_key='{SECRET}')\n\
         root = '{}'\n\
         for d, _, files in os.walk(root):\n\
         \x20   for f in files:\n\
         \x20       p = os.path.join(d, f)\n\
         \x20       s3.upload_file(p, 'lake', '{prefix}/' + os.path.relpath(p, root))\n",
        src.display()
    );
    let out = Command::new(python())
        .arg("-c")
        .arg(script)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn json(out: &Output) -> serde_json::Value {
    assert!(
        out.status.success(),
        "rat failed: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn rat_run_with_a_config_file_runs_the_sample_project_on_seaweedfs() {
    for port in [8333, 8181] {
        let addr = format!("127.0.0.1:{port}").parse().unwrap();
        assert!(
            TcpStream::connect_timeout(&addr, Duration::from_secs(2)).is_ok(),
            "SeaweedFS is not running: scripts/test-services.sh start"
        );
    }
    let prefix = format!("cli{}", std::process::id());
    upload_sample(&prefix);
    let project = tempfile::tempdir().unwrap();
    let config = project.path().join("rat.yaml");
    std::fs::write(
        &config,
        format!(
            "storage:
  type: s3
  bucket: lake
  prefix: {prefix}
  endpoint: http://127.0.0.1:8333
  path_style: true
  credentials: {{type: static, access_key_id: rat-test-admin, secret_access_key: {{env: {SECRET_VAR}}}}}
catalog:
  type: rest
  uri: http://127.0.0.1:8181
  warehouse: s3://warehouse
  auth: {{type: oauth2, client_id: rat-test-admin, client_secret: {{env: {SECRET_VAR}}}}}
"
        ),
    )
    .unwrap();

    // The config printed back names the variable, never its value.
    let shown = rat_with_config(project.path(), &config, &["config"]);
    let shown = String::from_utf8(shown.stdout).unwrap();
    assert!(
        shown.contains(SECRET_VAR) && !shown.contains(SECRET),
        "{shown}"
    );

    let report = json(&rat_with_config(
        project.path(),
        &config,
        &["--json", "run"],
    ));
    let runs = report["runs"].as_array().expect("runs");
    assert_eq!(runs.len(), 5, "{report}");
    assert!(runs.iter().all(|r| r["status"] == "success"), "{report}");

    // Again with a runner process per run: it gets the config, not secrets.
    let report = json(&rat_with_config(
        project.path(),
        &config,
        &["--json", "run", "--isolate", "gold.top_customers"],
    ));
    assert_eq!(report["runs"][0]["status"], "success", "{report}");
    for entry in walkdir(&project.path().join(".rat/runs")) {
        let text = std::fs::read_to_string(&entry).unwrap_or_default();
        assert!(
            !text.contains(SECRET),
            "{} holds the secret",
            entry.display()
        );
    }

    let out = json(&rat_with_config(
        project.path(),
        &config,
        &[
            "--json",
            "query",
            "SELECT count(*) AS n FROM gold.top_customers",
        ],
    ));
    assert_eq!(out["rows"][0][0], 10, "{out}");

    // A literal secret in the file is refused, naming the file.
    std::fs::write(&config, "storage: {type: s3, bucket: lake, credentials: {type: static, access_key_id: a, secret_access_key: hunter2}}\ncatalog: {type: sql, path: c.db, warehouse: w}\n").unwrap();
    let out = rat_with_config(project.path(), &config, &["run"]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("rat.yaml") && stderr.contains("{env: VAR}"),
        "{stderr}"
    );
    assert!(!stderr.contains("hunter2"), "{stderr}");
}

fn walkdir(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() {
            out.extend(walkdir(&path));
        } else {
            out.push(path);
        }
    }
    out
}
