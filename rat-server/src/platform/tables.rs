//! Tables from the catalog: list, describe, preview, read-only SQL.

use std::time::Duration;

use rat_core::{Error, Result, TableRef};
use rat_runner::query::{QueryOptions, QueryOutput, query};

use super::{Platform, parse_namespace};
use crate::api::{QueryRequest, TableDetail, TableSummary};

/// Most rows a query or preview returns.
pub const MAX_QUERY_ROWS: u32 = 10_000;
/// Longest a query may run.
pub const MAX_QUERY_TIME: Duration = Duration::from_secs(300);

fn json(value: impl serde::Serialize, what: &str) -> Result<serde_json::Value> {
    serde_json::to_value(value)
        .map_err(|e| Error::internal(format!("cannot encode the {what}: {e}")))
}

impl Platform {
    /// Tables of `namespace` (every namespace when `None`), by name.
    pub async fn tables(&self, namespace: Option<&str>) -> Result<Vec<TableSummary>> {
        let namespaces = match namespace {
            Some(ns) => vec![parse_namespace(ns)?],
            None => self.catalog().list_namespaces().await?,
        };
        let mut tables = Vec::new();
        for namespace in namespaces {
            for table in self.catalog().list_tables(&namespace).await? {
                tables.push(TableSummary::of(&self.catalog().load_table(&table).await?));
            }
        }
        tables.sort_by(|a, b| a.table.cmp(&b.table));
        Ok(tables)
    }

    /// One table's schema, partitioning, snapshots and properties.
    pub async fn table(&self, table: &TableRef) -> Result<TableDetail> {
        let loaded = self.catalog().load_table(table).await?;
        let metadata = &loaded.metadata;
        let mut snapshots: Vec<_> = metadata.snapshots().collect();
        snapshots.sort_by_key(|s| s.timestamp_ms());
        Ok(TableDetail {
            summary: TableSummary::of(&loaded),
            metadata_location: loaded.metadata_location.clone(),
            schema: json(metadata.current_schema(), "schema")?,
            partition_spec: json(metadata.default_partition_spec(), "partition spec")?,
            snapshots: snapshots
                .into_iter()
                .map(|s| {
                    serde_json::json!({
                        "snapshot-id": s.snapshot_id(),
                        "parent-snapshot-id": s.parent_snapshot_id(),
                        "sequence-number": s.sequence_number(),
                        "timestamp-ms": s.timestamp_ms(),
                        "manifest-list": s.manifest_list(),
                        "schema-id": s.schema_id(),
                        "summary": s.summary(),
                    })
                })
                .collect(),
            properties: metadata
                .properties()
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
        })
    }

    /// The first `rows` rows of a table's `main`.
    pub async fn preview(&self, table: &TableRef, rows: u32) -> Result<QueryOutput> {
        self.catalog().load_table(table).await?;
        let request = QueryRequest {
            // Quoted: `default` is an SQL keyword (identifiers are validated).
            sql: format!(
                "SELECT * FROM \"{}\".\"{}\".\"{}\"",
                table.namespace, table.layer, table.name
            ),
            namespace: None,
            limit: Some(rows),
            timeout_ms: None,
        };
        self.query(&request).await
    }

    /// One read-only SELECT over the tables' `main` snapshots, with a row
    /// limit and a time limit; anything that writes is refused.
    pub async fn query(&self, request: &QueryRequest) -> Result<QueryOutput> {
        let mut options = QueryOptions {
            max_rows: request.limit.unwrap_or(1000).min(MAX_QUERY_ROWS) as usize,
            timeout: request
                .timeout_ms
                .map_or(Duration::from_secs(30), Duration::from_millis)
                .min(MAX_QUERY_TIME),
            ..QueryOptions::default()
        };
        if let Some(ns) = &request.namespace {
            options.default_namespace = parse_namespace(ns)?.to_string();
        }
        query(self.catalog().as_ref(), &request.sql, &options).await
    }
}
