//! Embedding rat in your own program: compose Storage + Catalog + Engine
//! yourself, write a pipeline, run it, read the table back.
//!
//! ```text
//! cargo run -p rat-example-embedding -- /tmp/rat-embedded
//! ```

use std::sync::Arc;

use anyhow::{Context, Result, bail};
use rat_core::{
    LogLevel, LogSink, ObjectKey, ProjectSource, RunContext, RunEngine, RunSpec, RunStatus,
    StorageExt,
};
use rat_runner::Engine;
use rat_runner::catalog::SqlCatalog;
use rat_runner::query::{QueryOptions, query};
use rat_runner::storage::LocalStorage;

/// Prints the run's log lines as they happen.
#[derive(Debug)]
struct PrintLog;

impl LogSink for PrintLog {
    fn log(&self, level: LogLevel, message: String) {
        if level >= LogLevel::Info {
            println!("  [{level:?}] {message}");
        }
    }
}

#[tokio::main]
async fn main() -> Result<()> {
    let root = std::env::args()
        .nth(1)
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| std::env::temp_dir().join("rat-embedded"));

    // 1. The pieces: where pipelines live, where tables live, the engine.
    let storage = Arc::new(LocalStorage::new(&root)?);
    let catalog =
        Arc::new(SqlCatalog::open(root.join("catalog.db"), root.join("warehouse")).await?);
    let engine = Engine::new(storage.clone(), catalog.clone());

    // 2. Pipelines are objects in storage; write two through the trait.
    let put = |key: &str, text: &str| {
        let storage = storage.clone();
        let key = ObjectKey::new(key);
        let text = text.to_owned();
        async move { storage.put(&key?, text.into()).await }
    };
    put(
        "pipelines/bronze/readings/pipeline.sql",
        "-- @merge_strategy: append_only\n\
         SELECT i AS sensor, random() * 40 AS celsius, TIMESTAMP '{{ run_started_at }}' AS read_at\n\
         FROM range(10) t(i)",
    )
    .await?;
    put(
        "pipelines/gold/sensor_summary/pipeline.sql",
        "SELECT sensor, count(*) AS readings, round(avg(celsius), 1) AS avg_celsius\n\
         FROM {{ ref('bronze.readings') }} GROUP BY sensor",
    )
    .await?;
    put(
        "pipelines/gold/sensor_summary/tests/quality/plausible.sql",
        "-- @severity: error\nSELECT * FROM {{ this }} WHERE avg_celsius NOT BETWEEN -50 AND 60",
    )
    .await?;

    // 3. Validate the whole project, then run it in dependency order.
    let plan = engine.plan(&ProjectSource::embedded(), &[]).await?;
    for table in &plan.order {
        println!("running {table}");
        let ctx = RunContext {
            cancel: Default::default(),
            log: Arc::new(PrintLog),
        };
        let result = engine.execute(RunSpec::new(table.clone()), ctx).await;
        if result.status != RunStatus::Success {
            bail!("{table} {}: {:?}", result.status, result.error);
        }
    }

    // 4. Read the published table back with read-only SQL.
    let out = query(
        catalog.as_ref(),
        "SELECT * FROM gold.sensor_summary ORDER BY sensor LIMIT 3",
        &QueryOptions::default(),
    )
    .await
    .context("query")?;
    println!("{}", out.columns.join(" | "));
    for row in out.rows {
        let cells: Vec<String> = row.iter().map(|v| v.to_string()).collect();
        println!("{}", cells.join(" | "));
    }
    Ok(())
}
