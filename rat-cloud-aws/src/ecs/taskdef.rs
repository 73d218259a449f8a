//! The runner's task definition: a given one, or one registered from a
//! description and reused while an identical active revision exists, so
//! launches never add revisions.

use std::collections::BTreeMap;

use aws_sdk_ecs::types::{
    Compatibility, ContainerDefinition, KeyValuePair, LogConfiguration, LogDriver, NetworkMode,
    Secret, TaskDefinition,
};
use rat_core::{Error, ErrorKind, Result};

use super::api::{Fault, sdk_error, with_retries};
use super::config::{EcsConfig, TaskDefinitionSource, TaskDefinitionSpec};

/// The task definition launches use, and where its runner logs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ResolvedTaskDefinition {
    pub(crate) arn: String,
    pub(crate) log_group: Option<String>,
    pub(crate) log_stream_prefix: Option<String>,
}

/// The fields rat sets, normalised for comparison (order of secrets and
/// environment does not matter; unset and empty are alike).
#[derive(Debug, PartialEq, Eq)]
struct Normal {
    cpu: Option<String>,
    memory: Option<String>,
    execution_role: Option<String>,
    task_role: Option<String>,
    fargate: bool,
    awsvpc: bool,
    container: String,
    image: Option<String>,
    container_memory: Option<i32>,
    log: BTreeMap<String, String>,
    secrets: BTreeMap<String, String>,
    environment: BTreeMap<String, String>,
}

fn non_empty(s: Option<&str>) -> Option<String> {
    s.filter(|s| !s.is_empty()).map(str::to_owned)
}

fn normal_of_spec(spec: &TaskDefinitionSpec) -> Normal {
    Normal {
        cpu: Some(spec.size.cpu.to_string()),
        memory: Some(spec.size.memory.to_string()),
        execution_role: non_empty(spec.execution_role_arn.as_deref()),
        task_role: non_empty(spec.task_role_arn.as_deref()),
        fargate: true,
        awsvpc: true,
        container: spec.container_name.clone(),
        image: Some(spec.image.clone()),
        container_memory: i32::try_from(spec.size.memory).ok(),
        log: log_options(spec),
        secrets: spec.secrets.clone(),
        environment: spec.environment.clone(),
    }
}

fn normal_of(td: &TaskDefinition, container: &str) -> Option<Normal> {
    let c = td
        .container_definitions()
        .iter()
        .find(|c| c.name() == Some(container))?;
    Some(Normal {
        cpu: non_empty(td.cpu()),
        memory: non_empty(td.memory()),
        execution_role: non_empty(td.execution_role_arn()),
        task_role: non_empty(td.task_role_arn()),
        fargate: td
            .requires_compatibilities()
            .contains(&Compatibility::Fargate),
        awsvpc: td.network_mode() == Some(&NetworkMode::Awsvpc),
        container: container.to_owned(),
        image: non_empty(c.image()),
        container_memory: c.memory(),
        log: c
            .log_configuration()
            .filter(|l| l.log_driver() == &LogDriver::Awslogs)
            .and_then(|l| l.options())
            .map(|o| o.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
            .unwrap_or_default(),
        secrets: c
            .secrets()
            .iter()
            .map(|s| (s.name().to_owned(), s.value_from().to_owned()))
            .collect(),
        environment: c
            .environment()
            .iter()
            .filter_map(|e| Some((e.name()?.to_owned(), e.value()?.to_owned())))
            .collect(),
    })
}

fn log_options(spec: &TaskDefinitionSpec) -> BTreeMap<String, String> {
    BTreeMap::from([
        ("awslogs-group".to_owned(), spec.log_group.clone()),
        (
            "awslogs-region".to_owned(),
            spec.log_region.clone().unwrap_or_default(),
        ),
        (
            "awslogs-stream-prefix".to_owned(),
            spec.log_stream_prefix.clone(),
        ),
    ])
}

fn resolved(td: &TaskDefinition, container: &str) -> Result<ResolvedTaskDefinition> {
    let arn = td.task_definition_arn().ok_or_else(|| {
        Error::new(
            ErrorKind::Executor,
            "ECS returned a task definition without ARN",
        )
    })?;
    let normal = normal_of(td, container).ok_or_else(|| {
        Error::invalid(format!(
            "task definition {arn} has no container named '{container}'"
        ))
        .with_context("field", "container_name")
    })?;
    Ok(ResolvedTaskDefinition {
        arn: arn.to_owned(),
        log_group: normal.log.get("awslogs-group").cloned(),
        log_stream_prefix: normal.log.get("awslogs-stream-prefix").cloned(),
    })
}

async fn describe(client: &aws_sdk_ecs::Client, name: &str) -> Result<Option<TaskDefinition>> {
    match client
        .describe_task_definition()
        .task_definition(name)
        .send()
        .await
    {
        Ok(r) => Ok(r.task_definition().cloned()),
        Err(e) => {
            let (fault, error) = sdk_error("DescribeTaskDefinition", e);
            // An unknown family is a ClientException: nothing to reuse.
            if fault == Fault::Fatal && error.message().contains("ClientException") {
                Ok(None)
            } else {
                Err(error)
            }
        }
    }
}

/// The task definition of `config`: described when given, else the
/// latest active revision of the family when it matches, else registered
/// (retrying ECS's "too many concurrent attempts" refusals).
pub(crate) async fn resolve(
    client: &aws_sdk_ecs::Client,
    config: &EcsConfig,
) -> Result<ResolvedTaskDefinition> {
    let spec = match &config.task_definition {
        TaskDefinitionSource::Existing(name) => {
            let td = describe(client, name).await?.ok_or_else(|| {
                Error::new(
                    ErrorKind::NotFound,
                    format!("task definition '{name}' not found"),
                )
                .with_context("field", "task_definition")
            })?;
            return resolved(&td, &config.container_name);
        }
        TaskDefinitionSource::Register(spec) => spec,
    };
    let wanted = normal_of_spec(spec);
    if let Some(td) = describe(client, &spec.family).await?
        && td.status().is_none_or(|s| s.as_str() == "ACTIVE")
        && normal_of(&td, &spec.container_name).as_ref() == Some(&wanted)
    {
        return resolved(&td, &config.container_name);
    }
    let td = with_retries(
        config,
        || register(client, spec),
        |attempt, e| tracing::info!("registering the task definition, attempt {attempt}: {e}"),
    )
    .await?;
    resolved(&td, &config.container_name)
}

async fn register(
    client: &aws_sdk_ecs::Client,
    spec: &TaskDefinitionSpec,
) -> std::result::Result<TaskDefinition, (Fault, Error)> {
    let invalid = |e: aws_sdk_ecs::error::BuildError| {
        (
            Fault::Fatal,
            Error::invalid(format!("task definition: {e}")),
        )
    };
    let log = LogConfiguration::builder()
        .log_driver(LogDriver::Awslogs)
        .set_options(Some(log_options(spec).into_iter().collect()))
        .build()
        .map_err(invalid)?;
    let secrets = spec
        .secrets
        .iter()
        .map(|(name, from)| Secret::builder().name(name).value_from(from).build())
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(invalid)?;
    let environment = spec
        .environment
        .iter()
        .map(|(name, value)| KeyValuePair::builder().name(name).value(value).build())
        .collect();
    let container = ContainerDefinition::builder()
        .name(&spec.container_name)
        .image(&spec.image)
        .essential(true)
        .memory(i32::try_from(spec.size.memory).unwrap_or(i32::MAX))
        .log_configuration(log)
        .set_secrets(Some(secrets))
        .set_environment(Some(environment))
        .build();
    let response = client
        .register_task_definition()
        .family(&spec.family)
        .requires_compatibilities(Compatibility::Fargate)
        .network_mode(NetworkMode::Awsvpc)
        .cpu(spec.size.cpu.to_string())
        .memory(spec.size.memory.to_string())
        .set_execution_role_arn(spec.execution_role_arn.clone())
        .set_task_role_arn(spec.task_role_arn.clone())
        .container_definitions(container)
        .send()
        .await
        .map_err(|e| sdk_error("RegisterTaskDefinition", e))?;
    response.task_definition().cloned().ok_or_else(|| {
        (
            Fault::Fatal,
            Error::new(
                ErrorKind::Executor,
                "RegisterTaskDefinition returned nothing",
            ),
        )
    })
}
