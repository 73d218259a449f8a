//! [`PipelineFiles`]: the text of one pipeline folder's files, as an API
//! saves them and a code version keeps them.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::{PYTHON_FILE, SQL_FILE};
use crate::error::{Error, Result};

/// A pipeline's files: its code (SQL or Python), `config.yaml` and quality
/// tests. A save writes exactly these files: a config or test left out is
/// removed.
///
/// ```
/// use rat_core::project::PipelineFiles;
///
/// let files: PipelineFiles = serde_json::from_str(r#"{"sql": "SELECT 1"}"#).unwrap();
/// assert_eq!(files.code().unwrap(), ("pipeline.sql", "SELECT 1"));
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "json-schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct PipelineFiles {
    /// `pipeline.sql`; give this or `python`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sql: Option<String>,
    /// `pipeline.py`; give this or `sql`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub python: Option<String>,
    /// `config.yaml`.
    #[serde(default)]
    pub config: Option<String>,
    /// `tests/quality/<name>.sql`, by name.
    #[serde(default)]
    pub tests: BTreeMap<String, String>,
}

impl PipelineFiles {
    /// The code file's name and text: exactly one of `sql` and `python`.
    ///
    /// ```
    /// use rat_core::project::PipelineFiles;
    /// let files: PipelineFiles = serde_json::from_str(r#"{"python": "result = None"}"#).unwrap();
    /// assert_eq!(files.code().unwrap().0, "pipeline.py");
    /// let both: PipelineFiles = serde_json::from_str(r#"{"sql": "SELECT 1", "python": "x"}"#).unwrap();
    /// assert!(both.code().is_err());
    /// ```
    pub fn code(&self) -> Result<(&'static str, &str)> {
        match (&self.sql, &self.python) {
            (Some(sql), None) => Ok((SQL_FILE, sql)),
            (None, Some(python)) => Ok((PYTHON_FILE, python)),
            (Some(_), Some(_)) => Err(Error::invalid(
                "give the pipeline's code as sql or as python, not both",
            )
            .with_context("field", "python")),
            (None, None) => Err(Error::invalid(
                "the pipeline's code is missing: give sql (pipeline.sql) or python (pipeline.py)",
            )
            .with_context("field", "sql")),
        }
    }
}
