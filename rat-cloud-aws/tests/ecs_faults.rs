//! EcsExecutor against the fault-injecting ECS test server
//! (tests/common/fault_server.rs): each fault class ends in the right
//! status or a retry, with bounded attempts, and no request carries a
//! secret.
#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use common::fault_server::{FaultyEcs, RunTaskAnswer, TaskState};
use common::{Project, SECRET_VALUE, table};
use rat_cloud_aws::{EcsConfig, EcsExecutor, TaskDefinitionSource};
use rat_core::{Executor, RunRecord, RunRequest, RunStatus};
use rat_executor::PoolConfig;

const OOM: TaskState = TaskState::Stopped {
    code: "EssentialContainerExited",
    reason: "Essential container in task exited",
    exit: Some(137),
};
const NO_ENI: TaskState = TaskState::Stopped {
    code: "TaskFailedToStart",
    reason: "Timeout waiting for network interface provisioning to complete.",
    exit: None,
};

struct Outcome {
    record: RunRecord,
    server: FaultyEcs,
    logs: Vec<String>,
}

/// An executor on `server`, fast timings, then `tune`d.
async fn start(
    server: &FaultyEcs,
    project: &Project,
    tune: impl FnOnce(&mut EcsConfig, &mut PoolConfig),
) -> EcsExecutor {
    let mut config = EcsConfig::new(
        "rat",
        TaskDefinitionSource::Existing("rat".into()),
        vec!["subnet-1".into()],
        vec!["sg-1".into()],
        project.lakehouse.clone(),
    )
    .with_poll_interval(Duration::from_millis(30))
    .with_retries(3, Duration::from_millis(10), Duration::from_millis(40));
    config.log_drain = Duration::from_millis(100);
    let mut pool = PoolConfig {
        poll_interval: Duration::from_millis(30),
        ..PoolConfig::default()
    };
    tune(&mut config, &mut pool);
    EcsExecutor::start(
        &server.sdk().await,
        config,
        project.store(),
        project.storage.clone(),
        pool,
    )
    .await
    .unwrap()
}

async fn run(
    script: Vec<RunTaskAnswer>,
    then: RunTaskAnswer,
    tune: impl FnOnce(&mut EcsConfig),
) -> Outcome {
    let server = FaultyEcs::start(script, then).await;
    let project = Project::new().await;
    let executor = start(&server, &project, |config, _| tune(config)).await;
    let pipeline = table("silver.orders");
    let run = executor
        .submit(RunRequest::pipeline(pipeline))
        .await
        .unwrap();
    let record = common::wait_for_end(&executor, &run).await;
    let logs = project
        .logs(&run)
        .await
        .into_iter()
        .map(|l| l.message)
        .collect();
    let bodies = server.all_bodies();
    assert!(bodies.contains("RunTask"), "{bodies}");
    assert!(
        !bodies.contains(SECRET_VALUE),
        "a request carried the secret"
    );
    assert!(!format!("{record:?}").contains(SECRET_VALUE));
    Outcome {
        record,
        server,
        logs,
    }
}

fn message(record: &RunRecord) -> String {
    record
        .error
        .as_ref()
        .map(|e| e.message.clone())
        .unwrap_or_default()
}

fn client_tokens(server: &FaultyEcs) -> Vec<String> {
    server
        .requests("RunTask")
        .iter()
        .map(|r| r["clientToken"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn throttling_in_both_forms_is_retried_then_exit_137_reads_out_of_memory() {
    let out = run(
        vec![
            RunTaskAnswer::Throttle,
            RunTaskAnswer::ThrottleWrapped,
            RunTaskAnswer::Start(vec![TaskState::Pending, TaskState::Running, OOM]),
        ],
        RunTaskAnswer::Denied,
        |_| {},
    )
    .await;
    assert_eq!(out.server.requests("RunTask").len(), 3);
    let run = out.record.run_id.to_string();
    // Retries of one launch keep its client token: ECS starts one task.
    assert_eq!(client_tokens(&out.server), [run.clone(), run.clone(), run]);
    assert_eq!(out.record.status, RunStatus::Failed);
    assert!(
        message(&out.record).contains("out of memory"),
        "{}",
        message(&out.record)
    );
}

#[tokio::test]
async fn throttling_that_does_not_end_fails_after_the_bounded_attempts() {
    let out = run(Vec::new(), RunTaskAnswer::Throttle, |_| {}).await;
    assert_eq!(out.server.requests("RunTask").len(), 3);
    assert_eq!(out.record.status, RunStatus::Failed);
    let text = message(&out.record);
    assert!(
        text.contains("ThrottlingException") && text.contains("after 3 attempt(s)"),
        "{text}"
    );
}

#[tokio::test]
async fn capacity_and_a_task_that_failed_to_start_are_retried() {
    let out = run(
        vec![
            RunTaskAnswer::NoCapacity,
            RunTaskAnswer::Start(vec![TaskState::Pending, NO_ENI]),
            RunTaskAnswer::Start(vec![
                TaskState::Running,
                TaskState::Stopped {
                    code: "EssentialContainerExited",
                    reason: "Essential container in task exited",
                    exit: Some(0),
                },
            ]),
        ],
        RunTaskAnswer::Denied,
        |_| {},
    )
    .await;
    let run = out.record.run_id.to_string();
    // A new attempt after a failed start is a new launch: a new token.
    assert_eq!(
        client_tokens(&out.server),
        [run.clone(), run.clone(), format!("{run}-2")]
    );
    // The second task ran and exited without printing a result.
    assert_eq!(out.record.status, RunStatus::Failed);
    assert!(
        message(&out.record).contains("without a run result"),
        "{}",
        message(&out.record)
    );
    assert!(
        out.logs
            .iter()
            .any(|l| l.contains("attempt 1 failed to start") && l.contains("network interface")),
        "{:?}",
        out.logs
    );
}

#[tokio::test]
async fn tasks_that_never_start_fail_the_run_after_the_bounded_attempts() {
    let out = run(Vec::new(), RunTaskAnswer::Start(vec![NO_ENI]), |_| {}).await;
    let run = out.record.run_id.to_string();
    assert_eq!(
        client_tokens(&out.server),
        [run.clone(), format!("{run}-2"), format!("{run}-3")]
    );
    assert_eq!(out.record.status, RunStatus::Failed);
    assert!(
        message(&out.record).contains("failed to start 3 time(s)"),
        "{}",
        message(&out.record)
    );
}

#[tokio::test]
async fn a_task_stuck_pending_is_stopped_at_the_start_timeout() {
    let out = run(
        Vec::new(),
        RunTaskAnswer::Start(vec![TaskState::Pending]),
        |c| {
            c.start_timeout = Duration::from_millis(500);
        },
    )
    .await;
    let stops = out.server.requests("StopTask");
    assert_eq!(stops.len(), 1);
    assert!(
        stops[0]["reason"]
            .as_str()
            .unwrap()
            .contains("did not start")
    );
    assert_eq!(out.record.status, RunStatus::Failed);
    assert_eq!(out.record.error.as_ref().unwrap().kind, "timeout");
}

#[tokio::test]
async fn a_server_error_without_an_aws_code_is_retried_and_said_in_one_line() {
    let out = run(
        vec![
            RunTaskAnswer::HtmlOutage,
            RunTaskAnswer::Start(vec![TaskState::Running, OOM]),
        ],
        RunTaskAnswer::Denied,
        |_| {},
    )
    .await;
    assert_eq!(
        out.server.requests("RunTask").len(),
        2,
        "the 500 was not retried"
    );

    let out = run(Vec::new(), RunTaskAnswer::HtmlOutage, |_| {}).await;
    assert_eq!(out.record.status, RunStatus::Failed);
    let text = message(&out.record);
    assert!(
        text.contains("RunTask failed: HTTP 500 without an AWS error code"),
        "{text}"
    );
    assert!(
        !text.contains(common::fault_server::OUTAGE_HEADER) && !text.contains("<title>"),
        "the raw response in the error: {text}"
    );
}

#[tokio::test]
async fn a_refusal_is_not_retried() {
    let out = run(Vec::new(), RunTaskAnswer::Denied, |_| {}).await;
    assert_eq!(out.server.requests("RunTask").len(), 1);
    assert_eq!(out.record.status, RunStatus::Failed);
    assert!(
        message(&out.record).contains("AccessDeniedException"),
        "{}",
        message(&out.record)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_live_tasks_are_described_a_hundred_per_call() {
    let server = FaultyEcs::start(Vec::new(), RunTaskAnswer::Start(vec![TaskState::Running])).await;
    let project = Project::new().await;
    let runs = 130;
    let executor = start(&server, &project, |config, pool| {
        config.poll_interval = Duration::from_millis(100);
        pool.workers = runs;
        pool.queue = runs;
    })
    .await;
    let mut ids = Vec::new();
    for _ in 0..runs {
        let request = RunRequest::pipeline(table("silver.orders"));
        ids.push(executor.submit(request).await.unwrap());
    }
    let sizes = |server: &FaultyEcs| -> Vec<usize> {
        server
            .requests("DescribeTasks")
            .iter()
            .map(|r| r["tasks"].as_array().unwrap().len())
            .collect()
    };
    // Once all are running, each poll is one call of 100 and one of 30.
    common::wait_for("a poll of every task", Duration::from_secs(60), || async {
        let sizes = sizes(&server);
        let full = sizes.iter().position(|n| *n == 100)?;
        sizes[full..].contains(&30).then_some(())
    })
    .await;
    for run in &ids {
        executor.cancel(run).await.unwrap();
    }
    for run in &ids {
        assert_eq!(
            common::wait_for_end(&executor, run).await.status,
            RunStatus::Cancelled
        );
    }
    let sizes = sizes(&server);
    assert!(sizes.iter().all(|n| *n <= 100), "{sizes:?}");
    assert_eq!(server.requests("RunTask").len(), runs);
    assert_eq!(server.requests("StopTask").len(), runs);
}
