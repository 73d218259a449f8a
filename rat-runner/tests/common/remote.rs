//! The SeaweedFS that `scripts/test-services.sh start` runs on loopback:
//! S3 on 8333 (bucket `lake`), STS, Iceberg REST on 8181 (warehouse
//! `s3://warehouse`). Every test works in its own namespace and key prefix.

use std::net::TcpStream;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use rat_core::config::{
    CredentialsConfig, RestAuth, RestCatalogConfig, S3Settings, S3StorageConfig, SecretRef,
};
use rat_core::{ObjectKey, ProjectSource, StorageExt};
use rat_runner::catalog::RestCatalog;
use rat_runner::storage::S3Storage;
use rat_runner::{Engine, EngineConfig};

use super::TestProject;

pub const S3_ENDPOINT: &str = "http://127.0.0.1:8333";
pub const REST_URI: &str = "http://127.0.0.1:8181";
pub const BUCKET: &str = "lake";
pub const WAREHOUSE: &str = "s3://warehouse";
/// Test-only keys of the loopback server (scripts/services/seaweedfs-iam.json).
pub const ADMIN_KEY: &str = "rat-test-admin";
pub const ADMIN_SECRET: &str = "rat-test-admin-secret";
/// The role whose STS credentials live 6 s (`tokenDuration` of the server).
pub const RUNNER_ROLE: &str = "arn:aws:iam::000000000000:role/runner";
pub const STS_LIFETIME: Duration = Duration::from_secs(6);

/// Fails with instructions when the servers are not up.
pub fn require_seaweedfs() {
    for port in [8333, 8181] {
        let addr = format!("127.0.0.1:{port}").parse().unwrap();
        assert!(
            TcpStream::connect_timeout(&addr, Duration::from_secs(2)).is_ok(),
            "SeaweedFS is not listening on 127.0.0.1:{port}: run scripts/test-services.sh start \
             (scripts/test.sh does)"
        );
    }
}

/// A fresh namespace name for one test.
pub fn unique_namespace() -> String {
    format!("t{}", &uuid::Uuid::now_v7().simple().to_string()[20..])
}

/// A secret in a file of `dir`, as configs reference secrets.
pub fn secret_file(dir: &Path, name: &str, value: &str) -> SecretRef {
    let path = dir.join(name);
    std::fs::write(&path, value).unwrap();
    SecretRef::File(path)
}

pub fn admin_credentials(dir: &Path) -> CredentialsConfig {
    CredentialsConfig::Static {
        access_key_id: ADMIN_KEY.into(),
        secret_access_key: secret_file(dir, "s3-secret", ADMIN_SECRET),
        session_token: None,
    }
}

pub fn s3_storage_config(prefix: &str, credentials: CredentialsConfig) -> S3StorageConfig {
    S3StorageConfig {
        bucket: BUCKET.into(),
        prefix: Some(prefix.into()),
        endpoint: Some(S3_ENDPOINT.into()),
        region: "us-east-1".into(),
        path_style: true,
        credentials,
    }
}

pub fn rest_config(auth: RestAuth, vended: bool, s3: CredentialsConfig) -> RestCatalogConfig {
    RestCatalogConfig {
        uri: REST_URI.into(),
        warehouse: Some(WAREHOUSE.into()),
        auth,
        vended_credentials: vended,
        s3: S3Settings {
            endpoint: Some(S3_ENDPOINT.into()),
            region: "us-east-1".into(),
            path_style: true,
            credentials: s3,
        },
    }
}

pub fn oauth2(dir: &Path) -> RestAuth {
    RestAuth::OAuth2 {
        client_id: ADMIN_KEY.into(),
        client_secret: secret_file(dir, "catalog-secret", ADMIN_SECRET),
        scope: None,
        token_uri: None,
    }
}

/// A bearer token from the catalog's token endpoint.
pub async fn fetch_token() -> String {
    let response: serde_json::Value = reqwest::Client::new()
        .post(format!("{REST_URI}/v1/oauth/tokens"))
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

/// Uploads the files under `src` to `storage` under `prefix`.
pub async fn upload_tree(storage: &S3Storage, src: &Path, prefix: &str) {
    for entry in walkdir::WalkDir::new(src) {
        let entry = entry.unwrap();
        if !entry.file_type().is_file() {
            continue;
        }
        let relative = entry.path().strip_prefix(src).unwrap().to_string_lossy();
        let key = ObjectKey::new(format!("{prefix}{relative}")).unwrap();
        storage
            .put(&key, std::fs::read(entry.path()).unwrap().into())
            .await
            .unwrap();
    }
}

/// The sample project uploaded to S3 under a fresh namespace, with tables in
/// the REST catalog. `storage_credentials`/`catalog` choose the access.
pub async fn remote_sample(
    dir: tempfile::TempDir,
    storage_credentials: CredentialsConfig,
    catalog: RestCatalogConfig,
) -> TestProject {
    require_seaweedfs();
    let namespace = unique_namespace();
    let storage = S3Storage::new(&s3_storage_config(&namespace, storage_credentials)).unwrap();
    let source = ProjectSource::namespaced(&namespace).unwrap();
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/sample-project");
    upload_tree(&storage, &src, &source.prefix).await;
    remote_project(dir, storage, catalog, source).await
}

/// The sample project on S3 with the admin keys, tables in the REST catalog
/// through OAuth2, vending on.
pub async fn admin_sample() -> TestProject {
    let dir = tempfile::tempdir().unwrap();
    let catalog = rest_config(oauth2(dir.path()), true, admin_credentials(dir.path()));
    let storage = admin_credentials(dir.path());
    remote_sample(dir, storage, catalog).await
}

/// A project over `storage` and the REST catalog `catalog`.
pub async fn remote_project(
    dir: tempfile::TempDir,
    storage: S3Storage,
    catalog: RestCatalogConfig,
    source: ProjectSource,
) -> TestProject {
    let catalog = RestCatalog::connect(&catalog).await.unwrap();
    let config = EngineConfig {
        python: rat_runner::python::PythonConfig::new(super::python_bin()),
        ..EngineConfig::default()
    };
    let engine = Engine::with_config(Arc::new(storage), Arc::new(catalog), config);
    TestProject {
        dir,
        engine,
        source,
    }
}

/// pyiceberg's RestCatalog on the same server, as a Python prelude.
pub fn pyiceberg_prelude() -> String {
    format!(
        r#"
import json
from pyiceberg.catalog.rest import RestCatalog
catalog = RestCatalog("seaweed", uri="{REST_URI}", warehouse="{WAREHOUSE}",
    credential="{ADMIN_KEY}:{ADMIN_SECRET}",
    **{{"s3.endpoint": "{S3_ENDPOINT}", "s3.access-key-id": "{ADMIN_KEY}",
       "s3.secret-access-key": "{ADMIN_SECRET}", "s3.region": "us-east-1",
       "s3.path-style-access": "true"}})
"#
    )
}
