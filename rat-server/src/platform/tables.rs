//! Tables from the catalog: list, describe, history and rollback, preview,
//! read-only SQL.

use std::time::Duration;

use rat_core::{Error, Result, TableRef};
use rat_runner::query::{QueryOptions, QueryOutput, query};
use rat_runner::table::properties::COMMENT;
use rat_runner::table::{Rollback, SnapshotInfo};

use rat_core::authz::Action;
use rat_core::catalog::table_not_found;

use super::readable::Readable;
use super::{Platform, parse_namespace};
use crate::api::{
    ColumnInfo, MaintainRequest, MaintenanceReport, Page, QueryRequest, TableDetail, TableSummary,
};

/// Most rows a query or preview returns.
pub const MAX_QUERY_ROWS: u32 = 10_000;
/// Longest a query may run.
pub const MAX_QUERY_TIME: Duration = Duration::from_secs(300);

fn json(value: impl serde::Serialize, what: &str) -> Result<serde_json::Value> {
    serde_json::to_value(value)
        .map_err(|e| Error::internal(format!("cannot encode the {what}: {e}")))
}

impl Platform {
    /// One page of the tables of `namespace` (every namespace when
    /// `None`), by table: names are listed, only the page's tables loaded.
    pub(super) async fn list_tables(
        &self,
        namespace: Option<&str>,
        limit: u32,
        offset: u32,
    ) -> Result<Page<TableSummary>> {
        let namespaces = match namespace {
            Some(ns) => vec![parse_namespace(ns)?],
            None => self.catalog().list_namespaces().await?,
        };
        let mut tables = Vec::new();
        for namespace in namespaces {
            tables.extend(self.catalog().list_tables(&namespace).await?);
        }
        tables.sort();
        let tables = self.visible(Action::Discover, tables).await?;
        let mut page = Vec::new();
        // One more than asked: whether another page follows.
        for table in tables.iter().skip(offset as usize).take(limit as usize + 1) {
            page.push(TableSummary::of(&self.catalog().load_table(table).await?));
        }
        Ok(Page::of(page, limit, offset))
    }

    /// What `main` pointed at over time, newest first.
    pub(super) async fn read_history(&self, table: &TableRef) -> Result<Vec<SnapshotInfo>> {
        self.check_table(Action::Discover, table).await?;
        let loaded = self.catalog().load_table(table).await?;
        Ok(rat_runner::table::history(&loaded))
    }

    /// Points `main` back at `to`.
    pub(super) async fn roll_back(&self, table: &TableRef, to: i64) -> Result<Rollback> {
        self.check_table(Action::Write, table).await?;
        rat_runner::table::rollback(self.catalog().as_ref(), table, to).await
    }

    /// One maintenance pass over `table`, consulting the run store about
    /// runs whose files nothing references.
    pub(super) async fn maintain_table(
        &self,
        table: &TableRef,
        request: &MaintainRequest,
    ) -> Result<MaintenanceReport> {
        self.check_table(Action::Write, table).await?;
        let settings = self.maintenance_settings(table).await?;
        let options = rat_runner::maintain::MaintainOptions::new(settings)
            .dry_run(request.dry_run)
            .with_run_store(self.store().clone());
        rat_runner::maintain::maintain(self.catalog().as_ref(), table, &options).await
    }

    /// One table's schema, partitioning, snapshots and properties.
    pub(super) async fn read_table(&self, table: &TableRef) -> Result<TableDetail> {
        self.check_table(Action::Discover, table).await?;
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
            description: metadata.properties().get(COMMENT).cloned(),
            columns: metadata
                .current_schema()
                .as_struct()
                .fields()
                .iter()
                .map(|f| ColumnInfo {
                    name: f.name.clone(),
                    data_type: f.field_type.to_string(),
                    required: f.required,
                    description: f.doc.clone(),
                })
                .collect(),
        })
    }

    /// The first `rows` rows of a table's `main`.
    pub(super) async fn preview_table(
        &self,
        table: &TableRef,
        rows: u32,
        snapshot_id: Option<i64>,
    ) -> Result<QueryOutput> {
        self.check_table(Action::Read, table).await?;
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
            snapshots: snapshot_id
                .map(|id| (table.to_string(), id))
                .into_iter()
                .collect(),
        };
        self.run_query(&request).await
    }

    /// One read-only SELECT over the tables' `main` snapshots, with a row
    /// limit and a time limit; anything that writes is refused.
    pub(super) async fn run_query(&self, request: &QueryRequest) -> Result<QueryOutput> {
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
        for (name, id) in &request.snapshots {
            let table = TableRef::parse(name, &options.default_namespace)
                .map_err(|e| e.with_context("field", "snapshots"))?;
            options.snapshots.insert(table, *id);
        }
        let readable = Readable::over(self, self.catalog());
        query(readable.as_ref(), &request.sql, &options).await
    }

    /// [`Platform::check`] of a table, hidden as missing.
    async fn check_table(&self, action: Action, table: &TableRef) -> Result<()> {
        self.check(action, table, || table_not_found(table)).await
    }
}
