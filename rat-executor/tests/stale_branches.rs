//! The engine's sweep of `run-*` branches left by runs that never cleaned
//! up: with a run store, a branch whose run ended goes at once; without a
//! record, only once older than the threshold.
#![allow(clippy::unwrap_used)]

mod common;

use std::collections::HashMap;
use std::time::Duration;

use chrono::Utc;
use common::{Harness, succeeded, wait_for_end};
use iceberg::TableUpdate;
use iceberg::spec::{Operation, Snapshot, SnapshotReference, SnapshotRetention, Summary};
use rat_core::{
    ErrorKind, Executor, RunError, RunId, RunRecord, RunRequest, RunStatus, RunStore, TableCommit,
    Transition,
};
use rat_executor::PoolConfig;

/// A run id created `age` ago (UUIDv7 carries its creation time).
fn run_id_aged(age: Duration) -> RunId {
    let at = Utc::now() - chrono::Duration::from_std(age).unwrap();
    let ts = uuid::Timestamp::from_unix(
        uuid::NoContext,
        at.timestamp().try_into().unwrap(),
        at.timestamp_subsec_nanos(),
    );
    uuid::Uuid::new_v7(ts).simple().to_string().parse().unwrap()
}

/// Leaves a branch for `run` on the table, as a killed runner would: at a
/// snapshot of its own (here one listing main's files), named in its
/// summary.
async fn leave_branch(h: &Harness, table: &str, run: &RunId) {
    let catalog = h.engine.catalog();
    let loaded = catalog.load_table(&table.parse().unwrap()).await.unwrap();
    let main = loaded.metadata.current_snapshot().unwrap().clone();
    let snapshot_id = (uuid::Uuid::new_v4().as_u64_pair().0 >> 1) as i64;
    let snapshot = Snapshot::builder()
        .with_snapshot_id(snapshot_id)
        .with_parent_snapshot_id(Some(main.snapshot_id()))
        .with_sequence_number(loaded.metadata.next_sequence_number())
        .with_timestamp_ms(Utc::now().timestamp_millis())
        .with_manifest_list(main.manifest_list())
        .with_schema_id(loaded.metadata.current_schema_id())
        .with_summary(Summary {
            operation: Operation::Append,
            additional_properties: HashMap::from([(
                rat_runner::table::RUN_ID_PROPERTY.to_owned(),
                run.to_string(),
            )]),
        })
        .build();
    catalog
        .commit(TableCommit {
            table: loaded.table.clone(),
            requirements: vec![],
            updates: vec![
                TableUpdate::AddSnapshot { snapshot },
                TableUpdate::SetSnapshotRef {
                    ref_name: run.branch(),
                    reference: SnapshotReference::new(
                        snapshot_id,
                        SnapshotRetention::branch(None, None, None),
                    ),
                },
            ],
        })
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_next_run_removes_branches_of_ended_or_long_gone_runs_only() {
    let h = Harness::new().await;
    h.pipeline("bronze.t", "SELECT 1 AS n");
    let executor = h.local(PoolConfig::default()).await;
    let submit = || executor.submit(RunRequest::pipeline("bronze.t".parse().unwrap()));
    let first = submit().await.unwrap();
    assert!(succeeded(
        &wait_for_end(&executor, &first, Duration::from_secs(30)).await
    ));

    // Four leftovers: old without record; young whose run failed; young
    // without record; young whose run is still running elsewhere.
    let old = run_id_aged(Duration::from_secs(2 * 3600));
    let failed = RunId::generate();
    let unknown = RunId::generate();
    let live = RunId::generate();
    for id in [&old, &failed, &unknown, &live] {
        leave_branch(&h, "bronze.t", id).await;
    }
    let mut record = RunRecord::pending(failed.clone(), "bronze.t".parse().unwrap(), "process");
    h.store.insert(&record).await.unwrap();
    let aborted = Transition::Aborted {
        status: RunStatus::Failed,
        error: RunError::new(ErrorKind::Internal, "killed"),
        at: Utc::now(),
    };
    h.store.transition(&failed, aborted).await.unwrap();
    record.run_id = live.clone();
    record.executor = "elsewhere".into();
    h.store.insert(&record).await.unwrap();
    h.store
        .transition(
            &live,
            Transition::Started {
                at: Utc::now(),
                owner: "pid:1:1".into(),
            },
        )
        .await
        .unwrap();

    let next = submit().await.unwrap();
    assert!(succeeded(
        &wait_for_end(&executor, &next, Duration::from_secs(30)).await
    ));
    let mut kept = vec!["main".to_owned(), unknown.branch(), live.branch()];
    kept.sort();
    assert_eq!(h.refs("bronze.t").await, kept);
    let logs = h.stored_logs(&next).await;
    for (id, why) in [(&old, "older than 3600s"), (&failed, "its run failed")] {
        assert!(
            logs.iter()
                .any(|l| l.message.contains(&id.branch()) && l.message.contains(why)),
            "no removal of {} logged: {logs:?}",
            id.branch()
        );
    }
}
