//! A **fault-injecting ECS test server** of rat's own, for the failures
//! moto cannot produce: throttling (plain and wrapped in
//! `InvalidParameterException`), capacity failures, tasks that fail to
//! start, tasks stuck in PENDING, exit codes such as 137. It speaks ECS's
//! JSON 1.1 protocol for the calls the executor makes and plays a script;
//! it is not an ECS emulator and nothing else uses it.
#![allow(dead_code, unreachable_pub, clippy::unwrap_used, clippy::expect_used)]

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};

use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

/// What one RunTask call gets.
#[derive(Debug, Clone)]
pub enum RunTaskAnswer {
    /// `ThrottlingException: Rate exceeded`.
    Throttle,
    /// `InvalidParameterException: Rate exceeded` (how ECS often says it).
    ThrottleWrapped,
    /// No task, a `failures` entry: capacity unavailable.
    NoCapacity,
    /// `AccessDeniedException`: not worth retrying.
    Denied,
    /// HTTP 500 with an HTML page and no AWS error code (a proxy's or an
    /// outage's answer), its headers carrying a value no error may repeat.
    HtmlOutage,
    /// A task going through these states, one per DescribeTasks.
    Start(Vec<TaskState>),
}

/// A state a scripted task reports.
#[derive(Debug, Clone)]
pub enum TaskState {
    Pending,
    Running,
    Stopped {
        code: &'static str,
        reason: &'static str,
        exit: Option<i32>,
    },
}

/// The header value of [`RunTaskAnswer::HtmlOutage`].
pub const OUTAGE_HEADER: &str = "outage-7f3a";

#[derive(Default)]
struct State {
    script: VecDeque<RunTaskAnswer>,
    /// Answer once the script is used up.
    then: Option<RunTaskAnswer>,
    tasks: HashMap<String, (Vec<TaskState>, usize)>,
    requests: Vec<(String, Value)>,
}

pub struct FaultyEcs {
    pub endpoint: String,
    state: Arc<Mutex<State>>,
}

impl FaultyEcs {
    /// Serves on a free loopback port: `script` first, then `then`.
    pub async fn start(script: Vec<RunTaskAnswer>, then: RunTaskAnswer) -> Self {
        let state = Arc::new(Mutex::new(State {
            script: script.into(),
            then: Some(then),
            ..State::default()
        }));
        let app = axum::Router::new().route(
            "/",
            axum::routing::post({
                let state = Arc::clone(&state);
                move |headers: HeaderMap, body: String| {
                    let state = Arc::clone(&state);
                    async move { answer(&state, &headers, &body) }
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let endpoint = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Self { endpoint, state }
    }

    /// Bodies of the requests of `action` received so far.
    pub fn requests(&self, action: &str) -> Vec<Value> {
        let state = self.state.lock().unwrap();
        state
            .requests
            .iter()
            .filter(|(a, _)| a == action)
            .map(|(_, b)| b.clone())
            .collect()
    }

    /// Every request body as text.
    pub fn all_bodies(&self) -> String {
        let state = self.state.lock().unwrap();
        state
            .requests
            .iter()
            .map(|(a, b)| format!("{a} {b}\n"))
            .collect()
    }

    pub async fn sdk(&self) -> aws_types::SdkConfig {
        aws_config::defaults(aws_config::BehaviorVersion::latest())
            .region(aws_config::Region::new("us-east-1"))
            .endpoint_url(&self.endpoint)
            .credentials_provider(aws_sdk_sts::config::Credentials::new(
                "testing",
                "testing",
                None,
                None,
                "fault-server",
            ))
            .load()
            .await
    }
}

fn json_response(status: StatusCode, body: Value) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "application/x-amz-json-1.1")],
        body.to_string(),
    )
        .into_response()
}

fn error(code: &str, message: &str) -> Response {
    json_response(
        StatusCode::BAD_REQUEST,
        json!({"__type": code, "message": message}),
    )
}

fn describe(arn: &str, state: &TaskState) -> Value {
    match state {
        TaskState::Pending => json!({"taskArn": arn, "lastStatus": "PENDING"}),
        TaskState::Running => json!({"taskArn": arn, "lastStatus": "RUNNING",
            "containers": [{"name": "rat-runner", "lastStatus": "RUNNING"}]}),
        TaskState::Stopped { code, reason, exit } => {
            let mut container = json!({"name": "rat-runner", "lastStatus": "STOPPED"});
            if let Some(exit) = exit {
                container["exitCode"] = json!(exit);
            }
            json!({"taskArn": arn, "lastStatus": "STOPPED", "stopCode": code,
                "stoppedReason": reason, "containers": [container]})
        }
    }
}

fn answer(state: &Mutex<State>, headers: &HeaderMap, body: &str) -> Response {
    let target = headers
        .get("x-amz-target")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let action = target.rsplit('.').next().unwrap_or_default().to_owned();
    let request: Value = serde_json::from_str(body).unwrap_or(Value::Null);
    let mut state = state.lock().unwrap();
    state.requests.push((action.clone(), request.clone()));
    match action.as_str() {
        "DescribeTaskDefinition" => json_response(
            StatusCode::OK,
            json!({"taskDefinition": {
                "taskDefinitionArn": "arn:aws:ecs:us-east-1:000000000000:task-definition/rat:1",
                "family": "rat", "revision": 1, "status": "ACTIVE",
                "containerDefinitions": [{"name": "rat-runner", "image": "rat/runner:1"}]
            }}),
        ),
        "RunTask" => {
            let next = state.script.pop_front().or_else(|| state.then.clone());
            match next {
                Some(RunTaskAnswer::Throttle) => error("ThrottlingException", "Rate exceeded"),
                Some(RunTaskAnswer::ThrottleWrapped) => {
                    error("InvalidParameterException", "Rate exceeded")
                }
                Some(RunTaskAnswer::Denied) => error(
                    "AccessDeniedException",
                    "not authorized to perform ecs:RunTask",
                ),
                Some(RunTaskAnswer::HtmlOutage) => (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    [
                        (header::CONTENT_TYPE, "text/html"),
                        (
                            header::HeaderName::from_static("x-outage-ref"),
                            OUTAGE_HEADER,
                        ),
                    ],
                    "<!doctype html><title>500 Internal Server Error</title>",
                )
                    .into_response(),
                Some(RunTaskAnswer::NoCapacity) | None => json_response(
                    StatusCode::OK,
                    json!({"tasks": [], "failures": [{"reason":
                        "Capacity is unavailable at this time. Please try again later or in a different availability zone"}]}),
                ),
                Some(RunTaskAnswer::Start(states)) => {
                    let arn = format!(
                        "arn:aws:ecs:us-east-1:000000000000:task/rat/task{}",
                        state.tasks.len() + 1
                    );
                    state.tasks.insert(arn.clone(), (states, 0));
                    json_response(
                        StatusCode::OK,
                        json!({"tasks": [{"taskArn": arn, "lastStatus": "PROVISIONING"}], "failures": []}),
                    )
                }
            }
        }
        "DescribeTasks" => {
            let arns: Vec<String> = request["tasks"]
                .as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(|v| v.as_str().map(str::to_owned))
                        .collect()
                })
                .unwrap_or_default();
            let mut tasks = Vec::new();
            let mut failures = Vec::new();
            for arn in arns {
                match state.tasks.get_mut(&arn) {
                    Some((states, at)) => {
                        tasks.push(describe(&arn, &states[*at]));
                        *at = (*at + 1).min(states.len() - 1);
                    }
                    None => failures.push(json!({"arn": arn, "reason": "MISSING"})),
                }
            }
            json_response(
                StatusCode::OK,
                json!({"tasks": tasks, "failures": failures}),
            )
        }
        "StopTask" => {
            let arn = request["task"].as_str().unwrap_or_default().to_owned();
            let stopped = TaskState::Stopped {
                code: "UserInitiated",
                reason: "stopped by rat",
                exit: None,
            };
            state.tasks.insert(arn.clone(), (vec![stopped.clone()], 0));
            json_response(StatusCode::OK, json!({"task": describe(&arn, &stopped)}))
        }
        "ListTasks" => json_response(StatusCode::OK, json!({"taskArns": []})),
        other => error(
            "UnknownOperationException",
            &format!("not scripted: {other}"),
        ),
    }
}
