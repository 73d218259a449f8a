//! The SeaweedFS of scripts/test-services.sh: S3 and STS on 8333 (STS
//! enforces session policies), the Iceberg REST catalog on 8181.
#![allow(dead_code, unreachable_pub, clippy::unwrap_used, clippy::expect_used)]

pub const ENDPOINT: &str = "http://127.0.0.1:8333";
pub const CATALOG_URI: &str = "http://127.0.0.1:8181";
/// Test-only keys of the loopback server (scripts/services/seaweedfs-iam.json).
pub const ADMIN_KEY: &str = "rat-test-admin";
pub const ADMIN_SECRET: &str = "rat-test-admin-secret";
/// The role sessions assume; its trust policy admits the admin keys.
pub const ROLE: &str = "arn:aws:iam::000000000000:role/runner";

/// An SDK configuration signing with the admin keys.
pub async fn sdk() -> aws_types::SdkConfig {
    let addr = "127.0.0.1:8333".parse().unwrap();
    assert!(
        std::net::TcpStream::connect_timeout(&addr, std::time::Duration::from_secs(2)).is_ok(),
        "SeaweedFS is not running: scripts/test-services.sh start"
    );
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new("us-east-1"))
        .endpoint_url(ENDPOINT)
        .credentials_provider(aws_sdk_sts::config::Credentials::new(
            ADMIN_KEY,
            ADMIN_SECRET,
            None,
            None,
            "rat-tests",
        ))
        .load()
        .await
}

/// The `lake` bucket, signed with `credentials` (the admin's, or ones a
/// vendor handed out).
pub fn lake(credentials: rat_core::StorageCredentials) -> rat_runner::storage::S3Storage {
    let config = rat_core::config::S3StorageConfig {
        bucket: "lake".into(),
        prefix: None,
        endpoint: Some(ENDPOINT.into()),
        region: "us-east-1".into(),
        path_style: true,
        credentials: rat_core::config::CredentialsConfig::Anonymous,
    };
    let credentials = std::sync::Arc::new(credentials);
    rat_runner::storage::S3Storage::with_credentials(&config, Some(credentials)).unwrap()
}

/// A bearer token from the catalog's OAuth2 endpoint.
pub async fn catalog_token() -> String {
    let response: serde_json::Value = reqwest::Client::new()
        .post(format!("{CATALOG_URI}/v1/oauth/tokens"))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", ADMIN_KEY),
            ("client_secret", ADMIN_SECRET),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    response["access_token"].as_str().unwrap().to_owned()
}
