//! Opening a [`ServerSetup`]: the lakehouse, the run store, the credential
//! vendor and the executor composed into a [`Platform`], and the
//! [`Server`] around it (auth, scheduler, routes).

use std::sync::Arc;

use rat_core::config::{CatalogConfig, SqlAccess, StorageConfig};
use rat_core::{Executor, LakehouseConfig, Result, RunEngine};
use rat_executor::{LocalExecutor, OnDemand, ProcessConfig, ProcessExecutor, Stores};
use rat_runner::access::{NamespaceAccess, ScopedEngine};
use rat_runner::{Engine, EngineConfig};

use crate::Platform;
use crate::api::Features;
use crate::auth::{AuthConfig, Authenticator};
use crate::config::{CredentialVendorConfig, ExecutorConfig, ServerSetup};
use crate::scheduler;

/// When a platform's executor starts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum ExecutorStart {
    /// At once, adopting the runs a previous instance left (a server).
    #[default]
    AtOnce,
    /// With the first run submitted; until then runs are read from the
    /// store (a command line that may only read them).
    OnFirstRun,
}

/// A composed server: what it does and who may ask.
#[derive(Debug, Clone)]
pub struct Server {
    /// The components.
    pub platform: Platform,
    /// The request check.
    pub auth: Authenticator,
    /// Cross-origin answers, when other origins are allowed.
    cors: Option<tower_http::cors::CorsLayer>,
    /// The path prefix everything answers under.
    base_path: crate::http::BasePath,
    scheduler: Option<Arc<(tokio::task::JoinHandle<()>, String)>>,
}

impl Server {
    /// Stops this instance's scheduler and gives up its lease, so another
    /// instance fires schedules from its next tick.
    pub async fn shutdown(&self) {
        if let Some(scheduler) = &self.scheduler {
            let (handle, owner) = scheduler.as_ref();
            handle.abort();
            if let Err(e) = self.platform.schedule_store().resign(owner).await {
                tracing::warn!("scheduler lease: {e}");
            }
            self.platform.set_leading(false);
        }
    }

    /// The HTTP routes.
    pub fn router(&self) -> axum::Router {
        let router = crate::http::router_under(
            Arc::new(self.platform.clone()),
            self.auth.clone(),
            &self.base_path,
        );
        match &self.cors {
            Some(cors) => router.layer(cors.clone()),
            None => router,
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        // The last clone stops the scheduler.
        if let Some(scheduler) = self.scheduler.take()
            && let Ok((handle, _)) = Arc::try_unwrap(scheduler)
        {
            handle.abort();
        }
    }
}

impl ServerSetup {
    /// Opens everything: auth first (a half-configured one stops here),
    /// then the platform, then the scheduler.
    pub async fn open(&self) -> Result<Server> {
        let auth = Authenticator::from_config(&self.auth)?;
        let cors = self.cors.as_ref().map(|c| c.layer()).transpose()?;
        let platform = self.open_platform(ExecutorStart::AtOnce).await?;
        let scheduler = self.scheduler.clone().map(|config| {
            let owner = config.owner.clone();
            Arc::new((scheduler::spawn(platform.clone(), config), owner))
        });
        Ok(Server {
            platform,
            auth,
            cors,
            base_path: self.base_path.clone(),
            scheduler,
        })
    }

    /// The platform alone (no auth, no scheduler): the lakehouse, the run
    /// store, the credential vendor and the executor, started as `start`
    /// says. Batches a crashed process of this machine was driving are
    /// ended.
    pub async fn open_platform(&self, start: ExecutorStart) -> Result<Platform> {
        let stores = self.run_store.open().await?;
        let config = EngineConfig {
            sql_access: self.sql_access,
            python: self.python.clone(),
            ..EngineConfig::default()
        };
        let engine = Engine::open(&self.lakehouse, config)
            .await?
            .with_run_store(stores.runs.clone());
        let access = self.namespace_access().await?;
        let executor: Arc<dyn Executor> = match start {
            ExecutorStart::AtOnce => {
                self.start_executor(&engine, &stores, access.clone())
                    .await?
            }
            ExecutorStart::OnFirstRun => {
                let (setup, engine, stores_later) = (self.clone(), engine.clone(), stores.clone());
                let access = access.clone();
                Arc::new(OnDemand::new(stores.runs.clone(), move || {
                    Box::pin(
                        async move { setup.start_executor(&engine, &stores_later, access).await },
                    )
                }))
            }
        };
        let grants = stores.grants.clone();
        let mut platform = Platform::new(engine, executor, stores, self.features())
            .with_maintenance(self.maintenance)
            .with_landing(self.landing);
        // Without authentication there is one user, an admin: no checks.
        if self.auth != AuthConfig::None {
            let authorizer = rat_core::authz::GrantAuthorizer::new(grants);
            platform = platform.with_authorizer(Arc::new(authorizer));
        }
        if let Some(access) = access {
            platform = platform.with_namespace_access(access);
        }
        platform.reconcile_batches().await?;
        Ok(platform)
    }

    /// Which implementations this setup composes.
    fn features(&self) -> Features {
        Features {
            storage: match &self.lakehouse.storage {
                StorageConfig::Local { .. } => "local",
                StorageConfig::S3(_) => "s3",
            }
            .into(),
            catalog: match &self.lakehouse.catalog {
                CatalogConfig::Sql { .. } => "sql",
                CatalogConfig::Rest(_) => "rest",
            }
            .into(),
            executor: self.executor.kind().into(),
            run_store: self.run_store.kind().into(),
            auth: self.auth.kind().into(),
            credential_vendor: self.credential_vendor.kind().into(),
            scheduler: false,
        }
    }

    /// Starts the executor the setup names (which adopts runs a previous
    /// instance left).
    async fn start_executor(
        &self,
        engine: &Engine,
        stores: &Stores,
        access: Option<Arc<NamespaceAccess>>,
    ) -> Result<Arc<dyn Executor>> {
        let storage = engine.storage().clone();
        match &self.executor {
            ExecutorConfig::Local(pool) => {
                // Untrusted pipelines: Python code has no box in this process.
                let engine = match self.sql_access {
                    SqlAccess::Strict => {
                        engine.with_python(engine.config().python.clone().refusing(
                            "a server's in-process executor cannot sandbox Python code; \
                             set server.executor to process or ecs",
                        ))
                    }
                    SqlAccess::ProjectFiles => engine.clone(),
                };
                let runs: Arc<dyn RunEngine> = match access {
                    Some(access) => Arc::new(ScopedEngine::new(engine, access)),
                    None => Arc::new(engine),
                };
                let local =
                    LocalExecutor::start(runs, stores.runs.clone(), storage, pool.clone()).await?;
                Ok(Arc::new(local))
            }
            ExecutorConfig::Process {
                pool,
                runner,
                python_workers,
            } => {
                let runner = match runner {
                    Some(path) => path.clone(),
                    None => rat_executor::locate_runner("set server.executor.runner")?,
                };
                let lakehouse = self.runner_lakehouse(locate_credentials_command)?;
                let mut process =
                    ProcessConfig::new(runner, lakehouse, self.state_dir.join("runs"));
                process.sql_access = self.sql_access;
                process.python = Some(self.python.interpreter.clone());
                if let Some(count) = python_workers {
                    process.python_workers = *count;
                }
                let executor =
                    ProcessExecutor::start(process, stores.runs.clone(), storage, pool.clone())
                        .await?;
                Ok(Arc::new(executor))
            }
            #[cfg(feature = "aws")]
            ExecutorConfig::Ecs { pool, ecs } => {
                // Tasks find the command on their image's PATH.
                let lakehouse =
                    self.runner_lakehouse(|| Ok(rat_cloud_aws::CREDENTIALS_PROGRAM.to_owned()))?;
                let config = ecs.as_ref().clone().with_lakehouse(lakehouse);
                let sdk = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
                let executor = rat_cloud_aws::EcsExecutor::start(
                    &sdk,
                    config,
                    stores.runs.clone(),
                    storage,
                    pool.clone(),
                )
                .await?;
                Ok(Arc::new(executor))
            }
            #[cfg(not(feature = "aws"))]
            ExecutorConfig::Ecs(_) => Err(without_aws("an ECS executor", "server.executor")),
        }
    }

    /// Per-namespace access through the credential vendor; `None` for
    /// `static` (nothing to scope).
    async fn namespace_access(&self) -> Result<Option<Arc<NamespaceAccess>>> {
        match &self.credential_vendor {
            CredentialVendorConfig::Static => Ok(None),
            #[cfg(feature = "aws")]
            CredentialVendorConfig::Sts(sts) => {
                sts.validate()?;
                let bucket = &rat_runner::access::scoped_storage(&self.lakehouse)?.bucket;
                let vendor = rat_cloud_aws::StsCredentialVendor::from_environment(
                    sts.clone().with_bucket(bucket),
                )
                .await;
                let access = NamespaceAccess::new(Arc::new(vendor), &self.lakehouse)?;
                Ok(Some(Arc::new(access)))
            }
            #[cfg(not(feature = "aws"))]
            CredentialVendorConfig::Sts(_) => Err(without_aws(
                "an STS credential vendor",
                "server.credential_vendor",
            )),
        }
    }

    /// The lakehouse as runners see it: with a vendor, the S3 credentials
    /// are a command printing their run's namespace's (`program` unless
    /// the settings name one), which finds the namespace in the
    /// environment the executor gives it.
    fn runner_lakehouse(
        &self,
        program: impl FnOnce() -> Result<String>,
    ) -> Result<LakehouseConfig> {
        match &self.credential_vendor {
            CredentialVendorConfig::Static => Ok(self.lakehouse.clone()),
            #[cfg(feature = "aws")]
            CredentialVendorConfig::Sts(sts) => {
                let bucket = &rat_runner::access::scoped_storage(&self.lakehouse)?.bucket;
                let sts = sts.clone().with_bucket(bucket);
                let program = match &sts.credentials_command {
                    Some(command) => command.clone(),
                    None => program()?,
                };
                let command = sts.credentials_command(&program);
                Ok(self
                    .lakehouse
                    .with_s3_credentials(rat_core::config::CredentialsConfig::Process { command }))
            }
            #[cfg(not(feature = "aws"))]
            CredentialVendorConfig::Sts(_) => {
                drop(program);
                Err(without_aws(
                    "an STS credential vendor",
                    "server.credential_vendor",
                ))
            }
        }
    }
}

#[cfg(not(feature = "aws"))]
fn without_aws(what: &str, field: &str) -> rat_core::Error {
    rat_core::Error::new(
        rat_core::ErrorKind::Unsupported,
        format!("this build has no {what} (rat-server feature 'aws')"),
    )
    .with_context("field", field.to_owned())
}

/// `rat-aws-credentials` beside the server (or `$RAT_AWS_CREDENTIALS`), for
/// runner processes on this machine.
fn locate_credentials_command() -> Result<String> {
    rat_executor::locate_binary(
        "rat-aws-credentials",
        "RAT_AWS_CREDENTIALS",
        "set server.credential_vendor.credentials_command",
    )
    .map(|path| path.display().to_string())
}

/// Opens `setup`, serves it on `listen` until `shutdown` completes, then
/// gives up the scheduler lease. Prints the address it listens on.
pub async fn serve(
    setup: ServerSetup,
    listen: std::net::SocketAddr,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<()> {
    let server = setup.open().await?;
    let listener = tokio::net::TcpListener::bind(listen).await.map_err(|e| {
        rat_core::Error::invalid(format!("cannot listen on {listen}: {e}"))
            .with_context("field", "listen")
    })?;
    eprintln!("rat-server: listening on http://{}", listener.local_addr()?);
    axum::serve(listener, server.router())
        .with_graceful_shutdown(shutdown)
        .await?;
    server.shutdown().await;
    Ok(())
}

#[cfg(all(test, feature = "aws"))]
mod tests {
    #![allow(clippy::unwrap_used)]
    use std::path::Path;

    use rat_core::config::CredentialsConfig;

    use super::*;

    fn load(yaml: &str) -> Result<ServerSetup> {
        ServerSetup::from_yaml(yaml, Path::new("/etc/rat"), Path::new("/srv"), Vec::new())
            .map(|(setup, _)| setup)
    }

    const S3: &str = "storage: {type: s3, bucket: lake, endpoint: http://127.0.0.1:8333, path_style: true}\n\
                      catalog: {type: rest, uri: http://127.0.0.1:8181, warehouse: s3://warehouse}\n";

    #[test]
    fn runners_get_a_command_printing_their_namespace_s_credentials() {
        let setup = load(&format!(
            "{S3}server:\n  credential_vendor: {{type: sts, role_arn: 'arn:aws:iam::1:role/ns', duration_secs: '900', external_id: x}}\n"
        ))
        .unwrap();
        assert_eq!(setup.credential_vendor.kind(), "sts");
        let runner = setup
            .runner_lakehouse(|| Ok("/opt/rat/rat-aws-credentials".into()))
            .unwrap();
        let expected = CredentialsConfig::Process {
            command: [
                "/opt/rat/rat-aws-credentials",
                "--role-arn",
                "arn:aws:iam::1:role/ns",
                "--bucket",
                "lake",
                "--duration-seconds",
                "900",
                "--external-id",
                "x",
            ]
            .map(String::from)
            .to_vec(),
        };
        let (StorageConfig::S3(storage), CatalogConfig::Rest(rest)) =
            (&runner.storage, &runner.catalog)
        else {
            panic!("{runner:?}")
        };
        assert_eq!(storage.credentials, expected);
        assert_eq!(rest.s3.credentials, expected);
        // Static changes nothing.
        let plain = load(S3).unwrap();
        assert_eq!(plain.credential_vendor, CredentialVendorConfig::Static);
        let same = plain.runner_lakehouse(|| unreachable!()).unwrap();
        assert_eq!(same, plain.lakehouse);
    }

    #[tokio::test]
    async fn what_a_vendor_cannot_scope_is_refused_by_name() {
        let sts = "credential_vendor: {type: sts, role_arn: 'arn:aws:iam::1:role/ns'}";
        let cases = [
            (format!("server:\n  {sts}\n"), "server.credential_vendor"),
            (
                format!(
                    "storage: {{type: s3, bucket: lake, prefix: shop}}\ncatalog: {{type: sql, path: c.db, warehouse: w}}\nserver:\n  {sts}\n"
                ),
                "storage.prefix",
            ),
            (
                format!("{S3}server:\n  credential_vendor: {{type: sts, role_arn: runner}}\n"),
                "role_arn",
            ),
            (
                format!(
                    "{S3}server:\n  credential_vendor: {{type: sts, role_arn: 'arn:aws:iam::1:role/ns', duration_secs: 60}}\n"
                ),
                "duration_secs",
            ),
        ];
        for (yaml, named) in cases {
            let setup = load(&yaml).unwrap();
            let err = setup.namespace_access().await.unwrap_err();
            assert!(err.to_string().contains(named), "{yaml}: {err}");
        }
    }
}
