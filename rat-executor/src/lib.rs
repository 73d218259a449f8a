//! # rat-executor
//!
//! Run orchestration behind [`rat_core::Executor`]: submit a run (validated,
//! recorded, queued), watch it, follow its logs live, cancel it — the same
//! way whether it runs in this process, in a child process or in a
//! container elsewhere.
//!
//! - [`LocalExecutor`]: the embedded default, a warm in-process pool.
//! - [`ProcessExecutor`]: one `rat-runner` process per run, with limits,
//!   and warm Python workers its runners take.
//! - [`OnDemand`]: an executor started by its first submitted run.
//! - [`Pool`] + [`Launcher`]: the machinery both share, for other
//!   executors (`rat-cloud-aws`'s ECS executor is a pool of ECS launches).
//! - [`PoolConfig`]: workers, per-namespace cap, bounded queue, log buffer,
//!   eviction TTL.
//! - [`RunnerOutput`]: reads what a `rat-runner` prints (logs, phases,
//!   result), wherever its lines end up.
//! - [`SqliteRunStore`] (and `PostgresRunStore`, feature `postgres`):
//!   durable run records, logs, schedules and batches; [`RunStoreConfig`]
//!   opens the one a config names.
//! - [`LogBuffer`]: bounded per-run logs with live, ordered followers.
//!
//! Runs survive their process in the store: on start, an executor adopts
//! work that outlived a crashed executor and marks other orphaned runs
//! failed ("executor restarted"). Cancel requests and log followers work
//! across processes through the store.
//!
//! This crate never links DuckDB: the local pool drives a
//! [`rat_core::RunEngine`], the process pool the `rat-runner` binary.

mod identity;
mod live;
mod local;
mod logs;
mod on_demand;
mod pool;
mod process;
mod python_workers;
mod queue;
mod run_store;
mod runner_output;
mod sql;

pub use identity::{Owner, ProcessId};
pub use live::LiveRun;
pub use local::LocalExecutor;
pub use logs::{DEFAULT_LOG_CAPACITY, LogBuffer};
pub use on_demand::OnDemand;
pub use pool::{Launcher, Outcome, Pool, PoolConfig, stored_logs};
pub use process::{ProcessConfig, ProcessExecutor, locate_binary, locate_runner};
pub use run_store::{RunStoreConfig, Stores};
pub use runner_output::RunnerOutput;
#[cfg(feature = "postgres")]
pub use sql::PostgresRunStore;
pub use sql::{DEFAULT_STORED_LOG_LINES, SqliteRunStore};

#[doc(hidden)]
pub mod __private {
    pub use async_trait::async_trait;
    pub use futures;
    pub use rat_core;
}
