//! # rat-server
//!
//! The reference HTTP server: a thin wiring of the library crates that a
//! team runs to share one rat.
//!
//! - [`api`]: the JSON bodies (shared with the remote CLI).
//! - [`Platform`]: what each endpoint does, over storage, catalog,
//!   engine, executor and run store.
//! - [`http`]: the axum router — `/health`, everything else under
//!   `/api/v1`, one error envelope ([`error`]).
//! - [`auth`]: none, a static API key, or OIDC bearer tokens.
//! - [`access`]: a credential vendor scoping each namespace's storage
//!   access (the API's and its runs').
//! - [`client`]: the API from Rust, also as an `Executor` (the remote CLI).
//! - [`scheduler`]: fires due schedules on the instance holding the lease.
//! - [`ServerSetup`]: the components a server is built from, in code or
//!   from `rat.yaml` ([`config`]).

pub mod access;
pub mod api;
pub mod auth;
pub mod client;
mod compose;
pub mod config;
pub mod ecs;
pub mod error;
pub mod http;
mod platform;
pub mod scheduler;

pub use compose::{RunStoreConfig, Server, ServerSetup, serve};
pub use platform::{MAX_LOG_PAGE, MAX_QUERY_ROWS, MAX_QUERY_TIME, Platform, next_cron_time};
