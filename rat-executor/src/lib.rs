//! # rat-executor
//!
//! Run orchestration behind [`rat_core::Executor`]: submit a run (validated,
//! recorded, queued), watch it, follow its logs live, cancel it — the same
//! way whether it runs in this process or in a child process.
//!
//! - [`LocalExecutor`]: the embedded default, a warm in-process pool.
//! - [`ProcessExecutor`]: one `rat-runner` process per run, with limits.
//! - [`PoolConfig`]: workers, bounded queue, log buffer, eviction TTL.
//! - [`SqliteRunStore`]: durable run records and logs ([`rat_core::RunStore`]).
//! - [`LogBuffer`]: bounded per-run logs with live, ordered followers.
//!
//! Runs survive their process in the store: on start, an executor adopts
//! runner processes that outlived a crashed executor and marks other
//! orphaned runs failed ("executor restarted"). Cancel requests and log
//! followers work across processes through the store.
//!
//! This crate never links DuckDB: the local pool drives a
//! [`rat_core::RunEngine`], the process pool the `rat-runner` binary.

mod identity;
mod local;
mod logs;
mod pool;
mod process;
mod store;

pub use identity::ProcessId;
pub use local::LocalExecutor;
pub use logs::{DEFAULT_LOG_CAPACITY, LogBuffer};
pub use pool::{PoolConfig, stored_logs};
pub use process::{ProcessConfig, ProcessExecutor};
pub use store::{DEFAULT_STORED_LOG_LINES, SqliteRunStore};
