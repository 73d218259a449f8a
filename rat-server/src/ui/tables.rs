//! `/tables` and `/tables/{ns}/{layer}/{name}`: the explorer — the
//! tables the caller may see with their size and age, and one table's
//! columns (types, docs), partition spec, properties and snapshots.

use axum::extract::{Path, Query};
use rat_core::TableRef;
use serde::Deserialize;

use super::render::{PageError, PageResult, Shell};
use super::views::TableRow;
use super::views::namespace_names;

use crate::http::Api;

/// Tables listed.
const TABLES: u32 = 200;

#[derive(Debug, Default, Deserialize)]
pub(super) struct TablesForm {
    #[serde(default)]
    namespace: String,
}

pub(super) async fn list(
    shell: Shell,
    Api(api): Api,
    Query(form): Query<TablesForm>,
) -> PageResult {
    let namespace = Some(form.namespace.trim()).filter(|n| !n.is_empty());
    let tables = api.tables(namespace, TABLES, 0).await?;
    let namespaces = namespace_names(api.as_ref()).await?;
    shell.page(
        "tables.html",
        minijinja::context! {
            title => "Explorer",
            section => "tables",
            tables => tables.items.iter().map(TableRow::from).collect::<Vec<_>>(),
            more => tables.has_more,
            namespace => namespace.unwrap_or(""),
            namespaces => namespaces,
        },
    )
}

pub(super) async fn detail(
    shell: Shell,
    Api(api): Api,
    Path((namespace, layer, name)): Path<(String, String, String)>,
) -> PageResult {
    let table: TableRef = format!("{namespace}.{layer}.{name}")
        .parse()
        .map_err(|e: rat_core::Error| PageError::from(e.with_context("field", "table")))?;
    let detail = api.table(&table).await?;
    let history = api.history(&table).await?;
    shell.page(
        "table.html",
        minijinja::context! {
            title => table.to_string(),
            section => "tables",
            table => table.to_string(),
            path => format!("{}/{}/{}", table.namespace, table.layer, table.name),
            sql_name => super::views::sql_name(&table),
            detail => detail,
            partition_spec => serde_json::to_string_pretty(&detail.partition_spec).unwrap_or_default(),
            history => history,
            sharing => shell.ui.auth.asks(),
        },
    )
}
