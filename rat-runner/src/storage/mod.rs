//! [`Storage`](rat_core::Storage) implementations.

mod local;
mod s3;

pub use local::LocalStorage;
pub use s3::S3Storage;
