//! The pipeline project format (see `PIPELINES.md`): a tree of objects in
//! [`Storage`] with one folder per pipeline.
//!
//! ```text
//! {prefix}pipelines/{layer}/{name}/pipeline.sql   (or pipeline.py)
//! {prefix}pipelines/{layer}/{name}/config.yaml
//! {prefix}pipelines/{layer}/{name}/tests/quality/*.sql
//! {prefix}landing/{zone}/...
//! ```

mod annotations;
pub mod columns;
pub mod files;
pub mod landing;
mod pipeline_files;
mod quality;
mod settings;
mod starter;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

pub use annotations::{Annotation, parse_annotations};
pub use columns::ColumnDescriptions;
pub use landing::{FileFormat, ZoneSettings};
pub use pipeline_files::PipelineFiles;
pub use quality::{DEFAULT_TEST_TIMEOUT, QualityTest, Severity};
pub use settings::{
    MergeStrategy, PartitionField, PartitionTransform, PipelineSettings, ResolvedSettings,
    resolve_settings,
};

use crate::error::{Error, ErrorKind, Result};
use crate::ident::{self, DEFAULT_NAMESPACE, Identifier, Layer, TableRef};
use crate::storage::{ObjectKey, Storage, StorageExt};

/// Where a namespace's project lives in storage.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProjectSource {
    /// The namespace whose pipelines these are.
    pub namespace: Identifier,
    /// Key prefix of the project: empty when the storage root is the
    /// project (embedded), `"{namespace}/"` when one store holds many.
    pub prefix: String,
}

impl ProjectSource {
    /// The embedded layout: the storage root is the project of namespace `default`.
    pub fn embedded() -> Self {
        Self {
            namespace: Identifier::new(DEFAULT_NAMESPACE).expect("valid default namespace"),
            prefix: String::new(),
        }
    }

    /// Where `namespace` lives: the storage root for `default` (the
    /// embedded layout), `{namespace}/` otherwise.
    pub fn of(namespace: &Identifier) -> Self {
        if namespace.as_str() == DEFAULT_NAMESPACE {
            Self::embedded()
        } else {
            Self {
                namespace: namespace.clone(),
                prefix: format!("{namespace}/"),
            }
        }
    }

    /// One namespace under `{namespace}/` of a shared store.
    pub fn namespaced(namespace: &str) -> Result<Self> {
        let namespace = ident::namespace(namespace)?;
        let prefix = format!("{namespace}/");
        Ok(Self { namespace, prefix })
    }

    /// The key of `relative` inside this project.
    pub fn key(&self, relative: &str) -> Result<ObjectKey> {
        ObjectKey::new(format!("{}{relative}", self.prefix))
    }

    /// The folder of a pipeline, relative to the storage root.
    pub fn pipeline_dir(&self, table: &TableRef) -> String {
        format!("{}pipelines/{}/{}/", self.prefix, table.layer, table.name)
    }
}

/// What a pipeline is written in.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "json-schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "lowercase")]
pub enum Language {
    /// `pipeline.sql`: a Jinja template of one SELECT.
    #[default]
    Sql,
    /// `pipeline.py`: a script that sets `result` (see PIPELINES.md).
    Python,
}

impl Language {
    /// The language of a pipeline file, by its name.
    ///
    /// ```
    /// use rat_core::project::Language;
    /// assert_eq!(Language::of_file("pipelines/bronze/a/pipeline.py"), Some(Language::Python));
    /// assert_eq!(Language::of_file("pipeline.sql"), Some(Language::Sql));
    /// assert_eq!(Language::of_file("config.yaml"), None);
    /// ```
    pub fn of_file(file: &str) -> Option<Self> {
        let name = file.rsplit('/').next().unwrap_or(file);
        match name {
            PYTHON_FILE => Some(Self::Python),
            SQL_FILE => Some(Self::Sql),
            _ => None,
        }
    }

    /// The file a pipeline in this language lives in.
    pub fn file_name(self) -> &'static str {
        match self {
            Self::Sql => SQL_FILE,
            Self::Python => PYTHON_FILE,
        }
    }
}

/// The file of a SQL pipeline.
pub const SQL_FILE: &str = "pipeline.sql";
/// The file of a Python pipeline; checked first, as the original system did.
pub const PYTHON_FILE: &str = "pipeline.py";

/// One pipeline: its code, effective settings and quality tests.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "json-schema", derive(schemars::JsonSchema))]
pub struct Pipeline {
    /// The table it produces (`namespace.layer.name`).
    pub table: TableRef,
    /// What [`source`](Self::source) is written in.
    #[serde(default)]
    pub language: Language,
    /// Key of `pipeline.sql` or `pipeline.py`.
    pub source_file: String,
    /// The text of the source file (a SQL template or a Python script).
    pub source: String,
    /// Key of `config.yaml`, when present.
    pub config_file: Option<String>,
    /// Settings after annotations override `config.yaml`.
    pub settings: PipelineSettings,
    /// Quality tests, in file name order.
    pub tests: Vec<QualityTest>,
    /// Non-fatal findings (unknown keys...).
    pub warnings: Vec<String>,
}

impl Pipeline {
    /// Builds a pipeline from its files' contents; the language follows
    /// the source file's name (`pipeline.py` or `pipeline.sql`). Errors
    /// name the file.
    pub fn from_sources(
        table: TableRef,
        source_file: &str,
        source: &str,
        config: Option<(&str, &str)>,
        tests: &[(String, String)],
    ) -> Result<Self> {
        let language = Language::of_file(source_file).ok_or_else(|| {
            Error::invalid("a pipeline's code is pipeline.sql or pipeline.py")
                .with_context("file", source_file)
        })?;
        let annotations = parse_annotations(source, source_file)?;
        let (comment, empty) = match language {
            Language::Sql => ("--", "pipeline.sql has no SELECT"),
            Language::Python => ("#", "pipeline.py has no code: it must set `result`"),
        };
        if source.lines().all(|l| {
            let l = l.trim();
            l.is_empty() || l.starts_with(comment)
        }) {
            return Err(Error::invalid(empty).with_context("file", source_file));
        }
        let ResolvedSettings {
            settings,
            mut warnings,
        } = resolve_settings(config, &annotations, source_file)?;
        let mut parsed_tests = Vec::with_capacity(tests.len());
        for (file, text) in tests {
            let (test, test_warnings) = QualityTest::parse(file, text)?;
            warnings.extend(test_warnings);
            parsed_tests.push(test);
        }
        parsed_tests.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(Self {
            table,
            language,
            source_file: source_file.to_owned(),
            source: source.to_owned(),
            config_file: config.map(|(f, _)| f.to_owned()),
            settings,
            tests: parsed_tests,
            warnings,
        })
    }
}

/// All pipelines of one namespace, validated.
#[derive(Debug, Clone, Default)]
pub struct Project {
    /// Pipelines by table.
    pub pipelines: BTreeMap<TableRef, Pipeline>,
}

#[derive(Default)]
struct FolderFiles {
    sql: Option<String>,
    python: Option<String>,
    config: Option<String>,
    tests: Vec<String>,
}

impl Project {
    /// Loads and validates every pipeline of `source`. The first invalid file
    /// fails the whole load with an error naming it, so nothing runs on a
    /// half-valid project.
    pub async fn load(storage: &dyn Storage, source: &ProjectSource) -> Result<Self> {
        let root = format!("{}pipelines/", source.prefix);
        let mut folders: BTreeMap<(Layer, Identifier), FolderFiles> = BTreeMap::new();
        for meta in storage.list_all(&root).await? {
            let key = meta.key.as_str();
            let rest = &key[root.len()..];
            let parts: Vec<&str> = rest.split('/').collect();
            let [layer, name, tail @ ..] = parts.as_slice() else {
                continue;
            };
            if tail.is_empty() || layer.starts_with('.') || name.starts_with('.') {
                continue;
            }
            let layer: Layer = layer.parse().map_err(|e: Error| with_file(e, key))?;
            let name = Identifier::new(*name).map_err(|e| {
                with_file(
                    Error::invalid(format!("invalid pipeline name: {}", e.message())),
                    key,
                )
            })?;
            let files = folders.entry((layer, name)).or_default();
            match tail {
                [SQL_FILE] => files.sql = Some(key.to_owned()),
                [PYTHON_FILE] => files.python = Some(key.to_owned()),
                ["config.yaml"] | ["config.yml"] if files.config.is_some() => {
                    return Err(
                        Error::invalid("both config.yaml and config.yml exist; keep one")
                            .with_context("file", key),
                    );
                }
                ["config.yaml"] | ["config.yml"] => files.config = Some(key.to_owned()),
                ["tests", "quality", f] if f.ends_with(".sql") => files.tests.push(key.to_owned()),
                _ => {}
            }
        }

        let mut pipelines = BTreeMap::new();
        for ((layer, name), files) in folders {
            let table = TableRef::new(source.namespace.clone(), layer, name);
            let Some(code_file) = files.python.as_ref().or(files.sql.as_ref()) else {
                let dir = source.pipeline_dir(&table);
                return Err(
                    Error::invalid("pipeline folder has no pipeline.sql (or pipeline.py)")
                        .with_context("file", format!("{dir}{SQL_FILE}")),
                );
            };
            let mut pipeline = load_files(
                storage,
                table.clone(),
                code_file,
                files.config,
                &files.tests,
            )
            .await?;
            if files.python.is_some() && files.sql.is_some() {
                pipeline
                    .warnings
                    .push(both_files_warning(&source.pipeline_dir(&table)));
            }
            pipelines.insert(table, pipeline);
        }
        Ok(Self { pipelines })
    }

    /// Loads one pipeline by table.
    pub async fn load_pipeline(
        storage: &dyn Storage,
        source: &ProjectSource,
        table: &TableRef,
    ) -> Result<Pipeline> {
        let dir = source.pipeline_dir(table);
        let keys: Vec<String> = storage
            .list_all(&dir)
            .await?
            .into_iter()
            .map(|m| String::from(m.key))
            .collect();
        let python_file = format!("{dir}{PYTHON_FILE}");
        let sql_file = format!("{dir}{SQL_FILE}");
        let has_sql = keys.contains(&sql_file);
        let has_python = keys.contains(&python_file);
        let code_file = match (has_python, has_sql) {
            (true, _) => python_file,
            (false, true) => sql_file,
            (false, false) => {
                return Err(Error::new(
                    ErrorKind::NotFound,
                    format!("no pipeline '{}'", table.short()),
                )
                .with_context("file", sql_file));
            }
        };
        let config = keys
            .iter()
            .find(|k| k.ends_with("/config.yaml") || k.ends_with("/config.yml"))
            .filter(|k| k[dir.len()..].split('/').count() == 1)
            .cloned();
        let tests: Vec<String> = keys
            .iter()
            .filter(|k| {
                let rest = &k[dir.len()..];
                rest.starts_with("tests/quality/")
                    && rest.ends_with(".sql")
                    && rest.split('/').count() == 3
            })
            .cloned()
            .collect();
        let mut pipeline = load_files(storage, table.clone(), &code_file, config, &tests).await?;
        if has_python && has_sql {
            pipeline.warnings.push(both_files_warning(&dir));
        }
        Ok(pipeline)
    }

    /// The pipeline producing `table`, if it is part of this project.
    pub fn get(&self, table: &TableRef) -> Option<&Pipeline> {
        self.pipelines.get(table)
    }
}

/// The original system ran `pipeline.py` when both existed; so does rat,
/// but says so.
fn both_files_warning(dir: &str) -> String {
    format!("{dir} holds both {PYTHON_FILE} and {SQL_FILE}: {PYTHON_FILE} runs; remove one")
}

async fn load_files(
    storage: &dyn Storage,
    table: TableRef,
    code_file: &str,
    config_file: Option<String>,
    test_files: &[String],
) -> Result<Pipeline> {
    let read = |key: String| async move {
        let object_key = ObjectKey::new(key.clone())?;
        storage
            .get_string(&object_key)
            .await
            .map(|text| (key, text))
    };
    let (_, code) = read(code_file.to_owned()).await?;
    let config = match config_file {
        Some(key) => Some(read(key).await?),
        None => None,
    };
    let mut tests = Vec::with_capacity(test_files.len());
    for key in test_files {
        tests.push(read(key.clone()).await?);
    }
    Pipeline::from_sources(
        table,
        code_file,
        &code,
        config.as_ref().map(|(f, t)| (f.as_str(), t.as_str())),
        &tests,
    )
}

fn with_file(err: Error, key: &str) -> Error {
    err.with_context("file", key)
}
