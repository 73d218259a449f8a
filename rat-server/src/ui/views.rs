//! What pages show of the platform's records, shaped for templates
//! (times as text, enums by name), shared by the pages that list them.

use rat_core::RunRecord;

use crate::api::TableSummary;
use serde::Serialize;

/// A run in a list.
#[derive(Debug, Serialize)]
pub(super) struct RunRow {
    id: String,
    table: String,
    status: String,
    phase: Option<String>,
    submitted_at: String,
    started_by: Option<String>,
    error: Option<String>,
}

impl From<RunRecord> for RunRow {
    fn from(r: RunRecord) -> Self {
        Self {
            id: r.run_id.to_string(),
            table: r.table.to_string(),
            status: r.status.to_string(),
            phase: r.phase.map(|p| p.to_string()),
            submitted_at: r.submitted_at.format("%Y-%m-%d %H:%M:%S UTC").to_string(),
            started_by: r.started_by,
            error: r.error.map(|e| e.message),
        }
    }
}

/// A table in a list, with the path of its page.
#[derive(Debug, Serialize)]
pub(super) struct TableRow {
    table: String,
    path: String,
    records: Option<u64>,
    data_files: Option<u64>,
    updated_at: Option<String>,
}

impl From<&TableSummary> for TableRow {
    fn from(t: &TableSummary) -> Self {
        let r = &t.table;
        Self {
            table: r.to_string(),
            path: format!("tables/{}/{}/{}", r.namespace, r.layer, r.name),
            records: t.records,
            data_files: t.data_files,
            updated_at: t.updated_at.clone(),
        }
    }
}

/// The names of the namespaces the caller may see, for a filter.
pub(super) async fn namespace_names(
    api: &dyn crate::api::PlatformApi,
) -> rat_core::Result<Vec<String>> {
    Ok(api
        .namespaces()
        .await?
        .into_iter()
        .map(|n| n.name)
        .collect())
}

/// The tables of the pipelines the caller may see (`ns.layer.name`), as
/// choices for a field.
pub(super) async fn table_names(
    api: &dyn crate::api::PlatformApi,
) -> rat_core::Result<Vec<String>> {
    Ok(api
        .pipelines(None, None)
        .await?
        .into_iter()
        .map(|p| p.table.to_string())
        .collect())
}

/// How SQL names `table`: `layer.name` in the default namespace (whose
/// name is an SQL keyword), else `namespace.layer.name`.
pub(super) fn sql_name(table: &rat_core::TableRef) -> String {
    if table.namespace.as_str() == rat_core::DEFAULT_NAMESPACE {
        format!("{}.{}", table.layer, table.name)
    } else {
        table.to_string()
    }
}
