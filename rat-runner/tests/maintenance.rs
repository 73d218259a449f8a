//! Tables that stay bounded: manifest merging on appends, old metadata files
//! deleted as they leave the log, a failed run's files deleted at once, and
//! maintenance (compaction, snapshot expiry, orphan removal) that keeps
//! every retained snapshot readable and deletes nothing still referenced.
#![allow(clippy::unwrap_used)]

mod common;

use std::collections::HashMap;

use chrono::Utc;
use common::TestProject;
use common::safety::{assert_files_match_snapshots, files_on_disk};
use iceberg::TableUpdate;
use rat_core::{MaintenanceSettings, RunStatus, TableCommit};
use rat_runner::maintain::{MaintainOptions, RemovalReason, maintain};
use rat_runner::table::snapshot_files;

const APPEND: &str = "-- @merge_strategy: append_only\n\
    SELECT i AS id, 'row ' || i AS v FROM range(10) t(i)";

async fn set_properties(p: &TestProject, table: &str, props: &[(&str, &str)]) {
    let updates = props
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect::<HashMap<_, _>>();
    p.engine
        .catalog()
        .commit(TableCommit {
            table: table.parse().unwrap(),
            requirements: vec![],
            updates: vec![TableUpdate::SetProperties { updates }],
        })
        .await
        .unwrap();
}

/// Every file on disk under the table's folder.
#[tokio::test]
async fn appends_merge_manifests_and_drop_old_metadata_files() {
    let p = TestProject::new().await;
    p.write("pipelines/bronze/events/pipeline.sql", APPEND);
    p.run_ok(&[]).await;
    set_properties(
        &p,
        "bronze.events",
        &[
            ("commit.manifest.min-count-to-merge", "4"),
            ("write.metadata.previous-versions-max", "5"),
        ],
    )
    .await;
    let mut most = 0;
    for _ in 0..11 {
        p.run_ok(&[]).await;
        let loaded = p.load("bronze.events").await;
        let files = snapshot_files(&loaded, loaded.main_snapshot_id())
            .await
            .unwrap();
        most = most.max(files.manifests.len());
        // Totals carried from snapshot to snapshot (the run reads only the
        // manifest list) still match the files.
        let summary = &loaded.metadata.current_snapshot().unwrap().summary();
        let total = |key: &str| summary.additional_properties[key].parse::<u64>().unwrap();
        assert_eq!(total("total-records"), files.record_count());
        assert_eq!(total("total-data-files"), files.entries().count() as u64);
        let size: u64 = files.entries().map(|e| e.file_size_in_bytes()).sum();
        assert_eq!(total("total-files-size"), size);
    }
    assert!(
        most <= 4,
        "a commit listed {most} manifests; merging keeps it under 4"
    );
    assert_eq!(p.scalar("SELECT count(*) FROM bronze.events").await, 120);
    assert_eq!(
        p.scalar("SELECT count(DISTINCT id) FROM bronze.events")
            .await,
        10
    );

    // rat's tables delete metadata files as they leave the log: the folder
    // holds the current file and at most five previous ones.
    let json = files_on_disk(&p, "bronze.events")
        .await
        .into_iter()
        .filter(|f| f.ends_with(".metadata.json"))
        .count();
    assert!(json <= 6, "{json} metadata files on disk");
}

#[tokio::test]
async fn a_failed_run_leaves_no_file_behind() {
    let p = TestProject::new().await;
    p.write("pipelines/bronze/events/pipeline.sql", APPEND);
    p.run_ok(&[]).await;
    let before = files_on_disk(&p, "bronze.events").await;
    // Written, committed to its branch, then failed by its quality test.
    p.write(
        "pipelines/bronze/events/tests/quality/no_rows.sql",
        "-- @severity: error\nSELECT * FROM {{ this }}",
    );
    let results = p.run(&[]).await.unwrap();
    assert_eq!(
        results[0].status,
        RunStatus::Failed,
        "{:?}",
        results[0].error
    );
    let after = files_on_disk(&p, "bronze.events").await;
    // Only metadata JSON of the branch commit and its removal is new.
    let new: Vec<&String> = after
        .difference(&before)
        .filter(|f| !f.ends_with(".metadata.json"))
        .collect();
    assert!(new.is_empty(), "the failed run left {new:?}");
    let run = results[0].run_id.to_string();
    assert!(
        !after.iter().any(|f| f.contains(&run)),
        "files of run {run} remain"
    );
}

#[tokio::test]
async fn maintenance_compacts_expires_and_keeps_every_retained_snapshot_readable() {
    let p = TestProject::new().await;
    p.write("pipelines/bronze/events/pipeline.sql", APPEND);
    for _ in 0..14 {
        p.run_ok(&[]).await;
    }
    let table: rat_core::TableRef = "bronze.events".parse().unwrap();
    let catalog = p.engine.catalog();
    let settings = MaintenanceSettings {
        keep_last: 5,
        ..MaintenanceSettings::default()
    };
    // As if eight days passed: every snapshot is past the 7-day retention.
    let later = Utc::now() + chrono::Duration::days(8);

    // A dry run changes nothing, file for file.
    let disk_before = files_on_disk(&p, "bronze.events").await;
    let plan = maintain(
        catalog.as_ref(),
        &table,
        &MaintainOptions::new(settings).dry_run(true).at(later),
    )
    .await
    .unwrap();
    assert_eq!(files_on_disk(&p, "bronze.events").await, disk_before);
    assert_eq!(plan.compacted.len(), 1, "{plan:?}");
    assert_eq!(plan.compacted[0].files_in, 14);
    assert!(!plan.expired_snapshots.is_empty());

    let report = maintain(
        catalog.as_ref(),
        &table,
        &MaintainOptions::new(settings).at(later),
    )
    .await
    .unwrap();
    assert_eq!(report.compacted[0].files_out, 1, "{report:?}");
    assert_eq!(p.scalar("SELECT count(*) FROM bronze.events").await, 140);

    // Kept: the last five of main (the compaction's replace snapshot and
    // the four before it); every one still reads the same rows.
    let loaded = p.load("bronze.events").await;
    assert_eq!(loaded.metadata.snapshots().count(), 5);
    let mut rows_by_snapshot = Vec::new();
    for snapshot in loaded.metadata.snapshots() {
        let files = snapshot_files(&loaded, Some(snapshot.snapshot_id()))
            .await
            .unwrap();
        rows_by_snapshot.push(files.record_count());
    }
    rows_by_snapshot.sort();
    assert_eq!(rows_by_snapshot, vec![110, 120, 130, 140, 140]);

    // Nothing any retained snapshot references was deleted, and every
    // data file on disk is referenced.
    let disk = assert_files_match_snapshots(&p, "bronze.events").await;
    assert!(
        report
            .removed_files
            .iter()
            .all(|f| f.reason == RemovalReason::Expired),
        "{report:?}"
    );
    assert_eq!(report.after.snapshots, 5);
    // The expired snapshots' manifest lists went (their manifests are
    // still listed by the retained appends).
    let lists: Vec<&str> = report
        .removed_files
        .iter()
        .map(|f| f.path.as_str())
        .filter(|f| f.contains("/snap-"))
        .collect();
    assert_eq!(lists.len(), 10, "{report:?}");
    assert!(
        lists
            .iter()
            .all(|f| !disk.contains(f.trim_start_matches("file://")))
    );

    // Time travel to an expired snapshot says it was expired.
    let expired = report.expired_snapshots[0];
    p.write(
        "pipelines/silver/old/pipeline.sql",
        &format!("SELECT count(*) AS n FROM {{{{ ref('bronze.events', as_of={expired}) }}}}"),
    );
    let results = p.run(&["silver.old"]).await.unwrap();
    let error = results[0].error.as_ref().unwrap().message.clone();
    assert!(error.contains("expired"), "{error}");
}

#[tokio::test]
async fn an_old_unreferenced_file_is_an_orphan_and_a_young_one_is_not() {
    let p = TestProject::new().await;
    p.write("pipelines/bronze/events/pipeline.sql", APPEND);
    p.run_ok(&[]).await;
    let loaded = p.load("bronze.events").await;
    let location = loaded.metadata.location().trim_start_matches("file://");
    let stray_dir = std::path::Path::new(location).join("data/stray");
    std::fs::create_dir_all(&stray_dir).unwrap();
    let stray = stray_dir.join("left.parquet");
    std::fs::write(&stray, b"not referenced").unwrap();

    let table: rat_core::TableRef = "bronze.events".parse().unwrap();
    let catalog = p.engine.catalog();
    let now = maintain(catalog.as_ref(), &table, &MaintainOptions::default())
        .await
        .unwrap();
    assert!(now.removed_files.is_empty(), "{now:?}");
    assert!(
        stray.exists(),
        "a young unreferenced file may be a writer's"
    );

    let later = Utc::now() + chrono::Duration::days(4);
    let report = maintain(
        catalog.as_ref(),
        &table,
        &MaintainOptions::default().at(later),
    )
    .await
    .unwrap();
    assert!(!stray.exists());
    assert_eq!(report.removed_files.len(), 1, "{report:?}");
    assert_eq!(report.removed_files[0].reason, RemovalReason::Orphan);
    assert_eq!(p.scalar("SELECT count(*) FROM bronze.events").await, 10);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn appends_racing_compaction_lose_and_duplicate_no_row() {
    let p = TestProject::new().await;
    // Each run's rows carry the run's start: a lost or doubled run shows.
    p.write(
        "pipelines/bronze/events/pipeline.sql",
        "-- @merge_strategy: append_only\n\
         SELECT i AS id, '{{ run_started_at }}' AS run FROM range(10) t(i)",
    );
    for _ in 0..8 {
        p.run_ok(&[]).await;
    }
    let table: rat_core::TableRef = "bronze.events".parse().unwrap();
    let catalog = p.engine.catalog();
    // Appends publish while compaction plans and commits; whichever
    // commit comes second re-plans on the table as it then is.
    let appends = async {
        for _ in 0..6 {
            p.run_ok(&[]).await;
        }
    };
    let compactions = async {
        let mut outcomes = Vec::new();
        for _ in 0..6 {
            let outcome = maintain(catalog.as_ref(), &table, &MaintainOptions::default()).await;
            outcomes.push(outcome.map(|r| r.compacted.len()));
            tokio::task::yield_now().await;
        }
        outcomes
    };
    let ((), outcomes) = tokio::join!(appends, compactions);
    for outcome in &outcomes {
        // Giving up after its retries is allowed; failing otherwise is not.
        if let Err(e) = outcome {
            assert_eq!(e.kind(), rat_core::ErrorKind::Conflict, "{e}");
        }
    }
    assert!(
        outcomes.iter().any(|o| matches!(o, Ok(n) if *n > 0)),
        "{outcomes:?}"
    );
    assert_eq!(p.scalar("SELECT count(*) FROM bronze.events").await, 140);
    assert_eq!(
        p.scalar("SELECT count(DISTINCT run) FROM bronze.events")
            .await,
        14
    );
    assert_eq!(
        p.scalar("SELECT count(*) FROM (SELECT run FROM bronze.events GROUP BY run HAVING count(*) <> 10)")
            .await,
        0,
        "a run's rows were lost or doubled"
    );
    let loaded = p.load("bronze.events").await;
    let files = snapshot_files(&loaded, loaded.main_snapshot_id())
        .await
        .unwrap();
    assert_eq!(files.record_count(), 140);
}
