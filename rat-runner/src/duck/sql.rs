//! Quoting: every name and literal that reaches SQL goes through here.

use rat_core::TableRef;

/// `"name"` with embedded quotes doubled.
///
/// ```
/// assert_eq!(rat_runner::duck::quote_ident(r#"we"ird"#), r#""we""ird""#);
/// ```
pub fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// `'text'` with embedded quotes doubled.
///
/// ```
/// assert_eq!(rat_runner::duck::quote_literal("it's"), "'it''s'");
/// ```
pub fn quote_literal(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

/// A list literal of strings: `['a', 'b']`.
pub fn string_list(items: &[String]) -> String {
    let quoted: Vec<String> = items.iter().map(|s| quote_literal(s)).collect();
    format!("[{}]", quoted.join(", "))
}

/// The view name a `ref()` to `table` resolves to: `"ns"."layer"."name"`.
/// Each namespace is an attached in-memory database in the run's session.
pub fn table_view_name(table: &TableRef) -> String {
    format!(
        "{}.{}.{}",
        quote_ident(table.namespace.as_str()),
        quote_ident(table.layer.as_str()),
        quote_ident(table.name.as_str())
    )
}

/// The view a `landing_zone()` resolves to.
pub fn landing_view_name(zone: &str) -> String {
    format!("memory.landing.{}", quote_ident(zone))
}

/// A path DuckDB can open: `file://` URIs become plain paths, other
/// schemes (`s3://`) pass through.
pub fn engine_path(uri: &str) -> &str {
    uri.strip_prefix("file://").unwrap_or(uri)
}

/// Comma-separated quoted column names.
pub fn column_list(columns: &[String]) -> String {
    columns
        .iter()
        .map(|c| quote_ident(c))
        .collect::<Vec<_>>()
        .join(", ")
}
