//! Quality tests against the run's branch: 0 rows = pass.

use std::time::Instant;

use rat_core::project::QualityTest;
use rat_core::run::{MAX_SAMPLE_CELL_CHARS, MAX_SAMPLE_ROWS, SampleRows};
use rat_core::{Error, ErrorKind, QualityResult, Result, TestOutcome};

use super::relations::check_select;
use crate::duck::{DuckSession, duck_error};
use crate::template::{TemplateContext, render};

/// Runs one test (its views must exist). Errors and timeouts become an
/// `errored` result; only cancellation is returned as `Err`.
pub(crate) async fn run_test(
    session: &DuckSession,
    test: &QualityTest,
    ctx: &TemplateContext,
) -> Result<QualityResult> {
    let started = Instant::now();
    let outcome = evaluate(session, test, ctx).await;
    let millis = started.elapsed().as_millis() as u64;
    let mut result = QualityResult {
        name: test.name.clone(),
        file: test.file.clone(),
        severity: test.severity,
        outcome: TestOutcome::Passed,
        violations: 0,
        sample: SampleRows::default(),
        message: None,
        description: test.description.clone(),
        remediation: test.remediation.clone(),
        millis,
    };
    match outcome {
        Ok((violations, sample)) => {
            result.violations = violations;
            if violations > 0 {
                result.outcome = TestOutcome::Failed;
                result.sample = sample;
            }
        }
        Err(e) if e.kind() == ErrorKind::Cancelled => return Err(e),
        Err(e) => {
            result.outcome = TestOutcome::Errored;
            result.message = Some(e.to_string());
        }
    }
    Ok(result)
}

async fn evaluate(
    session: &DuckSession,
    test: &QualityTest,
    ctx: &TemplateContext,
) -> Result<(u64, SampleRows)> {
    let rendered = render(&test.sql, &test.file, ctx)?;
    check_select(session, &rendered.sql, &test.file, &test.sql).await?;
    let sql = format!(
        "SELECT CAST(COLUMNS(*) AS VARCHAR), count(*) OVER () AS __rat_violations \
         FROM ({}) AS __rat_test LIMIT {MAX_SAMPLE_ROWS}",
        rendered.sql
    );
    let file = test.file.clone();
    session
        .run_with_timeout(test.timeout, move |c| {
            let mut stmt = c
                .prepare(&sql)
                .map_err(|e| located(duck_error("test query failed", e), &file))?;
            let mut rows = stmt
                .query([])
                .map_err(|e| located(duck_error("test query failed", e), &file))?;
            let mut sample = SampleRows::default();
            let mut violations = 0u64;
            while let Some(row) = rows
                .next()
                .map_err(|e| located(duck_error("test query failed", e), &file))?
            {
                let stmt = row.as_ref();
                let n = stmt.column_count();
                if sample.columns.is_empty() {
                    sample.columns = (0..n - 1)
                        .map(|i| {
                            stmt.column_name(i)
                                .map_or_else(|_| format!("col{i}"), |s| s.to_owned())
                        })
                        .collect();
                }
                let cells: Vec<Option<String>> = (0..n - 1)
                    .map(|i| {
                        row.get::<_, Option<String>>(i)
                            .ok()
                            .flatten()
                            .map(|s| cut(&s))
                    })
                    .collect();
                violations = row.get::<_, i64>(n - 1).unwrap_or(0).max(0) as u64;
                sample.rows.push(cells);
            }
            Ok((violations, sample))
        })
        .await
}

fn located(err: Error, file: &str) -> Error {
    err.with_context("file", file)
}

fn cut(cell: &str) -> String {
    if cell.chars().count() <= MAX_SAMPLE_CELL_CHARS {
        cell.to_owned()
    } else {
        let mut out: String = cell.chars().take(MAX_SAMPLE_CELL_CHARS - 1).collect();
        out.push('…');
        out
    }
}
