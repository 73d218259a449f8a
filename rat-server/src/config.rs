//! [`ServerSetup`]: what a platform is made of, in code or from
//! `rat.yaml` — the lakehouse sections and the `server:` section (where it
//! listens, run store, executor, auth, credential vendor, scheduler, SQL
//! access). Each part is the configuration type of the crate that
//! implements it; this module only says which is chosen.
//!
//! ```yaml
//! storage: {type: local, root: .}
//! catalog: {type: sql, path: .rat/catalog.db, warehouse: .rat/warehouse}
//! server:
//!   listen: 127.0.0.1:8080
//!   run_store: {type: postgres, url: {env: RAT_DATABASE_URL}}   # default: sqlite in .rat/
//!   executor: {type: process, workers: 8}                       # local (default) | process | ecs
//!   auth: {type: api_key, key: {file: /run/secrets/rat-api-key}}
//!   credential_vendor: {type: sts, role_arn: arn:aws:iam::123456789012:role/rat-ns}  # static (default)
//!   scheduler: true
//!   sql_access: strict                # project_files: a trusted single-user server
//!   landing: {max_file_bytes: 33554432}   # largest upload to a landing zone
//!   cors: {allowed_origins: ["https://ide.example.com"]}   # none by default
//!   base_path: /rat                   # behind a proxy forwarding /rat/...; none by default
//! maintenance: {snapshot_retention: 7d, keep_last: 10, orphan_age: 3d, target_file_size: 134217728}
//! runs: {keep_runs: 100, log_retention: 30d}
//! ```
//!
//! `maintenance:` and `runs:` hold for every table and pipeline of the
//! project (a pipeline may set its own `maintenance:`); the lease holder's
//! housekeeping and `rat maintain` apply them.
//!
//! Every field can be overridden like the rest of the file:
//! `RAT__SERVER__LISTEN=0.0.0.0:8080`, `RAT__SERVER__EXECUTOR__WORKERS=8`.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use rat_core::config::{SqlAccess, config_tree};
use rat_core::{Error, LakehouseConfig, MaintenanceSettings, Result, RunRetention};
use rat_executor::{PoolConfig, RunStoreConfig};
use rat_runner::python::PythonConfig;
use serde::{Deserialize, Deserializer};

use crate::LandingSettings;
use crate::auth::{AuthConfig, NamedKey};
use crate::http::{BasePath, CorsConfig};
use crate::scheduler::SchedulerConfig;

/// The `server:` section.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerSection {
    /// Address to listen on.
    #[serde(default = "default_listen", deserialize_with = "address")]
    pub listen: SocketAddr,
    /// Run records, logs, schedules and batches (SQLite under the
    /// project's `.rat/` when absent).
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
    /// Limits of landing zone uploads.
    #[serde(default)]
    pub landing: LandingSettings,
    /// Other origins browsers may call the API from (none by default).
    #[serde(default)]
    pub cors: Option<CorsConfig>,
    /// The path prefix a reverse proxy forwards unchanged (`/rat`): the
    /// API, the web IDE and the probes answer under it.
    #[serde(default)]
    pub base_path: BasePath,
}

fn default_listen() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 8080))
}

fn yes() -> bool {
    true
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

/// Where runs execute: the executor's pool (`workers`, `queue`,
/// `per_namespace`) beside what the executor itself needs.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase", deny_unknown_fields)]
pub enum ExecutorConfig {
    /// Workers in this process.
    Local(PoolConfig),
    /// A `rat-runner` process per run.
    Process {
        /// Runs at once, waiting, per namespace.
        #[serde(flatten)]
        pool: PoolConfig,
        /// The runner binary (`$RAT_RUNNER`, else beside this program's).
        #[serde(default)]
        runner: Option<PathBuf>,
        /// Warm Python workers kept for the runners (default 1, started
        /// once a Python run asks for one; 0: each Python run starts its
        /// interpreter).
        #[serde(default)]
        python_workers: Option<usize>,
    },
    /// An ECS Fargate task per run (feature `aws`;
    /// [`rat_cloud_aws::EcsConfig`] has every field).
    #[cfg(feature = "aws")]
    Ecs {
        /// Tasks at once, waiting, per namespace.
        #[serde(flatten)]
        pool: PoolConfig,
        /// Cluster, network, task definition, capacity providers...
        #[serde(flatten)]
        ecs: Box<rat_cloud_aws::EcsConfig>,
    },
    /// What this build cannot run (it has no `aws` feature).
    #[cfg(not(feature = "aws"))]
    Ecs(serde::de::IgnoredAny),
}

impl Default for ExecutorConfig {
    fn default() -> Self {
        ExecutorConfig::Local(PoolConfig::default())
    }
}

impl ExecutorConfig {
    /// The name a server reports (`local`, `process`, `ecs`).
    pub fn kind(&self) -> &'static str {
        match self {
            ExecutorConfig::Local(_) => "local",
            ExecutorConfig::Process { .. } => "process",
            ExecutorConfig::Ecs { .. } => "ecs",
        }
    }

    /// The pool settings, to tune in code.
    pub fn pool_mut(&mut self) -> Option<&mut PoolConfig> {
        match self {
            ExecutorConfig::Local(pool) | ExecutorConfig::Process { pool, .. } => Some(pool),
            #[cfg(feature = "aws")]
            ExecutorConfig::Ecs { pool, .. } => Some(pool),
            #[cfg(not(feature = "aws"))]
            ExecutorConfig::Ecs(_) => None,
        }
    }
}

/// Storage credentials per namespace.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase", deny_unknown_fields)]
pub enum CredentialVendorConfig {
    /// Every namespace uses the storage's own credentials.
    #[default]
    Static,
    /// STS `AssumeRole` with a session policy per namespace (feature
    /// `aws`): what the platform does for a namespace, and every run of
    /// it, reaches `<bucket>/<namespace>/` only.
    #[cfg(feature = "aws")]
    Sts(rat_cloud_aws::StsVendorConfig),
    /// What this build cannot vend (it has no `aws` feature).
    #[cfg(not(feature = "aws"))]
    Sts(serde::de::IgnoredAny),
}

impl CredentialVendorConfig {
    /// The name a server reports (`static`, `sts`).
    pub fn kind(&self) -> &'static str {
        match self {
            CredentialVendorConfig::Static => "static",
            CredentialVendorConfig::Sts(_) => "sts",
        }
    }
}

/// What a platform (and the server around it) is made of.
#[derive(Debug, Clone)]
pub struct ServerSetup {
    /// Storage and catalog.
    pub lakehouse: LakehouseConfig,
    /// Where run records, logs, schedules and batches live.
    pub run_store: RunStoreConfig,
    /// Where runs execute.
    pub executor: ExecutorConfig,
    /// The folder of per-run files of process runners (`.rat/` of the
    /// project).
    pub state_dir: PathBuf,
    /// Who may call the API.
    pub auth: AuthConfig,
    /// Storage credentials per namespace.
    pub credential_vendor: CredentialVendorConfig,
    /// The scheduler (`None`: this instance never fires schedules).
    pub scheduler: Option<SchedulerConfig>,
    /// What pipeline SQL may read beyond what its run resolved.
    pub sql_access: SqlAccess,
    /// How tables are maintained (`maintenance:` of `rat.yaml`), unless
    /// their pipeline sets its own.
    pub maintenance: MaintenanceSettings,
    /// Limits of landing zone uploads (`server.landing`).
    pub landing: LandingSettings,
    /// Other origins browsers may call the API from (`server.cors`).
    pub cors: Option<CorsConfig>,
    /// The path prefix everything answers under (`server.base_path`).
    pub base_path: BasePath,
    /// The interpreter of Python pipelines (`python:` of `rat.yaml`, else
    /// `$RAT_PYTHON`, else `python3`).
    pub python: PythonConfig,
}

impl ServerSetup {
    /// The embedded layout of a project folder: the folder is the storage,
    /// catalog, warehouse and run records live under its `.rat/`.
    pub fn embedded(project: &Path) -> Self {
        Self {
            lakehouse: LakehouseConfig::embedded(project),
            run_store: RunStoreConfig::embedded(project),
            executor: ExecutorConfig::default(),
            state_dir: project.join(".rat"),
            auth: AuthConfig::None,
            credential_vendor: CredentialVendorConfig::Static,
            scheduler: Some(SchedulerConfig::default()),
            sql_access: SqlAccess::Strict,
            maintenance: MaintenanceSettings::default(),
            landing: LandingSettings::default(),
            cors: None,
            base_path: BasePath::default(),
            python: PythonConfig::from_env(),
        }
    }

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
            None => serde_yaml_ng::from_value(serde_yaml_ng::Value::Mapping(Default::default()))
                .map_err(|e| Error::internal(format!("the default server section: {e}")))?,
        };
        let maintenance: MaintenanceSettings = take_section(&mut tree, "maintenance")?;
        let python = take_python(&mut tree, base)?;
        let run_retention: RunRetention = take_section(&mut tree, "runs")?;
        let lakehouse = if tree.as_mapping().is_some_and(|m| m.is_empty()) {
            LakehouseConfig::embedded(project)
        } else {
            LakehouseConfig::from_tree(tree, base)?
        };
        let mut setup = ServerSetup::embedded(project);
        setup.lakehouse = lakehouse;
        if let Some(store) = section.run_store {
            setup.run_store = store.relative_to(base);
        }
        setup.executor = section.executor;
        setup.auth = match section.auth {
            // Caught here, not only at start: a config check names it.
            AuthConfig::ApiKey {
                key: None,
                api_keys,
            } if api_keys.is_empty() => {
                return Err(Error::invalid("api_key auth needs `key` or `api_keys`")
                    .with_context("field", "server.auth.key"));
            }
            AuthConfig::ApiKey { key, api_keys } => AuthConfig::ApiKey {
                key: key.map(|k| k.relative_to(base)),
                api_keys: api_keys
                    .into_iter()
                    .map(|k| NamedKey {
                        key: k.key.relative_to(base),
                        ..k
                    })
                    .collect(),
            },
            other => other,
        };
        setup.credential_vendor = section.credential_vendor;
        setup.scheduler = section.scheduler.then(|| SchedulerConfig {
            run_retention,
            ..SchedulerConfig::default()
        });
        setup.sql_access = section.sql_access;
        setup.maintenance = maintenance;
        setup.landing = section.landing;
        setup.cors = section.cors;
        setup.base_path = section.base_path;
        if let Some(python) = python {
            setup.python = python;
        }
        Ok((setup, section.listen))
    }
}

/// Takes `python:` (the interpreter of Python pipelines) out of `tree`: a
/// name looked up on `PATH`, or a path (relative to the config's folder).
fn take_python(tree: &mut serde_yaml_ng::Value, base: &Path) -> Result<Option<PythonConfig>> {
    match tree.as_mapping_mut().and_then(|m| m.remove("python")) {
        None | Some(serde_yaml_ng::Value::Null) => Ok(None),
        Some(serde_yaml_ng::Value::String(text)) if !text.trim().is_empty() => {
            let path = Path::new(text.trim());
            let interpreter = if path.components().count() > 1 && path.is_relative() {
                base.join(path)
            } else {
                path.to_owned()
            };
            Ok(Some(PythonConfig::new(interpreter)))
        }
        Some(other) => Err(Error::invalid(format!(
            "python must name an interpreter (python3, /opt/venv/bin/python), not {}",
            serde_yaml_ng::to_string(&other).unwrap_or_default().trim()
        ))
        .with_context("field", "python")),
    }
}

/// Takes the top-level section `name` out of `tree` (so the lakehouse
/// sections remain), read as `T`; its defaults when absent. An error names
/// the section.
fn take_section<T: serde::de::DeserializeOwned + serde::Serialize + Default>(
    tree: &mut serde_yaml_ng::Value,
    name: &str,
) -> Result<T> {
    let invalid = |message: String| {
        Error::invalid(format!("invalid {name} section: {message}")).with_context("section", name)
    };
    match tree.as_mapping_mut().and_then(|m| m.remove(name)) {
        Some(serde_yaml_ng::Value::Mapping(fields)) => {
            rat_core::config::de::over(&T::default(), &fields).map_err(invalid)
        }
        Some(serde_yaml_ng::Value::Null) | None => Ok(T::default()),
        Some(_) => Err(invalid("it must be a mapping of settings".into())),
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
    fn python_names_the_interpreter_of_python_pipelines() {
        let load = |yaml: &str, vars: &[(&str, &str)]| {
            ServerSetup::from_yaml(yaml, Path::new("/etc/rat"), Path::new("/p"), env(vars))
        };
        let (setup, _) = load("python: venv/bin/python\n", &[]).unwrap();
        assert_eq!(
            setup.python.interpreter,
            PathBuf::from("/etc/rat/venv/bin/python")
        );
        let (setup, _) = load("python: python3.12\n", &[]).unwrap();
        assert_eq!(setup.python.interpreter, PathBuf::from("python3.12"));
        let (setup, _) = load("", &[("RAT__PYTHON", "/opt/py/bin/python")]).unwrap();
        assert_eq!(
            setup.python.interpreter,
            PathBuf::from("/opt/py/bin/python")
        );
        let err = load("python: [a, b]\n", &[]).unwrap_err();
        assert_eq!(err.context("field"), Some("python"), "{err}");
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
        let ExecutorConfig::Process {
            pool,
            runner,
            python_workers,
        } = &setup.executor
        else {
            panic!("{:?}", setup.executor)
        };
        assert_eq!((pool.workers, pool.queue, runner), (8, 64, &None));
        assert_eq!(python_workers, &None);
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
            (
                "server: {executor: {type: process, colour: blue}}",
                "colour",
            ),
            ("server: {colour: blue}", "colour"),
            (
                "server: {run_store: {type: postgres, url: postgres://u:pw@h/db}}",
                "{env: VAR}",
            ),
            ("server: {auth: {type: api_key}}", "key"),
            ("server: {credential_vendor: {type: sts}}", "role_arn"),
            ("server: {credential_vendor: {type: vault}}", "vault"),
            ("server: {sql_access: everything}", "everything"),
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

    #[cfg(feature = "aws")]
    #[test]
    fn the_ecs_executor_is_its_library_s_config() {
        let yaml = "server:\n  executor:\n    type: ecs\n    workers: 32\n    cluster: rat\n    \
                    subnets: [subnet-a]\n    security_groups: [sg-1]\n    \
                    capacity_providers: [{name: FARGATE_SPOT, weight: 3}, {name: FARGATE, base: 1}]\n    \
                    task_definition: {family: rat-runner, image: rat:1, cpu: 1024, memory: 4096, log_group: /rat/runs}\n";
        let (setup, _) =
            ServerSetup::from_yaml(yaml, Path::new("."), Path::new("."), env(&[])).unwrap();
        let ExecutorConfig::Ecs { pool, ecs } = &setup.executor else {
            panic!("{:?}", setup.executor)
        };
        assert_eq!(pool.workers, 32);
        assert_eq!(ecs.capacity_providers[1].weight, 1);
        let rat_cloud_aws::TaskDefinitionSource::Register(spec) = &ecs.task_definition else {
            panic!("{:?}", ecs.task_definition)
        };
        assert_eq!(
            (spec.size.cpu, spec.log_stream_prefix.as_str()),
            (1024, "rat")
        );
        let err = ServerSetup::from_yaml(
            &yaml.replace("cluster: rat", "cluster: rat\n    clutser: typo"),
            Path::new("."),
            Path::new("."),
            env(&[]),
        )
        .unwrap_err();
        assert!(err.to_string().contains("clutser"), "{err}");
    }
}
