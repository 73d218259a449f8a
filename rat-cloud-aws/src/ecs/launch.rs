//! Starting a run's task: the RunTask request (overrides carrying the run
//! spec and nothing secret, rat's tags, network and capacity), retried on
//! throttling and capacity, at most `run_task_rate` per second.

use aws_sdk_ecs::types::{
    AssignPublicIp, AwsVpcConfiguration, CapacityProviderStrategyItem, ContainerOverride,
    KeyValuePair, LaunchType, NetworkConfiguration, Tag, TaskOverride,
};
use rat_core::{Error, ErrorKind, Result, RunSpec, RunnerInput};

use super::api::{Fault, capacity_text, classify, sdk_error};
use super::config::EcsConfig;
use super::task::client_token;

use rat_core::runner::{INPUT_VARIABLE, NAMESPACE_VARIABLE, RUN_ID_VARIABLE};

/// ECS refuses overrides above 8 KiB.
const MAX_OVERRIDES_BYTES: usize = 8192;

/// The overrides of a run's task: the runner input (spec and lakehouse
/// configuration, whose secrets are references resolved in the task) in
/// one environment variable, and the pipeline's size.
pub(crate) fn overrides(config: &EcsConfig, spec: &RunSpec) -> Result<TaskOverride> {
    let input = RunnerInput {
        spec: spec.clone(),
        lakehouse: config.runner_lakehouse()?.clone(),
        // A task's storage is remote: there is no project folder to open.
        sql_access: rat_core::config::SqlAccess::Strict,
        // The image's own (its RAT_PYTHON, else python3 on its PATH).
        python: None,
        // A task is one run: no worker of another's to take.
        python_workers: None,
    };
    let input = serde_json::to_string(&input)
        .map_err(|e| Error::internal(format!("cannot encode the runner input: {e}")))?;
    if input.len() > MAX_OVERRIDES_BYTES - 512 {
        return Err(Error::invalid(format!(
            "the runner input is {} bytes; ECS overrides hold 8 KiB",
            input.len()
        ))
        .with_context("field", "lakehouse"));
    }
    let size = config.size_of(&spec.table);
    let container = ContainerOverride::builder()
        .name(&config.container_name)
        .command("--spec")
        .command(format!("env:{INPUT_VARIABLE}"))
        .environment(variable(INPUT_VARIABLE, input))
        .environment(variable(
            NAMESPACE_VARIABLE,
            spec.table.namespace.to_string(),
        ))
        .environment(variable(RUN_ID_VARIABLE, spec.run_id.to_string()))
        .set_memory(size.and_then(|s| i32::try_from(s.memory).ok()))
        .build();
    Ok(TaskOverride::builder()
        .container_overrides(container)
        .set_cpu(size.map(|s| s.cpu.to_string()))
        .set_memory(size.map(|s| s.memory.to_string()))
        .build())
}

fn variable(name: &str, value: String) -> KeyValuePair {
    KeyValuePair::builder().name(name).value(value).build()
}

/// rat's tags on a run's task, then the configured ones.
pub(crate) fn tags(config: &EcsConfig, spec: &RunSpec) -> Vec<Tag> {
    let own = [
        ("rat:run-id", spec.run_id.to_string()),
        ("rat:namespace", spec.table.namespace.to_string()),
        ("rat:pipeline", spec.table.to_string()),
    ];
    own.into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .chain(config.tags.iter().map(|(k, v)| (k.clone(), v.clone())))
        .map(|(k, v)| Tag::builder().key(k).value(v).build())
        .collect()
}

/// One RunTask call for `attempt`; the task's ARN.
pub(crate) async fn run_task(
    client: &aws_sdk_ecs::Client,
    config: &EcsConfig,
    task_definition: &str,
    spec: &RunSpec,
    attempt: u32,
) -> std::result::Result<String, (Fault, Error)> {
    let fatal = |e: Error| (Fault::Fatal, e);
    let vpc = AwsVpcConfiguration::builder()
        .set_subnets(Some(config.subnets.clone()))
        .set_security_groups(Some(config.security_groups.clone()))
        .assign_public_ip(if config.assign_public_ip {
            AssignPublicIp::Enabled
        } else {
            AssignPublicIp::Disabled
        })
        .build()
        .map_err(|e| fatal(Error::invalid(format!("network configuration: {e}"))))?;
    let mut request = client
        .run_task()
        .cluster(&config.cluster)
        .task_definition(task_definition)
        .count(1)
        .started_by(spec.run_id.as_str())
        .client_token(client_token(spec.run_id.as_str(), attempt))
        .network_configuration(
            NetworkConfiguration::builder()
                .awsvpc_configuration(vpc)
                .build(),
        )
        .overrides(overrides(config, spec).map_err(fatal)?)
        .set_tags(Some(tags(config, spec)))
        .set_platform_version(config.platform_version.clone());
    if config.capacity_providers.is_empty() {
        request = request.launch_type(LaunchType::Fargate);
    } else {
        for provider in &config.capacity_providers {
            let item = CapacityProviderStrategyItem::builder()
                .capacity_provider(&provider.name)
                .weight(provider.weight)
                .base(provider.base)
                .build()
                .map_err(|e| fatal(Error::invalid(format!("capacity provider: {e}"))))?;
            request = request.capacity_provider_strategy(item);
        }
    }
    let response = request.send().await.map_err(|e| sdk_error("RunTask", e))?;
    if let Some(arn) = response.tasks().first().and_then(|t| t.task_arn()) {
        return Ok(arn.to_owned());
    }
    let reasons: Vec<String> = response
        .failures()
        .iter()
        .map(|f| {
            let detail = f.detail().map(|d| format!(" ({d})")).unwrap_or_default();
            format!("{}{detail}", f.reason().unwrap_or("unknown"))
        })
        .collect();
    let text = reasons.join("; ");
    let fault = if capacity_text(&text.to_ascii_lowercase()) {
        Fault::Capacity
    } else {
        classify(None, &text)
    };
    let error = Error::new(
        ErrorKind::Executor,
        format!("RunTask started no task: {text}"),
    )
    .with_retryable(fault.retryable());
    Err((fault, error))
}
