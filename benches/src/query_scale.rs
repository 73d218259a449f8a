//! What a query costs as the catalog grows: `rat query` (the whole
//! process, as a user runs it) on one small table, in a project whose
//! catalog holds 10 tables (baseline) and one holding `tables` (default
//! 2,000), measured interleaved in the same run. Target: p50 ratio ≤ 1.2
//! (a query resolves only the tables it names).

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, ensure};
use iceberg::spec::{NestedField, PrimitiveType, Schema, Type, UnboundPartitionSpec};
use rat_core::{NewTable, TableRef};

use crate::report::{median, table};
use crate::setup::BenchProject;

const QUERY: &str = "SELECT count(*) AS n FROM bronze.t_1";

/// A project with a real `bronze.t_1` (1,000 rows) and `tables - 1` more
/// tables in its catalog.
async fn project(tables: usize) -> Result<BenchProject> {
    let project = BenchProject::new()?;
    project.write(
        "pipelines/bronze/t_1/pipeline.sql",
        "SELECT i AS id FROM range(1000) t(i)",
    )?;
    let engine = project.engine().await?;
    project.run(&engine, "bronze.t_1").await?;
    let schema = Schema::builder()
        .with_fields(vec![std::sync::Arc::new(NestedField::optional(
            1,
            "id",
            Type::Primitive(PrimitiveType::Long),
        ))])
        .build()?;
    for i in 2..=tables {
        let table: TableRef = format!("silver.t_{i}").parse()?;
        let new_table = NewTable {
            schema: schema.clone(),
            partition_spec: UnboundPartitionSpec::builder().build(),
            properties: Default::default(),
        };
        engine.catalog().create_table(&table, new_table).await?;
    }
    let listed = engine
        .catalog()
        .list_tables(&rat_core::ident::namespace("default")?)
        .await?;
    ensure!(
        listed.len() == tables,
        "{} tables, not {tables}",
        listed.len()
    );
    Ok(project)
}

/// One `rat query` process; its wall time.
fn rat_query(rat: &Path, project: &Path) -> Result<Duration> {
    let started = Instant::now();
    let out = Command::new(rat)
        .arg("--project")
        .arg(project)
        .args(["query", "--json", QUERY])
        .output()?;
    let elapsed = started.elapsed();
    ensure!(
        out.status.success(),
        "rat query failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let answer: serde_json::Value = serde_json::from_slice(&out.stdout)?;
    ensure!(answer["rows"][0][0] == 1000, "unexpected answer {answer}");
    Ok(elapsed)
}

pub(crate) async fn run(tables: usize, repeat: usize) -> Result<()> {
    let rat = std::env::current_exe()?.with_file_name("rat");
    ensure!(
        rat.is_file(),
        "{} is missing: cargo build -p rat-cli",
        rat.display()
    );
    let small = project(10).await.context("the 10-table project")?;
    let large = project(tables).await.context("the large project")?;
    // Warm the page cache of both before measuring.
    rat_query(&rat, small.path())?;
    rat_query(&rat, large.path())?;
    let (mut base, mut many) = (Vec::new(), Vec::new());
    for _ in 0..repeat {
        base.push(rat_query(&rat, small.path())?);
        many.push(rat_query(&rat, large.path())?);
    }
    let (b, m) = (median(&base), median(&many));
    let ratio = m.as_secs_f64() / b.as_secs_f64();
    println!("\n`rat query \"{QUERY}\"` as a process, p50 of {repeat} interleaved runs:\n");
    table(
        &["tables in the catalog", "p50 ms", "ratio", "target"],
        &[
            vec![
                "10 (baseline)".into(),
                format!("{:.1}", b.as_secs_f64() * 1000.0),
                "1.00".into(),
                "-".into(),
            ],
            vec![
                tables.to_string(),
                format!("{:.1}", m.as_secs_f64() * 1000.0),
                format!("{ratio:.2}"),
                "≤ 1.2".into(),
            ],
        ],
    );
    Ok(())
}
