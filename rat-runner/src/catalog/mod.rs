//! [`Catalog`](rat_core::Catalog) implementations.

mod rest;
mod sql;

pub use rest::RestCatalog;
pub use sql::{DEFAULT_CATALOG_NAME, SqlCatalog};
