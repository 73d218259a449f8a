//! Questions the run asks DuckDB before writing: the result's schema and
//! the watermark.

use iceberg::spec::Schema;
use rat_core::{Error, Result};

use super::relations::Relation;
use crate::duck::{DuckSession, arrow_to_iceberg, duck_error, quote_ident};

/// `max(column)` over the table's `main` snapshot, as text.
pub(crate) async fn watermark(
    session: &DuckSession,
    relation: &Relation,
    column: &str,
    file: &str,
) -> Result<Option<String>> {
    if relation.schema.field_by_name(column).is_none() {
        return Err(Error::invalid(format!(
            "watermark_column '{column}' is not a column of the table"
        ))
        .with_context("file", file)
        .with_context("field", "watermark_column"));
    }
    let sql = format!(
        "SELECT CAST(max({}) AS VARCHAR) FROM ({})",
        quote_ident(column),
        relation.sql()
    );
    session
        .run(move |c| {
            c.query_row(&sql, [], |r| r.get::<_, Option<String>>(0))
                .map_err(|e| duck_error("cannot compute watermark_value", e))
        })
        .await
}

/// The Iceberg schema of the pipeline's result, without running it.
pub(crate) async fn result_schema(session: &DuckSession, sql: &str, file: &str) -> Result<Schema> {
    let probe = format!("SELECT * FROM ({sql}) AS __rat_probe LIMIT 0");
    let file_owned = file.to_owned();
    let arrow = session
        .run(move |c| {
            let mut stmt = c.prepare(&probe).map_err(|e| {
                duck_error("the pipeline SQL failed", e).with_context("file", &file_owned)
            })?;
            let arrow = stmt.query_arrow([]).map_err(|e| {
                duck_error("the pipeline SQL failed", e).with_context("file", &file_owned)
            })?;
            Ok(arrow.get_schema())
        })
        .await?;
    arrow_to_iceberg(&arrow).map_err(|e| e.with_context("file", file))
}
