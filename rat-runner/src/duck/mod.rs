//! DuckDB: the per-run session, type mapping and SQL quoting.

mod functions;
mod remote;
mod sandbox;
mod session;
mod sql;
mod types;

pub use remote::{EXTENSION_DIR_ENV, check_httpfs};
pub use sandbox::{MAX_PROJECT_FILES, Sandbox};
pub use session::{DuckSession, INTERRUPT_REPEAT, SessionLimits, duck_error};
pub use sql::{
    column_list, engine_path, landing_view_name, quote_ident, quote_literal, string_list,
    table_view_name,
};
pub use types::{
    ColumnMatch, arrow_to_iceberg, cast_projection, duck_type, field_ids_option, files_relation,
    files_relation_with_source,
};
