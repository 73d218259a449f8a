//! [`Catalog`](rat_core::Catalog) implementations, and the cache of
//! table metadata they share.

mod metadata;
mod metadata_json;
mod rest;
mod sql;

pub use metadata::MetadataCache;
pub use rest::RestCatalog;
pub use sql::{DEFAULT_CATALOG_NAME, SqlCatalog};
