//! Copy-on-write by file: a run rewrites only the files that can hold
//! affected rows; every other file carries over under the same path.
#![allow(clippy::unwrap_used)]

mod common;

use std::collections::{BTreeMap, BTreeSet};

use common::TestProject;
use iceberg::spec::Literal;

/// Data file paths per partition tuple of `main`.
async fn files_by_partition(p: &TestProject, table: &str) -> BTreeMap<String, BTreeSet<String>> {
    let loaded = p.load(table).await;
    let files = rat_runner::table::snapshot_files(&loaded, loaded.main_snapshot_id())
        .await
        .unwrap();
    let mut out: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for entry in files.entries() {
        let partition = entry.data_file().partition();
        let key: Vec<String> = partition
            .fields()
            .iter()
            .map(|field| match field {
                Some(Literal::Primitive(v)) => format!("{v:?}"),
                other => format!("{other:?}"),
            })
            .collect();
        let key = key.join("/");
        out.entry(key)
            .or_default()
            .insert(entry.data_file().file_path().to_owned());
    }
    out
}

fn summary(p: &rat_core::LoadedTable) -> std::collections::HashMap<String, String> {
    let snapshot = p
        .metadata
        .snapshot_by_id(p.main_snapshot_id().unwrap())
        .unwrap();
    let mut props = snapshot.summary().additional_properties.clone();
    props.insert(
        "operation".into(),
        snapshot.summary().operation.as_str().into(),
    );
    props
}

#[tokio::test]
async fn snapshot_of_one_partition_leaves_the_other_29_untouched() {
    let p = TestProject::new().await;
    let header = "-- @merge_strategy: snapshot\n-- @partition_column: day\n\
                  -- @partition_by: [{column: day, transform: identity}]\n";
    p.write(
        "pipelines/silver/daily/pipeline.sql",
        &format!("{header}SELECT i AS id, DATE '2024-01-01' + (i % 30)::INTEGER AS day, 'v1' AS v FROM range(3000) t(i)"),
    );
    p.run_ok(&[]).await;
    let before = files_by_partition(&p, "silver.daily").await;
    assert_eq!(before.len(), 30);

    // Re-deliver day 2024-01-06 only, with fewer rows.
    p.write(
        "pipelines/silver/daily/pipeline.sql",
        &format!("{header}SELECT i AS id, DATE '2024-01-06' AS day, 'v2' AS v FROM range(10) t(i)"),
    );
    p.run_ok(&[]).await;
    let after = files_by_partition(&p, "silver.daily").await;
    assert_eq!(after.len(), 30);
    let changed: Vec<&String> = before
        .iter()
        .filter(|(k, paths)| after.get(*k) != Some(paths))
        .map(|(k, _)| k)
        .collect();
    assert_eq!(
        changed.len(),
        1,
        "exactly one partition's files changed: {changed:?}"
    );
    assert_eq!(
        p.scalar("SELECT count(*) FROM silver.daily").await,
        2900 + 10
    );
    assert_eq!(
        p.scalar("SELECT count(*) FROM silver.daily WHERE day = DATE '2024-01-06' AND v = 'v2'")
            .await,
        10
    );
    let s = summary(&p.load("silver.daily").await);
    assert_eq!(s["operation"], "overwrite");
    assert_eq!(s["deleted-data-files"], "1");
    assert_eq!(s["added-data-files"], "1");
    assert_eq!(s["deleted-records"], "100");
    assert_eq!(s["added-records"], "10");
    assert_eq!(s["total-records"], "2910");
    assert_eq!(s["total-data-files"], "30");
    assert_eq!(s["changed-partition-count"], "1");
}

#[tokio::test]
async fn an_upsert_rewrites_only_the_files_holding_its_keys() {
    let p = TestProject::new().await;
    let header = "-- @merge_strategy: incremental\n-- @unique_key: id\n\
                  -- @partition_by: [{column: day, transform: day}]\n";
    // Ids grow with the day, as event ids do.
    p.write(
        "pipelines/bronze/events/pipeline.sql",
        &format!("{header}SELECT i AS id, TIMESTAMP '2024-01-01' + to_hours(i // 10) AS day, 0 AS v FROM range(2400) t(i)"),
    );
    p.run_ok(&[]).await;
    let before = files_by_partition(&p, "bronze.events").await;
    assert_eq!(before.len(), 10);
    let total_before: usize = before.values().map(BTreeSet::len).sum();

    // Update 25 rows, all of one day.
    p.write(
        "pipelines/bronze/events/pipeline.sql",
        &format!("{header}SELECT i AS id, TIMESTAMP '2024-01-01' + to_hours(i // 10) AS day, 1 AS v FROM range(500, 525) t(i)"),
    );
    let r = &p.run_ok(&[]).await[0];
    let after = files_by_partition(&p, "bronze.events").await;
    let untouched = before
        .iter()
        .filter(|(k, paths)| after.get(*k) == Some(paths))
        .count();
    assert_eq!(untouched, 9, "only the touched day's files may change");
    let s = summary(&p.load("bronze.events").await);
    assert_eq!(s["deleted-data-files"], "1", "{s:?} (of {total_before})");
    assert_eq!(s["total-records"], "2400");
    assert_eq!(r.rows_written, 25 + 240 - 25);
    assert_eq!(
        p.scalar("SELECT count(*) FROM bronze.events WHERE v = 1")
            .await,
        25
    );
}

#[tokio::test]
async fn manifests_of_deleted_files_are_not_carried_forward() {
    let p = TestProject::new().await;
    p.write("pipelines/bronze/r/pipeline.sql", "SELECT 1 AS n");
    for _ in 0..6 {
        p.run_ok(&[]).await;
    }
    let loaded = p.load("bronze.r").await;
    let files = rat_runner::table::snapshot_files(&loaded, loaded.main_snapshot_id())
        .await
        .unwrap();
    // One manifest with the new file, one recording the previous file's
    // deletion; older ones (nothing live left) are dropped.
    assert!(
        files.manifests.len() <= 2,
        "{} manifests after 6 runs",
        files.manifests.len()
    );
    assert_eq!(files.record_count(), 1);
}

/// Runs `sql` under `header` and checks the table then has one data file
/// per partition, in folders named as Iceberg's writers name them.
async fn run_and_count_files(
    p: &TestProject,
    header: &str,
    sql: &str,
) -> BTreeMap<String, BTreeSet<String>> {
    p.write(
        "pipelines/bronze/events/pipeline.sql",
        &format!("{header}{sql}"),
    );
    p.run_ok(&[]).await;
    let files = files_by_partition(p, "bronze.events").await;
    for (partition, paths) in &files {
        assert_eq!(paths.len(), 1, "partition {partition}: {paths:?}");
    }
    files
}

#[tokio::test]
async fn repeated_upserts_leave_one_file_per_touched_partition() {
    let cases = [
        (
            "-- @merge_strategy: incremental\n-- @unique_key: id\n\
             -- @partition_by: [{column: day, transform: day}, {column: id, transform: 'bucket[2]'}]\n",
            &["day_day", "id_bucket"][..],
            20,
        ),
        (
            "-- @merge_strategy: delete_insert\n-- @unique_key: id\n",
            &[][..],
            1,
        ),
        (
            "-- @merge_strategy: scd2\n-- @unique_key: id\n\
             -- @partition_by: [{column: day, transform: day}]\n",
            &["day_day"][..],
            10,
        ),
    ];
    for (header, folders, partitions) in cases {
        let p = TestProject::new().await;
        let rows = |range: &str, v: usize| {
            format!(
                "SELECT i AS id, TIMESTAMP '2024-01-01' + to_hours(i // 10) AS day, {v} AS v FROM range({range}) t(i)"
            )
        };
        let first = run_and_count_files(&p, header, &rows("2400", 0)).await;
        assert_eq!(first.len(), partitions, "{header}");
        for v in 1..=4 {
            // 25 rows of one day change, and 5 new rows arrive in it.
            let after = run_and_count_files(&p, header, &rows("500, 530", v)).await;
            assert_eq!(after.len(), partitions, "{header} run {v}");
            let untouched = first
                .iter()
                .filter(|(k, paths)| after.get(*k) == Some(paths))
                .count();
            if partitions > 1 {
                assert!(
                    untouched >= partitions - 2,
                    "{header} run {v}: {untouched} untouched"
                );
            }
        }
        let current = p
            .scalar("SELECT count(*) FROM bronze.events WHERE v = 4 AND id BETWEEN 500 AND 529")
            .await;
        assert_eq!(current, 30, "{header}");
        let paths: Vec<String> = files_by_partition(&p, "bronze.events")
            .await
            .into_values()
            .flatten()
            .collect();
        for path in &paths {
            assert_partition_folders(path, folders);
        }
    }
}

/// The folders between a file's label folder (`data/<run>/<label>/`) and
/// its name are `field=value`, one per partition field in order, dates
/// written as dates.
fn assert_partition_folders(path: &str, fields: &[&str]) {
    let components: Vec<&str> = path.rsplit('/').skip(1).take(fields.len()).collect();
    for (component, field) in components.iter().rev().zip(fields) {
        let (name, value) = component
            .split_once('=')
            .unwrap_or_else(|| panic!("{path}: '{component}' is not field=value"));
        assert_eq!(name, *field, "{path}");
        if name.ends_with("_day") {
            chrono::NaiveDate::parse_from_str(value, "%Y-%m-%d")
                .unwrap_or_else(|e| panic!("{path}: '{value}' is not a date: {e}"));
        } else {
            value
                .parse::<u32>()
                .unwrap_or_else(|e| panic!("{path}: {value}: {e}"));
        }
    }
    let label = path.rsplit('/').nth(fields.len() + 1).unwrap_or_default();
    assert!(
        ["new", "rewrite"].contains(&label),
        "{path}: label folder '{label}'"
    );
}
