//! The embedded catalog: requirement-checked compare-and-swap commits.
#![allow(clippy::unwrap_used)]

mod common;

use std::collections::HashMap;
use std::sync::Arc;

use common::namespaces::one_column;
use iceberg::spec::{Operation, Snapshot, SnapshotReference, SnapshotRetention, Summary};
use iceberg::{TableRequirement, TableUpdate};
use rat_core::{Catalog, ErrorKind, TableCommit, TableRef};
use rat_runner::catalog::SqlCatalog;

async fn catalog(dir: &std::path::Path) -> SqlCatalog {
    SqlCatalog::open(dir.join("catalog.db"), dir.join("warehouse"))
        .await
        .unwrap()
}

/// Adds snapshot `id` and points `main` at it, requiring `main` to be at `expected`.
fn move_main(table: &TableRef, id: i64, seq: i64, expected: Option<i64>) -> TableCommit {
    let snapshot = Snapshot::builder()
        .with_snapshot_id(id)
        .with_parent_snapshot_id(expected)
        .with_sequence_number(seq)
        .with_timestamp_ms(chrono::Utc::now().timestamp_millis())
        .with_manifest_list(format!("file:///nowhere/snap-{id}.avro"))
        .with_schema_id(0)
        .with_summary(Summary {
            operation: Operation::Append,
            additional_properties: HashMap::new(),
        })
        .build();
    TableCommit {
        table: table.clone(),
        requirements: vec![TableRequirement::RefSnapshotIdMatch {
            r#ref: "main".into(),
            snapshot_id: expected,
        }],
        updates: vec![
            TableUpdate::AddSnapshot { snapshot },
            TableUpdate::SetSnapshotRef {
                ref_name: "main".into(),
                reference: SnapshotReference::new(id, SnapshotRetention::branch(None, None, None)),
            },
        ],
    }
}

#[tokio::test]
async fn a_stale_requirement_is_a_retryable_conflict_that_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let c = catalog(dir.path()).await;
    let t: TableRef = "bronze.t".parse().unwrap();
    c.create_table(&t, one_column()).await.unwrap();
    let err = c.create_table(&t, one_column()).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::AlreadyExists);

    c.commit(move_main(&t, 11, 1, None)).await.unwrap();
    let before = c.load_table(&t).await.unwrap();
    // A writer that still believes main is empty loses.
    let err = c.commit(move_main(&t, 12, 2, None)).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Conflict);
    assert!(err.is_retryable());
    let after = c.load_table(&t).await.unwrap();
    assert_eq!(after.metadata_location, before.metadata_location);
    assert_eq!(after.main_snapshot_id(), Some(11));
    // With the right expectation it goes through.
    c.commit(move_main(&t, 12, 2, Some(11))).await.unwrap();
    assert_eq!(c.load_table(&t).await.unwrap().main_snapshot_id(), Some(12));
    // The previous pointer is kept, as the JDBC layout expects.
    let row: (String, String) =
        sqlx::query_as("SELECT metadata_location, previous_metadata_location FROM iceberg_tables")
            .fetch_one(
                &sqlx::SqlitePool::connect(&format!(
                    "sqlite://{}",
                    dir.path().join("catalog.db").display()
                ))
                .await
                .unwrap(),
            )
            .await
            .unwrap();
    assert_ne!(row.0, row.1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_commits_from_separate_connections_lose_no_update() {
    let dir = tempfile::tempdir().unwrap();
    let t: TableRef = "bronze.t".parse().unwrap();
    catalog(dir.path())
        .await
        .create_table(&t, one_column())
        .await
        .unwrap();
    let mut handles = Vec::new();
    for i in 0..12 {
        let c = catalog(dir.path()).await;
        let t = t.clone();
        handles.push(tokio::spawn(async move {
            c.commit(TableCommit {
                table: t,
                requirements: vec![],
                updates: vec![TableUpdate::SetProperties {
                    updates: HashMap::from([(format!("writer.{i}"), "done".to_owned())]),
                }],
            })
            .await
        }));
    }
    for h in handles {
        h.await.unwrap().unwrap();
    }
    let loaded = catalog(dir.path()).await.load_table(&t).await.unwrap();
    let props = loaded.metadata.properties();
    for i in 0..12 {
        assert_eq!(
            props.get(&format!("writer.{i}")).map(String::as_str),
            Some("done")
        );
    }
}

#[tokio::test]
async fn namespaces_and_tables_are_listed_per_rat_namespace() {
    let dir = tempfile::tempdir().unwrap();
    let c = catalog(dir.path()).await;
    for t in ["bronze.a", "gold.b", "other.silver.c"] {
        c.create_table(&t.parse().unwrap(), one_column())
            .await
            .unwrap();
    }
    let ns: Vec<String> = c
        .list_namespaces()
        .await
        .unwrap()
        .iter()
        .map(|n| n.to_string())
        .collect();
    assert_eq!(ns, ["default", "other"]);
    let tables: Vec<String> = c
        .list_tables(&"default".parse().unwrap())
        .await
        .unwrap()
        .iter()
        .map(|t| t.to_string())
        .collect();
    assert_eq!(tables, ["default.bronze.a", "default.gold.b"]);
    c.drop_table(&"gold.b".parse().unwrap()).await.unwrap();
    let err = c.load_table(&"gold.b".parse().unwrap()).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound);
}

#[tokio::test]
async fn an_unchanged_table_is_not_read_again_and_a_commit_is_seen_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let catalog = catalog(dir.path()).await;
    let table: TableRef = "bronze.cached".parse().unwrap();
    catalog.create_table(&table, one_column()).await.unwrap();
    let first = catalog.load_table(&table).await.unwrap();
    let again = catalog.load_table(&table).await.unwrap();
    assert!(
        Arc::ptr_eq(&first.metadata, &again.metadata),
        "the unchanged metadata file was parsed again"
    );
    // Another process (its own catalog, so its own cache) commits.
    let other = self::catalog(dir.path()).await;
    other.commit(move_main(&table, 7, 1, None)).await.unwrap();
    let after = catalog.load_table(&table).await.unwrap();
    assert_ne!(after.metadata_location, first.metadata_location);
    assert_eq!(after.main_snapshot_id(), Some(7));
    let listed = catalog.load_table(&table).await.unwrap();
    assert!(Arc::ptr_eq(&after.metadata, &listed.metadata));
}

/// Sets `name` (a tag kept a day, or a branch) on snapshot `id`.
fn set_ref(table: &TableRef, name: &str, id: i64, tag: bool) -> TableCommit {
    let retention = if tag {
        SnapshotRetention::Tag {
            max_ref_age_ms: Some(86_400_000),
        }
    } else {
        SnapshotRetention::branch(Some(3), None, None)
    };
    TableCommit {
        table: table.clone(),
        requirements: vec![],
        updates: vec![TableUpdate::SetSnapshotRef {
            ref_name: name.into(),
            reference: SnapshotReference::new(id, retention),
        }],
    }
}

/// The SQL catalog writes commits' metadata itself (not through
/// iceberg's serializer): each file must read back as exactly what was
/// committed, refs set by earlier commits and by other processes included.
#[tokio::test]
async fn committed_metadata_reads_back_as_committed_with_every_ref() {
    let dir = tempfile::tempdir().unwrap();
    let table: TableRef = "bronze.refs".parse().unwrap();
    let first = catalog(dir.path()).await;
    first.create_table(&table, one_column()).await.unwrap();
    let commits = [
        move_main(&table, 1, 1, None),
        set_ref(&table, "v1", 1, true),
        move_main(&table, 2, 2, Some(1)),
        set_ref(&table, "audit", 2, false),
        move_main(&table, 3, 3, Some(2)),
    ];
    for (i, commit) in commits.into_iter().enumerate() {
        // One process carries the refs through its own commits; another
        // (commit 3) and then the first again read them from the file.
        let committer = if i == 3 {
            catalog(dir.path()).await
        } else {
            first.clone()
        };
        let committed = committer.commit(commit).await.unwrap();
        let file_io = iceberg::io::FileIO::new_with_fs();
        let read = iceberg::spec::TableMetadata::read_from(&file_io, &committed.metadata_location)
            .await
            .unwrap();
        assert_eq!(&read, committed.metadata.as_ref(), "commit {i}");
    }
    let last = catalog(dir.path()).await.load_table(&table).await.unwrap();
    assert_eq!(last.main_snapshot_id(), Some(3));
    assert_eq!(last.ref_snapshot_id("v1"), Some(1));
    assert_eq!(last.ref_snapshot_id("audit"), Some(2));
    let mut names = rat_runner::table::ref_names(&last.metadata);
    names.sort();
    assert_eq!(names, ["audit", "main", "v1"]);
}

#[tokio::test]
async fn a_namespace_keeps_properties_and_drops_only_when_empty() {
    let dir = tempfile::tempdir().unwrap();
    let c = catalog(dir.path()).await;
    let namespace = rat_core::ident::namespace("sales").unwrap();
    common::namespaces::namespace_properties_and_drops(&c, &namespace).await;
}
