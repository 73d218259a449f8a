//! Pipelines as files in storage: list, read, validate-then-write, delete,
//! and the lineage their `ref()`s draw.

use std::collections::{BTreeMap, BTreeSet};

use rat_core::project::{PYTHON_FILE, SQL_FILE};
use rat_core::{
    Error, ErrorKind, Identifier, Layer, ObjectKey, Pipeline, Project, ProjectSource, Result,
    StorageExt, TableRef,
};

use rat_core::authz::Action;

use super::{Platform, parse_namespace};
use crate::api::{
    Lineage, LineageEdge, NewPipeline, PipelineDetail, PipelineFiles, PipelineSummary, SavePipeline,
};

/// A pipeline's table from its three path parts; errors name the part.
pub(crate) fn pipeline_table(namespace: &str, layer: &str, name: &str) -> Result<TableRef> {
    let namespace = parse_namespace(namespace)?;
    let layer: Layer = layer
        .parse()
        .map_err(|e: Error| e.with_context("field", "layer"))?;
    let name = Identifier::new(name).map_err(|e| e.with_context("field", "name"))?;
    Ok(TableRef::new(namespace, layer, name))
}

impl Platform {
    /// Pipelines of `namespace` (every namespace when `None`), optionally
    /// of one layer, by table name.
    pub(super) async fn list_pipelines(
        &self,
        namespace: Option<&str>,
        layer: Option<&str>,
    ) -> Result<Vec<PipelineSummary>> {
        let layer: Option<Layer> = layer
            .map(|l| {
                l.parse()
                    .map_err(|e: Error| e.with_context("field", "layer"))
            })
            .transpose()?;
        let namespaces = self.namespaces_or_all(namespace).await?;
        let mut found = BTreeSet::new();
        for namespace in namespaces {
            found.extend(self.pipeline_tables(&namespace).await?);
        }
        let found = found
            .into_iter()
            .filter(|t| layer.is_none_or(|l| t.layer == l))
            .collect();
        let seen = self.visible(Action::Discover, found).await?;
        Ok(seen.into_iter().map(PipelineSummary::from).collect())
    }

    /// The tables of the pipeline folders of one namespace (the folders
    /// holding a `pipeline.sql` or a `pipeline.py`; contents are not
    /// validated here).
    pub(super) async fn pipeline_tables(
        &self,
        namespace: &Identifier,
    ) -> Result<BTreeSet<TableRef>> {
        let source = ProjectSource::of(namespace);
        let root = format!("{}pipelines/", source.prefix);
        let mut tables = BTreeSet::new();
        for meta in self.storage(namespace)?.list_all(&root).await? {
            let rest = &meta.key.as_str()[root.len()..];
            let parts: Vec<&str> = rest.split('/').collect();
            if let [layer, name, SQL_FILE | PYTHON_FILE] = parts.as_slice()
                && let (Ok(layer), Ok(name)) = (layer.parse::<Layer>(), Identifier::new(*name))
            {
                tables.insert(TableRef::new(namespace.clone(), layer, name));
            }
        }
        Ok(tables)
    }

    /// One pipeline: its files and what rat makes of them.
    pub(super) async fn read_pipeline(&self, table: &TableRef) -> Result<PipelineDetail> {
        self.check(Action::Discover, table, || no_pipeline(table))
            .await?;
        self.load_pipeline_detail(table).await
    }

    /// A pipeline's files and what rat makes of them, unchecked.
    async fn load_pipeline_detail(&self, table: &TableRef) -> Result<PipelineDetail> {
        let source = ProjectSource::of(&table.namespace);
        let storage = self.storage(&table.namespace)?;
        let pipeline = Project::load_pipeline(storage.as_ref(), &source, table).await?;
        let config = match &pipeline.config_file {
            Some(file) => Some(storage.get_string(&ObjectKey::new(file)?).await?),
            None => None,
        };
        let (version, draft) = self.versions_of(&pipeline, config.as_deref()).await?;
        Ok(PipelineDetail {
            pipeline,
            config,
            version,
            draft,
        })
    }

    /// Creates a pipeline; `already_exists` when its folder has one.
    pub(super) async fn add_pipeline(&self, new: &NewPipeline) -> Result<PipelineDetail> {
        let namespace = new
            .namespace
            .as_deref()
            .unwrap_or(rat_core::DEFAULT_NAMESPACE);
        let table = &pipeline_table(namespace, &new.layer, &new.name)?;
        let message = rat_core::versions::message(new.message.as_deref())?;
        self.check_create(table).await?;
        if self.pipeline_exists(table).await? {
            return Err(Error::new(
                ErrorKind::AlreadyExists,
                format!("pipeline '{table}' already exists; replace it with PUT"),
            ));
        }
        let saved = self
            .save_pipeline(table, &new.files, message.as_deref())
            .await?;
        // Its creator owns it (and its table), unless it had an owner.
        if self.grant_store().owner(table).await?.is_none() {
            self.grant_store()
                .set_owner(table, &self.acting().id)
                .await?;
        }
        Ok(saved)
    }

    /// Replaces an existing pipeline's files with `files` (a config or test
    /// left out is removed), or saves them as its draft; `not_found` when
    /// there is none.
    pub(super) async fn update_pipeline(
        &self,
        table: &TableRef,
        save: &SavePipeline,
    ) -> Result<PipelineDetail> {
        let message = rat_core::versions::message(save.message.as_deref())?;
        self.check(Action::Write, table, || no_pipeline(table))
            .await?;
        if !self.pipeline_exists(table).await? {
            return Err(no_pipeline(table));
        }
        match save.draft {
            true => {
                self.save_draft(table, &save.files, message.as_deref())
                    .await
            }
            false => {
                self.save_pipeline(table, &save.files, message.as_deref())
                    .await
            }
        }
    }

    /// Deletes a pipeline's files (its table stays).
    pub(super) async fn remove_pipeline(&self, table: &TableRef) -> Result<()> {
        self.check(Action::Manage, table, || no_pipeline(table))
            .await?;
        let dir = ProjectSource::of(&table.namespace).pipeline_dir(table);
        let storage = self.storage(&table.namespace)?;
        let objects = storage.list_all(&dir).await?;
        let is_code = |key: &str| {
            key.strip_prefix(dir.as_str())
                .is_some_and(|rest| rest == SQL_FILE || rest == PYTHON_FILE)
        };
        if !objects.iter().any(|m| is_code(m.key.as_str())) {
            return Err(no_pipeline(table));
        }
        // The code last: until it goes, the pipeline is still listed.
        let (code, rest): (Vec<_>, Vec<_>) =
            objects.into_iter().partition(|m| is_code(m.key.as_str()));
        for meta in rest.into_iter().chain(code) {
            storage.delete(&meta.key).await?;
        }
        Ok(())
    }

    /// The DAG of one namespace's pipelines (every namespace when `None`).
    pub(super) async fn read_lineage(&self, namespace: Option<&str>) -> Result<Lineage> {
        let namespaces = self.namespaces_or_all(namespace).await?;
        let mut lineage = Lineage {
            nodes: Vec::new(),
            edges: Vec::new(),
        };
        for namespace in namespaces {
            let source = ProjectSource::of(&namespace);
            let project = Project::load(self.storage(&namespace)?.as_ref(), &source).await?;
            let (dag, _) = self.inner.engine.dag(&project).await?;
            for (to, froms) in &dag.deps {
                for from in froms {
                    lineage.edges.push(LineageEdge {
                        from: from.clone(),
                        to: to.clone(),
                    });
                }
            }
            lineage.nodes.extend(dag.order);
        }
        let seen: BTreeSet<TableRef> = self
            .visible(Action::Discover, lineage.nodes.clone())
            .await?
            .into_iter()
            .collect();
        let ends: Vec<TableRef> = lineage.edges.iter().map(|e| e.from.clone()).collect();
        let seen_ends: BTreeSet<TableRef> = self
            .visible(Action::Discover, ends)
            .await?
            .into_iter()
            .collect();
        lineage.nodes.retain(|n| seen.contains(n));
        lineage
            .edges
            .retain(|e| seen.contains(&e.to) && seen_ends.contains(&e.from));
        Ok(lineage)
    }

    /// `namespace`, validated, or every namespace when `None`.
    pub(super) async fn namespaces_or_all(
        &self,
        namespace: Option<&str>,
    ) -> Result<Vec<Identifier>> {
        match namespace {
            Some(ns) => Ok(vec![parse_namespace(ns)?]),
            None => self.namespace_names().await,
        }
    }

    /// Refuses to create `table`'s pipeline unless the caller is an
    /// admin, a member of its namespace or holds `write` on it (a pattern
    /// grant covers tables yet to be made). The refusal is the same
    /// whether the namespace exists or not.
    pub(super) async fn check_create(&self, table: &TableRef) -> Result<()> {
        if self.is_member(&table.namespace).await? || self.allows(Action::Write, table).await? {
            return Ok(());
        }
        Err(self.denied(Error::new(
            ErrorKind::Forbidden,
            format!(
                "{} may not create pipelines in namespace '{}'",
                self.acting().id,
                table.namespace
            ),
        )))
    }

    pub(super) async fn pipeline_exists(&self, table: &TableRef) -> Result<bool> {
        let dir = ProjectSource::of(&table.namespace).pipeline_dir(table);
        let storage = self.storage(&table.namespace)?;
        for code in [PYTHON_FILE, SQL_FILE] {
            if storage
                .exists(&ObjectKey::new(format!("{dir}{code}"))?)
                .await?
            {
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// The files a pipeline's folder holds now, as a save would give them
    /// (`None` without code). Python wins over SQL, `config.yaml` over
    /// `config.yml`, as the loader reads them.
    pub(super) async fn stored_files(&self, table: &TableRef) -> Result<Option<PipelineFiles>> {
        let dir = ProjectSource::of(&table.namespace).pipeline_dir(table);
        let storage = self.storage(&table.namespace)?;
        let mut files = PipelineFiles {
            sql: None,
            python: None,
            config: None,
            tests: BTreeMap::new(),
        };
        let mut yml = None;
        for meta in storage.list_all(&dir).await? {
            let relative = &meta.key.as_str()[dir.len()..];
            if !is_pipeline_file(relative) {
                continue;
            }
            let text = storage.get_string(&meta.key).await?;
            match relative {
                SQL_FILE => files.sql = Some(text),
                PYTHON_FILE => files.python = Some(text),
                "config.yaml" => files.config = Some(text),
                "config.yml" => yml = Some(text),
                test => {
                    let name = test["tests/quality/".len()..].trim_end_matches(".sql");
                    files.tests.insert(name.to_owned(), text);
                }
            }
        }
        if files.python.is_some() {
            files.sql = None;
        }
        files.config = files.config.or(yml);
        Ok((files.sql.is_some() || files.python.is_some()).then_some(files))
    }

    /// Validates everything first (settings, templates, SQL syntax of the
    /// pipeline and its tests, a script's syntax and `ref()`s), then
    /// writes and records the files as a new published version; a refused
    /// save changes nothing. Saving one language's code removes the
    /// other's file.
    pub(super) async fn save_pipeline(
        &self,
        table: &TableRef,
        files: &PipelineFiles,
        message: Option<&str>,
    ) -> Result<PipelineDetail> {
        let dir = ProjectSource::of(&table.namespace).pipeline_dir(table);
        let pipeline = pipeline_of(table, files)?;
        self.inner.engine.check_pipeline(&pipeline).await?;
        self.record_stored(table).await?;
        let storage = self.storage(&table.namespace)?;

        let mut keep: BTreeMap<&str, &str> = pipeline
            .tests
            .iter()
            .map(|t| (t.file.as_str(), t.sql.as_str()))
            .collect();
        if let (Some(file), Some(config)) = (&pipeline.config_file, &files.config) {
            keep.insert(file, config);
        }
        let code_file = pipeline.source_file.as_str();
        // The code last, so a reader never sees new code with stale tests.
        for (key, text) in keep.iter().chain([(&code_file, &pipeline.source.as_str())]) {
            storage
                .put(&ObjectKey::new(*key)?, text.to_string().into())
                .await?;
        }
        for meta in storage.list_all(&dir).await? {
            let key = meta.key.as_str();
            if key != code_file && !keep.contains_key(key) && is_pipeline_file(&key[dir.len()..]) {
                storage.delete(&meta.key).await?;
            }
        }
        self.record_published(table, files, message).await?;
        self.load_pipeline_detail(table).await
    }
}

/// The pipeline `files` make in `table`'s folder, checked as the loader
/// checks it (settings, annotations, test names); errors name the file or
/// field.
pub(super) fn pipeline_of(table: &TableRef, files: &PipelineFiles) -> Result<Pipeline> {
    let dir = ProjectSource::of(&table.namespace).pipeline_dir(table);
    let (code_name, code) = files.code()?;
    let mut tests = Vec::new();
    for (name, sql) in &files.tests {
        Identifier::new(name.as_str())
            .map_err(|e| e.with_context("field", format!("tests.{name}")))?;
        tests.push((format!("{dir}tests/quality/{name}.sql"), sql.clone()));
    }
    let config_file = format!("{dir}config.yaml");
    let config = files.config.as_deref().map(|c| (config_file.as_str(), c));
    Pipeline::from_sources(
        table.clone(),
        &format!("{dir}{code_name}"),
        code,
        config,
        &tests,
    )
}

/// Files rat reads from a pipeline folder (others are left alone).
fn is_pipeline_file(relative: &str) -> bool {
    matches!(
        relative,
        "config.yaml" | "config.yml" | SQL_FILE | PYTHON_FILE
    ) || (relative.starts_with("tests/quality/")
        && relative.ends_with(".sql")
        && relative.split('/').count() == 3)
}

pub(super) fn no_pipeline(table: &TableRef) -> Error {
    Error::new(ErrorKind::NotFound, format!("no pipeline '{table}'"))
}
