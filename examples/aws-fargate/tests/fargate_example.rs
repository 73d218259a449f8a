//! The example end to end on local servers (scripts/test-services.sh):
//! ECS, CloudWatch Logs and Secrets Manager on moto, S3, STS and the REST
//! catalog on SeaweedFS. moto runs no container, so a task player
//! (tests/common/task_player.rs) runs the real `rat-runner` for each task as
//! Fargate would, and stops it when the runner exits. Tasks are held
//! (moto::hold_tasks), the one setting every moto test shares.
#![allow(clippy::unwrap_used)]

#[path = "../../../rat-cloud-aws/tests/common/moto.rs"]
mod moto;
#[path = "../../../rat-cloud-aws/tests/common/seaweedfs.rs"]
mod seaweedfs;
#[path = "common/task_player.rs"]
mod task_player;

use std::path::Path;

use rat_core::RunStatus;
use rat_core::config::{CredentialsConfig, RestAuth, RestCatalogConfig, S3Settings, SecretRef};
use rat_example_aws_fargate::{Aws, Fargate, Settings};
use rat_runner::query::{QueryOptions, query};

use seaweedfs::{
    ADMIN_KEY, ADMIN_SECRET, CATALOG_URI, ENDPOINT as S3_ENDPOINT, ROLE as VENDING_ROLE,
};

fn namespace() -> String {
    format!("fg{}", &rat_core::RunId::generate().as_str()[20..])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sample_project_runs_as_fargate_tasks_with_scoped_credentials() {
    let ecs_sdk = moto::sdk().await;
    let sts_sdk = seaweedfs::sdk().await;
    let network = moto::setup();
    moto::hold_tasks().await;
    let dir = tempfile::tempdir().unwrap();

    // The catalog token lives in Secrets Manager; only its ARN is configured.
    let token = seaweedfs::catalog_token().await;
    let created = task_player::secrets_manager(
        &moto::endpoint(),
        "CreateSecret",
        serde_json::json!({"Name": format!("rat-catalog-{}", namespace()), "SecretString": token}),
    )
    .await;
    let secret_arn = created["ARN"].as_str().unwrap().to_owned();

    let ns = namespace();
    let settings = Settings {
        cluster: moto::CLUSTER.into(),
        subnets: vec![network.subnet.clone()],
        security_groups: vec![network.security_group.clone()],
        public_ip: false,
        spot: true,
        image: "rat/runner:example".into(),
        execution_role: "arn:aws:iam::123456789012:role/rat-execution".into(),
        task_role: "arn:aws:iam::123456789012:role/rat-task".into(),
        log_group: moto::LOG_GROUP.into(),
        vending_role: VENDING_ROLE.into(),
        bucket: "lake".into(),
        s3_endpoint: Some(S3_ENDPOINT.into()),
        // SeaweedFS, like AWS, refuses sessions under 15 minutes.
        session_seconds: 900,
        catalog_uri: CATALOG_URI.into(),
        warehouse: Some("s3://warehouse".into()),
        catalog_token_secret: secret_arn,
        namespace: ns.clone(),
        run_store: dir.path().join("runs.db"),
        credentials_command: "rat-aws-credentials".into(),
        poll_ms: 200,
    };
    let player = task_player::play(
        ecs_sdk.clone(),
        moto::CLUSTER,
        task_player::TaskRole {
            access_key_id: ADMIN_KEY.into(),
            secret_access_key: ADMIN_SECRET.into(),
            sts_endpoint: S3_ENDPOINT.into(),
        },
    );
    let aws = Aws {
        ecs: ecs_sdk.clone(),
        sts: sts_sdk,
    };
    let fargate = Fargate::start(&settings, &aws).await.unwrap();
    let sample = Path::new(env!("CARGO_MANIFEST_DIR")).join("../sample-project");
    assert_eq!(fargate.upload(&sample).await.unwrap(), 12);
    let plan = fargate.plan(&[]).await.unwrap();
    assert_eq!(plan.len(), 5);

    let mut runs = Vec::new();
    for table in &plan {
        let run = fargate.submit(table).await.unwrap();
        let mut lines = Vec::new();
        let record = fargate
            .follow(&run, |line| lines.push(line.message.clone()))
            .await
            .unwrap();
        assert_eq!(
            record.status,
            RunStatus::Success,
            "{table}: {:?}\n{lines:#?}",
            record.error
        );
        assert!(
            !lines.is_empty(),
            "{table}: the runner's log reached the store"
        );
        assert!(
            lines.iter().all(|l| !l.contains(&token)),
            "{table}: token in a log line"
        );
        runs.push(run);
    }
    player.abort();

    // Each task carried its run and references, never the token.
    let described = moto::stopped_tasks(&ecs_sdk, moto::CLUSTER, runs[0].as_str()).await;
    let text = format!("{described:?}");
    assert!(text.contains("RAT_CATALOG_TOKEN") && text.contains(&ns));
    assert!(
        !text.contains(&token),
        "the token travelled in a task request"
    );
    assert!(!format!("{fargate:?}").contains(&token));

    // The tables are in the REST catalog, written by the tasks.
    let token_file = dir.path().join("token");
    std::fs::write(&token_file, &token).unwrap();
    let catalog = rat_runner::catalog::RestCatalog::connect(&RestCatalogConfig {
        uri: CATALOG_URI.into(),
        warehouse: Some("s3://warehouse".into()),
        auth: RestAuth::Bearer {
            token: SecretRef::File(token_file),
        },
        vended_credentials: true,
        s3: S3Settings {
            endpoint: Some(S3_ENDPOINT.into()),
            region: "us-east-1".into(),
            path_style: true,
            credentials: CredentialsConfig::Anonymous,
        },
    })
    .await
    .unwrap();
    let out = query(
        &catalog,
        &format!("SELECT count(*) FROM {ns}.gold.top_customers"),
        &QueryOptions::default(),
    )
    .await
    .unwrap();
    assert_eq!(out.rows[0][0], serde_json::json!(10), "{:?}", out.rows);
}
