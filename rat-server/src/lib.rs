//! # rat-server
//!
//! The platform: what every verb of rat does, behind one trait, and the
//! reference HTTP server that shares it with a team.
//!
//! - [`api`]: [`api::PlatformApi`], everything the platform does, and the
//!   values its verbs take and return (the HTTP API's JSON bodies).
//! - [`Platform`]: the API in-process, over storage, catalog, engine,
//!   executor and the run store; batches of runs in DAG order.
//! - [`client`]: the same API over HTTP ([`client::Client`]).
//! - [`http`]: the axum router — `/health`, everything else under
//!   `/api/v1`, one error envelope ([`error`]); with feature `ui` (on by
//!   default) the web IDE's server-rendered pages at `/`.
//! - [`auth`]: none, a static API key, or OIDC bearer tokens.
//! - [`scheduler`]: fires due schedules on the instance holding the lease.
//! - [`config`]: [`ServerSetup`], what a platform is made of, in code or
//!   from `rat.yaml`; opening it gives a [`Platform`] or a [`Server`].

pub mod api;
pub mod auth;
pub mod client;
mod compose;
pub mod config;
pub mod error;
pub mod http;
pub mod metrics;
mod platform;
pub mod scheduler;
#[cfg(feature = "ui")]
mod ui;

pub use compose::{ExecutorStart, Server, serve};
pub use config::ServerSetup;
pub use platform::{
    Housekeeping, KEPT_FIRINGS, LandingSettings, MAX_LOG_PAGE, MAX_QUERY_ROWS, MAX_QUERY_TIME,
    NotifierSettings, Platform, SIGNATURE_HEADER, WEBHOOK_BURST, WEBHOOK_PERIOD, next_cron_time,
    next_cron_times, notification_signature,
};
