//! Which files of a project its users edit as files: a path inside the
//! project, validated, and the part it plays (a pipeline's code, config or
//! quality test, or documentation).
//!
//! Known places: `README.md`, anything under `docs/`, and the files of a
//! pipeline folder (`pipelines/{layer}/{name}/`: its code, `config.yaml`,
//! `tests/quality/*.sql`, and `*.md` notes). Everything else — landing
//! zones, rat's own `_` files, other namespaces' folders of a shared store —
//! is outside, so a path can never reach it.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::landing::file_name;
use super::{Language, PYTHON_FILE, SQL_FILE};
use crate::error::{Error, Result};
use crate::ident::{Identifier, Layer, TableRef};

/// Longest project path accepted, in bytes.
pub const MAX_PATH_LEN: usize = 1024;
/// Most folders a path may go down.
pub const MAX_DEPTH: usize = 8;

/// The part a project file plays.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum FileRole {
    /// A file of its pipeline that rat reads.
    Pipeline(PipelineFile),
    /// Documentation: read and written as it is.
    Doc,
}

/// Which file of a pipeline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PipelineFile {
    /// `pipeline.sql` or `pipeline.py`.
    Code(Language),
    /// `config.yaml` (`config.yml` is read, never written).
    Config {
        /// Whether it is the `.yml` spelling.
        yml: bool,
    },
    /// `tests/quality/{name}.sql`.
    Test(Identifier),
}

/// What a project file is, as the API names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "json-schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "lowercase")]
pub enum FileKind {
    /// A pipeline's `pipeline.sql` or `pipeline.py`.
    Code,
    /// A pipeline's `config.yaml`.
    Config,
    /// A pipeline's quality test.
    Test,
    /// Documentation.
    Doc,
}

/// A validated path of a project file, relative to the project's root.
///
/// ```
/// use rat_core::project::files::{FileRole, ProjectPath};
///
/// let p = ProjectPath::parse("pipelines/silver/orders/tests/quality/no_nulls.sql").unwrap();
/// assert!(matches!(p.role(), FileRole::Pipeline(_)));
/// assert_eq!(ProjectPath::parse("docs/guide/setup.md").unwrap().role(), &FileRole::Doc);
/// for bad in ["../x", "/etc/passwd", "docs/../x", "", "landing/z/a.csv", "pipelines/x/a/pipeline.sql"] {
///     assert!(ProjectPath::parse(bad).is_err(), "{bad}");
/// }
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProjectPath {
    path: String,
    role: FileRole,
    /// The pipeline folder the file is in, if any.
    folder: Option<(Layer, Identifier)>,
}

impl ProjectPath {
    /// Validates `path`: relative, `/`-separated, every part a plain file
    /// name (letters, digits, `.`, `-`, `_`; not starting with `.` or `_`),
    /// inside a known place. The error names the path and what is wrong.
    pub fn parse(path: &str) -> Result<Self> {
        let bad = |problem: String| {
            Error::invalid(format!("path '{}' {problem}", shown(path)))
                .with_context("field", "path")
        };
        if path.is_empty() {
            return Err(bad("is empty".into()));
        }
        if path.len() > MAX_PATH_LEN {
            return Err(bad(format!("is longer than {MAX_PATH_LEN} bytes")));
        }
        if path.starts_with('/') || path.contains('\\') {
            return Err(bad(
                "must be relative to the project, with '/' between folders".into(),
            ));
        }
        let parts: Vec<&str> = path.split('/').collect();
        if parts.len() > MAX_DEPTH + 1 {
            return Err(bad(format!("goes deeper than {MAX_DEPTH} folders")));
        }
        for part in &parts {
            if let Err(e) = file_name(part) {
                return Err(bad(format!("has a bad part: {}", e.message())));
            }
        }
        let mut folder = None;
        let role = match parts.as_slice() {
            ["README.md"] => FileRole::Doc,
            ["docs", _, ..] => FileRole::Doc,
            ["pipelines", layer, name, rest @ ..] => {
                let layer: Layer = layer
                    .parse()
                    .map_err(|e: Error| bad(format!("names no layer: {}", e.message())))?;
                let name = Identifier::new(*name)
                    .map_err(|e| bad(format!("names no pipeline: {}", e.message())))?;
                folder = Some((layer, name));
                match pipeline_file(rest) {
                    Some(Some(file)) => FileRole::Pipeline(file),
                    Some(None) => FileRole::Doc,
                    None => {
                        return Err(bad(
                            "is no file of a pipeline folder (pipeline.sql, pipeline.py, \
                             config.yaml, tests/quality/<name>.sql or a .md note)"
                                .into(),
                        ));
                    }
                }
            }
            _ => {
                return Err(bad(
                    "is outside the project's known places (README.md, docs/, pipelines/)".into(),
                ));
            }
        };
        Ok(Self {
            path: path.to_owned(),
            role,
            folder,
        })
    }

    /// The path, as given.
    pub fn as_str(&self) -> &str {
        &self.path
    }

    /// The part the file plays.
    pub fn role(&self) -> &FileRole {
        &self.role
    }

    /// What the file is.
    pub fn kind(&self) -> FileKind {
        match &self.role {
            FileRole::Pipeline(PipelineFile::Code(_)) => FileKind::Code,
            FileRole::Pipeline(PipelineFile::Config { .. }) => FileKind::Config,
            FileRole::Pipeline(PipelineFile::Test(_)) => FileKind::Test,
            FileRole::Doc => FileKind::Doc,
        }
    }

    /// The table of the pipeline whose folder holds this file, in
    /// `namespace` (`None` for documentation outside a pipeline folder).
    pub fn pipeline(&self, namespace: &Identifier) -> Option<TableRef> {
        let (layer, name) = self.folder.as_ref()?;
        Some(TableRef::new(namespace.clone(), *layer, name.clone()))
    }
}

impl fmt::Display for ProjectPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.path)
    }
}

/// What a path inside a pipeline folder is: `Some(Some(_))` a file rat
/// reads, `Some(None)` a note, `None` nothing allowed.
fn pipeline_file(rest: &[&str]) -> Option<Option<PipelineFile>> {
    let file = match rest {
        [SQL_FILE] => PipelineFile::Code(Language::Sql),
        [PYTHON_FILE] => PipelineFile::Code(Language::Python),
        ["config.yaml"] => PipelineFile::Config { yml: false },
        ["config.yml"] => PipelineFile::Config { yml: true },
        ["tests", "quality", test] => {
            let name = test.strip_suffix(".sql")?;
            PipelineFile::Test(Identifier::new(name).ok()?)
        }
        [note] if note.ends_with(".md") => return Some(None),
        _ => return None,
    };
    Some(Some(file))
}

/// The first 120 characters of a path, escaped, for messages.
fn shown(path: &str) -> String {
    let cut: String = path.chars().take(120).collect();
    cut.escape_default().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_places_are_accepted_with_their_role() {
        let role = |p: &str| ProjectPath::parse(p).unwrap().role().clone();
        assert_eq!(role("README.md"), FileRole::Doc);
        assert_eq!(role("docs/a.md"), FileRole::Doc);
        assert_eq!(role("pipelines/gold/kpis/README.md"), FileRole::Doc);
        assert_eq!(
            role("pipelines/bronze/raw/pipeline.py"),
            FileRole::Pipeline(PipelineFile::Code(Language::Python))
        );
        assert_eq!(
            role("pipelines/bronze/raw/config.yml"),
            FileRole::Pipeline(PipelineFile::Config { yml: true })
        );
        let ns = Identifier::new("shop").unwrap();
        let p = ProjectPath::parse("pipelines/gold/kpis/tests/quality/positive.sql").unwrap();
        assert_eq!(p.pipeline(&ns).unwrap().to_string(), "shop.gold.kpis");
        assert_eq!(p.kind(), FileKind::Test);
        let note = ProjectPath::parse("pipelines/gold/kpis/README.md").unwrap();
        assert_eq!(
            (note.kind(), note.pipeline(&ns).is_some()),
            (FileKind::Doc, true)
        );
        assert_eq!(ProjectPath::parse("docs/x.md").unwrap().pipeline(&ns), None);
    }

    #[test]
    fn bad_paths_are_refused_naming_the_path_and_the_problem() {
        let deep = format!("docs/{}x.md", "d/".repeat(MAX_DEPTH));
        let long = format!("docs/{}", "x".repeat(MAX_PATH_LEN));
        for (path, needle) in [
            ("", "is empty"),
            ("../x", "bad part"),
            ("docs/./a.md", "bad part"),
            ("docs//a.md", "bad part"),
            ("docs/", "bad part"),
            ("/README.md", "relative"),
            ("docs\\a.md", "relative"),
            ("docs/a b.md", "bad part"),
            ("docs/_private.md", "bad part"),
            ("docs", "known places"),
            ("landing/orders/a.csv", "known places"),
            ("other/pipelines/bronze/a/pipeline.sql", "known places"),
            ("pipelines/platinum/a/pipeline.sql", "names no layer"),
            ("pipelines/bronze/Bad/pipeline.sql", "names no pipeline"),
            ("pipelines/bronze/a/run.sh", "no file of a pipeline folder"),
            (
                "pipelines/bronze/a/tests/quality/x.txt",
                "no file of a pipeline folder",
            ),
            (
                "pipelines/bronze/a/tests/quality/Bad.sql",
                "no file of a pipeline folder",
            ),
            (deep.as_str(), "deeper than"),
            (long.as_str(), "longer than"),
        ] {
            let err = ProjectPath::parse(path).unwrap_err();
            assert!(err.to_string().contains(needle), "{path}: {err}");
            assert_eq!(err.context("field"), Some("path"));
        }
    }
}
