//! # rat-cloud-aws
//!
//! AWS implementations of rat's traits.
//!
//! - [`StsCredentialVendor`]: short-lived credentials confined to one
//!   namespace's prefix by an inline session policy ([`session_policy`]).
//! - [`EcsExecutor`]: each run one ECS Fargate task of the `rat-runner`
//!   image, configured by [`EcsConfig`], with its output read from
//!   CloudWatch Logs.
//!
//! ## How a task gets its credentials
//!
//! Nothing secret travels in a RunTask request. The task's overrides carry
//! the run spec and the lakehouse configuration, whose secrets are
//! references (`{env: NAME}`, `{file: PATH}`) that resolve inside the
//! task:
//!
//! 1. Secrets the runner needs (a catalog token, OAuth2 client secret) are
//!    `secrets` of the task definition ([`TaskDefinitionSpec::secrets`]):
//!    ECS reads them from Secrets Manager or SSM with the execution role
//!    and sets them as environment variables, where `{env: NAME}` finds
//!    them.
//! 2. Storage access is scoped to the run's namespace: the lakehouse
//!    configuration's S3 credentials are a `credential_process` running
//!    `rat-aws-credentials --role-arn ROLE --bucket BUCKET` in the task.
//!    The task's environment names its run ([`NAMESPACE_VARIABLE`],
//!    [`RUN_ID_VARIABLE`]), so one configuration serves every namespace.
//!    The command calls [`StsCredentialVendor`] with the task role (found
//!    by the standard provider chain), which assumes `ROLE` with a session
//!    policy limited to `BUCKET/NS/*` and a session name carrying the run
//!    id; the runner renews them before they expire. With a REST catalog that vends credentials, the
//!    catalog scopes table access itself.

mod cloudwatch;
mod ecs;
mod policy;
mod sts;

pub use ecs::{
    CapacityProvider, EcsConfig, EcsExecutor, TaskDefinitionSource, TaskDefinitionSpec, TaskSize,
};
pub use policy::{MAX_POLICY_CHARS, PolicyScope, session_policy};
pub use rat_core::runner::{NAMESPACE_VARIABLE, RUN_ID_VARIABLE};
pub use sts::{CREDENTIALS_PROGRAM, StsCredentialVendor, StsVendorConfig};
