//! `/query`: the query console — a SQL editor beside the tables the caller
//! may read (their columns load when opened), results from `POST
//! /api/v1/query` (the page's script calls it).

use std::collections::BTreeMap;

use axum::extract::Query;
use serde::{Deserialize, Serialize};

use super::render::{PageResult, Shell};
use super::views::sql_name;
use crate::http::Api;

/// Tables in the tree and the completion.
const TABLES: u32 = 500;

#[derive(Debug, Default, Deserialize)]
pub(super) struct QueryForm {
    /// A query to start from (links from the explorer).
    #[serde(default)]
    sql: String,
}

/// One table of the tree: its name as SQL writes it, the API path.
#[derive(Debug, Serialize)]
struct TreeTable {
    name: String,
    sql_name: String,
    path: String,
}

pub(super) async fn page(shell: Shell, Api(api): Api, Query(form): Query<QueryForm>) -> PageResult {
    let tables = api.tables(None, TABLES, 0).await?;
    let mut tree: BTreeMap<String, Vec<TreeTable>> = BTreeMap::new();
    let mut schema: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for summary in &tables.items {
        let t = &summary.table;
        let sql_name = sql_name(t);
        schema.insert(sql_name.clone(), Vec::new());
        tree.entry(format!("{}.{}", t.namespace, t.layer))
            .or_default()
            .push(TreeTable {
                name: t.name.to_string(),
                sql_name,
                path: format!("{}/{}/{}", t.namespace, t.layer, t.name),
            });
    }
    let sql = match form.sql.trim() {
        "" => schema
            .keys()
            .next()
            .map(|t| format!("SELECT *\nFROM {t}\nLIMIT 100"))
            .unwrap_or_default(),
        given => given.to_string(),
    };
    shell.page(
        "query.html",
        minijinja::context! {
            title => "Query",
            section => "query",
            tree => tree,
            more => tables.has_more,
            schema => serde_json::to_string(&schema).unwrap_or_default(),
            sql => sql,
        },
    )
}
