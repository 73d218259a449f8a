//! Where a command works: the platform of the local project (an embedded
//! [`Platform`](rat_server::Platform) over its folder and config), or a
//! server's ([`Client`]). Either way the command talks to a
//! [`PlatformApi`], so local and remote output are the same by
//! construction.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rat_core::config::SqlAccess;
use rat_core::{Error, ErrorKind, LakehouseConfig, Result};
use rat_server::api::PlatformApi;
use rat_server::auth::Principal;
use rat_server::client::Client;
use rat_server::config::ExecutorConfig;
use rat_server::{ExecutorStart, ServerSetup};

/// The variable holding a config file's text, read when no `--config`
/// names a file: how a container gets its `rat.yaml` (ECS fills it from
/// the SSM parameter the AWS stack writes).
pub(crate) const CONFIG_TEXT_VARIABLE: &str = "RAT_CONFIG_YAML";

/// The project folder and the lakehouse config, as the flags name them.
#[derive(Debug, Clone)]
pub(crate) struct Place {
    pub(crate) project: PathBuf,
    pub(crate) config: Option<PathBuf>,
    /// A config's text ([`CONFIG_TEXT_VARIABLE`]), used without `config`.
    pub(crate) config_text: Option<String>,
}

/// How a run executes locally (`rat run --isolate --workers N`).
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct LocalExecution {
    /// One `rat-runner` process per run.
    pub(crate) isolate: bool,
    /// Runs at once.
    pub(crate) workers: Option<usize>,
}

impl Place {
    /// The place the flags and the environment name.
    pub(crate) fn new(project: PathBuf, config: Option<PathBuf>) -> Self {
        let config_text = std::env::var(CONFIG_TEXT_VARIABLE)
            .ok()
            .filter(|text| !text.trim().is_empty());
        Self {
            project,
            config,
            config_text,
        }
    }

    /// The setup `project` runs with: the config file's, else the config
    /// text's (relative paths then resolve against the project), else the
    /// embedded defaults; `RAT__*` overrides apply either way.
    pub(crate) fn load(&self, project: &Path) -> Result<(ServerSetup, SocketAddr)> {
        match (&self.config, &self.config_text) {
            (None, Some(text)) => ServerSetup::from_yaml(text, project, project, std::env::vars())
                .map_err(|e| e.with_context("variable", CONFIG_TEXT_VARIABLE)),
            (config, _) => ServerSetup::load(project, config.as_deref(), std::env::vars()),
        }
    }

    /// The lakehouse: the config's (which may hold other sections,
    /// `server:`, `maintenance:`, `runs:`), else the embedded layout.
    pub(crate) fn lakehouse(&self, project: &Path) -> Result<LakehouseConfig> {
        Ok(self.load(project)?.0.lakehouse)
    }

    /// The project folder, absolute; an error saying how to make one when
    /// it does not exist.
    pub(crate) fn project_dir(&self) -> Result<PathBuf> {
        let project = self.project.as_path();
        if !project.is_dir() {
            return Err(Error::new(
                ErrorKind::InvalidInput,
                format!(
                    "project folder '{}' does not exist (create one with `rat init {}`)",
                    project.display(),
                    project.display()
                ),
            ));
        }
        Ok(std::fs::canonicalize(project)?)
    }

    /// The setup of the local project: its config (storage, catalog and
    /// `server:` section) or the embedded defaults, with the executor
    /// `execution` asks for. Embedded SQL may read the project's own
    /// files: the project is its user's.
    pub(crate) fn setup(&self, execution: LocalExecution) -> Result<ServerSetup> {
        let project = self.project_dir()?;
        let (mut setup, _) = self.load(&project)?;
        setup.scheduler = None;
        setup.sql_access = SqlAccess::ProjectFiles;
        if execution.isolate {
            let runner =
                rat_executor::locate_runner("--isolate runs each pipeline with it; build it")?;
            let pool = setup.executor.pool_mut().cloned().unwrap_or_default();
            setup.executor = ExecutorConfig::Process {
                pool,
                runner: Some(runner),
                python_workers: None,
            };
        }
        if let (Some(workers), Some(pool)) = (execution.workers, setup.executor.pool_mut()) {
            pool.workers = workers;
        }
        Ok(setup)
    }
}

/// The platform a command talks to: `server` when given (its token from
/// `$RAT_TOKEN`), else the local project's, whose executor starts only if
/// the command submits a run.
pub(crate) async fn open(
    place: &Place,
    server: Option<&str>,
    execution: LocalExecution,
) -> Result<Arc<dyn PlatformApi>> {
    if let Some(url) = server {
        if execution.isolate {
            return Err(Error::invalid(
                "--isolate chooses a local executor; a server runs pipelines its own way",
            )
            .with_context("field", "--isolate"));
        }
        let token = std::env::var("RAT_TOKEN")
            .ok()
            .filter(|t| !t.is_empty())
            .map(secrecy::SecretString::from);
        return Ok(Arc::new(Client::new(url, token)?));
    }
    let platform = place
        .setup(execution)?
        .open_platform(ExecutorStart::OnFirstRun)
        .await?;
    // The versions a local command saves name the account running it.
    match local_user() {
        Some(id) => Ok(platform.acting_for(&Principal::local(&id))),
        None => Ok(Arc::new(platform)),
    }
}

/// The login name of whoever runs the CLI, when the environment says.
fn local_user() -> Option<String> {
    ["USER", "USERNAME"]
        .iter()
        .filter_map(|name| std::env::var(name).ok())
        .find(|user| !user.trim().is_empty())
}
