//! [`Catalog`](rat_core::Catalog) implementations.

mod sql;

pub use sql::{DEFAULT_CATALOG_NAME, SqlCatalog};
