//! [`AuthoringApi`] for [`Platform`]: a pipeline's tests edited as files
//! of its folder (saved through the pipeline's validation), and dry runs
//! by the engine over the pipeline's namespace, saved or unsaved.

use std::time::Duration;

use async_trait::async_trait;
use rat_core::authz::Action;
use rat_core::{Error, ErrorKind, Identifier, Pipeline, Result, TableRef};
use rat_runner::Engine;
use rat_runner::preview::DryRunLimits;

use super::pipelines::{no_pipeline, pipeline_of};
use super::{MAX_QUERY_ROWS, MAX_QUERY_TIME, Platform};
use crate::api::{
    AuthoringApi, CompiledPipeline, NewQualityTest, PipelineFiles, PipelinePreview, PreviewRequest,
    QualityTest, TestReport, TestRunRequest,
};

/// Rows a preview returns unless asked for another number.
const PREVIEW_ROWS: u32 = 100;
/// A dry run's time limit unless asked for another.
const DRY_RUN_TIME: Duration = Duration::from_secs(30);

#[async_trait]
impl AuthoringApi for Platform {
    async fn quality_tests(&self, table: &TableRef) -> Result<Vec<QualityTest>> {
        Ok(self.read_pipeline(table).await?.pipeline.tests)
    }

    async fn quality_test(&self, table: &TableRef, name: &str) -> Result<QualityTest> {
        let name = test_name(name)?;
        self.quality_tests(table)
            .await?
            .into_iter()
            .find(|t| t.name == name.as_str())
            .ok_or_else(|| no_test(table, &name))
    }

    async fn create_quality_test(
        &self,
        table: &TableRef,
        test: &NewQualityTest,
    ) -> Result<QualityTest> {
        let name = test_name(&test.name)?;
        let mut files = self.writable_files(table).await?;
        if files.tests.contains_key(name.as_str()) {
            return Err(Error::new(
                ErrorKind::AlreadyExists,
                format!("pipeline '{table}' already has a test '{name}'; replace it with PUT"),
            )
            .with_context("field", "name"));
        }
        files.tests.insert(name.to_string(), test.sql.clone());
        let message = format!("added quality test '{name}'");
        self.save_pipeline(table, &files, Some(&message)).await?;
        self.quality_test(table, name.as_str()).await
    }

    async fn replace_quality_test(
        &self,
        table: &TableRef,
        name: &str,
        sql: &str,
    ) -> Result<QualityTest> {
        let name = test_name(name)?;
        let mut files = self.writable_files(table).await?;
        let message = match files.tests.insert(name.to_string(), sql.to_owned()) {
            Some(_) => format!("changed quality test '{name}'"),
            None => format!("added quality test '{name}'"),
        };
        self.save_pipeline(table, &files, Some(&message)).await?;
        self.quality_test(table, name.as_str()).await
    }

    async fn delete_quality_test(&self, table: &TableRef, name: &str) -> Result<()> {
        let name = test_name(name)?;
        let mut files = self.writable_files(table).await?;
        if files.tests.remove(name.as_str()).is_none() {
            return Err(no_test(table, &name));
        }
        let message = format!("deleted quality test '{name}'");
        self.save_pipeline(table, &files, Some(&message))
            .await
            .map(|_| ())
    }

    async fn run_quality_tests(
        &self,
        table: &TableRef,
        request: &TestRunRequest,
    ) -> Result<TestReport> {
        self.check(Action::Write, table, || no_pipeline(table))
            .await?;
        let mut files = match self.draft_files(table, request.draft).await? {
            Some(draft) => draft,
            None => self.saved_files(table).await?,
        };
        for (name, sql) in &request.sql {
            let name = test_name(name).map_err(|e| e.with_context("field", "sql"))?;
            files.tests.insert(name.to_string(), sql.clone());
        }
        if let Some(only) = &request.tests {
            for name in only {
                let name = test_name(name).map_err(|e| e.with_context("field", "tests"))?;
                if !files.tests.contains_key(name.as_str()) {
                    return Err(no_test(table, &name).with_context("field", "tests"));
                }
            }
            files.tests.retain(|name, _| only.contains(name));
        }
        let pipeline = pipeline_of(table, &files)?;
        let limits = dry_run_limits(None, request.timeout_ms);
        let engine = self.reading_engine(&table.namespace).await?;
        engine.test_pipeline(&pipeline, limits).await
    }

    async fn preview_pipeline(
        &self,
        table: &TableRef,
        request: &PreviewRequest,
    ) -> Result<PipelinePreview> {
        let (engine, pipeline, limits) = self.dry_run_of(table, request).await?;
        engine.preview_pipeline(&pipeline, limits).await
    }

    async fn compile_pipeline(
        &self,
        table: &TableRef,
        request: &PreviewRequest,
    ) -> Result<CompiledPipeline> {
        let (engine, pipeline, limits) = self.dry_run_of(table, request).await?;
        engine.compile_pipeline(&pipeline, limits).await
    }
}

impl Platform {
    /// A saved pipeline's files, when the caller may change them.
    async fn writable_files(&self, table: &TableRef) -> Result<PipelineFiles> {
        self.check(Action::Write, table, || no_pipeline(table))
            .await?;
        self.saved_files(table).await
    }

    /// A saved pipeline's files; `not_found` when there is none.
    async fn saved_files(&self, table: &TableRef) -> Result<PipelineFiles> {
        self.stored_files(table)
            .await?
            .ok_or_else(|| no_pipeline(table))
    }

    /// What a preview or compile of `request` runs: the engine over the
    /// namespace, the pipeline, the limits.
    async fn dry_run_of(
        &self,
        table: &TableRef,
        request: &PreviewRequest,
    ) -> Result<(Engine, Pipeline, DryRunLimits)> {
        let pipeline = self.draft_pipeline(table, request).await?;
        let limits = dry_run_limits(request.limit, request.timeout_ms);
        let engine = self.reading_engine(&table.namespace).await?;
        Ok((engine, pipeline, limits))
    }

    /// The pipeline as published (or its draft, when asked for), with
    /// what `request` sends instead: code (a pipeline not saved yet needs
    /// it), config.
    async fn draft_pipeline(&self, table: &TableRef, request: &PreviewRequest) -> Result<Pipeline> {
        self.existing_namespace(table.namespace.as_str()).await?;
        let unsaved_code = request.sql.is_some() || request.python.is_some();
        // Unsaved code previews a pipeline the caller may make or see.
        if !self.allows(Action::Discover, table).await? {
            match unsaved_code {
                true => self.check_create(table).await?,
                false => return Err(self.denied(no_pipeline(table))),
            }
        }
        let base = match self.draft_files(table, request.draft).await? {
            Some(draft) => Some(draft),
            None => self.stored_files(table).await?,
        };
        let mut files = match base {
            Some(files) => files,
            None if unsaved_code => PipelineFiles::default(),
            None => return Err(no_pipeline(table)),
        };
        if unsaved_code {
            files.sql = request.sql.clone();
            files.python = request.python.clone();
        }
        if let Some(config) = &request.config {
            files.config = Some(config.clone());
        }
        pipeline_of(table, &files)
    }
}

/// A test's name; the error names the field.
fn test_name(name: &str) -> Result<Identifier> {
    Identifier::new(name).map_err(|e| e.with_context("field", "test"))
}

fn no_test(table: &TableRef, name: &Identifier) -> Error {
    Error::not_found(format!("pipeline '{table}' has no test '{name}'"))
}

/// The limits of a dry run from a request's, within the server's.
fn dry_run_limits(rows: Option<u32>, timeout_ms: Option<u64>) -> DryRunLimits {
    DryRunLimits {
        max_rows: rows.unwrap_or(PREVIEW_ROWS).clamp(1, MAX_QUERY_ROWS) as usize,
        timeout: timeout_ms
            .map_or(DRY_RUN_TIME, Duration::from_millis)
            .clamp(Duration::from_millis(1), MAX_QUERY_TIME),
    }
}
