//! What an [`EcsExecutor`](super::EcsExecutor) launches and where, in
//! code or from `rat.yaml` (`server.executor: {type: ecs, ...}`).

use std::collections::BTreeMap;
use std::time::Duration;

use rat_core::config::de;
use rat_core::{Error, LakehouseConfig, Result, TableRef};
use serde::{Deserialize, Serialize};

/// Where tasks run and what they run. Built with [`EcsConfig::new`] and
/// the `with_*` methods, or read from a config file (where durations are
/// `start_timeout_secs`, `max_runtime_secs`, `poll_interval_ms`,
/// `retry_base_ms`, `retry_max_ms`, `log_drain_secs`, and the lakehouse
/// runners use is set by whoever composes the executor); checked by
/// [`EcsConfig::validate`].
///
/// ```
/// let config: rat_cloud_aws::EcsConfig = serde_yaml_ng::from_str(
///     "{cluster: rat, subnets: [subnet-a], security_groups: [sg-1], task_definition: rat-runner:3,
///       capacity_providers: [{name: FARGATE_SPOT, weight: 3}], start_timeout_secs: 300}",
/// ).unwrap();
/// assert_eq!(config.start_timeout.as_secs(), 300);
/// assert!(config.validate().unwrap_err().to_string().contains("lakehouse"));
/// ```
///
/// ```
/// use rat_cloud_aws::{CapacityProvider, EcsConfig, TaskDefinitionSource, TaskSize};
///
/// let config = EcsConfig::new(
///     "rat-cluster",
///     TaskDefinitionSource::Existing("rat-runner:3".into()),
///     vec!["subnet-0abc".into()],
///     vec!["sg-0abc".into()],
///     rat_core::LakehouseConfig::embedded(std::path::Path::new(".")),
/// )
/// .with_capacity_providers(vec![
///     CapacityProvider::new("FARGATE_SPOT", 3),
///     CapacityProvider::new("FARGATE", 1).with_base(1),
/// ])
/// .with_size("shop.gold.daily_revenue", TaskSize::new(2048, 8192));
/// config.validate().unwrap();
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EcsConfig {
    /// Cluster name or ARN.
    pub cluster: String,
    /// The task definition runs use.
    pub task_definition: TaskDefinitionSource,
    /// The runner's container in that task definition.
    #[serde(default = "runner_container")]
    pub container_name: String,
    /// Launch type (`FARGATE` by default) unless capacity providers are set.
    #[serde(default)]
    pub capacity_providers: Vec<CapacityProvider>,
    /// Subnets of the tasks' network interfaces.
    pub subnets: Vec<String>,
    /// Security groups of the tasks' network interfaces.
    pub security_groups: Vec<String>,
    /// Give tasks a public IP (needed in public subnets without NAT).
    #[serde(default, rename = "public_ip")]
    pub assign_public_ip: bool,
    /// Fargate platform version (`LATEST` when `None`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub platform_version: Option<String>,
    /// Task cpu/memory per pipeline (`namespace.layer.name`), overriding
    /// the task definition's.
    #[serde(default)]
    pub sizes: BTreeMap<String, TaskSize>,
    /// Tags added to every task besides rat's own.
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
    /// Storage and catalog the runners use: references to secrets only,
    /// resolved inside the task (see the crate docs for the flow). Set by
    /// [`EcsConfig::new`] or [`EcsConfig::with_lakehouse`], never read
    /// from a config file (the composer derives it from the lakehouse's).
    #[serde(skip)]
    pub lakehouse: Option<LakehouseConfig>,
    /// A task not running this long after launch is stopped and the run
    /// fails (a task stuck in PENDING never holds a run forever).
    #[serde(
        default = "start_timeout",
        rename = "start_timeout_secs",
        with = "de::secs"
    )]
    pub start_timeout: Duration,
    /// A run's limit when its request sets none.
    #[serde(
        default,
        rename = "max_runtime_secs",
        with = "de::optional_secs",
        skip_serializing_if = "Option::is_none"
    )]
    pub max_runtime: Option<Duration>,
    /// How often task states and logs are read.
    #[serde(
        default = "poll_interval",
        rename = "poll_interval_ms",
        with = "de::millis"
    )]
    pub poll_interval: Duration,
    /// RunTask calls per second, at most.
    #[serde(default = "run_task_rate", deserialize_with = "de::number")]
    pub run_task_rate: f64,
    /// Attempts of one ECS call or launch before the run fails (throttling,
    /// capacity, tasks that failed to start).
    #[serde(default = "max_attempts", deserialize_with = "de::number")]
    pub max_attempts: u32,
    /// First retry delay; doubles per attempt, with jitter.
    #[serde(default = "retry_base", rename = "retry_base_ms", with = "de::millis")]
    pub retry_base: Duration,
    /// Retry delays never exceed this.
    #[serde(default = "retry_max", rename = "retry_max_ms", with = "de::millis")]
    pub retry_max: Duration,
    /// Events per GetLogEvents page.
    #[serde(default = "log_page_size", deserialize_with = "de::number")]
    pub log_page_size: i32,
    /// After a task stops, how long its last log lines may take to arrive.
    #[serde(default = "log_drain", rename = "log_drain_secs", with = "de::secs")]
    pub log_drain: Duration,
}

fn runner_container() -> String {
    "rat-runner".into()
}

fn start_timeout() -> Duration {
    Duration::from_secs(600)
}

fn poll_interval() -> Duration {
    Duration::from_secs(5)
}

fn run_task_rate() -> f64 {
    20.0
}

fn max_attempts() -> u32 {
    5
}

fn retry_base() -> Duration {
    Duration::from_secs(1)
}

fn retry_max() -> Duration {
    Duration::from_secs(30)
}

fn log_page_size() -> i32 {
    10_000
}

fn log_drain() -> Duration {
    Duration::from_secs(10)
}

impl EcsConfig {
    /// Defaults: launch type FARGATE, container `rat-runner`, no public
    /// IP, 10 min start timeout, 5 s polling, 20 RunTask/s, 5 attempts from
    /// 1 s up to 30 s, 10,000 events per log page, 10 s log drain.
    pub fn new(
        cluster: impl Into<String>,
        task_definition: TaskDefinitionSource,
        subnets: Vec<String>,
        security_groups: Vec<String>,
        lakehouse: LakehouseConfig,
    ) -> Self {
        Self {
            cluster: cluster.into(),
            task_definition,
            container_name: runner_container(),
            capacity_providers: Vec::new(),
            subnets,
            security_groups,
            assign_public_ip: false,
            platform_version: None,
            sizes: BTreeMap::new(),
            tags: BTreeMap::new(),
            lakehouse: Some(lakehouse),
            start_timeout: start_timeout(),
            max_runtime: None,
            poll_interval: poll_interval(),
            run_task_rate: run_task_rate(),
            max_attempts: max_attempts(),
            retry_base: retry_base(),
            retry_max: retry_max(),
            log_page_size: log_page_size(),
            log_drain: log_drain(),
        }
    }

    /// The same, with runners using `lakehouse`.
    pub fn with_lakehouse(mut self, lakehouse: LakehouseConfig) -> Self {
        self.lakehouse = Some(lakehouse);
        self
    }

    /// The lakehouse runners use.
    pub fn runner_lakehouse(&self) -> Result<&LakehouseConfig> {
        self.lakehouse.as_ref().ok_or_else(|| {
            Error::invalid(
                "ECS executor: the lakehouse runners use is not set (EcsConfig::with_lakehouse)",
            )
            .with_context("field", "lakehouse")
        })
    }

    /// Launches through capacity providers (e.g. `FARGATE_SPOT` then
    /// `FARGATE`) instead of the FARGATE launch type.
    pub fn with_capacity_providers(mut self, providers: Vec<CapacityProvider>) -> Self {
        self.capacity_providers = providers;
        self
    }

    /// Task size of one pipeline (`namespace.layer.name`).
    pub fn with_size(mut self, pipeline: impl Into<String>, size: TaskSize) -> Self {
        self.sizes.insert(pipeline.into(), size);
        self
    }

    /// A tag on every task.
    pub fn with_tag(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.tags.insert(key.into(), value.into());
        self
    }

    /// Polling interval of task states and logs.
    pub fn with_poll_interval(mut self, interval: Duration) -> Self {
        self.poll_interval = interval;
        self
    }

    /// Retry policy: attempts, first delay, largest delay.
    pub fn with_retries(mut self, attempts: u32, base: Duration, max: Duration) -> Self {
        self.max_attempts = attempts;
        self.retry_base = base;
        self.retry_max = max;
        self
    }

    /// The size a run of `table` gets, if configured.
    pub fn size_of(&self, table: &TableRef) -> Option<TaskSize> {
        self.sizes.get(&table.to_string()).copied()
    }

    /// Checks the configuration; errors name the field.
    pub fn validate(&self) -> Result<()> {
        let field = |name: &str, message: &str| {
            Err(Error::invalid(format!("ECS executor: {message}")).with_context("field", name))
        };
        if self.cluster.trim().is_empty() {
            return field("cluster", "a cluster is required");
        }
        self.runner_lakehouse()?;
        if self.subnets.is_empty() {
            return field("subnets", "at least one subnet is required (awsvpc)");
        }
        if self.security_groups.is_empty() {
            return field("security_groups", "at least one security group is required");
        }
        if !(self.run_task_rate > 0.0 && self.run_task_rate <= 20.0) {
            return field("run_task_rate", "must be above 0 and at most 20 per second");
        }
        if self.max_attempts == 0 {
            return field("max_attempts", "must be at least 1");
        }
        if self.poll_interval.is_zero() {
            return field("poll_interval", "must be positive");
        }
        if !(1..=10_000).contains(&self.log_page_size) {
            return field("log_page_size", "must be 1 to 10000");
        }
        for (pipeline, size) in &self.sizes {
            pipeline
                .parse::<TableRef>()
                .map_err(|e| e.with_context("field", format!("sizes.{pipeline}")))?;
            size.validate()
                .map_err(|e| e.with_context("field", format!("sizes.{pipeline}")))?;
        }
        for key in self.tags.keys() {
            if key.starts_with("rat:") || key.starts_with("aws:") {
                return field("tags", "tag keys starting with rat: or aws: are reserved");
            }
        }
        if let TaskDefinitionSource::Register(spec) = &self.task_definition {
            spec.validate()?;
            if spec.container_name != self.container_name {
                return field(
                    "container_name",
                    "must name the container of the registered task definition",
                );
            }
        }
        Ok(())
    }
}

/// One capacity provider of a strategy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CapacityProvider {
    /// `FARGATE`, `FARGATE_SPOT` or a provider of the cluster.
    pub name: String,
    /// Relative share of tasks.
    #[serde(default = "one", deserialize_with = "de::number")]
    pub weight: i32,
    /// Tasks placed here first.
    #[serde(default, deserialize_with = "de::number")]
    pub base: i32,
}

fn one() -> i32 {
    1
}

impl CapacityProvider {
    /// A provider with `weight` and no base.
    pub fn new(name: impl Into<String>, weight: i32) -> Self {
        Self {
            name: name.into(),
            weight,
            base: 0,
        }
    }

    /// The same with a base.
    pub fn with_base(mut self, base: i32) -> Self {
        self.base = base;
        self
    }
}

/// Task cpu units and memory in MiB (a Fargate combination).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TaskSize {
    /// CPU units (1024 = one vCPU).
    #[serde(deserialize_with = "de::number")]
    pub cpu: u32,
    /// Memory in MiB.
    #[serde(deserialize_with = "de::number")]
    pub memory: u32,
}

impl TaskSize {
    /// `cpu` units and `memory` MiB.
    pub fn new(cpu: u32, memory: u32) -> Self {
        Self { cpu, memory }
    }

    fn validate(&self) -> Result<()> {
        let (low, high) = match self.cpu {
            256 => (512, 2048),
            512 => (1024, 4096),
            1024 => (2048, 8192),
            2048 => (4096, 16384),
            4096 => (8192, 30720),
            8192 => (16384, 61440),
            16384 => (32768, 122880),
            _ => {
                return Err(Error::invalid(format!(
                    "cpu {} is not a Fargate size (256, 512, 1024, 2048, 4096, 8192, 16384)",
                    self.cpu
                )));
            }
        };
        if !(low..=high).contains(&self.memory) {
            return Err(Error::invalid(format!(
                "memory {} MiB does not fit cpu {} on Fargate ({low} to {high} MiB)",
                self.memory, self.cpu
            )));
        }
        Ok(())
    }
}

/// Which task definition runs use: in a config file, a name (`rat-runner`,
/// `rat-runner:3`, an ARN) or the fields of [`TaskDefinitionSpec`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum TaskDefinitionSource {
    /// A family (latest active revision), `family:revision` or an ARN.
    Existing(String),
    /// Registered from this description, or an identical active revision
    /// reused.
    Register(Box<TaskDefinitionSpec>),
}

/// A task definition for the runner, registered by the executor (in a
/// config file `cpu` and `memory` sit beside the other fields).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TaskDefinitionSpec {
    /// Family name.
    pub family: String,
    /// Image holding `rat-runner` (and `rat-aws-credentials`).
    pub image: String,
    /// The runner's container.
    #[serde(default = "runner_container")]
    pub container_name: String,
    /// Default task size.
    #[serde(flatten)]
    pub size: TaskSize,
    /// Role ECS uses to pull the image, write logs and read `secrets`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub execution_role_arn: Option<String>,
    /// Role of the runner itself (what it may assume for scoped access).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task_role_arn: Option<String>,
    /// CloudWatch log group of the runner's output.
    pub log_group: String,
    /// Region of the log group (the executor's region when `None`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log_region: Option<String>,
    /// Stream prefix: streams are `<prefix>/<container>/<task id>`.
    #[serde(default = "stream_prefix")]
    pub log_stream_prefix: String,
    /// Environment variables filled from Secrets Manager or SSM by ECS
    /// (`name` → `valueFrom` ARN): how secrets reach the runner without
    /// appearing in any request.
    #[serde(default)]
    pub secrets: BTreeMap<String, String>,
    /// Plain environment variables.
    #[serde(default)]
    pub environment: BTreeMap<String, String>,
}

fn stream_prefix() -> String {
    "rat".into()
}

impl TaskDefinitionSpec {
    fn validate(&self) -> Result<()> {
        let field = |name: &str, message: &str| {
            Err(Error::invalid(format!("ECS task definition: {message}"))
                .with_context("field", format!("task_definition.{name}")))
        };
        let family_ok = !self.family.is_empty()
            && self.family.len() <= 255
            && self
                .family
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
        if !family_ok {
            return field("family", "letters, digits, - and _ only, 1 to 255");
        }
        if self.image.trim().is_empty() {
            return field("image", "an image is required");
        }
        if self.log_group.trim().is_empty() {
            return field("log_group", "a log group is required");
        }
        if self.log_region.as_deref().is_none_or(str::is_empty) {
            return field(
                "log_region",
                "the log group's region is unknown: set it, or AWS_REGION",
            );
        }
        self.size
            .validate()
            .map_err(|e| e.with_context("field", "task_definition.size"))
    }
}
