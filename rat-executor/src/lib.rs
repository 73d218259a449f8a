//! # rat-executor
//!
//! Run orchestration for rat: a local warm pool, a process per run, bounded
//! queues, live log streams, cancellation and durable run records, all
//! behind [`rat_core::Executor`].
//!
//! Nothing is implemented here yet; the executor issue fills this crate.
//! Until then, drive [`rat_core::RunEngine`] directly (as the `rat` CLI does).
