//! rat on AWS, composed by hand: pipelines in S3, tables in an Iceberg REST
//! catalog, every run an ECS Fargate task, every credential scoped to one
//! namespace.
//!
//! What each piece does:
//!
//! - [`StsCredentialVendor`] turns this program's own AWS identity into
//!   credentials for `<bucket>/<namespace>/` only. The project upload and
//!   the planning below use them ([`ScopedCredentials`]), so even the
//!   launcher cannot touch another namespace.
//! - [`S3Storage`] holds the project under `<namespace>/pipelines/`.
//! - [`EcsExecutor`] starts one task per run from a task definition it
//!   registers (or reuses, when an identical revision exists). Nothing
//!   secret goes into a RunTask request:
//!   - the runner's S3 credentials are a `credential_process` running
//!     `rat-aws-credentials` inside the task, with the task role, scoped to
//!     the run's namespace (the executor names it in the task's
//!     environment);
//!   - the catalog token is a task definition secret: ECS reads it from
//!     Secrets Manager with the execution role and sets
//!     [`CATALOG_TOKEN_VARIABLE`], which the lakehouse configuration names.
//!
//! `src/main.rs` is the command line around [`Fargate`]; the test in
//! `tests/` runs it against moto (ECS, CloudWatch Logs, Secrets Manager)
//! and SeaweedFS (S3, STS, the REST catalog).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use futures::StreamExt;
use rat_cloud_aws::{
    CapacityProvider, EcsConfig, EcsExecutor, StsCredentialVendor, StsVendorConfig,
    TaskDefinitionSource, TaskDefinitionSpec, TaskSize,
};
use rat_core::config::{
    CatalogConfig, CredentialsConfig, RestAuth, RestCatalogConfig, S3Settings, S3StorageConfig,
    SecretRef, StorageConfig,
};
use rat_core::{
    CredentialScope, Executor, Identifier, LakehouseConfig, LogCursor, LogRecord, ObjectKey,
    Project, ProjectSource, RunId, RunRecord, RunRequest, ScopedCredentials, Storage, StorageExt,
    TableRef,
};
use rat_executor::{PoolConfig, SqliteRunStore};
use rat_runner::dag::Dag;
use rat_runner::storage::S3Storage;

/// The environment variable ECS fills with the catalog token in each task.
pub const CATALOG_TOKEN_VARIABLE: &str = "RAT_CATALOG_TOKEN";

/// Where things are on AWS. Every flag can also be set by its environment
/// variable, as a deployment would.
#[derive(Debug, Clone, clap::Args)]
pub struct Settings {
    /// ECS cluster (name or ARN).
    #[arg(long, env = "RAT_FARGATE_CLUSTER")]
    pub cluster: String,
    /// Subnets of the tasks, comma-separated.
    #[arg(
        long,
        env = "RAT_FARGATE_SUBNETS",
        value_delimiter = ',',
        required = true
    )]
    pub subnets: Vec<String>,
    /// Security groups of the tasks, comma-separated.
    #[arg(
        long,
        env = "RAT_FARGATE_SECURITY_GROUPS",
        value_delimiter = ',',
        required = true
    )]
    pub security_groups: Vec<String>,
    /// Give tasks a public IP (public subnets without a NAT gateway).
    #[arg(long, env = "RAT_FARGATE_PUBLIC_IP")]
    pub public_ip: bool,
    /// Run on Fargate Spot (3:1, at least one task on demand).
    #[arg(long, env = "RAT_FARGATE_SPOT")]
    pub spot: bool,
    /// Image with `rat-runner` as its entry point and `rat-aws-credentials`
    /// on its PATH.
    #[arg(long, env = "RAT_FARGATE_IMAGE")]
    pub image: String,
    /// Role ECS uses to pull the image, write logs and read the token secret.
    #[arg(long, env = "RAT_FARGATE_EXECUTION_ROLE")]
    pub execution_role: String,
    /// Role of the runner; it may only assume `--vending-role`.
    #[arg(long, env = "RAT_FARGATE_TASK_ROLE")]
    pub task_role: String,
    /// CloudWatch log group of the runners' output.
    #[arg(long, env = "RAT_FARGATE_LOG_GROUP", default_value = "/rat/runs")]
    pub log_group: String,
    /// Role assumed with a session policy for one namespace's prefix.
    #[arg(long, env = "RAT_FARGATE_VENDING_ROLE")]
    pub vending_role: String,
    /// Bucket holding one project per namespace, under `<namespace>/`.
    #[arg(long, env = "RAT_FARGATE_BUCKET")]
    pub bucket: String,
    /// Endpoint of an S3-compatible service (path-style); AWS when absent.
    #[arg(long, env = "RAT_FARGATE_S3_ENDPOINT")]
    pub s3_endpoint: Option<String>,
    /// Lifetime of vended credentials, in seconds.
    #[arg(long, env = "RAT_FARGATE_SESSION_SECONDS", default_value_t = 3600)]
    pub session_seconds: u64,
    /// Iceberg REST catalog URL.
    #[arg(long, env = "RAT_FARGATE_CATALOG_URI")]
    pub catalog_uri: String,
    /// Warehouse to ask the catalog for.
    #[arg(long, env = "RAT_FARGATE_WAREHOUSE")]
    pub warehouse: Option<String>,
    /// Secrets Manager (or SSM parameter) ARN holding the catalog's bearer token.
    #[arg(long, env = "RAT_FARGATE_CATALOG_TOKEN_SECRET")]
    pub catalog_token_secret: String,
    /// The namespace whose pipelines run.
    #[arg(long, env = "RAT_FARGATE_NAMESPACE", default_value = "shop")]
    pub namespace: String,
    /// Run records and logs, kept across restarts of this program.
    #[arg(
        long,
        env = "RAT_FARGATE_RUN_STORE",
        default_value = ".rat/fargate-runs.db"
    )]
    pub run_store: PathBuf,
    /// The credentials command as the task's image has it.
    #[arg(long, default_value = "rat-aws-credentials")]
    pub credentials_command: String,
    /// How often task states and logs are read, in milliseconds.
    #[arg(long, default_value_t = 5000)]
    pub poll_ms: u64,
}

/// The AWS clients' configuration: ECS and CloudWatch Logs, and STS (one
/// and the same on AWS; separate when testing against local servers).
#[derive(Debug, Clone)]
pub struct Aws {
    /// For ECS and CloudWatch Logs.
    pub ecs: aws_types::SdkConfig,
    /// For STS.
    pub sts: aws_types::SdkConfig,
}

impl Settings {
    fn region(aws: &Aws) -> String {
        aws.sts
            .region()
            .map_or_else(|| "us-east-1".to_owned(), |r| r.to_string())
    }

    fn s3(&self, region: &str, credentials: CredentialsConfig) -> S3Settings {
        S3Settings {
            endpoint: self.s3_endpoint.clone(),
            region: region.to_owned(),
            path_style: self.s3_endpoint.is_some(),
            credentials,
        }
    }

    fn storage(&self, region: &str, credentials: CredentialsConfig) -> S3StorageConfig {
        let s3 = self.s3(region, credentials);
        S3StorageConfig {
            bucket: self.bucket.clone(),
            prefix: None,
            endpoint: s3.endpoint,
            region: s3.region,
            path_style: s3.path_style,
            credentials: s3.credentials,
        }
    }

    /// What every runner task gets: references to secrets, never values.
    pub fn lakehouse(&self, region: &str) -> LakehouseConfig {
        // The namespace and run id come from the task's environment.
        let scoped = CredentialsConfig::Process {
            command: vec![
                self.credentials_command.clone(),
                "--role-arn".into(),
                self.vending_role.clone(),
                "--bucket".into(),
                self.bucket.clone(),
                "--duration-seconds".into(),
                self.session_seconds.to_string(),
            ],
        };
        LakehouseConfig {
            storage: StorageConfig::S3(self.storage(region, scoped.clone())),
            catalog: CatalogConfig::Rest(Box::new(RestCatalogConfig {
                uri: self.catalog_uri.clone(),
                warehouse: self.warehouse.clone(),
                auth: RestAuth::Bearer {
                    token: SecretRef::Env(CATALOG_TOKEN_VARIABLE.into()),
                },
                // The catalog scopes table access itself; the namespace's
                // credentials serve tables it vends nothing for.
                vended_credentials: true,
                s3: self.s3(region, scoped),
            })),
        }
    }

    /// The executor's configuration: a registered task definition whose
    /// only secret is the catalog token, read by ECS.
    pub fn ecs(&self, region: &str) -> Result<EcsConfig> {
        let task_definition = TaskDefinitionSpec {
            family: "rat-runner".into(),
            image: self.image.clone(),
            container_name: "rat-runner".into(),
            size: TaskSize::new(1024, 4096),
            execution_role_arn: Some(self.execution_role.clone()),
            task_role_arn: Some(self.task_role.clone()),
            log_group: self.log_group.clone(),
            log_region: Some(region.to_owned()),
            log_stream_prefix: "rat".into(),
            secrets: BTreeMap::from([(
                CATALOG_TOKEN_VARIABLE.to_owned(),
                self.catalog_token_secret.clone(),
            )]),
            environment: BTreeMap::new(),
        };
        let mut config = EcsConfig::new(
            &self.cluster,
            TaskDefinitionSource::Register(Box::new(task_definition)),
            self.subnets.clone(),
            self.security_groups.clone(),
            self.lakehouse(region),
        )
        .with_poll_interval(Duration::from_millis(self.poll_ms.max(100)));
        config.assign_public_ip = self.public_ip;
        if self.spot {
            config = config.with_capacity_providers(vec![
                CapacityProvider::new("FARGATE_SPOT", 3),
                CapacityProvider::new("FARGATE", 1).with_base(1),
            ]);
        }
        config.validate()?;
        Ok(config)
    }
}

/// The composed platform for one namespace.
#[derive(Debug)]
pub struct Fargate {
    executor: EcsExecutor,
    storage: Arc<dyn Storage>,
    source: ProjectSource,
}

impl Fargate {
    /// Vendor, scoped storage, run store and executor (which registers or
    /// reuses the task definition and adopts runs a previous instance of
    /// this program left running).
    pub async fn start(settings: &Settings, aws: &Aws) -> Result<Self> {
        let source = ProjectSource::namespaced(&settings.namespace)
            .context("--namespace / RAT_FARGATE_NAMESPACE")?;
        let region = Settings::region(aws);
        let mut vending = StsVendorConfig::new(&settings.vending_role, &settings.bucket);
        vending.duration = Duration::from_secs(settings.session_seconds);
        let vendor = Arc::new(StsCredentialVendor::new(&aws.sts, vending));
        let scope = CredentialScope {
            namespace: source.namespace.clone(),
            run_id: None,
        };
        let scoped = Arc::new(ScopedCredentials::new(vendor, scope));
        // The config's credentials are replaced by the vendor's.
        let config = settings.storage(&region, CredentialsConfig::Anonymous);
        let storage: Arc<dyn Storage> = Arc::new(S3Storage::with_credentials(
            &config,
            Some(scoped as Arc<dyn rat_core::CredentialProvider>),
        )?);
        let store = Arc::new(
            SqliteRunStore::open(&settings.run_store)
                .await
                .with_context(|| format!("run store {}", settings.run_store.display()))?,
        );
        let executor = EcsExecutor::start(
            &aws.ecs,
            settings.ecs(&region)?,
            store,
            storage.clone(),
            PoolConfig::default(),
        )
        .await?;
        Ok(Self {
            executor,
            storage,
            source,
        })
    }

    /// The namespace.
    pub fn namespace(&self) -> &Identifier {
        &self.source.namespace
    }

    /// The executor, to cancel or inspect runs.
    pub fn executor(&self) -> &EcsExecutor {
        &self.executor
    }

    /// Copies a project folder's `pipelines/` and `landing/` to the
    /// namespace's prefix; the number of files.
    pub async fn upload(&self, project: &Path) -> Result<usize> {
        let mut files = 0;
        for part in ["pipelines", "landing"] {
            let root = project.join(part);
            if !root.is_dir() {
                continue;
            }
            for entry in walkdir::WalkDir::new(&root) {
                let entry = entry?;
                if !entry.file_type().is_file() {
                    continue;
                }
                let relative = entry.path().strip_prefix(project)?.to_string_lossy();
                let key = self.source.key(&relative.replace('\\', "/"))?;
                let bytes = std::fs::read(entry.path())
                    .with_context(|| format!("{}", entry.path().display()))?;
                self.storage.put(&key, bytes.into()).await?;
                files += 1;
            }
        }
        if files == 0 {
            bail!("{} has no pipelines/ folder", project.display());
        }
        Ok(files)
    }

    /// The pipelines to run, upstream first: `selected` (`layer.name`) or all.
    pub async fn plan(&self, selected: &[String]) -> Result<Vec<TableRef>> {
        let project = Project::load(self.storage.as_ref(), &self.source).await?;
        if project.pipelines.is_empty() {
            let key = ObjectKey::new(format!("{}pipelines/", self.source.prefix))?;
            bail!("no pipelines under {key}: upload a project first (--upload DIR)");
        }
        let (dag, _) = Dag::build(&project, &rat_runner::python::PythonConfig::from_env())?;
        if selected.is_empty() {
            return Ok(dag.order);
        }
        let targets = selected
            .iter()
            .map(|p| TableRef::parse(p, self.source.namespace.as_str()))
            .collect::<rat_core::Result<Vec<_>>>()?;
        Ok(dag.select(&targets)?)
    }

    /// Starts one pipeline's run (queued until a worker launches its task).
    pub async fn submit(&self, table: &TableRef) -> Result<RunId> {
        Ok(self
            .executor
            .submit(RunRequest::pipeline(table.clone()))
            .await?)
    }

    /// Hands each log line of `run` to `on_line` as it arrives, until the
    /// run ends; its final record.
    pub async fn follow(
        &self,
        run: &RunId,
        mut on_line: impl FnMut(&LogRecord),
    ) -> Result<RunRecord> {
        let follow = LogCursor {
            from_seq: 0,
            follow: true,
        };
        let mut lines = self.executor.logs(run, follow).await?;
        while let Some(line) = lines.next().await {
            on_line(&line);
        }
        Ok(self.executor.status(run).await?)
    }
}
