//! `rat.yaml`'s `server:` section: where the server listens and what it is
//! built from beyond the lakehouse (run store, executor, auth, scheduler).
//!
//! ```yaml
//! storage: {type: local, root: .}
//! catalog: {type: sql, path: .rat/catalog.db, warehouse: .rat/warehouse}
//! server:
//!   listen: 127.0.0.1:8080
//!   run_store: {type: postgres, url: {env: RAT_DATABASE_URL}}   # default: sqlite in .rat/
//!   executor: {type: process, workers: 8}                       # local (default) | process
//!   auth: {type: api_key, key: {file: /run/secrets/rat-api-key}}
//!   credential_vendor: {type: sts, role_arn: arn:aws:iam::123456789012:role/rat-ns}  # static (default)
//!   scheduler: true
//!   sql_access: strict                # project_files: a trusted single-user server
//! ```
//!
//! Every field can be overridden like the rest of the file:
//! `RAT__SERVER__LISTEN=0.0.0.0:8080`, `RAT__SERVER__EXECUTOR__WORKERS=8`.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use rat_core::config::{SqlAccess, config_tree};
use rat_core::{Error, LakehouseConfig, Result};
use serde::{Deserialize, Deserializer, Serialize};

use crate::access::CredentialVendorConfig;
use crate::auth::AuthConfig;
use crate::compose::{RunStoreConfig, ServerSetup};
use crate::scheduler::SchedulerConfig;

/// The `server:` section.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerSection {
    /// Address to listen on.
    #[serde(default = "default_listen", deserialize_with = "address")]
    pub listen: SocketAddr,
    /// Run records, logs and schedules (SQLite under the project's `.rat/`
    /// when absent).
    #[serde(default)]
    pub run_store: Option<RunStoreConfig>,
    /// Where runs execute.
    #[serde(default)]
    pub executor: ExecutorConfig,
    /// Who may call the API.
    #[serde(default)]
    pub auth: AuthConfig,
    /// Storage credentials per namespace.
    #[serde(default)]
    pub credential_vendor: CredentialVendorConfig,
    /// Whether this instance competes to fire schedules.
    #[serde(default = "yes")]
    pub scheduler: bool,
    /// What pipeline SQL may read beyond what its run resolved: `strict`
    /// (the default), or `project_files` for a trusted single-user server
    /// over a local project folder.
    #[serde(default)]
    pub sql_access: SqlAccess,
}

impl Default for ServerSection {
    fn default() -> Self {
        Self {
            listen: default_listen(),
            run_store: None,
            executor: ExecutorConfig::default(),
            auth: AuthConfig::None,
            credential_vendor: CredentialVendorConfig::Static,
            scheduler: true,
            sql_access: SqlAccess::Strict,
        }
    }
}

fn default_listen() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 8080))
}

fn yes() -> bool {
    true
}

/// Where runs execute.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase", deny_unknown_fields)]
pub enum ExecutorConfig {
    /// Workers in the server process.
    Local {
        /// Runs at once.
        #[serde(default = "default_workers", deserialize_with = "count")]
        workers: usize,
        /// Runs waiting beyond those; more are refused with 429.
        #[serde(default = "default_queue", deserialize_with = "count")]
        queue: usize,
    },
    /// A `rat-runner` process per run.
    Process {
        /// Runs at once.
        #[serde(default = "default_workers", deserialize_with = "count")]
        workers: usize,
        /// Runs waiting beyond those; more are refused with 429.
        #[serde(default = "default_queue", deserialize_with = "count")]
        queue: usize,
        /// The runner binary (`$RAT_RUNNER`, else beside the server's).
        #[serde(default)]
        runner: Option<PathBuf>,
    },
    /// An ECS Fargate task per run (feature `aws`).
    Ecs(Box<crate::ecs::EcsSettings>),
}

impl Default for ExecutorConfig {
    fn default() -> Self {
        ExecutorConfig::Local {
            workers: default_workers(),
            queue: default_queue(),
        }
    }
}

fn default_workers() -> usize {
    4
}

fn default_queue() -> usize {
    64
}

fn address<'de, D: Deserializer<'de>>(d: D) -> std::result::Result<SocketAddr, D::Error> {
    let text = String::deserialize(d)?;
    text.parse().map_err(|_| {
        serde::de::Error::custom(format!(
            "listen: '{}' is not an address like 127.0.0.1:8080",
            text.escape_default()
        ))
    })
}

/// A positive count, as a number or (from an environment override) text.
pub(crate) fn count<'de, D: Deserializer<'de>>(d: D) -> std::result::Result<usize, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Form {
        Number(usize),
        Text(String),
    }
    let n = match Form::deserialize(d)? {
        Form::Number(n) => n,
        Form::Text(t) => t
            .trim()
            .parse()
            .map_err(|_| serde::de::Error::custom(format!("'{t}' is not a number")))?,
    };
    if n == 0 {
        return Err(serde::de::Error::custom("must be at least 1"));
    }
    Ok(n)
}

impl ServerSetup {
    /// The setup a config file describes (its lakehouse sections and its
    /// `server:` section, after `RAT__*` overrides from `env`), for the
    /// project folder `project` (which holds `.rat/`); and the address.
    /// Relative paths are resolved against the file's folder.
    pub fn from_file(
        path: &Path,
        project: &Path,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<(Self, SocketAddr)> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            Error::invalid(format!("cannot read the config file: {e}"))
                .with_context("file", path.display())
        })?;
        let base = path.parent().unwrap_or(Path::new("."));
        Self::from_yaml(&text, base, project, env)
            .map_err(|e| e.with_context("file", path.display()))
    }

    /// The setup of `project`: from `config` when one is given, else the
    /// embedded defaults (with `RAT__*` overrides from `env` either way).
    pub fn load(
        project: &Path,
        config: Option<&Path>,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<(Self, SocketAddr)> {
        match config {
            Some(file) => Self::from_file(file, project, env),
            None => Self::from_yaml("", project, project, env),
        }
    }

    /// [`ServerSetup::from_file`] on text.
    pub fn from_yaml(
        text: &str,
        base: &Path,
        project: &Path,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<(Self, SocketAddr)> {
        let mut tree = config_tree(text, env)?;
        let section = match tree.as_mapping_mut().and_then(|m| m.remove("server")) {
            Some(value) => serde_yaml_ng::from_value::<ServerSection>(value).map_err(|e| {
                Error::invalid(format!("invalid server section: {e}"))
                    .with_context("section", "server")
            })?,
            None => ServerSection::default(),
        };
        let lakehouse = if tree.as_mapping().is_some_and(|m| m.is_empty()) {
            LakehouseConfig::embedded(project)
        } else {
            LakehouseConfig::from_tree(tree, base)?
        };
        let mut setup = ServerSetup::embedded(project);
        setup.lakehouse = lakehouse;
        if let Some(store) = section.run_store {
            setup.run_store = match store {
                RunStoreConfig::Sqlite { path } => RunStoreConfig::Sqlite {
                    path: base.join(path),
                },
                RunStoreConfig::Postgres { url } => RunStoreConfig::Postgres {
                    url: url.relative_to(base),
                },
            };
        }
        setup.executor = section.executor;
        setup.auth = match section.auth {
            AuthConfig::ApiKey { key } => AuthConfig::ApiKey {
                key: key.relative_to(base),
            },
            other => other,
        };
        setup.credential_vendor = section.credential_vendor;
        setup.scheduler = section.scheduler.then(SchedulerConfig::default);
        setup.sql_access = section.sql_access;
        Ok((setup, section.listen))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn the_server_section_and_its_overrides() {
        let yaml = "server:\n  executor: {type: process, workers: 2}\n  auth: {type: oidc, issuer: https://id, audience: rat}\n";
        let (setup, listen) = ServerSetup::from_yaml(
            yaml,
            Path::new("/etc/rat"),
            Path::new("/srv/shop"),
            env(&[
                ("RAT__SERVER__LISTEN", "0.0.0.0:9000"),
                ("RAT__SERVER__EXECUTOR__WORKERS", "8"),
                ("RAT__SERVER__RUN_STORE", "{type: sqlite, path: runs.db}"),
            ]),
        )
        .unwrap();
        assert_eq!(listen.to_string(), "0.0.0.0:9000");
        assert_eq!(
            setup.executor,
            ExecutorConfig::Process {
                workers: 8,
                queue: 64,
                runner: None
            }
        );
        assert_eq!(
            setup.run_store,
            RunStoreConfig::Sqlite {
                path: PathBuf::from("/etc/rat/runs.db")
            }
        );
        assert_eq!(setup.auth.kind(), "oidc");
        assert_eq!(
            setup.lakehouse,
            LakehouseConfig::embedded(Path::new("/srv/shop"))
        );
    }

    #[test]
    fn mistakes_are_named() {
        let cases = [
            ("server: {listen: nowhere}", "listen"),
            (
                "server: {executor: {type: local, workers: 0}}",
                "at least 1",
            ),
            ("server: {executor: {type: gpu}}", "gpu"),
            ("server: {colour: blue}", "colour"),
            (
                "server: {run_store: {type: postgres, url: postgres://u:pw@h/db}}",
                "{env: VAR}",
            ),
            ("server: {auth: {type: api_key}}", "key"),
        ];
        for (yaml, named) in cases {
            let err = ServerSetup::from_yaml(yaml, Path::new("."), Path::new("."), env(&[]))
                .unwrap_err()
                .to_string();
            assert!(err.contains(named), "{yaml}: {err}");
            assert!(!err.contains("pw@"), "{err}");
        }
        let err = ServerSetup::from_yaml(
            "server: {executor: {type: local}}",
            Path::new("."),
            Path::new("."),
            env(&[("RAT__SERVER__EXECUTOR__WORKERS", "many")]),
        )
        .unwrap_err();
        assert!(err.to_string().contains("'many'"), "{err}");
    }
}
