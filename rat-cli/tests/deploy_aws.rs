//! The AWS template end to end without an AWS account: deployed into
//! moto's CloudFormation (tests/deploy/moto_stack.py, as the README's
//! runbook deploys it), then `rat serve` started the way the stack's server
//! task starts it — its rat.yaml from the SSM parameter the stack wrote, in
//! `RAT_CONFIG_YAML`, its secrets as the task definition injects them —
//! submits the sample project, whose runs become ECS tasks of the stack's
//! runner task definition on the stack's cluster, played by the real
//! `rat-runner` (task_player, as in the other ECS tests).
//!
//! What moto cannot be is stood in for, and only that: SeaweedFS plays S3,
//! STS (its role stands for the stack's vending role: the one replacement
//! made in the generated file) and the Iceberg REST catalog, so the
//! storage endpoints are `RAT__*` overrides; the loopback PostgreSQL plays
//! RDS (`RAT_DATABASE_URL`, which the task definition sets, points at it);
//! the server listens on a free port. Needs `scripts/test-services.sh start`.
#![allow(clippy::unwrap_used)]

mod common;
#[path = "../../rat-cloud-aws/tests/common/moto.rs"]
mod moto;
#[path = "../../rat-executor/tests/common/postgres.rs"]
mod postgres;
#[path = "../../rat-cloud-aws/tests/common/seaweedfs.rs"]
mod seaweedfs;
#[path = "../../examples/aws-fargate/tests/common/task_player.rs"]
mod task_player;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use rat_core::{ObjectKey, RunStatus, Storage, StorageCredentials, StorageExt};
use rat_server::api::{BatchRequest, FilesApi, PlatformApi, QueryRequest};
use seaweedfs::{ADMIN_KEY, ADMIN_SECRET, CATALOG_URI, ENDPOINT, ROLE};
use serde_json::Value;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Deploys the template; what moto_stack.py reports.
fn deploy(settings: &Value) -> Value {
    use std::io::Write;
    let venv = std::env::var("RAT_VENV").expect("RAT_VENV (scripts/env.sh)");
    let mut child = std::process::Command::new(format!("{venv}/bin/python"))
        .arg(repo().join("rat-cli/tests/deploy/moto_stack.py"))
        .arg(moto::endpoint())
        .arg(repo().join("deploy/aws/rat-platform.yaml"))
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(settings.to_string().as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "moto_stack.py: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

fn namespace() -> String {
    format!("dep{}", &rat_core::RunId::generate().as_str()[20..])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_stack_s_server_runs_the_sample_project_as_fargate_tasks_with_vended_credentials() {
    let ecs_sdk = moto::sdk().await;
    moto::hold_tasks().await;
    let catalog_token = seaweedfs::catalog_token().await;
    let api_key = format!("rat-admin-{}", rat_core::RunId::generate().as_str());
    let suffix = rat_core::RunId::generate().as_str()[16..].to_owned();
    let stack = deploy(&serde_json::json!({
        "suffix": suffix,
        "bucket": "lake",
        "catalog_uri": CATALOG_URI,
        "warehouse": "s3://warehouse",
        "catalog_token": catalog_token,
        "database_password": "not-needed-by-trust-auth",
        "api_key": api_key,
    }));
    assert_eq!(stack["status"], "CREATE_COMPLETE", "{}", stack["reason"]);
    let outputs = &stack["outputs"];
    let output = |key: &str| outputs[key].as_str().unwrap().to_owned();

    assert_what_moto_made(&stack);
    let cluster = output("ClusterArn").rsplit('/').next().unwrap().to_owned();
    // The server's environment, as its task definition makes it.
    let config = stack["config"]
        .as_str()
        .unwrap()
        .replace(&output("VendingRoleArn"), ROLE);
    // The stack's RDS; password-less, as the task definition's URL.
    let database = postgres::fresh_database("rat_deploy").await;
    let binaries = task_player::binaries();
    let path = format!(
        "{}:{}",
        binaries.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let dir = tempfile::tempdir().unwrap();
    let env = [
        ("RAT_CONFIG_YAML", config.as_str()),
        ("RAT_DATABASE_URL", database.as_str()),
        ("PGPASSWORD", "not-needed-by-trust-auth"),
        ("RAT_CATALOG_TOKEN", catalog_token.as_str()),
        ("RAT_API_KEY", api_key.as_str()),
        // The task role's identity and where its calls go.
        ("AWS_ACCESS_KEY_ID", ADMIN_KEY),
        ("AWS_SECRET_ACCESS_KEY", ADMIN_SECRET),
        ("AWS_REGION", "us-east-1"),
        ("AWS_ENDPOINT_URL_ECS", &moto::endpoint()),
        ("AWS_ENDPOINT_URL_CLOUDWATCH_LOGS", &moto::endpoint()),
        ("AWS_ENDPOINT_URL_STS", ENDPOINT),
        ("PATH", &path),
        // Loopback stand-ins, and a quicker look at task states.
        ("RAT__SERVER__LISTEN", "127.0.0.1:0"),
        ("RAT__STORAGE__ENDPOINT", ENDPOINT),
        ("RAT__STORAGE__PATH_STYLE", "true"),
        ("RAT__CATALOG__S3__ENDPOINT", ENDPOINT),
        ("RAT__CATALOG__S3__PATH_STYLE", "true"),
        ("RAT__SERVER__EXECUTOR__POLL_INTERVAL_MS", "200"),
    ];
    let served = common::serve_with(dir.path(), &["serve"], &env);
    let player = task_player::play(
        ecs_sdk.clone(),
        &cluster,
        task_player::TaskRole {
            access_key_id: ADMIN_KEY.into(),
            secret_access_key: ADMIN_SECRET.into(),
            sts_endpoint: ENDPOINT.into(),
        },
    );

    let client = assert_the_endpoint(&served, dir.path(), &api_key).await;

    // The sample project, through the API, into a namespace of the lake.
    let ns = namespace();
    client
        .create_namespace(&rat_server::api::NewNamespace {
            name: ns.clone(),
            description: Some("the sample project on the stack".into()),
        })
        .await
        .unwrap();
    let sample = repo().join("examples/sample-project");
    assert_eq!(upload(&client, &ns, &sample).await, 12);
    let batch = client
        .submit_batch(&BatchRequest {
            pipelines: Vec::new(),
            all: true,
            namespace: Some(ns.clone()),
            downstream: false,
            limits: Default::default(),
            parallel: None,
        })
        .await
        .unwrap();
    let start = Instant::now();
    let batch = loop {
        let batch = client.batch(&batch.id).await.unwrap();
        if batch.status.is_terminal() {
            break batch;
        }
        served_alive(&served, start, &batch);
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let mut runs = Vec::new();
    for item in &batch.items {
        let run = item.run_id.clone().unwrap_or_else(|| panic!("{item:?}"));
        let record = client.run(&run).await.unwrap();
        assert_eq!(
            record.status,
            RunStatus::Success,
            "{}: {:?}\n{}",
            item.table,
            record.error,
            served.stderr()
        );
        assert_eq!(record.executor, "ecs");
        runs.push(run);
    }
    assert_eq!(runs.len(), 5, "{batch:?}");
    player.abort();

    let command = assert_runs_were_stack_tasks(
        &ecs_sdk,
        &cluster,
        &runs,
        &output("RunnerTaskDefinitionArn"),
        &[&catalog_token, &api_key],
    )
    .await;
    assert_vended_scope(&command, &ns, &binaries).await;

    // The tables, in the catalog, through the server.
    let out = client
        .query(&QueryRequest {
            sql: format!("SELECT count(*) AS n FROM {ns}.gold.top_customers"),
            namespace: None,
            limit: None,
            timeout_ms: None,
            snapshots: Default::default(),
        })
        .await
        .unwrap();
    assert_eq!(out.rows[0][0], serde_json::json!(10), "{:?}", out.rows);
    assert!(
        !served.stderr().contains(&catalog_token),
        "the token in the server's log"
    );
}

/// Only /health answers without the key; with it the server is the
/// stack's (ECS executor, STS vendor, PostgreSQL store); the image's health
/// check passes, and fails for a server that is not there. The client.
async fn assert_the_endpoint(
    served: &common::Served,
    project: &Path,
    api_key: &str,
) -> rat_server::client::Client {
    let http = reqwest::Client::new();
    let health = http
        .get(format!("{}/health", served.url))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status(), 200);
    let anonymous = http
        .get(format!("{}/api/v1/pipelines", served.url))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), 401);
    let client =
        rat_server::client::Client::new(&served.url, Some(api_key.to_owned().into())).unwrap();
    let features = client.features().await.unwrap();
    assert_eq!(
        (
            features.executor.as_str(),
            features.credential_vendor.as_str(),
            features.run_store.as_str()
        ),
        ("ecs", "sts", "postgres")
    );

    // The image's health check: the readiness of run store, catalog and
    // storage, as the server reaches them; a server that is not there fails.
    let health = common::rat(project, &["--server", &served.url, "health"]);
    let said = String::from_utf8_lossy(&health.stdout);
    assert!(health.status.success(), "{said}");
    assert!(
        said.contains("run_store") && said.trim_end().ends_with("ready"),
        "{said}"
    );
    let gone = common::rat(project, &["--server", "http://127.0.0.1:9", "health"]);
    assert_eq!(gone.status.code(), Some(1));

    client
}

/// What moto made of the stack: the cluster, log groups, bucket, roles
/// and policies, the task definitions with their secrets.
fn assert_what_moto_made(stack: &Value) {
    let outputs = &stack["outputs"];
    let output = |key: &str| outputs[key].as_str().unwrap().to_owned();
    let cluster = output("ClusterArn").rsplit('/').next().unwrap().to_owned();
    assert_eq!(stack["clusters"], serde_json::json!([cluster]));
    for group in ["ServerLogGroupName", "RunnerLogGroupName"] {
        assert_eq!(
            stack["log_groups"][output(group)]["retention"],
            365,
            "{group}"
        );
    }
    assert_eq!(stack["bucket"]["encryption"], "aws:kms");
    let runner_policy = stack["roles"]["RunnerTaskRoleArn"].to_string();
    assert!(
        runner_policy.contains(&output("VendingRoleArn")),
        "{runner_policy}"
    );
    let server_policy = stack["roles"]["ServerTaskRoleArn"].to_string();
    assert!(
        server_policy.contains("iam:PassRole")
            && server_policy.contains(&output("RunnerTaskRoleArn"))
    );
    // (moto keeps no roles or network mode of a definition it makes from
    // a template; tests/aws_stack.rs in rat-cloud-aws checks those.)
    let runner_definition = &stack["task_definitions"]["RunnerTaskDefinitionArn"];
    let container = &runner_definition["containers"][0];
    assert_eq!(container["name"], "rat-runner");
    assert_eq!(container["readonlyRootFilesystem"], true);
    assert_eq!(
        container["secrets"][0]["valueFrom"],
        stack["secrets"]["catalog_token"]
    );
    let server_container = &stack["task_definitions"]["ServerTaskDefinitionArn"]["containers"][0];
    let injected: BTreeMap<&str, &str> = server_container["secrets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["name"].as_str().unwrap(),
                s["valueFrom"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        injected.keys().copied().collect::<Vec<_>>(),
        [
            "PGPASSWORD",
            "RAT_API_KEY",
            "RAT_CATALOG_TOKEN",
            "RAT_CONFIG_YAML"
        ]
    );
    assert!(injected["RAT_CONFIG_YAML"].ends_with(&output("ServerConfigParameter")));
    let database_url = server_container["environment"][0]["value"]
        .as_str()
        .unwrap();
    assert!(database_url.starts_with("postgres://rat@") && !database_url.contains(":rat@"));
}

/// Writes the project under `sample` into `ns` through the API; how many
/// files.
async fn upload(client: &rat_server::client::Client, ns: &str, sample: &Path) -> usize {
    // Code first: a pipeline's config and tests need its code.
    let mut files: Vec<PathBuf> = walkdir::WalkDir::new(sample)
        .into_iter()
        .map(|e| e.unwrap())
        .filter(|e| e.file_type().is_file())
        .map(|e| e.path().strip_prefix(sample).unwrap().to_owned())
        .collect();
    files.sort_by_key(|path| (!path.ends_with("pipeline.sql"), path.clone()));
    let mut uploaded = 0;
    for relative in &files {
        let text = std::fs::read_to_string(sample.join(relative)).unwrap();
        client
            .write_project_file(ns, relative.to_str().unwrap(), &text)
            .await
            .unwrap();
        uploaded += 1;
    }
    uploaded
}

/// Each run was a task of the stack's runner definition on its cluster,
/// carrying a command for its namespace's credentials and no secret; that
/// command.
async fn assert_runs_were_stack_tasks(
    sdk: &aws_types::SdkConfig,
    cluster: &str,
    runs: &[rat_core::RunId],
    definition: &str,
    secrets: &[&str],
) -> Vec<String> {
    let mut command = None;
    for run in runs {
        let tasks = moto::stopped_tasks(sdk, cluster, run.as_str()).await;
        let task = &tasks[0];
        assert_eq!(task.task_definition_arn(), Some(definition));
        let text = format!("{task:?}");
        for secret in secrets {
            assert!(!text.contains(secret), "a secret in a task request");
        }
        let overrides = &task.overrides().unwrap().container_overrides()[0];
        let input = overrides
            .environment()
            .iter()
            .find(|v| v.name() == Some("RAT_RUNNER_INPUT"))
            .and_then(|v| v.value())
            .unwrap();
        let input: Value = serde_json::from_str(input).unwrap();
        command = Some(input["lakehouse"]["storage"]["credentials"]["command"].clone());
    }
    let command: Vec<String> = serde_json::from_value(command.unwrap()).unwrap();
    assert_eq!(
        &command[..5],
        [
            "rat-aws-credentials",
            "--role-arn",
            ROLE,
            "--bucket",
            "lake"
        ]
    );
    assert!(
        !command.contains(&"--whole-bucket".to_owned()),
        "{command:?}"
    );

    command
}

/// The credentials `command` prints for a task of `ns` reach its prefix
/// and not another's.
async fn assert_vended_scope(command: &[String], ns: &str, binaries: &Path) {
    let printed = std::process::Command::new(binaries.join("rat-aws-credentials"))
        .args(&command[1..])
        .env("RAT_NAMESPACE", ns)
        .env("AWS_ACCESS_KEY_ID", ADMIN_KEY)
        .env("AWS_SECRET_ACCESS_KEY", ADMIN_SECRET)
        .env("AWS_REGION", "us-east-1")
        .env("AWS_ENDPOINT_URL_STS", ENDPOINT)
        .output()
        .unwrap();
    assert!(
        printed.status.success(),
        "{}",
        String::from_utf8_lossy(&printed.stderr)
    );
    let vended: Value = serde_json::from_slice(&printed.stdout).unwrap();
    let scoped = seaweedfs::lake(StorageCredentials::new(
        vended["AccessKeyId"].as_str().unwrap(),
        vended["SecretAccessKey"].as_str().unwrap(),
        vended["SessionToken"].as_str().map(str::to_owned),
        None,
    ));
    let own = ObjectKey::new(format!("{ns}/pipelines/gold/top_customers/pipeline.sql")).unwrap();
    assert!(scoped.exists(&own).await.unwrap());
    let other = ObjectKey::new(format!("other{ns}/secret.txt")).unwrap();
    let admin = seaweedfs::lake(StorageCredentials::new(ADMIN_KEY, ADMIN_SECRET, None, None));
    admin
        .put(&other, "another namespace's".into())
        .await
        .unwrap();
    let refused = scoped.get(&other).await.unwrap_err();
    assert_ne!(refused.kind(), rat_core::ErrorKind::NotFound, "{refused}");
}

/// Fails, with what the server said, when the batch takes too long.
fn served_alive(served: &common::Served, start: Instant, batch: &rat_core::batch::Batch) {
    assert!(
        start.elapsed() < Duration::from_secs(240),
        "the batch did not end: {batch:?}\n{}",
        served.stderr()
    );
}
