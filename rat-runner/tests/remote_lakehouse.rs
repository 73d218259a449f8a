//! The engine on SeaweedFS: S3 storage, the Iceberg REST catalog, vended
//! credentials and credentials that expire mid-run. Needs
//! `scripts/test-services.sh start`.
#![allow(clippy::unwrap_used)]

mod common;

use std::sync::Arc;
use std::time::Instant;

use common::remote::*;
use common::{MemoryLog, TestProject, run_python};
use iceberg::TableRequirement;
use rat_core::config::{CredentialsConfig, RestAuth};
use rat_core::{ErrorKind, RunContext, RunEngine, RunSpec, RunStatus, TableCommit, TableRef};
use serde_json::Value;

const GOLD: [&str; 2] = ["gold.revenue_by_country", "gold.top_customers"];

async fn rows(project: &TestProject, table: &str) -> Vec<Vec<Value>> {
    project
        .query(&format!("SELECT * FROM {table} ORDER BY ALL"))
        .await
        .rows
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sample_project_on_seaweedfs_matches_the_embedded_run_and_gates_on_the_branch() {
    let embedded = TestProject::sample().await;
    embedded.run_ok(&[]).await;

    let remote = admin_sample().await;
    let results = remote.run_ok(&[]).await;
    assert_eq!(results.len(), 5);
    let ns = remote.source.namespace.to_string();
    for table in GOLD {
        let expected = rows(&embedded, table).await;
        assert!(!expected.is_empty());
        assert_eq!(rows(&remote, table).await, expected, "{table}");
    }
    // Data files and metadata are in the warehouse bucket, not on disk.
    let gold = remote.load(&format!("{ns}.gold.top_customers")).await;
    assert!(
        gold.metadata.location().starts_with("s3://warehouse/"),
        "{}",
        gold.metadata.location()
    );
    assert!(gold.s3.is_some());

    // A failing error-severity test: the run fails, main stays, no branch.
    let table = format!("{ns}.gold.top_customers");
    let before = remote.load(&table).await.main_snapshot_id();
    remote
        .put_file(
            "pipelines/gold/top_customers/tests/quality/never.sql",
            "SELECT * FROM {{ this }}",
        )
        .await;
    let failed = remote.run_one(&table.parse().unwrap()).await;
    assert_eq!(failed.status, RunStatus::Failed);
    assert_eq!(remote.load(&table).await.main_snapshot_id(), before);
    assert_eq!(remote.refs(&table).await, vec!["main".to_owned()]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_race_on_the_rest_catalog_is_a_retryable_conflict() {
    let remote = admin_sample().await;
    remote.run_ok(&["bronze.customers"]).await;
    let table = format!("{}.bronze.customers", remote.source.namespace);
    let loaded = remote.load(&table).await;
    let stale = TableCommit {
        table: loaded.table.clone(),
        requirements: vec![TableRequirement::RefSnapshotIdMatch {
            r#ref: "main".into(),
            snapshot_id: Some(loaded.main_snapshot_id().unwrap() + 1),
        }],
        updates: vec![iceberg::TableUpdate::SetProperties {
            updates: [("rat.test".to_owned(), "x".to_owned())].into(),
        }],
    };
    let err = remote.engine.catalog().commit(stale).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Conflict, "{err}");
    assert!(err.is_retryable());
    assert!(
        !remote
            .load(&table)
            .await
            .metadata
            .properties()
            .contains_key("rat.test")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pyiceberg_and_rat_read_each_others_tables_over_rest() {
    let remote = admin_sample().await;
    remote.run_ok(&[]).await;
    let ns = remote.source.namespace.to_string();

    // pyiceberg reads what rat wrote.
    let expected = remote
        .query(&format!(
            "SELECT count(*), sum(revenue)::DOUBLE FROM {ns}.gold.revenue_by_country"
        ))
        .await
        .rows[0]
        .clone();
    let read = run_python(
        &format!(
            "{}\nt = catalog.load_table(('{ns}', 'gold', 'revenue_by_country')).scan().to_arrow()\n\
             print(json.dumps({{'rows': t.num_rows, 'revenue': float(sum(x.as_py() for x in t['revenue']))}}))",
            pyiceberg_prelude()
        ),
        remote.path(),
    );
    assert_eq!(read["rows"].as_i64(), expected[0].as_i64());
    let revenue = read["revenue"].as_f64().unwrap();
    assert!(
        (revenue - expected[1].as_f64().unwrap()).abs() < 0.01,
        "{revenue} vs {expected:?}"
    );

    // rat reads what pyiceberg wrote.
    run_python(
        &format!(
            "{}\nimport pyarrow as pa\n\
             t = catalog.create_table(('{ns}', 'bronze', 'py_events'), schema=pa.schema([('id', pa.int64()), ('kind', pa.string())]))\n\
             t.append(pa.table({{'id': list(range(1000)), 'kind': ['a', 'b'] * 500}}))\n\
             print(json.dumps({{'ok': True}}))",
            pyiceberg_prelude()
        ),
        remote.path(),
    );
    remote
        .put_file(
            "pipelines/silver/from_python/pipeline.sql",
            "SELECT kind, count(*) AS n FROM {{ ref('bronze.py_events') }} GROUP BY kind",
        )
        .await;
    remote.run_ok(&["silver.from_python"]).await;
    assert_eq!(
        remote
            .query(&format!(
                "SELECT kind, n FROM {ns}.silver.from_python ORDER BY kind"
            ))
            .await
            .rows,
        vec![
            vec![Value::from("a"), Value::from(500)],
            vec![Value::from("b"), Value::from(500)]
        ]
    );
}

/// The project on local disk, tables through a bearer token only: with
/// vending, the catalog's scoped credentials are the only S3 access there
/// is (no keys in the config, anonymous otherwise).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn vended_credentials_alone_read_and_write_tables() {
    require_seaweedfs();
    let token = fetch_token().await;
    let make = |vended: bool| {
        let token = token.clone();
        async move {
            let project = TestProject::new().await;
            let auth = RestAuth::Bearer {
                token: secret_file(project.path(), "token", &token),
            };
            let catalog = rat_runner::catalog::RestCatalog::connect(&rest_config(
                auth,
                vended,
                CredentialsConfig::Anonymous,
            ))
            .await
            .unwrap();
            let namespace = unique_namespace();
            let source = rat_core::ProjectSource::namespaced(&namespace).unwrap();
            common::copy_tree(
                &std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                    .join("../examples/sample-project"),
                &project.path().join(&namespace),
            );
            let engine = rat_runner::Engine::new(
                project.engine.storage().clone(),
                std::sync::Arc::new(catalog),
            );
            TestProject {
                source,
                engine,
                dir: project.dir,
            }
        }
    };
    let with = make(true).await;
    with.run_ok(&[]).await;
    let ns = with.source.namespace.to_string();
    assert_eq!(
        with.scalar(&format!("SELECT count(*) FROM {ns}.gold.top_customers"))
            .await,
        10
    );
    let loaded = with.load(&format!("{ns}.gold.top_customers")).await;
    let vended = loaded
        .s3
        .clone()
        .unwrap()
        .credentials
        .unwrap()
        .credentials()
        .await
        .unwrap();
    assert!(vended.session_token.is_some() && vended.expires_at.is_some());
    assert_ne!(vended.access_key_id, ADMIN_KEY);

    // Renewal asks the catalog again (SeaweedFS has no /credentials
    // endpoint: a reload) and gets new credentials that reach the files.
    let catalog = rat_runner::catalog::RestCatalog::connect(&rest_config(
        RestAuth::Bearer {
            token: secret_file(with.path(), "token", &token),
        },
        true,
        CredentialsConfig::Anonymous,
    ))
    .await
    .unwrap();
    let renewed = catalog
        .table_credentials(&loaded.table)
        .await
        .unwrap()
        .expect("vended");
    assert_ne!(renewed.access_key_id, vended.access_key_id);
    // No secret in Debug output of the catalog or the table's access.
    let shown = format!("{catalog:?} {:?} {:?}", loaded.s3, renewed);
    for secret in [vended.secret(), renewed.secret(), token.as_str()] {
        assert!(!shown.contains(secret), "a secret shows in {shown}");
    }
    let access = rat_core::S3Access {
        credentials: Some(std::sync::Arc::new(renewed)),
        ..loaded.s3.clone().unwrap()
    };
    let metadata = rat_runner::s3::file_io(access)
        .new_input(&loaded.metadata_location)
        .unwrap()
        .read()
        .await
        .unwrap();
    assert!(!metadata.is_empty());

    // The same without vending: anonymous S3 access is refused, nothing lands.
    let without = make(false).await;
    let results = without.run(&["bronze.customers"]).await.unwrap();
    assert_eq!(results[0].status, RunStatus::Failed);
    let table = format!("{}.bronze.customers", without.source.namespace);
    assert_eq!(without.load(&table).await.main_snapshot_id(), None);
}

/// A `credential_process` that assumes a role whose STS credentials live
/// [`STS_LIFETIME`], writing a line per fetch to `fetches.log` in `dir`.
fn short_lived_credentials(dir: &std::path::Path) -> CredentialsConfig {
    let log = dir.join("fetches.log");
    let script = dir.join("creds.py");
    std::fs::write(
        &script,
        format!(
            r#"
import boto3, json, time
sts = boto3.client("sts", endpoint_url="{S3_ENDPOINT}", region_name="us-east-1",
    aws_access_key_id="{ADMIN_KEY}", aws_secret_access_key="{ADMIN_SECRET}")
c = sts.assume_role(RoleArn="{RUNNER_ROLE}", RoleSessionName="rat-test")["Credentials"]
with open("{log}", "a") as f:
    f.write(f"{{time.time()}} {{c['AccessKeyId']}}\n")
print(json.dumps({{"Version": 1, "AccessKeyId": c["AccessKeyId"], "SecretAccessKey": c["SecretAccessKey"],
    "SessionToken": c["SessionToken"], "Expiration": c["Expiration"].isoformat()}}))
"#,
            log = log.display()
        ),
    )
    .unwrap();
    CredentialsConfig::Process {
        command: vec![
            common::python_bin().to_string_lossy().into_owned(),
            script.to_string_lossy().into_owned(),
        ],
    }
}

/// Credentials from a `credential_process` that assumes a role whose STS
/// credentials live 6 s, through a run that lasts longer: the run renews
/// them (storage, data file uploads, manifests, DuckDB's secret) and
/// completes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn credentials_that_expire_during_a_run_are_renewed() {
    require_seaweedfs();
    let dir = tempfile::tempdir().unwrap();
    let process = short_lived_credentials(dir.path());
    let catalog = rest_config(oauth2(dir.path()), false, process.clone());
    let remote = remote_sample(dir, process, catalog).await;
    // One row, many seconds of CPU and no S3 reads while it computes: the
    // credentials of the run's start have expired when its files upload.
    remote
        .put_file(
            "pipelines/silver/slow/pipeline.sql",
            "SELECT count(DISTINCT md5(i::VARCHAR)) AS distinct_hashes FROM range(25000000) t(i)",
        )
        .await;
    remote
        .put_file(
            "pipelines/silver/slow/tests/quality/one_row.sql",
            "SELECT * FROM {{ this }} WHERE distinct_hashes <> 25000000",
        )
        .await;
    let started = Instant::now();
    let result = remote.run(&["silver.slow"]).await.unwrap();
    let took = started.elapsed();
    assert_eq!(
        result[0].status,
        RunStatus::Success,
        "{:?}",
        result[0].error
    );
    assert!(
        took > STS_LIFETIME,
        "the run took {took:?}, less than the {STS_LIFETIME:?} credential lifetime: it proves nothing"
    );
    let fetches = std::fs::read_to_string(remote.path().join("fetches.log")).unwrap_or_default();
    assert!(
        fetches.lines().count() >= 2,
        "credentials were fetched once in a {took:?} run:\n{fetches}"
    );
    let ns = remote.source.namespace.to_string();
    assert_eq!(
        remote
            .scalar(&format!("SELECT distinct_hashes FROM {ns}.silver.slow"))
            .await,
        25_000_000
    );
}

/// Landing files in S3 storage: DuckDB reads them through a secret scoped to
/// the zone; an incremental pipeline takes each drop once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn landing_files_on_s3_feed_an_incremental_pipeline() {
    let remote = admin_sample().await;
    remote
        .put_file(
            "pipelines/bronze/events/pipeline.sql",
            "-- @merge_strategy: incremental\n-- @unique_key: id\n-- @watermark_column: updated_at\n\
             SELECT id, value, updated_at FROM {{ landing_zone('events') }}\n\
             {% if watermark_value %}WHERE updated_at > TIMESTAMP '{{ watermark_value }}'{% endif %}\n",
        )
        .await;
    let rows = |range: std::ops::Range<u32>, value: &str, ts: &str| -> String {
        let mut csv = String::from("id,value,updated_at\n");
        for i in range {
            csv.push_str(&format!("{i},{value}{i},{ts}\n"));
        }
        csv
    };
    remote
        .put_file(
            "landing/events/001.csv",
            &rows(1..101, "a", "2024-01-01 00:00:00"),
        )
        .await;
    assert_eq!(remote.run_ok(&["bronze.events"]).await[0].rows_written, 100);
    remote
        .put_file(
            "landing/events/002.csv",
            &rows(91..151, "b", "2024-01-02 00:00:00"),
        )
        .await;
    remote.run_ok(&["bronze.events"]).await;
    let ns = remote.source.namespace.to_string();
    assert_eq!(
        remote
            .scalar(&format!("SELECT count(*) FROM {ns}.bronze.events"))
            .await,
        150
    );
    assert_eq!(
        remote
            .scalar(&format!(
                "SELECT count(*) FROM {ns}.bronze.events WHERE value LIKE 'b%'"
            ))
            .await,
        60
    );
}

/// A Python pipeline on SeaweedFS: its DuckDB reads a table's files and a
/// landing zone on S3 with the run's vended access, and its result is
/// written to the warehouse bucket like a SQL one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_pipelines_read_tables_and_landing_zones_on_s3() {
    let remote = admin_sample().await;
    remote
        .put_file("landing/extra/001.csv", "customer_id,bonus\n1,10\n2,20\n")
        .await;
    remote
        .put_file(
            "pipelines/gold/py_orders/pipeline.py",
            "# @merge_strategy: full_refresh\n\
             orders = duckdb_conn.sql(f\"SELECT customer_id, count(*) AS n FROM {ref('silver.orders_enriched')} GROUP BY 1\")\n\
             extra = duckdb_conn.sql(f\"SELECT * FROM {landing_zone('extra')}\")\n\
             result = duckdb_conn.sql('SELECT o.customer_id, o.n, coalesce(e.bonus, 0) AS bonus FROM orders o LEFT JOIN extra e USING (customer_id)')\n",
        )
        .await;
    remote.run_ok(&[]).await;
    let ns = remote.source.namespace.to_string();
    let got = remote
        .query(&format!(
            "SELECT sum(n), sum(bonus) FROM {ns}.gold.py_orders"
        ))
        .await;
    let orders = remote
        .scalar(&format!("SELECT count(*) FROM {ns}.silver.orders_enriched"))
        .await;
    assert_eq!(got.rows[0][0], serde_json::json!(orders));
    assert_eq!(got.rows[0][1], serde_json::json!(30));
    let table = remote.load(&format!("{ns}.gold.py_orders")).await;
    assert!(table.metadata.location().starts_with("s3://warehouse/"));
}

/// A script that outlives its credentials: rat sends the script's DuckDB
/// renewed access while it runs, so a file it opens after the run's first
/// STS credentials expired still reads. (Results are read whole: a
/// relation bound while an earlier result is half read lives in that
/// result's DuckDB transaction, which does not see later secrets.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_long_script_gets_its_s3_access_renewed() {
    require_seaweedfs();
    let dir = tempfile::tempdir().unwrap();
    let process = short_lived_credentials(dir.path());
    let catalog = rest_config(oauth2(dir.path()), false, process.clone());
    let remote = remote_sample(dir, process, catalog).await;
    remote.put_file("landing/early/001.csv", "n\n1\n2\n").await;
    remote.put_file("landing/late/001.csv", "n\n10\n20\n").await;
    let outlive = STS_LIFETIME.as_secs() + 2;
    remote
        .put_file(
            "pipelines/bronze/slow_reader/pipeline.py",
            &format!(
                "# @merge_strategy: full_refresh\nimport time\n\
                 early = duckdb_conn.sql(f\"SELECT sum(n) FROM {{landing_zone('early')}}\").fetchall()[0][0]\n\
                 time.sleep({outlive})\n\
                 late = duckdb_conn.sql(f\"SELECT sum(n) FROM {{landing_zone('late')}}\").fetchall()[0][0]\n\
                 result = pa.table({{'early': [early], 'late': [late]}})\n"
            ),
        )
        .await;
    let ns = remote.source.namespace.to_string();
    let log = MemoryLog::default();
    let spec = RunSpec {
        project: remote.source.clone(),
        ..RunSpec::new(TableRef::parse("bronze.slow_reader", &ns).unwrap())
    };
    let ctx = RunContext {
        cancel: Default::default(),
        log: Arc::new(log.clone()),
    };
    let r = remote.engine.execute(spec, ctx).await;
    let lines = log.0.lock().unwrap().clone();
    assert_eq!(r.status, RunStatus::Success, "{:?}\n{lines:?}", r.error);
    assert!(
        lines
            .iter()
            .any(|(_, m)| m.contains("the script's S3 access was renewed")),
        "{lines:?}"
    );
    let got = remote
        .query(&format!("SELECT early, late FROM {ns}.bronze.slow_reader"))
        .await;
    assert_eq!(
        got.rows,
        vec![vec![serde_json::json!(3), serde_json::json!(30)]]
    );
}

/// Runs of one namespace start together and each creates the namespace:
/// every creation succeeds (SeaweedFS answers 500 to some losers of that
/// race; creating is idempotent, so rat retries).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_creations_of_one_namespace_all_succeed() {
    let remote = admin_sample().await;
    for _ in 0..3 {
        let namespace = rat_core::ident::namespace(&unique_namespace()).unwrap();
        let creations = (0..8).map(|_| remote.engine.catalog().create_namespace(&namespace));
        for result in futures::future::join_all(creations).await {
            result.unwrap();
        }
        assert!(
            remote
                .engine
                .catalog()
                .list_namespaces()
                .await
                .unwrap()
                .contains(&namespace)
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_namespace_keeps_properties_and_drops_only_when_empty_over_rest() {
    let remote = admin_sample().await;
    let namespace = rat_core::ident::namespace(&unique_namespace()).unwrap();
    common::namespaces::namespace_properties_and_drops(
        remote.engine.catalog().as_ref(),
        &namespace,
    )
    .await;
}
