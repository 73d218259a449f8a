//! Plays the part of Fargate for the tasks moto accepts but never runs:
//! for each task moto holds RUNNING, it starts the real `rat-runner` the
//! way the task definition and overrides say (command, environment,
//! secrets read from Secrets Manager), as the task role would (keys of the
//! loopback SeaweedFS), writes its output to the task's CloudWatch stream
//! as the awslogs driver does, and stops the task when the runner exits.
#![allow(dead_code, unreachable_pub, clippy::unwrap_used, clippy::expect_used)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use aws_sdk_ecs::types::{DesiredStatus, Task};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::sync::mpsc;

/// The task role's identity and where its AWS calls go.
#[derive(Debug, Clone)]
pub struct TaskRole {
    pub access_key_id: String,
    pub secret_access_key: String,
    pub sts_endpoint: String,
}

/// Starts playing every task of `cluster`; stops when the handle drops.
pub fn play(
    sdk: aws_types::SdkConfig,
    cluster: &str,
    role: TaskRole,
) -> tokio::task::JoinHandle<()> {
    let cluster = cluster.to_owned();
    tokio::spawn(async move {
        let ecs = aws_sdk_ecs::Client::new(&sdk);
        let mut seen = BTreeSet::new();
        loop {
            let listed = ecs
                .list_tasks()
                .cluster(&cluster)
                .desired_status(DesiredStatus::Running)
                .send()
                .await
                .unwrap();
            let new: Vec<String> = listed
                .task_arns()
                .iter()
                .filter(|arn| seen.insert((*arn).clone()))
                .cloned()
                .collect();
            if !new.is_empty() {
                let described = ecs
                    .describe_tasks()
                    .cluster(&cluster)
                    .set_tasks(Some(new))
                    .send()
                    .await
                    .unwrap();
                for task in described.tasks() {
                    tokio::spawn(run_task(
                        sdk.clone(),
                        cluster.clone(),
                        task.clone(),
                        role.clone(),
                    ));
                }
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    })
}

/// The binaries `cargo build --workspace` put beside the test binaries.
pub fn binaries() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let dir = exe.parent().unwrap().parent().unwrap().to_owned();
    for bin in ["rat-runner", "rat-aws-credentials"] {
        assert!(
            dir.join(bin).is_file(),
            "{bin} is missing in {}: cargo build --workspace --bins (scripts/test.sh does)",
            dir.display()
        );
    }
    dir
}

async fn run_task(sdk: aws_types::SdkConfig, cluster: String, task: Task, role: TaskRole) {
    let ecs = aws_sdk_ecs::Client::new(&sdk);
    let arn = task.task_arn().unwrap().to_owned();
    let definition = ecs
        .describe_task_definition()
        .task_definition(task.task_definition_arn().unwrap())
        .send()
        .await
        .unwrap();
    let container = &definition
        .task_definition()
        .unwrap()
        .container_definitions()[0];
    let name = container.name().unwrap();
    let overrides = task.overrides().and_then(|o| {
        o.container_overrides()
            .iter()
            .find(|c| c.name() == Some(name))
    });

    // Environment as ECS assembles it: definition, secrets, overrides.
    let mut env: BTreeMap<String, String> = BTreeMap::new();
    for pair in container.environment() {
        env.insert(pair.name().unwrap().into(), pair.value().unwrap().into());
    }
    for secret in container.secrets() {
        env.insert(
            secret.name().into(),
            secret_value(&sdk, secret.value_from()).await,
        );
    }
    for pair in overrides.map(|o| o.environment()).unwrap_or_default() {
        env.insert(pair.name().unwrap().into(), pair.value().unwrap().into());
    }
    let command: Vec<String> = overrides
        .map(|o| o.command().to_vec())
        .filter(|c| !c.is_empty())
        .unwrap_or_else(|| container.command().to_vec());

    let bin = binaries();
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let mut child = tokio::process::Command::new(bin.join("rat-runner"))
        .args(&command)
        .envs(&env)
        .env("PATH", path)
        .env("AWS_ACCESS_KEY_ID", &role.access_key_id)
        .env("AWS_SECRET_ACCESS_KEY", &role.secret_access_key)
        .env("AWS_REGION", "us-east-1")
        .env("AWS_ENDPOINT_URL_STS", &role.sts_endpoint)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();

    let options = container.log_configuration().unwrap().options().unwrap();
    let group = options["awslogs-group"].clone();
    let task_id = arn.rsplit('/').next().unwrap();
    let stream = format!("{}/{name}/{task_id}", options["awslogs-stream-prefix"]);
    let (lines_tx, mut lines_rx) = mpsc::unbounded_channel::<String>();
    for pipe in [
        Box::new(child.stdout.take().unwrap()) as Box<dyn tokio::io::AsyncRead + Send + Unpin>,
        Box::new(child.stderr.take().unwrap()),
    ] {
        let tx = lines_tx.clone();
        tokio::spawn(async move {
            let mut lines = BufReader::new(pipe).lines();
            while let Ok(Some(line)) = lines.next_line().await {
                let _ = tx.send(line);
            }
        });
    }
    drop(lines_tx);

    let logs = aws_sdk_cloudwatchlogs::Client::new(&sdk);
    logs.create_log_stream()
        .log_group_name(&group)
        .log_stream_name(&stream)
        .send()
        .await
        .unwrap();
    // Batches, as the awslogs driver sends them.
    let mut open = true;
    while open {
        let mut batch = Vec::new();
        let deadline = tokio::time::sleep(Duration::from_millis(250));
        tokio::pin!(deadline);
        loop {
            tokio::select! {
                line = lines_rx.recv() => match line {
                    Some(line) => batch.push(line),
                    None => { open = false; break; }
                },
                _ = &mut deadline => break,
            }
        }
        if batch.is_empty() {
            continue;
        }
        crate::moto::put_events(&sdk, &group, &stream, &batch).await;
    }
    child.wait().await.unwrap();
    ecs.stop_task()
        .cluster(&cluster)
        .task(&arn)
        .reason("Essential container in task exited")
        .send()
        .await
        .unwrap();
}

/// What the execution role reads: the secret's value, from moto.
async fn secret_value(sdk: &aws_types::SdkConfig, arn: &str) -> String {
    let endpoint = sdk.endpoint_url().unwrap();
    let response: serde_json::Value = secrets_manager(
        endpoint,
        "GetSecretValue",
        serde_json::json!({"SecretId": arn}),
    )
    .await;
    response["SecretString"].as_str().unwrap().to_owned()
}

/// One Secrets Manager call on moto (which routes by the credential scope
/// and checks no signature).
pub async fn secrets_manager(
    endpoint: &str,
    action: &str,
    body: serde_json::Value,
) -> serde_json::Value {
    let response = reqwest::Client::new()
        .post(endpoint)
        .header("X-Amz-Target", format!("secretsmanager.{action}"))
        .header("Content-Type", "application/x-amz-json-1.1")
        .header(
            "Authorization",
            "AWS4-HMAC-SHA256 Credential=testing/20261122/us-east-1/secretsmanager/aws4_request, \
             SignedHeaders=host, Signature=0",
        )
        .json(&body)
        .send()
        .await
        .unwrap();
    assert!(
        response.status().is_success(),
        "{action}: {}",
        response.status()
    );
    response.json().await.unwrap()
}
