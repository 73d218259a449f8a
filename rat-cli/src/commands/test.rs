//! `rat test [PIPELINE...]`: quality tests against each table's `main`,
//! a line per test and a summary; nothing is written.

use rat_core::{ErrorKind, Result, TableRef, TestOutcome};
use rat_server::api::{PlatformApi, TestReport, TestRunRequest};
use serde::Serialize;

use crate::output::{EXIT_FAILURE, EXIT_OK, print_json, print_table};

/// Which pipelines and tests.
#[derive(Debug, Clone)]
pub(crate) struct Selection {
    pub(crate) pipelines: Vec<String>,
    pub(crate) namespace: Option<String>,
    pub(crate) only: Vec<String>,
}

/// One pipeline in `rat test --json`.
#[derive(Serialize)]
struct Tested {
    pipeline: TableRef,
    /// The report, when the table exists.
    #[serde(skip_serializing_if = "Option::is_none")]
    report: Option<TestReport>,
    /// Why there is none.
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
}

pub(crate) async fn test(api: &dyn PlatformApi, selection: Selection, json: bool) -> Result<u8> {
    let namespace = selection
        .namespace
        .as_deref()
        .unwrap_or(rat_core::DEFAULT_NAMESPACE);
    let tables: Vec<TableRef> = if selection.pipelines.is_empty() {
        api.pipelines(Some(namespace), None)
            .await?
            .into_iter()
            .map(|p| p.table)
            .collect()
    } else {
        selection
            .pipelines
            .iter()
            .map(|p| TableRef::parse(p, namespace))
            .collect::<Result<_>>()?
    };
    let request = TestRunRequest {
        tests: (!selection.only.is_empty()).then(|| selection.only.clone()),
        ..TestRunRequest::default()
    };
    let mut tested = Vec::new();
    for table in tables {
        let mut request = request.clone();
        if let Some(only) = &mut request.tests {
            // A pipeline without the named tests has nothing to run.
            let names: Vec<String> = api
                .quality_tests(&table)
                .await?
                .into_iter()
                .map(|t| t.name)
                .collect();
            only.retain(|n| names.contains(n));
            if only.is_empty() {
                continue;
            }
        }
        let outcome = match api.run_quality_tests(&table, &request).await {
            Ok(report) => (Some(report), None),
            Err(e) if e.kind() == ErrorKind::NotFound => (None, Some(e.message().to_owned())),
            Err(e) => return Err(e),
        };
        tested.push(Tested {
            pipeline: table,
            report: outcome.0,
            error: outcome.1,
        });
    }
    let failed = tested
        .iter()
        .any(|t| t.report.as_ref().is_none_or(|r| !r.passed));
    if json {
        print_json(&tested);
    } else {
        print_text(&tested);
    }
    Ok(if failed { EXIT_FAILURE } else { EXIT_OK })
}

fn print_text(tested: &[Tested]) {
    let mut rows = Vec::new();
    let (mut passed, mut failed) = (0, 0);
    for t in tested {
        let Some(report) = &t.report else {
            failed += 1;
            let why = t.error.clone().unwrap_or_default();
            rows.push(vec![t.pipeline.to_string(), "-".into(), "-".into(), why]);
            continue;
        };
        for r in &report.results {
            let outcome = match r.outcome {
                TestOutcome::Passed => "passed".to_owned(),
                TestOutcome::Failed => format!("FAILED: {} rows", r.violations),
                TestOutcome::Errored => {
                    format!("ERRORED: {}", r.message.as_deref().unwrap_or("unknown"))
                }
            };
            if r.outcome == TestOutcome::Passed {
                passed += 1;
            } else {
                failed += 1;
            }
            rows.push(vec![
                t.pipeline.to_string(),
                r.name.clone(),
                r.severity.to_string(),
                outcome,
            ]);
        }
    }
    if rows.is_empty() {
        println!("No quality tests to run.");
        return;
    }
    print_table(&["pipeline", "test", "severity", "outcome"], &rows);
    println!("{passed} passed, {failed} did not (against main; nothing was written)");
}
