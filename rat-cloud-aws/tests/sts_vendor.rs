//! StsCredentialVendor against SeaweedFS's STS, which enforces session
//! policies. Needs `scripts/test-services.sh start`.
#![allow(clippy::unwrap_used)]

use std::sync::Arc;

use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload};
use rat_cloud_aws::{StsCredentialVendor, StsVendorConfig};
use rat_core::{CredentialScope, CredentialVendor, ErrorKind, S3Access, StorageCredentials};
use rat_runner::s3::S3Buckets;

#[path = "common/seaweedfs.rs"]
mod seaweedfs;

use seaweedfs::{ADMIN_KEY, ADMIN_SECRET, ENDPOINT, ROLE, sdk};

fn vendor(sdk: &aws_types::SdkConfig) -> StsCredentialVendor {
    let mut config = StsVendorConfig::new(ROLE, "lake");
    // SeaweedFS, like AWS, refuses sessions under 15 minutes.
    config.duration = std::time::Duration::from_secs(900);
    StsCredentialVendor::new(sdk, config)
}

fn scope(ns: &str) -> CredentialScope {
    CredentialScope {
        namespace: rat_core::ident::namespace(ns).unwrap(),
        run_id: Some(rat_core::RunId::generate()),
    }
}

fn bucket(credentials: StorageCredentials) -> Arc<dyn ObjectStore> {
    S3Buckets::new(S3Access {
        endpoint: Some(ENDPOINT.into()),
        region: "us-east-1".into(),
        path_style: true,
        credentials: Some(Arc::new(credentials)),
    })
    .bucket("lake")
    .unwrap()
}

fn unique(prefix: &str) -> String {
    format!("{prefix}{}", &rat_core::RunId::generate().as_str()[20..])
}

fn denied(result: object_store::Result<impl Sized>) -> bool {
    match result {
        Ok(_) => false,
        Err(e) => {
            let text = e.to_string();
            text.contains("403") || text.contains("AccessDenied") || text.contains("privileges")
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn credentials_for_one_namespace_are_denied_in_another() {
    let sdk = sdk().await;
    let (ns1, ns2) = (unique("ns1x"), unique("ns2x"));
    let admin = bucket(StorageCredentials::new(ADMIN_KEY, ADMIN_SECRET, None, None));
    admin
        .put(
            &Path::from(format!("{ns2}/theirs.txt")),
            PutPayload::from("theirs"),
        )
        .await
        .unwrap();

    let credentials = vendor(&sdk).vend(&scope(&ns1)).await.unwrap();
    assert!(credentials.session_token.is_some());
    let expires = credentials.expires_at.expect("expiry");
    assert!(expires > chrono::Utc::now() + chrono::Duration::minutes(10));
    let shown = format!("{credentials:?}");
    assert!(!shown.contains(credentials.secret()), "{shown}");

    let scoped = bucket(credentials);
    let mine = Path::from(format!("{ns1}/mine.txt"));
    scoped.put(&mine, PutPayload::from("mine")).await.unwrap();
    let back = scoped.get(&mine).await.unwrap().bytes().await.unwrap();
    assert_eq!(back.as_ref(), b"mine");
    let listed: Vec<_> =
        futures::TryStreamExt::try_collect::<Vec<_>>(scoped.list(Some(&Path::from(ns1.as_str()))))
            .await
            .unwrap();
    assert_eq!(listed.len(), 1);

    let theirs = Path::from(format!("{ns2}/theirs.txt"));
    assert!(denied(scoped.get(&theirs).await), "get in ns2 allowed");
    assert!(
        denied(
            scoped
                .put(
                    &Path::from(format!("{ns2}/mine.txt")),
                    PutPayload::from("x")
                )
                .await
        ),
        "put in ns2 allowed"
    );
    assert!(
        denied(
            futures::TryStreamExt::try_collect::<Vec<_>>(
                scoped.list(Some(&Path::from(ns2.as_str())))
            )
            .await
        ),
        "list of ns2 allowed"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_concurrent_requests_make_one_sts_call() {
    let sdk = sdk().await;
    let vendor = vendor(&sdk);
    let ns = unique("nsc");
    let requests = (0..50).map(|_| {
        let scope = scope(&ns);
        let vendor = &vendor;
        async move { vendor.vend(&scope).await.unwrap() }
    });
    let all = futures::future::join_all(requests).await;
    // Every AssumeRole answer carries a new key id: one id, one call.
    let first = &all[0].access_key_id;
    assert!(all.iter().all(|c| &c.access_key_id == first));
    // Another namespace is another session.
    let other = vendor.vend(&scope(&unique("nsd"))).await.unwrap();
    assert_ne!(&other.access_key_id, first);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_namespaces_never_reach_sts_and_failures_are_not_cached() {
    for bad in ["ns1/*", "*", "..", "ns1/../ns2", ""] {
        assert!(rat_core::ident::namespace(bad).is_err(), "{bad} accepted");
    }
    let sdk = sdk().await;
    let mut config = StsVendorConfig::new("arn:aws:iam::000000000000:role/no-such-role", "lake");
    config.duration = std::time::Duration::from_secs(900);
    let vendor = StsCredentialVendor::new(&sdk, config);
    for _ in 0..2 {
        let err = vendor.vend(&scope("nsbad")).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Storage, "{err}");
        assert!(err.to_string().contains("AssumeRole"), "{err}");
    }
    assert!(format!("{vendor:?}").contains("cached: 0"), "{vendor:?}");
}

/// Runs `rat-aws-credentials` as a task would, its own identity from the
/// environment (here the admin keys, in ECS the task role).
fn credentials_command(args: &[&str], env: &[(&str, &str)]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_rat-aws-credentials"))
        .args(args)
        .env_clear()
        .envs(env.iter().copied())
        .env("AWS_ACCESS_KEY_ID", ADMIN_KEY)
        .env("AWS_SECRET_ACCESS_KEY", ADMIN_SECRET)
        .env("AWS_REGION", "us-east-1")
        .env("AWS_ENDPOINT_URL", ENDPOINT)
        .output()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_credentials_command_prints_scoped_process_credentials() {
    let _ = sdk().await; // checks SeaweedFS is up
    let (ns1, ns2) = (unique("ns1c"), unique("ns2c"));
    // The namespace as an ECS task names it, in its environment.
    let out = credentials_command(
        &[
            "--role-arn",
            ROLE,
            "--bucket",
            "lake",
            "--duration-seconds",
            "900",
        ],
        &[("RAT_NAMESPACE", &ns1)],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let printed: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(printed["Version"], 1);
    assert!(printed["Expiration"].as_str().is_some());
    let credentials = StorageCredentials::new(
        printed["AccessKeyId"].as_str().unwrap(),
        printed["SecretAccessKey"].as_str().unwrap(),
        printed["SessionToken"].as_str().map(str::to_owned),
        None,
    );
    assert_ne!(credentials.access_key_id, ADMIN_KEY);
    let scoped = bucket(credentials);
    let mine = Path::from(format!("{ns1}/mine.txt"));
    scoped.put(&mine, PutPayload::from("mine")).await.unwrap();
    let theirs = Path::from(format!("{ns2}/theirs.txt"));
    assert!(
        denied(scoped.put(&theirs, PutPayload::from("x")).await),
        "put in ns2 allowed"
    );

    // Bad input: exit 2, the flag or value named, no STS call needed.
    let bad = credentials_command(
        &[
            "--role-arn",
            ROLE,
            "--bucket",
            "lake",
            "--namespace",
            "ns1/*",
        ],
        &[],
    );
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("ns1/*"));
    let missing = credentials_command(&["--bucket", "lake", "--namespace", "ns1"], &[]);
    assert_eq!(missing.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&missing.stderr).contains("--role-arn is required"));
}
