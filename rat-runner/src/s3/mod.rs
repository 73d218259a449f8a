//! S3 plumbing shared by storage, catalogs and the engine: credential
//! providers that refresh, per-bucket clients, and an Iceberg `FileIO`.

mod credentials;
mod fileio;
mod store;

pub use credentials::{
    CredentialSource, RefreshingProvider, provider as credential_provider, refresh_time,
};
pub use fileio::file_io;
pub(crate) use store::s3_error;
pub use store::{S3Buckets, split_s3_url};
