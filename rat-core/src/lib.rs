//! # rat-core
//!
//! The vocabulary every rat crate shares: validated names, the pipeline
//! project format, the run model, one error type, and the four traits whose
//! implementations a user composes into a lakehouse:
//!
//! | trait | what it does | embedded implementation |
//! |---|---|---|
//! | [`Storage`] | objects by key (pipelines, landing files) | `rat_runner::storage::LocalStorage` |
//! | [`Catalog`] | Iceberg tables, compare-and-swap commits, branches | `rat_runner::catalog::SqlCatalog` |
//! | [`Executor`] | submit, watch, follow logs, cancel runs | `rat_executor::LocalExecutor`, `ProcessExecutor` |
//! | [`CredentialVendor`] | short-lived namespace-scoped credentials | [`StaticCredentialVendor`] |
//!
//! plus [`RunEngine`], the engine an executor drives (`rat_runner::Engine`),
//! [`RunStore`], where executors keep run records and logs, and
//! [`VersionStore`], where saves of pipelines' code are numbered and kept,
//! and [`authz`], who may do what ([`principal::Principal`]s, owners,
//! grants, the [`authz::Authorizer`] trait and its [`authz::GrantStore`]),
//! and [`audit`], the log of who did what ([`audit::AuditStore`]).
//!
//! ```
//! use rat_core::{Layer, TableRef};
//!
//! let table: TableRef = "silver.orders".parse().unwrap();
//! assert_eq!(table.layer, Layer::Silver);
//! assert_eq!(table.to_string(), "default.silver.orders");
//! ```

pub mod audit;
pub mod authz;
pub mod batch;
pub mod catalog;
pub mod config;
pub mod credentials;
pub mod engine;
pub mod error;
pub mod executor;
pub mod ident;
#[cfg(feature = "json-schema")]
mod json_schema;
pub mod maintenance;
pub mod notify;
pub mod principal;
pub mod project;
pub mod run;
pub mod runner;
pub mod schedule;
pub mod storage;
pub mod store;
pub mod versions;

pub use batch::{Batch, BatchItem, BatchStore, ItemState};
pub use catalog::{
    Catalog, LoadedTable, MAIN_BRANCH, NAMESPACE_COMMENT, NamespaceProperties, NewTable,
    SharedCatalog, TableCommit,
};
pub use config::{LakehouseConfig, RunLimits};
pub use credentials::{
    CredentialProvider, CredentialScope, CredentialVendor, S3Access, ScopedCredentials,
    StaticCredentialVendor, StorageCredentials,
};
pub use engine::{RunContext, RunEngine};
pub use error::{Error, ErrorKind, Result};
pub use executor::{Executor, LogCursor, RunGate, RunRecord, RunRequest, StartGate};
pub use ident::{DEFAULT_NAMESPACE, Identifier, Layer, RUN_BRANCH_PREFIX, RunId, TableRef};
pub use maintenance::{MaintenanceOverrides, MaintenanceSettings, RunRetention};
pub use notify::{Delivery, Event, EventKind, NotificationHook, NotificationStore};
pub use project::{Language, MergeStrategy, Pipeline, Project, ProjectSource};
pub use run::{
    LogLevel, LogRecord, LogSink, MemoryLogSink, Phase, QualityResult, RunError, RunResult,
    RunSpec, RunStatus, SharedLogSink, TestOutcome, TracingLogSink,
};
pub use runner::RunnerInput;
pub use schedule::{Firing, FiringRecord, Schedule, ScheduleStore, Trigger, TriggerKind};
pub use storage::{ObjectKey, ObjectMeta, Storage, StorageExt};
pub use store::{RunFilter, RunStore, Transition};
pub use versions::{PipelineVersion, VersionState, VersionStore, VersionSummary};
