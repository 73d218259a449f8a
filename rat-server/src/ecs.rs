//! `server.executor: {type: ecs, ...}`: each run an ECS Fargate task
//! (`rat_cloud_aws::EcsExecutor`), configured in `rat.yaml`.
//!
//! ```yaml
//! executor:
//!   type: ecs
//!   workers: 32            # tasks at once; per_namespace caps one namespace
//!   cluster: rat
//!   subnets: [subnet-a, subnet-b]
//!   security_groups: [sg-1]
//!   capacity_providers: [{name: FARGATE_SPOT, weight: 3}, {name: FARGATE, weight: 1, base: 1}]
//!   task_definition:       # or the family/ARN of an existing one: "rat-runner:3"
//!     family: rat-runner
//!     image: 123456789012.dkr.ecr.eu-west-1.amazonaws.com/rat-runner:0.1
//!     cpu: 1024
//!     memory: 4096
//!     execution_role_arn: arn:aws:iam::123456789012:role/rat-execution
//!     task_role_arn: arn:aws:iam::123456789012:role/rat-task
//!     log_group: /rat/runs
//!     secrets: {RAT_CATALOG_TOKEN: arn:aws:secretsmanager:...:secret:rat-catalog}
//! ```
//!
//! AWS region and credentials come from the standard provider chain of
//! the server's process.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// The ECS executor's settings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EcsSettings {
    /// Tasks at once.
    #[serde(default = "workers", deserialize_with = "crate::config::count")]
    pub workers: usize,
    /// Runs waiting beyond those; more are refused with 429.
    #[serde(default = "queue", deserialize_with = "crate::config::count")]
    pub queue: usize,
    /// Tasks of one namespace at once.
    #[serde(default)]
    pub per_namespace: Option<usize>,
    /// Cluster name or ARN.
    pub cluster: String,
    /// The task definition: an existing family/ARN, or one to register.
    pub task_definition: TaskDefinitionSetting,
    /// Subnets of the tasks.
    pub subnets: Vec<String>,
    /// Security groups of the tasks.
    pub security_groups: Vec<String>,
    /// Give tasks a public IP.
    #[serde(default)]
    pub public_ip: bool,
    /// Capacity provider strategy (FARGATE launch type when empty).
    #[serde(default)]
    pub capacity_providers: Vec<CapacityProviderSetting>,
    /// Seconds a task may take to start.
    #[serde(default)]
    pub start_timeout_secs: Option<u64>,
}

fn workers() -> usize {
    8
}

fn queue() -> usize {
    256
}

/// `task_definition:`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum TaskDefinitionSetting {
    /// The family (`rat-runner`, `rat-runner:3`) or ARN of an existing one.
    Existing(String),
    /// One rat registers, and reuses while it matches.
    Register(Box<TaskDefinitionSettings>),
}

/// A task definition to register.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TaskDefinitionSettings {
    /// Family.
    pub family: String,
    /// Image with `rat-runner` as its entry point.
    pub image: String,
    /// CPU units (256, 512, 1024...).
    pub cpu: u32,
    /// Memory in MiB.
    pub memory: u32,
    /// Role pulling the image, writing logs and reading `secrets`.
    #[serde(default)]
    pub execution_role_arn: Option<String>,
    /// Role of the runner.
    #[serde(default)]
    pub task_role_arn: Option<String>,
    /// CloudWatch log group.
    pub log_group: String,
    /// Log stream prefix.
    #[serde(default = "prefix")]
    pub log_stream_prefix: String,
    /// Variables ECS fills from Secrets Manager or SSM (`NAME: ARN`).
    #[serde(default)]
    pub secrets: BTreeMap<String, String>,
    /// Plain variables.
    #[serde(default)]
    pub environment: BTreeMap<String, String>,
}

fn prefix() -> String {
    "rat".into()
}

/// One capacity provider of the strategy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CapacityProviderSetting {
    /// `FARGATE` or `FARGATE_SPOT`.
    pub name: String,
    /// Relative share.
    #[serde(default = "one")]
    pub weight: i32,
    /// Tasks placed here first.
    #[serde(default)]
    pub base: i32,
}

fn one() -> i32 {
    1
}

#[cfg(feature = "aws")]
mod build {
    use std::sync::Arc;

    use rat_cloud_aws::{
        CapacityProvider, EcsConfig, EcsExecutor, TaskDefinitionSource, TaskDefinitionSpec,
        TaskSize,
    };
    use rat_core::{LakehouseConfig, Result, RunStore, Storage};
    use rat_executor::PoolConfig;

    use super::{Duration, EcsSettings, TaskDefinitionSetting};

    impl EcsSettings {
        /// Starts the executor (registering or reusing the task definition,
        /// adopting runs a previous instance left).
        pub async fn start(
            &self,
            lakehouse: &LakehouseConfig,
            store: Arc<dyn RunStore>,
            storage: Arc<dyn Storage>,
        ) -> Result<EcsExecutor> {
            let sdk = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
            let region = sdk
                .region()
                .map_or_else(|| "us-east-1".to_owned(), |r| r.to_string());
            let task_definition = match &self.task_definition {
                TaskDefinitionSetting::Existing(name) => {
                    TaskDefinitionSource::Existing(name.clone())
                }
                TaskDefinitionSetting::Register(spec) => {
                    TaskDefinitionSource::Register(Box::new(TaskDefinitionSpec {
                        family: spec.family.clone(),
                        image: spec.image.clone(),
                        container_name: "rat-runner".into(),
                        size: TaskSize::new(spec.cpu, spec.memory),
                        execution_role_arn: spec.execution_role_arn.clone(),
                        task_role_arn: spec.task_role_arn.clone(),
                        log_group: spec.log_group.clone(),
                        log_region: region.clone(),
                        log_stream_prefix: spec.log_stream_prefix.clone(),
                        secrets: spec.secrets.clone(),
                        environment: spec.environment.clone(),
                    }))
                }
            };
            let mut config = EcsConfig::new(
                &self.cluster,
                task_definition,
                self.subnets.clone(),
                self.security_groups.clone(),
                lakehouse.clone(),
            )
            .with_capacity_providers(
                self.capacity_providers
                    .iter()
                    .map(|p| CapacityProvider::new(&p.name, p.weight).with_base(p.base))
                    .collect(),
            );
            config.assign_public_ip = self.public_ip;
            if let Some(secs) = self.start_timeout_secs {
                config.start_timeout = Duration::from_secs(secs);
            }
            config.validate()?;
            let pool = PoolConfig {
                workers: self.workers.max(1),
                queue: self.queue.max(1),
                per_namespace: self.per_namespace,
                ..PoolConfig::default()
            };
            EcsExecutor::start(&sdk, config, store, storage, pool).await
        }
    }
}
