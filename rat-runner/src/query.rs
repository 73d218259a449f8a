//! Read-only SQL over the tables' current snapshots (`rat query`).

use std::collections::BTreeSet;
use std::time::Duration;

use rat_core::{Catalog, Error, Result};
use serde::{Deserialize, Serialize};

use crate::duck::{DuckSession, SessionLimits, duck_error, engine_path, quote_ident, string_list};
use crate::engine::{check_select, resolve_refs};
use crate::template::RefTarget;

/// Options of a read-only query.
#[derive(Debug, Clone)]
pub struct QueryOptions {
    /// Most rows returned; more are reported as `truncated`.
    pub max_rows: usize,
    /// Time limit.
    pub timeout: Duration,
    /// The namespace whose layers are the default schemas (`bronze.orders`).
    pub default_namespace: String,
    /// DuckDB resources.
    pub limits: SessionLimits,
}

impl Default for QueryOptions {
    fn default() -> Self {
        Self {
            max_rows: 1000,
            timeout: Duration::from_secs(60),
            default_namespace: rat_core::DEFAULT_NAMESPACE.to_owned(),
            limits: SessionLimits::default(),
        }
    }
}

/// A query's result: typed JSON values per row.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QueryOutput {
    /// Column names.
    pub columns: Vec<String>,
    /// Rows, each in column order.
    pub rows: Vec<Vec<serde_json::Value>>,
    /// Whether rows beyond `max_rows` were cut.
    pub truncated: bool,
}

/// Runs one SELECT over every table of the catalog, each as a view
/// `"namespace"."layer"."name"` over its `main` snapshot (and `layer.name`
/// for the default namespace). Anything but a single SELECT is refused, and
/// the session cannot touch files outside the tables' folders.
pub async fn query(
    catalog: &dyn Catalog,
    sql: &str,
    options: &QueryOptions,
) -> Result<QueryOutput> {
    let session = DuckSession::open(&options.limits)?;
    check_select(&session, sql, "query").await?;

    let mut tables: BTreeSet<RefTarget> = BTreeSet::new();
    for ns in catalog.list_namespaces().await? {
        tables.extend(
            catalog
                .list_tables(&ns)
                .await?
                .into_iter()
                .map(RefTarget::current),
        );
    }
    let relations = resolve_refs(catalog, &tables, "query").await?;
    let folders: BTreeSet<String> = relations
        .values()
        .map(|r| format!("{}/", engine_path(&r.location).trim_end_matches('/')))
        .collect();
    crate::engine::create_table_views(&session, &relations).await?;

    let default_ns = quote_ident(&options.default_namespace);
    let has_default = tables
        .iter()
        .any(|t| t.table.namespace.as_str() == options.default_namespace);
    let folders: Vec<String> = folders.into_iter().collect();
    let lockdown = format!(
        "{}SET allowed_directories = {}; SET enable_external_access = false; SET lock_configuration = true;",
        if has_default {
            format!("USE {default_ns}; ")
        } else {
            String::new()
        },
        string_list(&folders),
    );
    session
        .run(move |c| {
            c.execute_batch(&lockdown)
                .map_err(|e| duck_error("cannot prepare query session", e))
        })
        .await?;

    let limit = options.max_rows + 1;
    let probe = format!("SELECT * FROM ({sql}) AS __rat_q LIMIT 0");
    let fetch = format!("SELECT to_json(__rat_q) FROM ({sql}) AS __rat_q LIMIT {limit}");
    let (columns, json_rows) = session
        .run_with_timeout(options.timeout, move |c| {
            let mut stmt = c
                .prepare(&probe)
                .map_err(|e| duck_error("query failed", e))?;
            let schema = stmt
                .query_arrow([])
                .map_err(|e| duck_error("query failed", e))?
                .get_schema();
            let columns: Vec<String> = schema.fields().iter().map(|f| f.name().clone()).collect();
            let mut stmt = c
                .prepare(&fetch)
                .map_err(|e| duck_error("query failed", e))?;
            let rows = stmt
                .query_map([], |r| r.get::<_, String>(0))
                .map_err(|e| duck_error("query failed", e))?
                .collect::<std::result::Result<Vec<_>, _>>()
                .map_err(|e| duck_error("query failed", e))?;
            Ok((columns, rows))
        })
        .await?;
    let truncated = json_rows.len() > options.max_rows;
    let mut rows = Vec::with_capacity(json_rows.len().min(options.max_rows));
    for text in json_rows.into_iter().take(options.max_rows) {
        let object: serde_json::Map<String, serde_json::Value> = serde_json::from_str(&text)
            .map_err(|e| Error::internal(format!("unexpected row JSON: {e}")))?;
        rows.push(object.into_iter().map(|(_, v)| v).collect());
    }
    Ok(QueryOutput {
        columns,
        rows,
        truncated,
    })
}
