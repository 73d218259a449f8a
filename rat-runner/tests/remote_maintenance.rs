//! Maintenance on the Iceberg REST catalog with tables on S3 (SeaweedFS):
//! a dry run changes nothing, then compaction, snapshot expiry and orphan
//! removal (the table folder listed through S3) keep every row and every
//! referenced file. Needs `scripts/test-services.sh start`.
#![allow(clippy::unwrap_used)]

mod common;

use chrono::Utc;
use common::remote::admin_sample;
use common::safety::{assert_files_match_snapshots, files_on_disk};
use rat_core::MaintenanceSettings;
use rat_runner::maintain::{MaintainOptions, RemovalReason, maintain};

const APPEND: &str = "-- @merge_strategy: append_only\n\
    SELECT i AS id, 'row ' || i AS v FROM range(10) t(i)";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn maintenance_on_s3_and_the_rest_catalog_keeps_every_row_and_referenced_file() {
    let remote = admin_sample().await;
    remote
        .put_file("pipelines/bronze/events/pipeline.sql", APPEND)
        .await;
    let name = format!("{}.bronze.events", remote.source.namespace);
    for _ in 0..6 {
        remote.run_ok(&[&name]).await;
    }
    let table: rat_core::TableRef = name.parse().unwrap();
    let loaded = remote.load(&name).await;
    assert!(loaded.metadata.location().starts_with("s3://"));
    // A file no metadata references, as a killed writer leaves.
    let orphan = format!(
        "{}/data/{}/orphan.parquet",
        loaded.metadata.location(),
        uuid::Uuid::new_v4()
    );
    loaded
        .file_io
        .new_output(&orphan)
        .unwrap()
        .write(bytes::Bytes::from_static(b"not parquet"))
        .await
        .unwrap();

    let catalog = remote.engine.catalog();
    let settings = MaintenanceSettings {
        keep_last: 2,
        ..MaintenanceSettings::default()
    };
    let later = Utc::now() + chrono::Duration::days(8);
    let options = MaintainOptions::new(settings).at(later);
    let disk_before = files_on_disk(&remote, &name).await;
    assert!(
        disk_before.contains(&orphan),
        "the S3 listing misses the orphan"
    );
    let plan = maintain(catalog.as_ref(), &table, &options.clone().dry_run(true))
        .await
        .unwrap();
    assert_eq!(
        files_on_disk(&remote, &name).await,
        disk_before,
        "a dry run changed files"
    );
    assert_eq!(plan.compacted.len(), 1, "{plan:?}");

    let report = maintain(catalog.as_ref(), &table, &options).await.unwrap();
    assert_eq!(report.compacted[0].files_in, 6, "{report:?}");
    assert_eq!(report.compacted[0].files_out, 1, "{report:?}");
    assert!(!report.expired_snapshots.is_empty(), "{report:?}");
    assert!(
        report
            .removed_files
            .iter()
            .any(|f| f.path == orphan && f.reason == RemovalReason::Orphan),
        "{report:?}"
    );
    assert_eq!(
        remote.scalar(&format!("SELECT count(*) FROM {name}")).await,
        60
    );
    let disk = assert_files_match_snapshots(&remote, &name).await;
    assert!(!disk.contains(&orphan));
}
