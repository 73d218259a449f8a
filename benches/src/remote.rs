//! The `full_refresh` transform with its tables on SeaweedFS (S3 + Iceberg
//! REST, vended credentials) against the same run on local disk, and the
//! two ways DuckDB can read remote data files: its httpfs extension, or
//! Parquet decoded in Rust (object_store ranged reads, Arrow batches) and
//! appended into DuckDB. Needs `scripts/test-services.sh start`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use futures::TryStreamExt;
use parquet::arrow::ParquetRecordBatchStreamBuilder;
use parquet::arrow::async_reader::ParquetObjectReader;
use rat_core::LoadedTable;
use rat_core::config::{RestAuth, RestCatalogConfig, S3Settings, SecretRef};
use rat_runner::catalog::RestCatalog;
use rat_runner::duck::{DuckSession, SessionLimits, duck_type, quote_ident, string_list};
use rat_runner::s3::S3Buckets;
use rat_runner::storage::LocalStorage;
use rat_runner::{Engine, EngineConfig};

use crate::full_refresh::{BRONZE, TRANSFORM};
use crate::report::{median, table};
use crate::setup::BenchProject;

/// The loopback SeaweedFS of scripts/test-services.sh (test-only keys).
const REST_URI: &str = "http://127.0.0.1:8181";
const S3_ENDPOINT: &str = "http://127.0.0.1:8333";
const CLIENT_ID: &str = "rat-test-admin";
const CLIENT_SECRET: &str = "rat-test-admin-secret";

pub(crate) async fn run(rows: usize, repeat: usize) -> Result<()> {
    let namespace = format!("bench{}", &uuid::Uuid::now_v7().simple().to_string()[20..]);
    let local = BenchProject::new()?;
    let remote = BenchProject::new()?;
    for (project, prefix) in [(&local, String::new()), (&remote, format!("{namespace}/"))] {
        project.write(
            &format!("{prefix}pipelines/bronze/events/pipeline.sql"),
            &BRONZE.replace("{rows}", &rows.to_string()),
        )?;
        project.write(
            &format!("{prefix}pipelines/silver/events/pipeline.sql"),
            &TRANSFORM.replace("{source}", "{{ ref('bronze.events') }}"),
        )?;
    }
    let local_engine = local.engine().await?;
    let remote_engine = remote_engine(&remote).await?;
    let bronze = format!("{namespace}.bronze.events");
    let silver = format!("{namespace}.silver.events");

    eprintln!("generating bronze.events with {rows} rows, locally and on SeaweedFS ...");
    local.run(&local_engine, "bronze.events").await?;
    remote.run(&remote_engine, &bronze).await?;

    let remote_bronze = remote_engine.catalog().load_table(&bronze.parse()?).await?;
    let select = TRANSFORM.replace("{source}", "__rat_source");

    let (mut on_disk, mut on_s3, mut httpfs, mut arrow) = (vec![], vec![], vec![], vec![]);
    for _ in 0..repeat {
        on_disk.push(local.run(&local_engine, "silver.events").await?.0);
        on_s3.push(remote.run(&remote_engine, &silver).await?.0);
        httpfs.push(read_with_httpfs(&remote_bronze, &select).await?);
        arrow.push(read_with_arrow(&remote_bronze, &select).await?);
    }
    let (disk, s3) = (median(&on_disk), median(&on_s3));
    let (h, a) = (median(&httpfs), median(&arrow));
    let secs = |d: Duration| format!("{:.3}", d.as_secs_f64());
    let ratio =
        |d: Duration, base: Duration| format!("{:.2}", d.as_secs_f64() / base.as_secs_f64());
    println!("\nfull_refresh of a transform over {rows} rows, median of {repeat}:\n");
    table(
        &["tables on", "seconds", "ratio to local disk"],
        &[
            vec![
                "local disk (SQLite catalog)".into(),
                secs(disk),
                "1.00".into(),
            ],
            vec![
                "SeaweedFS S3 + Iceberg REST".into(),
                secs(s3),
                ratio(s3, disk),
            ],
        ],
    );
    println!("\nreading the remote bronze files into the transform, median of {repeat}:\n");
    table(
        &["read path", "seconds", "ratio to httpfs"],
        &[
            vec![
                "DuckDB httpfs (read_parquet s3://)".into(),
                secs(h),
                "1.00".into(),
            ],
            vec![
                "Rust object_store + parquet -> Arrow -> DuckDB appender".into(),
                secs(a),
                ratio(a, h),
            ],
        ],
    );
    Ok(())
}

async fn remote_engine(project: &BenchProject) -> Result<Engine> {
    let secret = project.path().join("catalog-secret");
    std::fs::write(&secret, CLIENT_SECRET)?;
    let config = RestCatalogConfig {
        uri: REST_URI.into(),
        warehouse: Some("s3://warehouse".into()),
        auth: RestAuth::OAuth2 {
            client_id: CLIENT_ID.into(),
            client_secret: SecretRef::File(secret),
            scope: None,
            token_uri: None,
        },
        vended_credentials: true,
        s3: S3Settings {
            endpoint: Some(S3_ENDPOINT.into()),
            path_style: true,
            ..S3Settings::default()
        },
    };
    let catalog = RestCatalog::connect(&config)
        .await
        .context("SeaweedFS not reachable: run scripts/test-services.sh start")?;
    Ok(Engine::with_config(
        Arc::new(LocalStorage::new(project.path())?),
        Arc::new(catalog),
        EngineConfig::default(),
    ))
}

/// The data files of the table's current snapshot.
async fn files_of(table: &LoadedTable) -> Result<Vec<String>> {
    let files = rat_runner::table::snapshot_files(table, table.main_snapshot_id()).await?;
    Ok(files.paths())
}

/// DuckDB reads the files itself, through httpfs and a scoped secret.
async fn read_with_httpfs(table: &LoadedTable, select: &str) -> Result<Duration> {
    let files = files_of(table).await?;
    let session = DuckSession::open(&SessionLimits::default())?;
    let access = table.s3.clone().context("remote table without S3 access")?;
    let started = Instant::now();
    session.grant_s3(table.metadata.location(), &access).await?;
    let sql = format!(
        "CREATE TABLE out AS {}",
        select.replace(
            "__rat_source",
            &format!("read_parquet({})", string_list(&files))
        )
    );
    session
        .run(move |c| {
            c.execute_batch(&sql)
                .map_err(|e| rat_runner::duck::duck_error("httpfs read", e))
        })
        .await?;
    Ok(started.elapsed())
}

/// Rust fetches and decodes the files (ranged GETs, Arrow batches) and
/// appends the batches into a DuckDB table the transform then reads.
async fn read_with_arrow(table: &LoadedTable, select: &str) -> Result<Duration> {
    let files = files_of(table).await?;
    let access = table.s3.clone().context("remote table without S3 access")?;
    let buckets = S3Buckets::new(access);
    let conn = duckdb::Connection::open_in_memory()?;
    let columns: Vec<String> = table
        .metadata
        .current_schema()
        .as_struct()
        .fields()
        .iter()
        .map(|f| format!("{} {}", quote_ident(&f.name), duck_type(&f.field_type)))
        .collect();
    conn.execute_batch(&format!(
        "CREATE TABLE __rat_source ({})",
        columns.join(", ")
    ))?;
    let started = Instant::now();
    {
        let mut appender = conn.appender("__rat_source")?;
        for file in &files {
            let (store, path) = buckets.locate(file)?;
            let reader = ParquetObjectReader::new(store, path);
            let mut stream = ParquetRecordBatchStreamBuilder::new(reader)
                .await?
                .build()?;
            while let Some(batch) = stream.try_next().await? {
                appender.append_record_batch(batch)?;
            }
        }
        appender.flush()?;
    }
    conn.execute_batch(&format!("CREATE TABLE out AS {select}"))?;
    Ok(started.elapsed())
}
