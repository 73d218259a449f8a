//! [`Storage`](rat_core::Storage) implementations.

mod local;

pub use local::LocalStorage;
