//! `rat serve` with `server.credential_vendor: {type: sts}` on SeaweedFS
//! (S3, STS enforcing session policies, Iceberg REST): the pipelines API
//! and every run reach their namespace with credentials scoped to its
//! prefix. The server's own keys (the admin's, from its environment) never
//! reach a runner. Needs `scripts/test-services.sh start`.
#![allow(clippy::unwrap_used)]

mod common;
#[path = "../../rat-cloud-aws/tests/common/seaweedfs.rs"]
mod seaweedfs;

use std::path::Path;

use rat_core::{ObjectKey, RunStatus, Storage, StorageCredentials, StorageExt};
use rat_runner::storage::S3Storage;
use rat_server::api::PlatformApi;
use seaweedfs::{ADMIN_KEY, ADMIN_SECRET, ENDPOINT, ROLE};

const SECRET_VAR: &str = "RAT_TEST_S3_SECRET";

fn write_config(project: &Path, executor: &str, role: &str) {
    common::write(
        project,
        "rat.yaml",
        &format!(
            "storage: {{type: s3, bucket: lake, endpoint: {ENDPOINT}, path_style: true}}
catalog:
  type: rest
  uri: {uri}
  warehouse: s3://warehouse
  auth: {{type: oauth2, client_id: {ADMIN_KEY}, client_secret: {{env: {SECRET_VAR}}}}}
  s3: {{endpoint: {ENDPOINT}, path_style: true}}
server:
  listen: 127.0.0.1:0
  executor: {{type: {executor}, workers: 2}}
  credential_vendor: {{type: sts, role_arn: '{role}', duration_secs: 900}}
",
            uri = seaweedfs::CATALOG_URI,
        ),
    );
}

/// The server's environment: the admin's keys (its identity towards STS
/// and, for the catalog, a secret by reference) and where STS is.
fn serve(project: &Path) -> common::Served {
    let bin = Path::new(env!("CARGO_BIN_EXE_rat"));
    let credentials = bin.with_file_name("rat-aws-credentials");
    assert!(
        credentials.is_file(),
        "{} is missing: cargo build --workspace --bins (scripts/test.sh does)",
        credentials.display()
    );
    let runner = bin.with_file_name("rat-runner");
    common::serve(
        project,
        &[
            ("AWS_ACCESS_KEY_ID", ADMIN_KEY),
            ("AWS_SECRET_ACCESS_KEY", ADMIN_SECRET),
            ("AWS_REGION", "us-east-1"),
            ("AWS_ENDPOINT_URL_STS", ENDPOINT),
            (SECRET_VAR, ADMIN_SECRET),
            ("RAT_RUNNER", runner.to_str().unwrap()),
        ],
    )
}

fn admin_storage() -> S3Storage {
    seaweedfs::lake(StorageCredentials::new(ADMIN_KEY, ADMIN_SECRET, None, None))
}

async fn api(
    served: &common::Served,
    method: reqwest::Method,
    path: &str,
    body: Option<serde_json::Value>,
) -> (u16, serde_json::Value) {
    let mut request =
        reqwest::Client::new().request(method, format!("{}/api/v1{path}", served.url));
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or_default())
}

/// Runs `pipeline` on the server; its id and successful record.
async fn run_to_success(
    served: &common::Served,
    pipeline: &str,
) -> (rat_core::RunId, rat_core::RunRecord) {
    let client = served.client();
    let run = common::submit(&client, pipeline).await;
    let record = common::wait_for_end(&client, &run).await;
    assert_eq!(record.status, RunStatus::Success, "{:?}", record.error);
    (run, record)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_scopes_each_namespace_s_storage_to_vended_credentials() {
    let dir = tempfile::tempdir().unwrap();
    let project = dir.path();
    let alpha = format!("alpha{}", &rat_core::RunId::generate().as_str()[22..]);
    let admin = admin_storage();
    admin
        .put(
            &ObjectKey::new(format!("{alpha}/landing/raw/part-1.csv")).unwrap(),
            "id,amount\n1,10\n2,20\n3,30\n".into(),
        )
        .await
        .unwrap();
    let pipeline = format!("{alpha}.bronze.orders");

    // The process executor: a rat-runner per run.
    write_config(project, "process", ROLE);
    let served = serve(project);
    let features = served.client().features().await.unwrap();
    assert_eq!(features.credential_vendor, "sts");
    let (_, namespaces) = api(&served, reqwest::Method::GET, "/namespaces", None).await;
    assert!(
        !namespaces.to_string().contains("\"default\""),
        "the storage root is no namespace of a scoped server: {namespaces}"
    );

    // The API writes through alpha's credentials to alpha's prefix.
    let (status, body) = api(
        &served,
        reqwest::Method::POST,
        "/pipelines",
        Some(serde_json::json!({
            "namespace": alpha, "layer": "bronze", "name": "orders",
            "sql": "SELECT * FROM {{ landing_zone('raw') }}",
        })),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    let sql_key = ObjectKey::new(format!("{alpha}/pipelines/bronze/orders/pipeline.sql")).unwrap();
    assert!(admin.exists(&sql_key).await.unwrap());
    // `default` is the bucket's root: refused by name, nothing written.
    let (status, body) = api(
        &served,
        reqwest::Method::POST,
        "/pipelines",
        Some(serde_json::json!({"layer": "bronze", "name": "orders", "sql": "SELECT 1"})),
    )
    .await;
    assert_eq!(status, 422, "{body}");
    assert!(body.to_string().contains("storage root"), "{body}");

    let (run, record) = run_to_success(&served, &pipeline).await;
    assert_eq!(record.result.unwrap().rows_written, 3);
    // The runner was given a command printing alpha's credentials, never keys.
    let input =
        std::fs::read_to_string(project.join(format!(".rat/runs/{run}/input.json"))).unwrap();
    let input: serde_json::Value = serde_json::from_str(&input).unwrap();
    let command = &input["lakehouse"]["storage"]["credentials"]["command"];
    assert!(
        command[0]
            .as_str()
            .unwrap()
            .ends_with("rat-aws-credentials"),
        "{input}"
    );
    assert!(command.to_string().contains(ROLE), "{command}");
    assert_eq!(
        input["lakehouse"]["catalog"]["s3"]["credentials"]["command"],
        *command
    );
    let everything = std::fs::read_dir(project.join(".rat/runs"))
        .unwrap()
        .flat_map(|run| std::fs::read_dir(run.unwrap().path()).unwrap())
        .map(|file| std::fs::read_to_string(file.unwrap().path()).unwrap_or_default())
        .collect::<String>();
    assert!(
        !everything.contains(ADMIN_SECRET),
        "a run file holds the server's secret"
    );
    drop(served);

    // In-process runs (the local executor) use alpha's credentials too.
    write_config(project, "local", ROLE);
    let served = serve(project);
    run_to_success(&served, &pipeline).await;
    drop(served);

    // A role STS will not hand out: the API fails although the server's
    // own keys could read the files — it reads with vended credentials.
    write_config(project, "local", "arn:aws:iam::000000000000:role/nobody");
    let served = serve(project);
    let (status, body) = api(
        &served,
        reqwest::Method::GET,
        &format!("/pipelines/{alpha}/bronze/orders"),
        None,
    )
    .await;
    assert_eq!(status, 502, "{body}");
    let message = body["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("STS refused AssumeRole") && message.contains("AccessDenied"),
        "{message}"
    );
    assert!(
        message.len() < 600,
        "the STS refusal, not the SDK's dump: {message}"
    );
    assert!(!message.contains(ADMIN_SECRET), "{message}");
    let request = rat_server::api::SubmitRun {
        pipeline: pipeline.to_owned(),
        limits: Default::default(),
    };
    let refused = served.client().submit_run(&request).await;
    assert!(refused.is_err(), "{refused:?}");
    assert!(
        !served.stderr().contains(ADMIN_SECRET),
        "{}",
        served.stderr()
    );
}
