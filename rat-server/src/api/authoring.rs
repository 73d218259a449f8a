//! What a pipeline's author does before a run: edit its quality tests,
//! run them against `main`, compile and preview the pipeline — saved or
//! as it is being written — with nothing written to any table.

use std::collections::BTreeMap;

use async_trait::async_trait;
pub use rat_core::project::QualityTest;
use rat_core::{Result, TableRef};
pub use rat_runner::preview::{
    CompiledPipeline, PipelinePreview, PreviewTiming, ReadTable, TestReport,
};
use serde::{Deserialize, Serialize};

/// `POST .../tests`: a new quality test.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NewQualityTest {
    /// Its name (the file stem): lowercase letters, digits and `_`.
    pub name: String,
    /// The test's SQL: a SELECT returning the violating rows, with
    /// optional `-- @severity:` and other annotations.
    pub sql: String,
}

/// `PUT .../tests/{test}`: a test's new SQL.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct QualityTestSql {
    /// The test's SQL.
    pub sql: String,
}

/// `POST .../tests/run`: which tests, and unsaved ones.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TestRunRequest {
    /// Only these tests (by name); every test when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tests: Option<Vec<String>>,
    /// Unsaved tests by name, run instead of a saved one of the same name
    /// or beside the saved ones.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub sql: BTreeMap<String, String>,
    /// Time limit in milliseconds (30 s by default, at most the server's
    /// query limit).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_ms: Option<u64>,
    /// Run the pending draft's tests instead of the published ones.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub draft: bool,
}

/// `POST .../preview` and `.../compile`: unsaved code to try instead of
/// the saved, and limits. With code, the pipeline need not be saved yet.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PreviewRequest {
    /// A SQL template to preview instead of the saved code.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sql: Option<String>,
    /// A Python script to preview instead of the saved code.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub python: Option<String>,
    /// A `config.yaml` text instead of the saved one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config: Option<String>,
    /// Most rows returned (100 by default, at most the server's query
    /// limit).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<u32>,
    /// Time limit in milliseconds (30 s by default, at most the server's
    /// query limit).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_ms: Option<u64>,
    /// Start from the pending draft's files instead of the published ones
    /// (code given here still replaces the draft's).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub draft: bool,
}

/// Quality tests, test runs, compile and preview of one pipeline.
///
/// Test files are saved through the same validation as
/// [`PlatformApi::replace_pipeline`](super::PlatformApi::replace_pipeline):
/// a test that does not parse changes nothing. Dry runs read each table's
/// `main` in the sandboxed session a run would use and write nothing.
///
/// ```no_run
/// # async fn demo(api: &dyn rat_server::api::PlatformApi) -> rat_core::Result<()> {
/// use rat_server::api::{PreviewRequest, TestRunRequest};
///
/// let table = "silver.orders".parse()?;
/// let preview = api.preview_pipeline(&table, &PreviewRequest::default()).await?;
/// println!("{:?}", preview.output.columns);
/// let report = api.run_quality_tests(&table, &TestRunRequest::default()).await?;
/// assert!(report.passed);
/// # Ok(()) }
/// ```
#[async_trait]
pub trait AuthoringApi: Send + Sync {
    /// A pipeline's quality tests, by name.
    async fn quality_tests(&self, table: &TableRef) -> Result<Vec<QualityTest>>;

    /// One quality test.
    async fn quality_test(&self, table: &TableRef, name: &str) -> Result<QualityTest>;

    /// Adds a test; `already_exists` when the pipeline has one of that
    /// name.
    async fn create_quality_test(
        &self,
        table: &TableRef,
        test: &NewQualityTest,
    ) -> Result<QualityTest>;

    /// Writes a test's SQL (creating the test when it is new).
    async fn replace_quality_test(
        &self,
        table: &TableRef,
        name: &str,
        sql: &str,
    ) -> Result<QualityTest>;

    /// Deletes a test.
    async fn delete_quality_test(&self, table: &TableRef, name: &str) -> Result<()>;

    /// Runs the pipeline's tests (or those asked for, unsaved ones
    /// included) against its table's current `main`.
    async fn run_quality_tests(
        &self,
        table: &TableRef,
        request: &TestRunRequest,
    ) -> Result<TestReport>;

    /// The pipeline's first rows as a run would compute them now.
    async fn preview_pipeline(
        &self,
        table: &TableRef,
        request: &PreviewRequest,
    ) -> Result<PipelinePreview>;

    /// What the pipeline compiles to now, without running it.
    async fn compile_pipeline(
        &self,
        table: &TableRef,
        request: &PreviewRequest,
    ) -> Result<CompiledPipeline>;
}
