//! EcsExecutor against moto (scripts/test-services.sh): task definition
//! reuse, the RunTask request, tracking to STOPPED, logs paged from
//! CloudWatch, cancel, time limits, and adoption by a restarted executor.
//! moto runs no container: the tests write the runner's output to the log
//! stream themselves and stop their tasks as an exiting container would.
//! Each test owns what it creates on the shared server (its task
//! definition family, its runs' tasks), so they run at once, as threads of
//! one process (`cargo test`) or as processes (nextest).
#![allow(clippy::unwrap_used)]

mod common;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use aws_sdk_ecs::types::TaskField;
use common::moto::{self, CLUSTER, LOG_GROUP, Network};
use common::{Project, SECRET_VALUE, SECRET_VARIABLE, result_line, runner_lines, table, wait_for};
use rat_cloud_aws::{
    CapacityProvider, EcsConfig, EcsExecutor, TaskDefinitionSource, TaskDefinitionSpec, TaskSize,
};
use rat_core::{Executor, RunId, RunRequest, RunStatus, RunStore, RunnerInput};
use rat_executor::PoolConfig;

/// A task definition of `family` (one per test: revisions of a family
/// are what its test asserts on).
fn task_definition(family: &str, image: &str) -> TaskDefinitionSource {
    TaskDefinitionSource::Register(Box::new(TaskDefinitionSpec {
        family: family.into(),
        image: image.into(),
        container_name: "rat-runner".into(),
        size: TaskSize::new(512, 1024),
        execution_role_arn: Some("arn:aws:iam::123456789012:role/rat-execution".into()),
        task_role_arn: Some("arn:aws:iam::123456789012:role/rat-task".into()),
        log_group: LOG_GROUP.into(),
        log_region: Some("us-east-1".into()),
        log_stream_prefix: "rat".into(),
        secrets: BTreeMap::from([(
            SECRET_VARIABLE.to_owned(),
            "arn:aws:secretsmanager:us-east-1:123456789012:secret:rat-catalog".to_owned(),
        )]),
        environment: BTreeMap::new(),
    }))
}

fn config(family: &str, network: &Network, project: &Project) -> EcsConfig {
    let mut config = EcsConfig::new(
        CLUSTER,
        task_definition(family, "rat/runner:1"),
        vec![network.subnet.clone()],
        vec![network.security_group.clone()],
        project.lakehouse.clone(),
    )
    .with_poll_interval(Duration::from_millis(100))
    .with_retries(3, Duration::from_millis(20), Duration::from_millis(100));
    config.log_page_size = 7;
    config.log_drain = Duration::from_secs(2);
    config
}

fn pool() -> PoolConfig {
    PoolConfig {
        poll_interval: Duration::from_millis(50),
        ..PoolConfig::default()
    }
}

async fn start(project: &Project, config: EcsConfig, pool: PoolConfig) -> EcsExecutor {
    let sdk = moto::sdk().await;
    EcsExecutor::start(&sdk, config, project.store(), project.storage.clone(), pool)
        .await
        .unwrap()
}

/// The task handle the executor recorded: (task ARN, log stream).
async fn task_of(store: &Arc<dyn RunStore>, run: &RunId) -> (String, String) {
    wait_for(
        "the task to be recorded",
        Duration::from_secs(30),
        || async {
            let handle = store.get(run).await.unwrap().handle?;
            let v: serde_json::Value = serde_json::from_str(&handle).unwrap();
            Some((
                v["task_arn"].as_str()?.to_owned(),
                v["log_stream"].as_str()?.to_owned(),
            ))
        },
    )
    .await
}

async fn stored_lines(project: &Project, run: &RunId, count: usize) {
    wait_for(
        "log lines in the store",
        Duration::from_secs(30),
        || async { (project.logs(run).await.len() >= count).then_some(()) },
    )
    .await;
}

#[tokio::test]
async fn a_run_is_one_task_with_its_spec_tags_and_logs() {
    let sdk = moto::sdk().await;
    let network = moto::setup();
    moto::hold_tasks().await;
    let project = Project::new().await;
    let pipeline = table("silver.orders");
    let family = "rat-test-one-task";
    let config = config(family, &network, &project)
        .with_capacity_providers(vec![
            CapacityProvider::new("FARGATE_SPOT", 3),
            CapacityProvider::new("FARGATE", 1).with_base(1),
        ])
        .with_size(pipeline.to_string(), TaskSize::new(1024, 4096))
        .with_tag("team", "data");
    let executor = start(&project, config.clone(), pool()).await;

    // The task definition is registered once, reused while it matches.
    let same = start(&project, config.clone(), pool()).await;
    assert_eq!(same.task_definition_arn(), executor.task_definition_arn());
    let mut changed = config.clone();
    changed.task_definition = task_definition(family, "rat/runner:2");
    let newer = start(&project, changed, pool()).await;
    assert_ne!(newer.task_definition_arn(), executor.task_definition_arn());
    drop((same, newer));

    let run = executor
        .submit(RunRequest::pipeline(pipeline.clone()))
        .await
        .unwrap();
    let store = project.store();
    let (task_arn, stream) = task_of(&store, &run).await;
    assert!(stream.starts_with("rat/rat-runner/"), "{stream}");

    let ecs = aws_sdk_ecs::Client::new(&sdk);
    let described = ecs
        .describe_tasks()
        .cluster(CLUSTER)
        .tasks(&task_arn)
        .include(TaskField::Tags)
        .send()
        .await
        .unwrap();
    let task = &described.tasks()[0];
    assert_eq!(task.started_by(), Some(run.as_str()));
    assert_eq!(task.capacity_provider_name(), Some("FARGATE_SPOT"));
    let tags: BTreeMap<_, _> = task
        .tags()
        .iter()
        .map(|t| (t.key().unwrap().to_owned(), t.value().unwrap().to_owned()))
        .collect();
    assert_eq!(tags["rat:run-id"], run.as_str());
    assert_eq!(tags["rat:namespace"], "default");
    assert_eq!(tags["rat:pipeline"], pipeline.to_string());
    assert_eq!(tags["team"], "data");
    let overrides = task.overrides().unwrap();
    assert_eq!(overrides.cpu(), Some("1024"));
    assert_eq!(overrides.memory(), Some("4096"));
    let container = &overrides.container_overrides()[0];
    assert_eq!(container.command(), ["--spec", "env:RAT_RUNNER_INPUT"]);
    let environment: BTreeMap<&str, &str> = container
        .environment()
        .iter()
        .map(|v| (v.name().unwrap(), v.value().unwrap()))
        .collect();
    // The run is named for processes the runner starts (its credentials).
    assert_eq!(environment["RAT_NAMESPACE"], pipeline.namespace.as_str());
    assert_eq!(environment["RAT_RUN_ID"], run.as_str());
    let input: RunnerInput = serde_json::from_str(environment["RAT_RUNNER_INPUT"]).unwrap();
    assert_eq!(input.spec.run_id, run);
    assert_eq!(input.spec.table, pipeline);
    // The secret travels as its reference, never as its value.
    let everything = format!("{described:?}");
    assert!(everything.contains("catalog-token"));
    assert!(!everything.contains(SECRET_VALUE));
    assert!(!format!("{executor:?}").contains(SECRET_VALUE));

    // 25 lines sharing one timestamp, read 7 per page, then the result.
    moto::put_lines(&sdk, &stream, &runner_lines(0, 25)).await;
    stored_lines(&project, &run, 25).await;
    moto::put_lines(&sdk, &stream, &[result_line(&run, &pipeline)]).await;
    assert_eq!(
        executor.status(&run).await.unwrap().status,
        RunStatus::Running
    );
    moto::stop_task(&sdk, &task_arn).await;
    let record = common::wait_for_end(&executor, &run).await;
    assert_eq!(record.status, RunStatus::Success, "{:?}", record.error);
    assert_eq!(record.result.unwrap().rows_written, 1);
    let logs = project.logs(&run).await;
    common::assert_lines(&logs, 25);
    assert!(logs.iter().all(|l| !l.message.contains(SECRET_VALUE)));
}

#[tokio::test]
async fn cancel_stops_the_task_and_a_queued_run_never_launches() {
    let sdk = moto::sdk().await;
    let network = moto::setup();
    moto::hold_tasks().await;
    let project = Project::new().await;
    let executor = start(
        &project,
        config("rat-test-cancel", &network, &project),
        PoolConfig {
            workers: 1,
            ..pool()
        },
    )
    .await;
    let first = executor
        .submit(RunRequest::pipeline(table("silver.orders")))
        .await
        .unwrap();
    let queued = executor
        .submit(RunRequest::pipeline(table("bronze.orders")))
        .await
        .unwrap();
    let store = project.store();
    let (task_arn, _) = task_of(&store, &first).await;

    executor.cancel(&queued).await.unwrap();
    let record = common::wait_for_end(&executor, &queued).await;
    assert_eq!(record.status, RunStatus::Cancelled);
    assert_eq!(record.handle, None);

    executor.cancel(&first).await.unwrap();
    let record = common::wait_for_end(&executor, &first).await;
    assert_eq!(record.status, RunStatus::Cancelled, "{:?}", record.error);
    let ecs = aws_sdk_ecs::Client::new(&sdk);
    let task = ecs
        .describe_tasks()
        .cluster(CLUSTER)
        .tasks(&task_arn)
        .send()
        .await
        .unwrap();
    assert_eq!(task.tasks()[0].last_status(), Some("STOPPED"));
    assert_eq!(task.tasks()[0].stopped_reason(), Some("rat: run cancelled"));
    // The queued run never reached ECS.
    for status in [
        aws_sdk_ecs::types::DesiredStatus::Running,
        aws_sdk_ecs::types::DesiredStatus::Stopped,
    ] {
        let listed = ecs
            .list_tasks()
            .cluster(CLUSTER)
            .started_by(queued.as_str())
            .desired_status(status)
            .send()
            .await
            .unwrap();
        assert!(listed.task_arns().is_empty());
    }
}

#[tokio::test]
async fn a_run_past_its_time_limit_is_stopped_and_fails() {
    let network = moto::setup();
    moto::hold_tasks().await;
    let project = Project::new().await;
    let executor = start(
        &project,
        config("rat-test-time-limit", &network, &project),
        pool(),
    )
    .await;
    let limits = rat_core::config::RunLimits {
        timeout: Some(Duration::from_secs(1)),
        ..Default::default()
    };
    let run = executor
        .submit(RunRequest::pipeline(table("silver.orders")).with_limits(limits))
        .await
        .unwrap();
    let record = common::wait_for_end(&executor, &run).await;
    assert_eq!(record.status, RunStatus::Failed);
    let error = record.error.unwrap();
    assert_eq!(error.kind, "timeout");
    assert!(
        error.message.contains("time limit of 1s"),
        "{}",
        error.message
    );
}

#[tokio::test]
async fn a_restarted_executor_adopts_the_run_and_its_logs_stay_whole() {
    let sdk = moto::sdk().await;
    let network = moto::setup();
    moto::hold_tasks().await;
    let project = Project::new().await;
    let pipeline = table("silver.orders");

    // The first executor lives in its own runtime, so it can be killed:
    // shutting the runtime down drops its tasks mid-flight.
    let first = tokio::runtime::Runtime::new().unwrap();
    let (sender, receiver) = tokio::sync::oneshot::channel();
    let family = "rat-test-adoption";
    let config_a = config(family, &network, &project);
    let (store_a, storage_a, table_a) =
        (project.store(), project.storage.clone(), pipeline.clone());
    first.spawn(async move {
        let sdk = moto::sdk().await;
        let pool = PoolConfig {
            owner: Some("executor-a".into()),
            ..pool()
        };
        let executor = EcsExecutor::start(&sdk, config_a, store_a, storage_a, pool)
            .await
            .unwrap();
        let run = executor
            .submit(RunRequest::pipeline(table_a))
            .await
            .unwrap();
        sender.send(run).unwrap();
        std::future::pending::<()>().await;
        drop(executor);
    });
    let run = receiver.await.unwrap();
    let store = project.store();
    let (task_arn, stream) = task_of(&store, &run).await;
    moto::put_lines(&sdk, &stream, &runner_lines(0, 10)).await;
    stored_lines(&project, &run, 10).await;
    moto::put_lines(&sdk, &stream, &runner_lines(10, 10)).await;
    tokio::time::sleep(Duration::from_millis(150)).await;
    first.shutdown_background();

    let second = start(&project, config(family, &network, &project), pool()).await;
    moto::put_lines(&sdk, &stream, &runner_lines(20, 5)).await;
    moto::put_lines(&sdk, &stream, &[result_line(&run, &pipeline)]).await;
    stored_lines(&project, &run, 25).await;
    moto::stop_task(&sdk, &task_arn).await;
    let record = common::wait_for_end(&second, &run).await;
    assert_eq!(record.status, RunStatus::Success, "{:?}", record.error);
    common::assert_lines(&project.logs(&run).await, 25);
}
