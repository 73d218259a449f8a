//! The files API over storage: a project's known files listed, read and
//! written, a pipeline's own files through the pipeline's validation.

use async_trait::async_trait;
use rat_core::project::Language;
use rat_core::project::files::{FileRole, PipelineFile, ProjectPath};
use std::collections::BTreeSet;

use rat_core::authz::Action;
use rat_core::{Error, Identifier, ObjectMeta, ProjectSource, Result, StorageExt, TableRef};

use super::Platform;
use crate::api::{FileContent, FilesApi, PipelineFiles, ProjectFile};

/// Where a project's known files are, relative to its root.
const KNOWN_PLACES: [&str; 3] = ["README.md", "docs/", "pipelines/"];

#[async_trait]
impl FilesApi for Platform {
    async fn project_files(&self, namespace: &str) -> Result<Vec<ProjectFile>> {
        let namespace = self.checked_namespace(Action::Discover, namespace).await?;
        let project = ProjectSource::of(&namespace);
        let storage = self.storage(&namespace)?;
        let mut files = Vec::new();
        for place in KNOWN_PLACES {
            for meta in storage
                .list_all(&format!("{}{place}", project.prefix))
                .await?
            {
                let relative = &meta.key.as_str()[project.prefix.len()..];
                // Objects a path cannot name (a stray `x.tmp`, `README.md.bak`)
                // are not project files.
                if let Ok(path) = ProjectPath::parse(relative) {
                    files.push(project_file(&namespace, &path, &meta));
                }
            }
        }
        files.sort_by(|a, b| a.path.cmp(&b.path));
        let tables = files.iter().filter_map(|f| f.pipeline.clone()).collect();
        let seen: BTreeSet<TableRef> = self
            .visible(Action::Discover, tables)
            .await?
            .into_iter()
            .collect();
        files.retain(|f| f.pipeline.as_ref().is_none_or(|t| seen.contains(t)));
        Ok(files)
    }

    async fn read_project_file(&self, namespace: &str, path: &str) -> Result<FileContent> {
        let (namespace, path) = self.file_of(Action::Discover, namespace, path).await?;
        let storage = self.storage(&namespace)?;
        let key = ProjectSource::of(&namespace).key(path.as_str())?;
        let meta = storage
            .meta(&key)
            .await?
            .ok_or_else(|| no_file(&namespace, &path))?;
        let content = storage.get_string(&key).await.map_err(|e| {
            Error::invalid(format!("'{path}' is not UTF-8 text"))
                .with_context("field", "path")
                .with_source(e)
        })?;
        Ok(FileContent {
            file: project_file(&namespace, &path, &meta),
            content,
        })
    }

    async fn write_project_file(
        &self,
        namespace: &str,
        path: &str,
        content: &str,
    ) -> Result<ProjectFile> {
        let (namespace, path) = self.file_of(Action::Write, namespace, path).await?;
        let storage = self.storage(&namespace)?;
        let key = ProjectSource::of(&namespace).key(path.as_str())?;
        match path.role() {
            FileRole::Pipeline(file) => {
                let table = pipeline_of(&namespace, &path)?;
                let mut files = self.stored_files(&table).await?;
                if !matches!(file, PipelineFile::Code(_)) && files.is_none() {
                    return Err(Error::invalid(format!(
                        "pipeline '{table}' has no pipeline.sql or pipeline.py yet; write its code first"
                    ))
                    .with_context("field", "path"));
                }
                let files = files.get_or_insert_with(empty_files);
                set_file(files, file, Some(content), &path)?;
                let message = format!("wrote {path}");
                self.save_pipeline(&table, files, Some(&message)).await?;
            }
            FileRole::Doc => storage.put(&key, content.to_owned().into()).await?,
            _ => return Err(Error::internal(format!("'{path}' plays no known part"))),
        }
        let meta = storage.meta(&key).await?.ok_or_else(|| {
            Error::internal(format!("'{path}' is missing right after it was written"))
        })?;
        Ok(project_file(&namespace, &path, &meta))
    }

    async fn delete_project_file(&self, namespace: &str, path: &str) -> Result<()> {
        let (namespace, path) = self.file_of(Action::Write, namespace, path).await?;
        let storage = self.storage(&namespace)?;
        let key = ProjectSource::of(&namespace).key(path.as_str())?;
        if !storage.exists(&key).await? {
            return Err(no_file(&namespace, &path));
        }
        if let FileRole::Pipeline(file) = path.role()
            && !matches!(file, PipelineFile::Code(_))
            && let table = pipeline_of(&namespace, &path)?
            && let Some(mut files) = self.stored_files(&table).await?
        {
            // What is left must still make a valid pipeline; the save
            // removes the file.
            set_file(&mut files, file, None, &path)?;
            let message = format!("deleted {path}");
            self.save_pipeline(&table, &files, Some(&message)).await?;
            return Ok(());
        }
        storage.delete(&key).await
    }
}

impl Platform {
    /// A namespace that exists and a valid path in it, when the caller
    /// may do `action` (discover, write) to the file: a pipeline's file
    /// as the pipeline (writing one not there needs what creating it
    /// needs), any other as the namespace.
    async fn file_of(
        &self,
        action: Action,
        namespace: &str,
        path: &str,
    ) -> Result<(Identifier, ProjectPath)> {
        let namespace = self.checked_namespace(Action::Discover, namespace).await?;
        let path = ProjectPath::parse(path)?;
        let hidden = || no_file(&namespace, &path);
        match path.role() {
            FileRole::Pipeline(_) => {
                let table = pipeline_of(&namespace, &path)?;
                match action == Action::Write && !self.allows(Action::Discover, &table).await? {
                    true => self.check_create(&table).await?,
                    false => self.check(action, &table, hidden).await?,
                }
            }
            _ => self.check_namespace(action, &namespace, hidden).await?,
        }
        Ok((namespace, path))
    }
}

fn empty_files() -> PipelineFiles {
    PipelineFiles {
        sql: None,
        python: None,
        config: None,
        tests: Default::default(),
    }
}

/// Puts `content` in (or, `None`, takes it out of) the pipeline's files.
fn set_file(
    files: &mut PipelineFiles,
    file: &PipelineFile,
    content: Option<&str>,
    path: &ProjectPath,
) -> Result<()> {
    let content = content.map(str::to_owned);
    match file {
        PipelineFile::Code(Language::Sql) => {
            files.sql = content;
            files.python = None;
        }
        PipelineFile::Code(Language::Python) => {
            files.python = content;
            files.sql = None;
        }
        PipelineFile::Config { yml: false } => files.config = content,
        PipelineFile::Config { yml: true } if content.is_none() => files.config = None,
        PipelineFile::Config { yml: true } => {
            return Err(Error::invalid(format!(
                "'{path}': rat reads config.yml but saves config.yaml; write that instead"
            ))
            .with_context("field", "path"));
        }
        PipelineFile::Test(name) => match content {
            Some(sql) => {
                files.tests.insert(name.to_string(), sql);
            }
            None => {
                files.tests.remove(name.as_str());
            }
        },
    }
    Ok(())
}

fn project_file(namespace: &Identifier, path: &ProjectPath, meta: &ObjectMeta) -> ProjectFile {
    ProjectFile {
        path: path.to_string(),
        kind: path.kind(),
        pipeline: path.pipeline(namespace),
        size: meta.size,
        last_modified: meta.last_modified,
    }
}

/// The pipeline of a pipeline's file (which a parsed path always has).
fn pipeline_of(namespace: &Identifier, path: &ProjectPath) -> Result<rat_core::TableRef> {
    path.pipeline(namespace)
        .ok_or_else(|| Error::internal(format!("'{path}' is in no pipeline folder")))
}

fn no_file(namespace: &Identifier, path: &ProjectPath) -> Error {
    Error::not_found(format!("namespace '{namespace}' has no file '{path}'"))
        .with_context("field", "path")
}
