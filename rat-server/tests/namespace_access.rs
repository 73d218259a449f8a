//! `NamespaceAccess` over SeaweedFS's STS, which enforces session policies:
//! the storage the server uses for one namespace reaches that namespace's
//! prefix and nothing else. Needs `scripts/test-services.sh start`.
#![allow(clippy::unwrap_used)]

use std::path::Path;
use std::sync::Arc;

use std::sync::Mutex;

use async_trait::async_trait;
use rat_cloud_aws::{StsCredentialVendor, StsVendorConfig};
use rat_core::{
    CredentialScope, CredentialVendor, Identifier, ObjectKey, RunContext, RunEngine, RunSpec,
    RunStatus, Storage, StorageCredentials, StorageExt, TableRef,
};
use rat_runner::access::{NamespaceAccess, ScopedEngine};
use rat_server::ServerSetup;

#[path = "../../rat-cloud-aws/tests/common/seaweedfs.rs"]
mod seaweedfs;

const LAKEHOUSE: &str = "storage: {type: s3, bucket: lake, endpoint: http://127.0.0.1:8333, path_style: true}\n\
                         catalog: {type: sql, path: catalog.db, warehouse: warehouse}\n";

fn unique(prefix: &str) -> Identifier {
    rat_core::ident::namespace(&format!(
        "{prefix}{}",
        &rat_core::RunId::generate().as_str()[20..]
    ))
    .unwrap()
}

fn denied(result: rat_core::Result<impl Sized>) -> bool {
    match result {
        Ok(_) => false,
        Err(e) => {
            let text = e.to_string();
            text.contains("403") || text.contains("AccessDenied") || text.contains("Access Denied")
        }
    }
}

/// The STS vendor, noting which namespaces it was asked for.
#[derive(Debug)]
struct Noting {
    sts: StsCredentialVendor,
    asked: Mutex<Vec<String>>,
}

#[async_trait]
impl CredentialVendor for Noting {
    async fn vend(&self, scope: &CredentialScope) -> rat_core::Result<StorageCredentials> {
        self.asked.lock().unwrap().push(scope.namespace.to_string());
        self.sts.vend(scope).await
    }
}

async fn vendor() -> Arc<Noting> {
    let sdk = seaweedfs::sdk().await;
    let mut config = StsVendorConfig::new(seaweedfs::ROLE, "lake");
    // SeaweedFS, like AWS, refuses sessions under 15 minutes.
    config.duration = std::time::Duration::from_secs(900);
    Arc::new(Noting {
        sts: StsCredentialVendor::new(&sdk, config),
        asked: Mutex::default(),
    })
}

fn lakehouse(dir: &Path) -> rat_core::LakehouseConfig {
    ServerSetup::from_yaml(LAKEHOUSE, dir, dir, Vec::new())
        .unwrap()
        .0
        .lakehouse
}

fn admin_storage(lakehouse: &rat_core::LakehouseConfig) -> rat_runner::storage::S3Storage {
    let rat_core::config::StorageConfig::S3(s3) = &lakehouse.storage else {
        unreachable!()
    };
    let keys = StorageCredentials::new(seaweedfs::ADMIN_KEY, seaweedfs::ADMIN_SECRET, None, None);
    rat_runner::storage::S3Storage::with_credentials(s3, Some(Arc::new(keys))).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_namespace_s_storage_reaches_its_own_prefix_only() {
    let lakehouse = lakehouse(Path::new("."));
    let access = NamespaceAccess::new(vendor().await, &lakehouse).unwrap();
    let admin_storage = admin_storage(&lakehouse);
    let (alpha, beta) = (unique("alpha"), unique("beta"));
    let theirs = ObjectKey::new(format!("{beta}/pipelines/bronze/x/pipeline.sql")).unwrap();
    admin_storage.put(&theirs, "SELECT 1".into()).await.unwrap();

    let mine = access.storage(&alpha).unwrap();
    let own = ObjectKey::new(format!("{alpha}/pipelines/bronze/x/pipeline.sql")).unwrap();
    mine.put(&own, "SELECT 2".into()).await.unwrap();
    assert_eq!(mine.get_string(&own).await.unwrap(), "SELECT 2");
    assert_eq!(mine.list_all(&format!("{alpha}/")).await.unwrap().len(), 1);

    // The other namespace: no read, no write, no listing.
    assert!(denied(mine.get_string(&theirs).await), "read across");
    let planted = ObjectKey::new(format!("{beta}/pipelines/bronze/y/pipeline.sql")).unwrap();
    assert!(
        denied(mine.put(&planted, "DROP".into()).await),
        "write across"
    );
    assert!(
        denied(mine.list_all(&format!("{beta}/")).await),
        "list across"
    );
    assert!(!admin_storage.exists(&planted).await.unwrap());
    assert_eq!(admin_storage.get_string(&theirs).await.unwrap(), "SELECT 1");

    // beta's own storage reaches it: the denial above is the scope.
    let theirs_storage = access.storage(&beta).unwrap();
    assert_eq!(
        theirs_storage.get_string(&theirs).await.unwrap(),
        "SELECT 1"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_process_runs_read_with_their_namespace_s_credentials() {
    let dir = tempfile::tempdir().unwrap();
    let lakehouse = lakehouse(dir.path());
    let admin = admin_storage(&lakehouse);
    let alpha = unique("alpha");
    for (key, text) in [
        ("landing/raw/part-1.csv", "id\n1\n2\n"),
        (
            "pipelines/bronze/orders/pipeline.sql",
            "SELECT * FROM {{ landing_zone('raw') }}",
        ),
    ] {
        let key = ObjectKey::new(format!("{alpha}/{key}")).unwrap();
        admin.put(&key, text.into()).await.unwrap();
    }
    let vendor = vendor().await;
    let access = Arc::new(NamespaceAccess::new(vendor.clone(), &lakehouse).unwrap());
    let engine = rat_runner::Engine::open(&lakehouse, rat_runner::EngineConfig::default())
        .await
        .unwrap();
    let runs = ScopedEngine::new(engine, access);
    let table = TableRef::parse(&format!("{alpha}.bronze.orders"), "default").unwrap();
    let ctx = RunContext {
        cancel: Default::default(),
        log: Arc::new(rat_core::TracingLogSink),
    };
    let result = runs.execute(RunSpec::new(table), ctx).await;
    assert_eq!(result.status, RunStatus::Success, "{:?}", result.error);
    assert_eq!(result.rows_written, 2);
    let asked = vendor.asked.lock().unwrap().clone();
    assert!(
        !asked.is_empty() && asked.iter().all(|ns| *ns == alpha.as_str()),
        "{asked:?}"
    );

    // The storage root is nobody's namespace: the run fails before it starts.
    let ctx = RunContext {
        cancel: Default::default(),
        log: Arc::new(rat_core::TracingLogSink),
    };
    let root = RunSpec::new("bronze.orders".parse().unwrap());
    let result = runs.execute(root, ctx).await;
    assert_eq!(result.status, RunStatus::Failed);
    assert!(result.error.unwrap().message.contains("storage root"));
}
