//! When the web IDE's lineage page of a `pipelines`-pipeline project
//! becomes interactive in a real browser (Debian's Chromium through
//! Playwright, the browser tests' flow `lineage-timing`), against the Home
//! page of the same server as the baseline, asked in turn. Target: < 1 s
//! at 500 pipelines. Needs the test venv (`RAT_VENV`) and
//! scripts/browser.sh.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, ensure};
use rat_server::ServerSetup;
use serde_json::Value;

use crate::report::{percentiles, table};
use crate::setup::BenchProject;

/// Bronze, silver and gold pipelines in a 2:2:1 ratio; each silver reads
/// two bronze, each gold three silver.
fn generate(project: &BenchProject, pipelines: usize) -> Result<()> {
    let (bronze, silver) = (pipelines * 2 / 5, pipelines * 2 / 5);
    let gold = pipelines - bronze - silver;
    let write = |layer: &str, i: usize, sql: String| {
        project.write(
            &format!("pipelines/{layer}/{layer}_{i:04}/pipeline.sql"),
            &sql,
        )
    };
    let reads = |layer: &str, tables: &[usize]| {
        tables
            .iter()
            .map(|t| format!("SELECT n FROM {{{{ ref('{layer}.{layer}_{t:04}') }}}}"))
            .collect::<Vec<_>>()
            .join(" UNION ALL ")
    };
    for i in 0..bronze {
        write("bronze", i, format!("SELECT {i} AS n"))?;
    }
    for i in 0..silver {
        write(
            "silver",
            i,
            reads("bronze", &[i % bronze, (i * 7 + 3) % bronze]),
        )?;
    }
    for i in 0..gold {
        let tables = [
            (2 * i) % silver,
            (2 * i + 1) % silver,
            (i * 13 + 5) % silver,
        ];
        write("gold", i, reads("silver", &tables))?;
    }
    Ok(())
}

pub(crate) async fn run(pipelines: usize, repeat: usize) -> Result<()> {
    ensure!(pipelines >= 5, "--pipelines must be at least 5");
    let project = BenchProject::new()?;
    generate(&project, pipelines)?;
    let mut setup = ServerSetup::embedded(Path::new(project.path()));
    setup.scheduler = None;
    let server = setup.open().await?;
    let base = crate::setup::serve(&server).await?;

    let venv = std::env::var("RAT_VENV").context("RAT_VENV (scripts/env.sh)")?;
    let flows =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../rat-server/tests/browser/flows.py");
    let shots = tempfile::tempdir()?;
    let output = tokio::process::Command::new(format!("{venv}/bin/python"))
        .arg(flows)
        .args(["lineage-timing", &base])
        .arg(shots.path())
        .arg(repeat.to_string())
        .output()
        .await
        .context("the test venv's python")?;
    ensure!(
        output.status.success(),
        "the browser flow failed:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let report: Value = serde_json::from_slice(&output.stdout)?;
    let samples = |key: &str| -> Result<Vec<f64>> {
        report[key]
            .as_array()
            .context("samples")?
            .iter()
            .map(|v| v.as_f64().context("a number"))
            .collect()
    };
    let (lineage, _) = percentiles(&mut samples("lineage_ready_ms")?);
    let (home, _) = percentiles(&mut samples("home_ready_ms")?);
    ensure!(report["nodes"] == pipelines, "drawn: {}", report["nodes"]);
    println!("Lineage of {pipelines} pipelines in Chromium, median of {repeat}:");
    table(
        &["page", "interactive ms", "vs Home"],
        &[
            vec![
                "lineage".into(),
                format!("{lineage:.0}"),
                format!("{:.2}x", lineage / home),
            ],
            vec!["home".into(), format!("{home:.0}"), "1.00x".into()],
        ],
    );
    let verdict = if lineage < 1000.0 { "met" } else { "MISSED" };
    println!(
        "tracing a node: {} ms; target < 1 s interactive: {verdict}",
        report["trace_ms"]
    );
    Ok(())
}
