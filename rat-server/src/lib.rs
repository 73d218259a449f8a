//! # rat-server
//!
//! The reference HTTP server: a REST API over pipelines, runs, logs, tables
//! and schedules, wiring the library crates together.
//!
//! Nothing is implemented here yet; the server issue fills this crate.
