//! `rat serve` with `server.executor: {type: ecs}` against moto: a run
//! submitted over HTTP becomes a task started by its run id, and a cancel
//! stops it. moto runs no container (the executor's own tests cover logs
//! and results); tasks are held (moto::hold_tasks) until the cancel.
#![allow(clippy::unwrap_used)]

mod common;
#[path = "../../rat-cloud-aws/tests/common/moto.rs"]
mod moto;

use std::time::{Duration, Instant};

use rat_core::RunStatus;
use rat_server::api::PlatformApi;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_composes_the_ecs_executor_from_the_config() {
    let sdk = moto::sdk().await;
    let network = moto::setup();
    moto::hold_tasks().await;
    let dir = tempfile::tempdir().unwrap();
    let project = dir.path();
    std::fs::create_dir_all(project.join("pipelines/bronze/numbers")).unwrap();
    std::fs::write(
        project.join("pipelines/bronze/numbers/pipeline.sql"),
        "SELECT 1 AS n",
    )
    .unwrap();
    let config = format!(
        "storage: {{type: local, root: .}}\n\
         catalog: {{type: sql, path: .rat/catalog.db, warehouse: .rat/warehouse}}\n\
         server:\n  listen: 127.0.0.1:0\n  executor:\n    type: ecs\n    workers: 2\n    \
         cluster: {cluster}\n    subnets: [{subnet}]\n    security_groups: [{sg}]\n    \
         capacity_providers: [{{name: FARGATE_SPOT, weight: 1}}]\n    task_definition:\n      \
         family: rat-serve-test\n      image: rat/runner:serve\n      cpu: 512\n      memory: 1024\n      \
         log_group: {group}\n",
        cluster = moto::CLUSTER,
        subnet = network.subnet,
        sg = network.security_group,
        group = moto::LOG_GROUP,
    );
    std::fs::write(project.join("rat.yaml"), config).unwrap();
    let served = common::serve(
        project,
        &[
            ("AWS_ENDPOINT_URL", &moto::endpoint()),
            ("AWS_ACCESS_KEY_ID", "testing"),
            ("AWS_SECRET_ACCESS_KEY", "testing"),
            ("AWS_REGION", "us-east-1"),
        ],
    );
    let client = served.client();
    assert_eq!(client.features().await.unwrap().executor, "ecs");
    let run = common::submit(&client, "bronze.numbers").await;
    let ecs = aws_sdk_ecs::Client::new(&sdk);
    let start = Instant::now();
    let task = loop {
        let listed = ecs
            .list_tasks()
            .cluster(moto::CLUSTER)
            .started_by(run.as_str())
            .send()
            .await
            .unwrap();
        if let Some(arn) = listed.task_arns().first() {
            break arn.clone();
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "no task started for {run}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };

    client.cancel(&run).await.unwrap();
    let record = common::wait_for_end(&client, &run).await;
    assert_eq!(record.status, RunStatus::Cancelled);
    assert_eq!(record.executor, "ecs");
    let described = ecs
        .describe_tasks()
        .cluster(moto::CLUSTER)
        .tasks(&task)
        .send()
        .await
        .unwrap();
    assert_eq!(described.tasks()[0].last_status(), Some("STOPPED"));
}
