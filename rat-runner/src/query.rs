//! Read-only SQL over the tables' current snapshots (`rat query`).

use std::collections::BTreeMap;
use std::time::Duration;

use rat_core::{Catalog, Error, ErrorKind, Result, TableRef};
use serde::{Deserialize, Serialize};

use crate::duck::{DuckSession, Sandbox, SessionLimits, duck_error, quote_ident};
use crate::engine::{named_tables, parse_select, relation_at};
use crate::template::{AsOf, RefTarget};

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
    /// Tables read at an earlier snapshot of theirs (time travel) instead
    /// of their `main`'s current one.
    pub snapshots: BTreeMap<TableRef, i64>,
}

impl Default for QueryOptions {
    fn default() -> Self {
        Self {
            max_rows: 1000,
            timeout: Duration::from_secs(60),
            default_namespace: rat_core::DEFAULT_NAMESPACE.to_owned(),
            limits: SessionLimits::default(),
            snapshots: BTreeMap::new(),
        }
    }
}

/// A query's result: typed JSON values per row.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "json-schema", derive(schemars::JsonSchema))]
pub struct QueryOutput {
    /// Column names.
    pub columns: Vec<String>,
    /// Rows, each in column order.
    pub rows: Vec<Vec<serde_json::Value>>,
    /// Whether rows beyond `max_rows` were cut.
    pub truncated: bool,
}

/// Runs one SELECT over the tables it names, each as a view
/// `"namespace"."layer"."name"` over its `main` snapshot (and `layer.name`
/// in the default namespace). Only those tables are loaded (DuckDB's own
/// parser finds them), so a query costs what it touches however many
/// tables the catalog holds. Anything but a single SELECT is refused, and
/// the session reads exactly the data files of those snapshots.
pub async fn query(
    catalog: &dyn Catalog,
    sql: &str,
    options: &QueryOptions,
) -> Result<QueryOutput> {
    let session = DuckSession::open(&options.limits)?;
    let parsed = parse_select(&session, sql, "query", sql).await?;
    let default_ns = rat_core::ident::namespace(&options.default_namespace)?;
    let named = named_tables(&parsed, &default_ns);
    if let Some(stray) = options.snapshots.keys().find(|t| !named.contains(*t)) {
        return Err(Error::invalid(format!(
            "a snapshot is given for '{stray}', which the query does not read"
        ))
        .with_context("field", "snapshots"));
    }
    let mut relations = BTreeMap::new();
    for table in named {
        let loaded = match catalog.load_table(&table).await {
            Ok(loaded) => loaded,
            Err(e) if e.kind() == ErrorKind::NotFound => {
                return Err(
                    Error::not_found(format!("no table '{table}'")).with_context("field", "sql")
                );
            }
            Err(e) => return Err(e),
        };
        let as_of = options.snapshots.get(&table).map(|id| AsOf::Snapshot(*id));
        let relation = relation_at(&loaded, as_of, "query").await?;
        relations.insert(RefTarget::current(table), relation);
    }
    crate::engine::create_table_views(&session, &relations).await?;
    if relations.keys().any(|t| t.table.namespace == default_ns) {
        let use_default = format!("USE {};", quote_ident(default_ns.as_str()));
        session
            .run(move |c| {
                c.execute_batch(&use_default)
                    .map_err(|e| duck_error("cannot prepare query session", e))
            })
            .await?;
    }
    let mut sandbox = Sandbox::default();
    for relation in relations.values() {
        sandbox.allow_files(&relation.files);
    }
    session.lock_down(&sandbox).await?;

    select_rows(&session, sql, options.max_rows, options.timeout).await
}

/// One column of a result, as DuckDB types it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "json-schema", derive(schemars::JsonSchema))]
pub struct DetectedColumn {
    /// Its name.
    pub name: String,
    /// DuckDB's type (`BIGINT`, `VARCHAR`, `TIMESTAMP`...).
    #[serde(rename = "type")]
    pub data_type: String,
}

/// The columns the SELECT `sql` returns, with DuckDB's types, without
/// running it, within `timeout`.
pub(crate) async fn describe(
    session: &DuckSession,
    sql: &str,
    timeout: Duration,
) -> Result<Vec<DetectedColumn>> {
    let describe = format!("DESCRIBE {sql}");
    session
        .run_with_timeout(timeout, move |c| {
            let failed = |e| duck_error("cannot describe the result", e);
            let mut stmt = c.prepare(&describe).map_err(failed)?;
            let columns = stmt
                .query_map([], |r| {
                    Ok(DetectedColumn {
                        name: r.get(0)?,
                        data_type: r.get(1)?,
                    })
                })
                .map_err(failed)?
                .collect::<std::result::Result<Vec<_>, _>>()
                .map_err(failed)?;
            Ok(columns)
        })
        .await
}

/// The first `max_rows` rows of the SELECT `sql` in `session` (locked down
/// already), as typed JSON values, within `timeout`.
pub(crate) async fn select_rows(
    session: &DuckSession,
    sql: &str,
    max_rows: usize,
    timeout: Duration,
) -> Result<QueryOutput> {
    let limit = max_rows + 1;
    let probe = format!("SELECT * FROM ({sql}) AS __rat_q LIMIT 0");
    let fetch = format!("SELECT to_json(__rat_q) FROM ({sql}) AS __rat_q LIMIT {limit}");
    let (columns, json_rows) = session
        .run_with_timeout(timeout, move |c| {
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
    let truncated = json_rows.len() > max_rows;
    let mut rows = Vec::with_capacity(json_rows.len().min(max_rows));
    for text in json_rows.into_iter().take(max_rows) {
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
