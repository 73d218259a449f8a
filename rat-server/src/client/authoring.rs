//! The authoring verbs over HTTP: a pipeline's tests, test runs, compile
//! and preview.

use async_trait::async_trait;
use rat_core::{Result, TableRef};

use super::{Client, escaped, table_path};
use crate::api::{
    AuthoringApi, CompiledPipeline, NewQualityTest, PipelinePreview, PreviewRequest, QualityTest,
    QualityTestSql, TestReport, TestRunRequest,
};

fn tests_url(table: &TableRef) -> String {
    format!("/pipelines/{}/tests", table_path(table))
}

fn test_url(table: &TableRef, name: &str) -> String {
    format!("{}/{}", tests_url(table), escaped(name))
}

#[async_trait]
impl AuthoringApi for Client {
    async fn quality_tests(&self, table: &TableRef) -> Result<Vec<QualityTest>> {
        self.all(&tests_url(table)).await
    }

    async fn quality_test(&self, table: &TableRef, name: &str) -> Result<QualityTest> {
        self.get(&test_url(table, name)).await
    }

    async fn create_quality_test(
        &self,
        table: &TableRef,
        test: &NewQualityTest,
    ) -> Result<QualityTest> {
        self.post(&tests_url(table), test).await
    }

    async fn replace_quality_test(
        &self,
        table: &TableRef,
        name: &str,
        sql: &str,
    ) -> Result<QualityTest> {
        let body = QualityTestSql {
            sql: sql.to_owned(),
        };
        self.put(&test_url(table, name), &body).await
    }

    async fn delete_quality_test(&self, table: &TableRef, name: &str) -> Result<()> {
        self.delete(&test_url(table, name)).await
    }

    async fn run_quality_tests(
        &self,
        table: &TableRef,
        request: &TestRunRequest,
    ) -> Result<TestReport> {
        self.post(&format!("{}/run", tests_url(table)), request)
            .await
    }

    async fn preview_pipeline(
        &self,
        table: &TableRef,
        request: &PreviewRequest,
    ) -> Result<PipelinePreview> {
        self.post(
            &format!("/pipelines/{}/preview", table_path(table)),
            request,
        )
        .await
    }

    async fn compile_pipeline(
        &self,
        table: &TableRef,
        request: &PreviewRequest,
    ) -> Result<CompiledPipeline> {
        self.post(
            &format!("/pipelines/{}/compile", table_path(table)),
            request,
        )
        .await
    }
}
