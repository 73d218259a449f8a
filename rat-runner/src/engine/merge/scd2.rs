//! `scd2`: history with validity columns. A changed row closes the current
//! version (`valid_to` = run time) and opens a new one; unchanged rows and
//! keys absent from the result are untouched.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use iceberg::spec::{NestedField, PrimitiveType, Schema, Type};
use rat_core::project::PipelineSettings;
use rat_core::{Error, Result};

use super::super::write::FileWriter;
use super::matching::{
    RowMatch, may_match, opened_by_duckdb, rewrite_with_new, string_set, summarize_query,
};
use super::{Change, SnapshotFiles, dedup_last_wins};
use crate::duck::{
    cast_projection, duck_error, files_relation, files_relation_with_source, quote_ident,
};

/// The table shape of an scd2 pipeline: the result's columns plus
/// `scd_valid_from` and `scd_valid_to` (timestamptz). The result may not
/// carry those columns itself.
pub(crate) fn with_validity_columns(
    settings: &PipelineSettings,
    result: &Schema,
) -> Result<Schema> {
    let mut fields: Vec<_> = result.as_struct().fields().to_vec();
    let mut next = result.highest_field_id();
    for name in [&settings.scd_valid_from, &settings.scd_valid_to] {
        if result.field_by_name(name).is_some() {
            return Err(Error::invalid(format!(
                "the result has a column '{name}', which scd2 maintains itself; rename it or set scd_valid_from/scd_valid_to"
            ))
            .with_context("column", name));
        }
        next += 1;
        fields.push(Arc::new(NestedField::optional(
            next,
            name,
            Type::Primitive(PrimitiveType::Timestamptz),
        )));
    }
    Schema::builder()
        .with_fields(fields)
        .build()
        .map_err(|e| Error::internal("cannot build scd2 schema").with_source(e))
}

pub(super) async fn scd2(
    writer: &FileWriter,
    settings: &PipelineSettings,
    result_sql: &str,
    base: &SnapshotFiles,
    run_started_at: DateTime<Utc>,
) -> Result<Change> {
    let schema = writer.schema().clone();
    let (vf, vt) = (&settings.scd_valid_from, &settings.scd_valid_to);
    let keys = RowMatch {
        columns: settings.unique_key.clone(),
        null_safe: false,
    };
    let key_ids = keys.field_ids(&schema, "unique_key")?;
    let value_schema = Schema::builder()
        .with_fields(
            schema
                .as_struct()
                .fields()
                .iter()
                .filter(|f| &f.name != vf && &f.name != vt)
                .cloned()
                .collect::<Vec<_>>(),
        )
        .build()
        .map_err(|e| Error::internal("scd2 value schema").with_source(e))?;
    let compared: Vec<String> = value_schema
        .as_struct()
        .fields()
        .iter()
        .filter(|f| !keys.columns.contains(&f.name))
        .map(|f| format!("o.{q} IS DISTINCT FROM n.{q}", q = quote_ident(&f.name)))
        .collect();
    let now = format!(
        "CAST('{}+00' AS TIMESTAMPTZ)",
        run_started_at.format("%Y-%m-%d %H:%M:%S%.6f")
    );
    let (qvf, qvt) = (quote_ident(vf), quote_ident(vt));
    let session = writer.session();

    // The new rows, once: the pipeline SQL is not run twice.
    let new_sql = format!(
        "CREATE OR REPLACE TEMP TABLE __rat_new AS {}",
        dedup_last_wins(&cast_projection(&value_schema, result_sql), &keys.columns)
    );
    let null_keys = keys
        .columns
        .iter()
        .map(|k| format!("{} IS NULL", quote_ident(k)))
        .collect::<Vec<_>>()
        .join(" OR ");
    let count_nulls = format!("SELECT count(*) FROM __rat_new WHERE {null_keys}");
    let nulls: i64 = session
        .run(move |c| {
            c.execute_batch(&new_sql)
                .map_err(|e| duck_error("query failed", e))?;
            c.query_row(&count_nulls, [], |r| r.get(0))
                .map_err(|e| duck_error("query failed", e))
        })
        .await?;
    if nulls > 0 {
        return Err(Error::invalid(format!(
            "scd2 needs a non-NULL unique_key: {nulls} result rows have NULL in ({})",
            keys.columns.join(", ")
        ))
        .with_context("field", "unique_key"));
    }

    // Files that may hold an open version of one of the new keys.
    let summaries = summarize_query(session, "SELECT * FROM __rat_new", &schema, &key_ids).await?;
    let vt_id = schema
        .field_by_name(vt)
        .map(|f| f.id)
        .ok_or_else(|| Error::internal("scd2 table lacks its valid_to column"))?;
    let candidates: Vec<String> = base
        .entries()
        .filter(|e| {
            let open_rows = e.data_file().null_value_counts().get(&vt_id);
            open_rows.is_none_or(|n| *n > 0) && may_match(e, &summaries, &key_ids, false)
        })
        .map(|e| e.data_file().file_path().to_owned())
        .collect();

    let open = format!(
        "CREATE OR REPLACE TEMP TABLE __rat_open AS SELECT o.* FROM ({}) AS o \
         WHERE o.{qvt} IS NULL AND EXISTS (SELECT 1 FROM __rat_new AS n WHERE {})",
        files_relation_with_source(&schema, &candidates, writer.read_by(), "__rat_file"),
        keys.condition("n", "o"),
    );
    let changed = format!(
        "CREATE OR REPLACE TEMP TABLE __rat_changed AS SELECT o.* FROM __rat_open AS o \
         JOIN __rat_new AS n ON {} WHERE {}",
        keys.condition("n", "o"),
        if compared.is_empty() {
            "false".to_owned()
        } else {
            compared.join(" OR ")
        }
    );
    let affected_files = session
        .run(move |c| {
            c.execute_batch(&format!("{open};\n{changed};"))
                .map_err(|e| duck_error("query failed", e))?;
            string_set(c, "SELECT DISTINCT __rat_file FROM __rat_changed")
        })
        .await?;
    let affected = opened_by_duckdb(&candidates, &affected_files);

    // New keys and changed keys open a version; changed keys close theirs.
    let opened = format!(
        "SELECT n.*, {now} AS {qvf}, CAST(NULL AS TIMESTAMPTZ) AS {qvt} FROM __rat_new AS n \
         WHERE NOT EXISTS (SELECT 1 FROM __rat_open AS o WHERE {}) \
            OR EXISTS (SELECT 1 FROM __rat_changed AS o WHERE {})",
        keys.condition("n", "o"),
        keys.condition("n", "o"),
    );
    let new_files = writer.write(&writer.projection(&opened), "new").await?;
    let closed = format!(
        "SELECT e.* REPLACE (CASE WHEN e.{qvt} IS NULL AND EXISTS \
           (SELECT 1 FROM __rat_changed AS c WHERE {}) THEN {now} ELSE e.{qvt} END AS {qvt}) \
         FROM ({}) AS e",
        keys.condition("c", "e"),
        files_relation(&schema, &affected, writer.read_by()),
    );
    let added = rewrite_with_new(writer, &closed, &affected, base, new_files).await?;
    session
        .run(|c| {
            c.execute_batch("DROP TABLE IF EXISTS __rat_new; DROP TABLE IF EXISTS __rat_open; DROP TABLE IF EXISTS __rat_changed;")
                .map_err(|e| duck_error("cleanup failed", e))
        })
        .await?;
    Ok(Change::new(added, affected))
}
