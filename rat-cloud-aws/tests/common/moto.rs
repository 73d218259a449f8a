//! moto (scripts/test-services.sh): the network ECS needs, task state
//! control, and the log stream a runner container would write.
#![allow(dead_code, unreachable_pub, clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use aws_sdk_cloudwatchlogs::types::InputLogEvent;

pub const CLUSTER: &str = "rat-test";
pub const LOG_GROUP: &str = "/rat/runs";

pub fn endpoint() -> String {
    std::env::var("RAT_TEST_MOTO_ENDPOINT").unwrap_or_else(|_| "http://127.0.0.1:5055".into())
}

pub async fn sdk() -> aws_types::SdkConfig {
    let endpoint = endpoint();
    let addr = endpoint.trim_start_matches("http://").parse().unwrap();
    assert!(
        std::net::TcpStream::connect_timeout(&addr, Duration::from_secs(2)).is_ok(),
        "moto is not running: scripts/test-services.sh start"
    );
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new("us-east-1"))
        .endpoint_url(endpoint)
        .credentials_provider(aws_sdk_sts::config::Credentials::new(
            "testing", "testing", None, None, "moto",
        ))
        .load()
        .await
}

/// Subnet and security group of a VPC moto accepts for awsvpc tasks (DNS
/// hostnames on), a cluster with the Fargate capacity providers, and the
/// log group.
#[derive(Debug, Clone)]
pub struct Network {
    pub subnet: String,
    pub security_group: String,
}

pub fn setup() -> Network {
    let venv = std::env::var("RAT_VENV").expect("RAT_VENV (scripts/env.sh)");
    let script = format!(
        r#"
import boto3, json
kw = dict(endpoint_url="{endpoint}", region_name="us-east-1",
          aws_access_key_id="testing", aws_secret_access_key="testing")
ec2 = boto3.client("ec2", **kw)
vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
ec2.modify_vpc_attribute(VpcId=vpc, EnableDnsHostnames={{"Value": True}})
subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.0.1.0/24")["Subnet"]["SubnetId"]
sg = ec2.create_security_group(GroupName="rat-" + vpc, Description="rat", VpcId=vpc)["GroupId"]
ecs = boto3.client("ecs", **kw)
ecs.create_cluster(clusterName="{CLUSTER}", capacityProviders=["FARGATE", "FARGATE_SPOT"])
logs = boto3.client("logs", **kw)
try:
    logs.create_log_group(logGroupName="{LOG_GROUP}")
except logs.exceptions.ResourceAlreadyExistsException:
    pass
print(json.dumps({{"subnet": subnet, "sg": sg}}))
"#,
        endpoint = endpoint()
    );
    let out = std::process::Command::new(format!("{venv}/bin/python"))
        .arg("-c")
        .arg(script)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    Network {
        subnet: v["subnet"].as_str().unwrap().into(),
        security_group: v["sg"].as_str().unwrap().into(),
    }
}

/// Tasks stay as they are until stopped: moto otherwise advances a task
/// towards STOPPED on each DescribeTasks. The setting is global to the
/// server, so every test sets this same value and ends its own tasks
/// with [`stop_task`], as a container exiting would: tests sharing the
/// server never change each other's tasks.
pub async fn hold_tasks() {
    let transition = serde_json::json!({"progression": "manual", "times": 1_000_000});
    let body = serde_json::json!({"model_name": "ecs::task", "transition": transition});
    let response = reqwest::Client::new()
        .post(format!(
            "{}/moto-api/state-manager/set-transition",
            endpoint()
        ))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert!(response.status().is_success());
}

/// Stops `task` as its container exiting would (ECS records the stop).
pub async fn stop_task(sdk: &aws_types::SdkConfig, task: &str) {
    aws_sdk_ecs::Client::new(sdk)
        .stop_task()
        .cluster(CLUSTER)
        .task(task)
        .reason("Essential container in task exited")
        .send()
        .await
        .unwrap();
}

/// Writes lines to a stream of the test log group as the awslogs driver
/// of a container would, all with one timestamp (a reader keyed on time
/// would drop lines).
pub async fn put_lines(sdk: &aws_types::SdkConfig, stream: &str, lines: &[String]) {
    let logs = aws_sdk_cloudwatchlogs::Client::new(sdk);
    let _ = logs
        .create_log_stream()
        .log_group_name(LOG_GROUP)
        .log_stream_name(stream)
        .send()
        .await;
    put_events(sdk, LOG_GROUP, stream, lines).await;
}

/// One PutLogEvents of `lines`, stamped now, to an existing stream.
pub async fn put_events(sdk: &aws_types::SdkConfig, group: &str, stream: &str, lines: &[String]) {
    let at = chrono::Utc::now().timestamp_millis();
    let events: Vec<InputLogEvent> = lines
        .iter()
        .map(|l| {
            InputLogEvent::builder()
                .timestamp(at)
                .message(l)
                .build()
                .unwrap()
        })
        .collect();
    aws_sdk_cloudwatchlogs::Client::new(sdk)
        .put_log_events()
        .log_group_name(group)
        .log_stream_name(stream)
        .set_log_events(Some(events))
        .send()
        .await
        .unwrap();
}

/// The stopped tasks of `cluster` that run `run` started (`startedBy` is
/// its id), as DescribeTasks tells them.
pub async fn stopped_tasks(
    sdk: &aws_types::SdkConfig,
    cluster: &str,
    run: &str,
) -> Vec<aws_sdk_ecs::types::Task> {
    let ecs = aws_sdk_ecs::Client::new(sdk);
    let listed = ecs
        .list_tasks()
        .cluster(cluster)
        .started_by(run)
        .desired_status(aws_sdk_ecs::types::DesiredStatus::Stopped)
        .send()
        .await
        .unwrap();
    ecs.describe_tasks()
        .cluster(cluster)
        .set_tasks(Some(listed.task_arns().to_vec()))
        .send()
        .await
        .unwrap()
        .tasks()
        .to_vec()
}
