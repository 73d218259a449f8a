//! The versions and drafts of a pipeline's code over HTTP.

use async_trait::async_trait;
use rat_core::{PipelineVersion, Result, TableRef, VersionSummary};

use super::{Client, query_string, table_path};
use crate::api::{Page, PipelineDetail, VersionNote, VersionsApi};

fn pipeline_url(table: &TableRef) -> String {
    format!("/pipelines/{}", table_path(table))
}

#[async_trait]
impl VersionsApi for Client {
    async fn pipeline_versions(
        &self,
        table: &TableRef,
        limit: u32,
        offset: u32,
    ) -> Result<Page<VersionSummary>> {
        let query = query_string(&[
            ("limit", Some(limit.to_string())),
            ("offset", Some(offset.to_string())),
        ]);
        self.get(&format!("{}/versions{query}", pipeline_url(table)))
            .await
    }

    async fn pipeline_version(&self, table: &TableRef, version: u64) -> Result<PipelineVersion> {
        self.get(&format!("{}/versions/{version}", pipeline_url(table)))
            .await
    }

    async fn rollback_pipeline(
        &self,
        table: &TableRef,
        version: u64,
        note: &VersionNote,
    ) -> Result<PipelineDetail> {
        let url = format!("{}/versions/{version}/rollback", pipeline_url(table));
        self.post(&url, note).await
    }

    async fn pipeline_draft(&self, table: &TableRef) -> Result<PipelineDetail> {
        self.get(&format!("{}/draft", pipeline_url(table))).await
    }

    async fn publish_draft(&self, table: &TableRef, note: &VersionNote) -> Result<PipelineDetail> {
        self.post(&format!("{}/publish", pipeline_url(table)), note)
            .await
    }

    async fn discard_draft(&self, table: &TableRef) -> Result<()> {
        self.delete(&format!("{}/draft", pipeline_url(table))).await
    }
}
