//! [`EcsExecutor`]: each run is one ECS Fargate task running `rat-runner`.

mod api;
mod config;
mod follow;
mod launch;
mod task;
mod taskdef;
mod tracker;

use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use rat_core::{ErrorKind, Result, RunRecord, RunSpec, RunStatus, RunStore, Storage};
use rat_executor::{Launcher, LiveRun, Outcome, Pool, PoolConfig, forward_executor};

use crate::cloudwatch::CloudWatchLogs;
pub use config::{CapacityProvider, EcsConfig, TaskDefinitionSource, TaskDefinitionSpec, TaskSize};
use follow::{Followed, Following};
use task::TaskHandle;
use taskdef::ResolvedTaskDefinition;
use tracker::Tracker;

/// Runs each pipeline as an ECS Fargate task of the `rat-runner` image.
///
/// - **Submit** is the pool's: validated, recorded, queued; at most
///   `PoolConfig::workers` tasks at once and `PoolConfig::per_namespace`
///   per namespace, the rest wait in the queue.
/// - **Launch**: RunTask with `startedBy` and `clientToken` = run id (a
///   repeated call starts one task), tags `rat:run-id`, `rat:namespace`,
///   `rat:pipeline`, the run spec in a container override — references to
///   secrets only, never values. At most `run_task_rate` calls per second;
///   throttling (also inside `InvalidParameterException`), capacity and
///   server errors are retried with jittered exponential backoff, and so is
///   a task that failed to start (a new attempt, a new client token), up to
///   `max_attempts`.
/// - **Tracking**: the (cluster, task ARN, log stream, log token) of the
///   run is written to the run store as soon as RunTask returns. One poller
///   describes every followed task in batches of 100. A task not running
///   within `start_timeout`, or running past the run's time limit, is
///   stopped and the run fails with the reason; exit 137 reads "out of
///   memory".
/// - **Logs**: the runner's output is read from CloudWatch with
///   `GetLogEvents` forward tokens; lines go to the run's log in order, the
///   token is stored after them, and a final drain reads what arrived after
///   the task stopped.
/// - **Cancel**: StopTask with a reason; a run cancelled while queued never
///   launches.
/// - **Restart**: a new executor adopts the unfinished runs of the old one:
///   known tasks are described (batched), unknown ones looked up with
///   `ListTasks(startedBy = run id)`, and logs resume from the stored token.
///
/// ```no_run
/// # async fn demo(store: std::sync::Arc<dyn rat_core::RunStore>,
/// #               storage: std::sync::Arc<dyn rat_core::Storage>,
/// #               lakehouse: rat_core::LakehouseConfig) -> rat_core::Result<()> {
/// use rat_cloud_aws::{EcsConfig, EcsExecutor, TaskDefinitionSource};
/// use rat_core::{Executor, RunRequest};
/// use rat_executor::PoolConfig;
///
/// let sdk = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
/// let config = EcsConfig::new(
///     "rat",
///     TaskDefinitionSource::Existing("rat-runner".into()),
///     vec!["subnet-0abc".into()],
///     vec!["sg-0abc".into()],
///     lakehouse,
/// );
/// let executor = EcsExecutor::start(&sdk, config, store, storage, PoolConfig::default()).await?;
/// let run = executor.submit(RunRequest::pipeline("shop.gold.revenue".parse()?)).await?;
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct EcsExecutor {
    pool: Pool<EcsLauncher>,
}

impl EcsExecutor {
    /// Resolves the task definition (registering it when needed), starts
    /// the workers and adopts the runs a previous executor left.
    pub async fn start(
        sdk: &aws_types::SdkConfig,
        config: EcsConfig,
        store: Arc<dyn RunStore>,
        storage: Arc<dyn Storage>,
        pool: PoolConfig,
    ) -> Result<Self> {
        // rat retries ECS calls itself, bounded and counted per run.
        let ecs = aws_sdk_ecs::config::Builder::from(sdk)
            .retry_config(aws_config::retry::RetryConfig::disabled())
            .build();
        let logs = aws_sdk_cloudwatchlogs::Client::new(sdk);
        Self::with_clients(
            aws_sdk_ecs::Client::from_conf(ecs),
            logs,
            config,
            store,
            storage,
            pool,
        )
        .await
    }

    /// The same with clients built by the caller.
    pub async fn with_clients(
        ecs: aws_sdk_ecs::Client,
        logs: aws_sdk_cloudwatchlogs::Client,
        config: EcsConfig,
        store: Arc<dyn RunStore>,
        storage: Arc<dyn Storage>,
        pool: PoolConfig,
    ) -> Result<Self> {
        let mut config = config;
        if let TaskDefinitionSource::Register(spec) = &mut config.task_definition
            && spec.log_region.is_none()
        {
            spec.log_region = ecs.config().region().map(ToString::to_string);
        }
        config.validate()?;
        let task_definition = taskdef::resolve(&ecs, &config).await?;
        if task_definition.log_group.is_none() {
            tracing::warn!(
                "task definition {} has no awslogs configuration: run logs will be empty",
                task_definition.arn
            );
        }
        let launcher = EcsLauncher {
            tracker: Tracker::start(
                ecs.clone(),
                config.container_name.clone(),
                config.poll_interval,
            ),
            limiter: api::RateLimiter::per_second(config.run_task_rate),
            logs: CloudWatchLogs::new(logs, config.log_page_size),
            ecs,
            task_definition,
            config,
        };
        Ok(Self {
            pool: Pool::start(launcher, store, storage, pool).await?,
        })
    }

    /// The ARN of the task definition runs use.
    pub fn task_definition_arn(&self) -> &str {
        &self.pool.launcher().task_definition.arn
    }
}

forward_executor!(EcsExecutor);

pub(crate) struct EcsLauncher {
    ecs: aws_sdk_ecs::Client,
    logs: CloudWatchLogs,
    config: EcsConfig,
    task_definition: ResolvedTaskDefinition,
    tracker: Arc<Tracker>,
    limiter: api::RateLimiter,
}

impl fmt::Debug for EcsLauncher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EcsLauncher")
            .field("config", &self.config)
            .field("task_definition", &self.task_definition)
            .finish_non_exhaustive()
    }
}

impl EcsLauncher {
    fn handle(&self, task_arn: String, attempt: u32) -> TaskHandle {
        let mut handle = TaskHandle {
            cluster: self.config.cluster.clone(),
            task_arn,
            attempt,
            log_group: self.task_definition.log_group.clone(),
            log_stream: None,
            log_token: None,
        };
        if let Some(prefix) = &self.task_definition.log_stream_prefix {
            handle.log_stream = Some(format!(
                "{prefix}/{}/{}",
                self.config.container_name,
                handle.task_id()
            ));
        }
        handle
    }

    async fn start_task(&self, spec: &RunSpec, attempt: u32, live: &LiveRun) -> Result<String> {
        api::with_retries(
            &self.config,
            || async {
                self.limiter.acquire().await;
                launch::run_task(
                    &self.ecs,
                    &self.config,
                    &self.task_definition.arn,
                    spec,
                    attempt,
                )
                .await
            },
            |n, e| {
                tracing::info!(
                    "run {}: RunTask attempt {n} failed, retrying: {e}",
                    live.run_id()
                )
            },
        )
        .await
    }

    /// The task a run started, found by `startedBy` (running, then stopped).
    async fn find_task(&self, record: &RunRecord) -> Result<Option<String>> {
        for status in [
            aws_sdk_ecs::types::DesiredStatus::Running,
            aws_sdk_ecs::types::DesiredStatus::Stopped,
        ] {
            let found = api::with_retries(
                &self.config,
                || async {
                    self.ecs
                        .list_tasks()
                        .cluster(&self.config.cluster)
                        .started_by(record.run_id.as_str())
                        .desired_status(status.clone())
                        .send()
                        .await
                        .map_err(|e| api::sdk_error("ListTasks", e))
                },
                |_, _| {},
            )
            .await?;
            if let Some(arn) = found.task_arns().last() {
                return Ok(Some(arn.clone()));
            }
        }
        Ok(None)
    }

    fn following<'a>(
        &'a self,
        live: &'a Arc<LiveRun>,
        store: &'a Arc<dyn RunStore>,
        limit: Option<std::time::Duration>,
    ) -> Following<'a> {
        Following {
            ecs: &self.ecs,
            logs: &self.logs,
            tracker: &self.tracker,
            config: &self.config,
            live,
            store,
            limit: limit.or(self.config.max_runtime),
        }
    }
}

#[async_trait]
impl Launcher for EcsLauncher {
    const KIND: &'static str = "ecs";

    async fn launch(
        &self,
        spec: RunSpec,
        live: Arc<LiveRun>,
        store: &Arc<dyn RunStore>,
    ) -> Outcome {
        let following = self.following(&live, store, spec.limits.timeout);
        let mut notes = Vec::new();
        for attempt in 1..=self.config.max_attempts {
            if live.cancellation().is_cancelled() {
                return Outcome::cancelled("cancelled before its task started");
            }
            let arn = match self.start_task(&spec, attempt, &live).await {
                Ok(arn) => arn,
                Err(e) => return following.conclude(notes, Outcome::failed(e.kind(), e.message())),
            };
            let handle = self.handle(arn, attempt);
            if let Err(e) = live.set_handle(handle.to_text(), store).await {
                tracing::warn!(
                    "run {}: cannot record task {}: {e}",
                    spec.run_id,
                    handle.task_arn
                );
            }
            match following.follow(handle).await {
                Followed::FailedToStart(reason) if attempt < self.config.max_attempts => {
                    notes.push(format!("task attempt {attempt} failed to start: {reason}"));
                    tokio::time::sleep(api::backoff(&self.config, attempt)).await;
                }
                Followed::FailedToStart(reason) => {
                    let message =
                        format!("the task failed to start {attempt} time(s); last: {reason}");
                    return following
                        .conclude(notes, Outcome::failed(ErrorKind::Executor, message));
                }
                Followed::Ended(outcome) => return following.conclude(notes, outcome),
            }
        }
        Outcome::failed(ErrorKind::Internal, "no launch attempt was made")
    }

    fn can_adopt(&self, record: &RunRecord) -> bool {
        record.status == RunStatus::Running
    }

    async fn resume(
        &self,
        record: RunRecord,
        live: Arc<LiveRun>,
        store: &Arc<dyn RunStore>,
    ) -> Outcome {
        let following = self.following(&live, store, None);
        let handle = match record.handle.as_deref().and_then(TaskHandle::parse) {
            Some(handle) => handle,
            None => match self.wait_for_task(&record).await {
                Ok(Some(arn)) => {
                    let handle = self.handle(arn, 1);
                    let _ = live.set_handle(handle.to_text(), store).await;
                    handle
                }
                Ok(None) => {
                    return Outcome::failed(
                        ErrorKind::Executor,
                        "no task was found for the run within the start timeout: its executor \
                         stopped before launching it",
                    );
                }
                Err(e) => return Outcome::failed(e.kind(), e.message()),
            },
        };
        match following.follow(handle).await {
            Followed::FailedToStart(reason) => following.conclude(
                Vec::new(),
                Outcome::failed(
                    ErrorKind::Executor,
                    format!("the task failed to start: {reason}"),
                ),
            ),
            Followed::Ended(outcome) => following.conclude(Vec::new(), outcome),
        }
    }
}

impl EcsLauncher {
    /// Looks for the run's task until the start timeout (counted from when
    /// the run started) has passed: RunTask may have been sent by an
    /// executor that stopped before recording its answer.
    async fn wait_for_task(&self, record: &RunRecord) -> Result<Option<String>> {
        let since = record.started_at.unwrap_or(record.submitted_at);
        loop {
            if let Some(arn) = self.find_task(record).await? {
                return Ok(Some(arn));
            }
            let waited = (chrono::Utc::now() - since).to_std().unwrap_or_default();
            if waited > self.config.start_timeout {
                return Ok(None);
            }
            tokio::time::sleep(self.config.poll_interval).await;
        }
    }
}
