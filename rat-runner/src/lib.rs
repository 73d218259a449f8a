//! # rat-runner
//!
//! The engine of rat: it turns a pipeline's SQL into a published Iceberg
//! snapshot, with nothing but local files by default.
//!
//! - [`storage`]: where pipelines and landing files live ([`storage::LocalStorage`],
//!   [`storage::S3Storage`]).
//! - [`catalog`]: where tables live ([`catalog::SqlCatalog`], SQLite in the
//!   Iceberg JDBC layout; [`catalog::RestCatalog`], any Iceberg REST catalog
//!   with vended credentials).
//! - [`s3`]: credential providers that renew, per-bucket clients and an
//!   Iceberg `FileIO` over them.
//! - [`lakehouse`]: opening the storage and catalog a `rat.yaml` names.
//! - [`template`] and [`dag`]: Jinja rendering, `ref()` discovery, run order.
//! - [`duck`]: the per-run DuckDB session and type mapping.
//! - [`table`]: data files, statistics, schema evolution, snapshots, branches.
//! - [`Engine`]: the [`RunEngine`](rat_core::RunEngine) that runs one pipeline
//!   phase by phase; [`Engine::plan`] validates a batch before anything runs.
//! - [`python`]: Python pipelines in their own interpreter (bootstrap, inputs, result stream).
//! - [`query`]: read-only SQL over current snapshots.
//! - [`preview`]: dry runs — a pipeline compiled, previewed or tested
//!   against `main` with nothing written.
//! - [`landing`]: a landing file's first rows and detected schema.
//! - [`maintain`]: compaction, snapshot expiry and orphan removal per table.
//! - [`access`]: storage, catalog and runs of one namespace through
//!   credentials a vendor scopes to it.

pub mod access;
pub mod catalog;
pub mod dag;
pub mod duck;
mod engine;
pub mod lakehouse;
pub mod landing;
pub mod maintain;
pub mod preview;
pub mod python;
pub mod query;
pub mod s3;
pub mod storage;
pub mod table;
pub mod template;

pub use engine::{Engine, EngineConfig, RunPlan};
