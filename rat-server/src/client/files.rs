//! The files verbs over HTTP.

use async_trait::async_trait;
use rat_core::Result;
use rat_core::project::files::ProjectPath;

use super::{Client, escaped};
use crate::api::{FileContent, FilesApi, ProjectFile, WriteFile};

/// `/files/{namespace}/{path}`, the path checked first: a URL would
/// resolve a `..` before the server could refuse it.
fn file_url(namespace: &str, path: &str) -> Result<String> {
    let path = ProjectPath::parse(path)?;
    let parts: Vec<String> = path.as_str().split('/').map(escaped).collect();
    Ok(format!("/files/{}/{}", escaped(namespace), parts.join("/")))
}

#[async_trait]
impl FilesApi for Client {
    async fn project_files(&self, namespace: &str) -> Result<Vec<ProjectFile>> {
        self.all(&format!("/files/{}", escaped(namespace))).await
    }

    async fn read_project_file(&self, namespace: &str, path: &str) -> Result<FileContent> {
        self.get(&file_url(namespace, path)?).await
    }

    async fn write_project_file(
        &self,
        namespace: &str,
        path: &str,
        content: &str,
    ) -> Result<ProjectFile> {
        let body = WriteFile {
            content: content.to_owned(),
        };
        self.put(&file_url(namespace, path)?, &body).await
    }

    async fn delete_project_file(&self, namespace: &str, path: &str) -> Result<()> {
        self.delete(&file_url(namespace, path)?).await
    }
}
