//! Configuration values shared by the crates: where pipelines and tables
//! live, and the limits of a run.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

pub mod de;
mod file;
mod remote;

pub use file::{ENV_PREFIX, config_tree};
use remote::default_region;
pub use remote::{CredentialsConfig, RestAuth, RestCatalogConfig, S3Settings, SecretRef};

/// Where pipeline sources and landing files live.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase", deny_unknown_fields)]
pub enum StorageConfig {
    /// A local folder.
    Local {
        /// The folder.
        root: PathBuf,
    },
    /// A bucket (and key prefix) on S3 or an S3-compatible service.
    S3(S3StorageConfig),
}

/// S3 storage: objects live under `s3://<bucket>/<prefix>/`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct S3StorageConfig {
    /// The bucket.
    pub bucket: String,
    /// Key prefix of the project inside the bucket (no leading or trailing `/`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prefix: Option<String>,
    /// Endpoint URL of an S3-compatible service; AWS when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<String>,
    /// Region.
    #[serde(default = "default_region")]
    pub region: String,
    /// Path-style addressing.
    #[serde(default)]
    pub path_style: bool,
    /// Where credentials come from.
    #[serde(default)]
    pub credentials: CredentialsConfig,
}

impl S3StorageConfig {
    /// The connection settings, without bucket and prefix.
    pub fn settings(&self) -> S3Settings {
        S3Settings {
            endpoint: self.endpoint.clone(),
            region: self.region.clone(),
            path_style: self.path_style,
            credentials: self.credentials.clone(),
        }
    }
}

/// Where tables live.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase", deny_unknown_fields)]
pub enum CatalogConfig {
    /// The embedded SQLite catalog and a local warehouse folder.
    Sql {
        /// The catalog database file.
        path: PathBuf,
        /// The warehouse folder.
        warehouse: PathBuf,
    },
    /// An Iceberg REST catalog.
    Rest(Box<RestCatalogConfig>),
}

/// Storage plus catalog: everything an engine needs to reach the lakehouse.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LakehouseConfig {
    /// Pipelines and landing files.
    pub storage: StorageConfig,
    /// Tables.
    pub catalog: CatalogConfig,
}

impl LakehouseConfig {
    /// The embedded layout of a project folder: the folder is the storage,
    /// the catalog and warehouse live under `.rat/`.
    pub fn embedded(project: &Path) -> Self {
        let state = project.join(".rat");
        Self {
            storage: StorageConfig::Local {
                root: project.to_owned(),
            },
            catalog: CatalogConfig::Sql {
                path: state.join("catalog.db"),
                warehouse: state.join("warehouse"),
            },
        }
    }

    /// The same lakehouse reached on S3 with `credentials`: the storage's
    /// (when it is S3) and a REST catalog's for the files it vends none
    /// for. How runners get credentials scoped to their namespace.
    pub fn with_s3_credentials(&self, credentials: CredentialsConfig) -> Self {
        let mut lakehouse = self.clone();
        if let StorageConfig::S3(s3) = &mut lakehouse.storage {
            s3.credentials = credentials.clone();
        }
        if let CatalogConfig::Rest(rest) = &mut lakehouse.catalog {
            rest.s3.credentials = credentials;
        }
        lakehouse
    }
}

/// What pipeline and quality-test SQL may read beyond what its run
/// resolved. Either way a run's DuckDB session reads exactly the data files
/// of its `ref()`s, its landing zones' files and its own output folder; it
/// reaches no URL, changes no setting and loads no extension.
///
/// ```
/// use rat_core::config::SqlAccess;
/// let access: SqlAccess = serde_yaml_ng::from_str("project_files").unwrap();
/// assert_eq!(access, SqlAccess::ProjectFiles);
/// assert_eq!(SqlAccess::default(), SqlAccess::Strict);
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SqlAccess {
    /// Nothing more: what a server runs (the default).
    #[default]
    Strict,
    /// Also the files under a local storage's folder (the project), except
    /// hidden ones (`.rat/`, `.git/`, `.env`) and symlinks: the embedded
    /// single-user mode, or a trusted single-user server.
    ProjectFiles,
}

/// Per-run resource limits.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "json-schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct RunLimits {
    /// Wall-clock limit; a run past it is stopped and fails.
    #[serde(default, with = "de::optional_secs")]
    #[cfg_attr(feature = "json-schema", schemars(with = "Option<f64>"))]
    pub timeout: Option<Duration>,
    /// Memory for the run, as DuckDB writes it (`512MB`, `2GiB`); DuckDB's
    /// `memory_limit`, and the basis of the OS limit of a runner process.
    pub memory_limit: Option<String>,
    /// DuckDB worker threads.
    pub threads: Option<usize>,
}

impl RunLimits {
    /// Checks the values; errors name the field.
    pub fn validate(&self) -> Result<()> {
        if let Some(limit) = &self.memory_limit {
            parse_size(limit).map_err(|e| e.with_context("field", "memory_limit"))?;
        }
        if self.threads == Some(0) {
            return Err(
                Error::invalid("threads must be at least 1").with_context("field", "threads")
            );
        }
        if self.timeout == Some(Duration::ZERO) {
            return Err(Error::invalid("timeout must be positive").with_context("field", "timeout"));
        }
        Ok(())
    }

    /// The memory limit in bytes, if one is set.
    pub fn memory_limit_bytes(&self) -> Result<Option<u64>> {
        self.memory_limit.as_deref().map(parse_size).transpose()
    }

    /// The address-space limit of a run's processes (the runner, a Python
    /// pipeline's interpreter), above the memory limit: DuckDB spills before
    /// its own limit, and this catches what it does not account for.
    ///
    /// ```
    /// use rat_core::config::RunLimits;
    /// let limits = RunLimits { memory_limit: Some("1GiB".into()), ..RunLimits::default() };
    /// assert_eq!(limits.address_space_ceiling().unwrap(), Some(3 << 30));
    /// ```
    pub fn address_space_ceiling(&self) -> Result<Option<u64>> {
        Ok(self
            .memory_limit_bytes()?
            .map(|bytes| bytes.saturating_mul(2).max(bytes.saturating_add(2 << 30))))
    }
}

/// Parses `512MB`, `2GiB`, `1.5 GB`, `1000000` (bytes) into bytes.
///
/// ```
/// assert_eq!(rat_core::config::parse_size("2GiB").unwrap(), 2 << 30);
/// assert_eq!(rat_core::config::parse_size("1.5 GB").unwrap(), 1_500_000_000);
/// assert!(rat_core::config::parse_size("lots").is_err());
/// ```
pub fn parse_size(text: &str) -> Result<u64> {
    let t = text.trim();
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (number, unit) = t.split_at(split);
    let factor: u64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "kb" => 1_000,
        "mb" => 1_000_000,
        "gb" => 1_000_000_000,
        "tb" => 1_000_000_000_000,
        "kib" => 1 << 10,
        "mib" => 1 << 20,
        "gib" => 1 << 30,
        "tib" => 1 << 40,
        _ => return Err(bad_size(text)),
    };
    let value: f64 = number.parse().map_err(|_| bad_size(text))?;
    if !value.is_finite() || value <= 0.0 {
        return Err(bad_size(text));
    }
    Ok((value * factor as f64) as u64)
}

fn bad_size(text: &str) -> Error {
    Error::invalid(format!(
        "invalid size '{}': expected a number with B, KB, MB, GB, TB, KiB, MiB, GiB or TiB",
        text.escape_default()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_validate_and_round_trip() {
        let limits = RunLimits {
            timeout: Some(Duration::from_millis(1500)),
            memory_limit: Some("256MB".into()),
            threads: Some(2),
        };
        limits.validate().unwrap();
        assert_eq!(limits.memory_limit_bytes().unwrap(), Some(256_000_000));
        let json = serde_json::to_string(&limits).unwrap();
        assert_eq!(serde_json::from_str::<RunLimits>(&json).unwrap(), limits);
        let bad = RunLimits {
            memory_limit: Some("-1GB".into()),
            ..RunLimits::default()
        };
        assert_eq!(
            bad.validate().unwrap_err().context("field"),
            Some("memory_limit")
        );
    }
}
