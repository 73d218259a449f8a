//! Finding the data files a change touches: prune with manifest statistics
//! (value ranges and null counts), then confirm by scanning only the
//! remaining candidates.

use std::collections::{HashMap, HashSet};

use iceberg::spec::{DataFile, Datum, ManifestEntry, PrimitiveType, Schema, Struct, Type};
use rat_core::{Error, Result};

use super::super::write::FileWriter;
use super::Change;
use crate::duck::{
    ColumnMatch, DuckSession, duck_error, engine_path, files_relation, files_relation_with_source,
    quote_ident,
};
use crate::table::SnapshotFiles;

/// How rows of the new data match rows of the table on some columns.
#[derive(Debug, Clone)]
pub(super) struct RowMatch {
    /// The columns compared.
    pub(super) columns: Vec<String>,
    /// `IS NOT DISTINCT FROM` (NULL matches NULL: partitions) instead of `=`
    /// (NULL matches nothing: keys).
    pub(super) null_safe: bool,
}

impl RowMatch {
    /// The SQL condition matching row alias `a` with row alias `b`.
    pub(super) fn condition(&self, a: &str, b: &str) -> String {
        let op = if self.null_safe {
            "IS NOT DISTINCT FROM"
        } else {
            "="
        };
        self.columns
            .iter()
            .map(|c| format!("{a}.{q} {op} {b}.{q}", q = quote_ident(c)))
            .collect::<Vec<_>>()
            .join(" AND ")
    }

    /// Field ids of the columns in `schema`; an unknown column is an error
    /// naming the setting it came from.
    pub(super) fn field_ids(&self, schema: &Schema, setting: &str) -> Result<Vec<i32>> {
        self.columns
            .iter()
            .map(|c| {
                schema.field_by_name(c).map(|f| f.id).ok_or_else(|| {
                    Error::invalid(format!("{setting} column '{c}' is not in the result"))
                        .with_context("field", setting.to_owned())
                })
            })
            .collect()
    }
}

/// What the new data holds in one column: its value range (when it has
/// non-NULL values) and whether it has NULLs.
#[derive(Debug, Clone, Default)]
pub(super) struct ValueSummary {
    range: Option<(Datum, Datum)>,
    nulls: bool,
}

/// Summaries per field id from the statistics of freshly written files.
/// A column whose statistics are incomplete is left out (no pruning on it).
pub(super) fn summarize_files(files: &[DataFile], ids: &[i32]) -> HashMap<i32, ValueSummary> {
    let mut out = HashMap::new();
    'ids: for id in ids {
        let mut summary = ValueSummary::default();
        for f in files {
            let nulls = f.null_value_counts().get(id).copied();
            let values = f
                .value_counts()
                .get(id)
                .copied()
                .unwrap_or(f.record_count());
            let Some(nulls) = nulls else { continue 'ids };
            summary.nulls |= nulls > 0;
            if values > nulls {
                let (Some(lo), Some(hi)) = (f.lower_bounds().get(id), f.upper_bounds().get(id))
                else {
                    continue 'ids;
                };
                summary.range = Some(widen(summary.range.take(), lo, hi));
            }
        }
        out.insert(*id, summary);
    }
    out
}

/// Summaries per field id of the columns of a relation, computed by DuckDB.
/// Only types whose values map simply to Iceberg values are summarized.
pub(super) async fn summarize_query(
    session: &DuckSession,
    relation: &str,
    schema: &Schema,
    ids: &[i32],
) -> Result<HashMap<i32, ValueSummary>> {
    let mut probes = Vec::new();
    for id in ids {
        let Some(field) = schema.field_by_id(*id) else {
            continue;
        };
        let Type::Primitive(ty) = field.field_type.as_ref() else {
            continue;
        };
        let col = quote_ident(&field.name);
        let as_number = match ty {
            PrimitiveType::Int | PrimitiveType::Long => format!("CAST({{}}({col}) AS VARCHAR)"),
            PrimitiveType::Date => {
                format!("CAST(date_diff('day', DATE '1970-01-01', {{}}({col})) AS VARCHAR)")
            }
            PrimitiveType::Timestamp | PrimitiveType::Timestamptz => {
                format!("CAST(epoch_us({{}}({col})) AS VARCHAR)")
            }
            PrimitiveType::String => format!("{{}}({col})"),
            _ => continue,
        };
        probes.push((*id, ty.clone(), as_number, col));
    }
    if probes.is_empty() {
        return Ok(HashMap::new());
    }
    let select: Vec<String> = probes
        .iter()
        .flat_map(|(_, _, expr, col)| {
            [
                expr.replace("{}", "min"),
                expr.replace("{}", "max"),
                format!("CAST(count(*) FILTER (WHERE {col} IS NULL) AS VARCHAR)"),
            ]
        })
        .collect();
    let sql = format!(
        "SELECT {} FROM ({relation}) AS __rat_summary",
        select.join(", ")
    );
    let n = select.len();
    let cells: Vec<Option<String>> = session
        .run(move |c| {
            c.query_row(&sql, [], |r| {
                (0..n).map(|i| r.get::<_, Option<String>>(i)).collect()
            })
            .map_err(|e| duck_error("cannot summarize new rows", e))
        })
        .await?;
    let mut out = HashMap::new();
    for (i, (id, ty, _, _)) in probes.iter().enumerate() {
        let datum = |text: &Option<String>| -> Option<Datum> {
            let t = text.as_deref()?;
            Some(match ty {
                PrimitiveType::Int => Datum::int(t.parse::<i32>().ok()?),
                PrimitiveType::Long => Datum::long(t.parse::<i64>().ok()?),
                PrimitiveType::Date => Datum::date(t.parse::<i32>().ok()?),
                PrimitiveType::Timestamp => Datum::timestamp_micros(t.parse::<i64>().ok()?),
                PrimitiveType::Timestamptz => Datum::timestamptz_micros(t.parse::<i64>().ok()?),
                _ => Datum::string(t),
            })
        };
        let (lo, hi, nulls) = (&cells[3 * i], &cells[3 * i + 1], &cells[3 * i + 2]);
        out.insert(
            *id,
            ValueSummary {
                range: datum(lo).zip(datum(hi)),
                nulls: nulls.as_deref().is_some_and(|n| n != "0"),
            },
        );
    }
    Ok(out)
}

fn widen(range: Option<(Datum, Datum)>, lo: &Datum, hi: &Datum) -> (Datum, Datum) {
    match range {
        None => (lo.clone(), hi.clone()),
        Some((a, b)) => (
            if lo < &a { lo.clone() } else { a },
            if hi > &b { hi.clone() } else { b },
        ),
    }
}

/// Whether a table file may hold a row matching the new data, judging by
/// its statistics on every matched column (unknown statistics: maybe).
pub(super) fn may_match(
    entry: &ManifestEntry,
    summaries: &HashMap<i32, ValueSummary>,
    ids: &[i32],
    null_safe: bool,
) -> bool {
    let file = entry.data_file();
    ids.iter().all(|id| {
        let Some(new) = summaries.get(id) else {
            return true;
        };
        let nulls = file.null_value_counts().get(id).copied();
        let values = file
            .value_counts()
            .get(id)
            .copied()
            .unwrap_or(file.record_count());
        let null_hit = null_safe && new.nulls && nulls.is_none_or(|n| n > 0);
        let has_values = nulls.is_none_or(|n| values > n);
        let range_hit = match (
            &new.range,
            file.lower_bounds().get(id),
            file.upper_bounds().get(id),
        ) {
            (None, _, _) => false,
            (Some(_), _, _) if !has_values => false,
            (Some((lo, hi)), Some(flo), Some(fhi)) => !(fhi < lo || hi < flo),
            (Some(_), _, _) => true,
        };
        null_hit || range_hit
    })
}

/// The base files passing [`may_match`].
pub(super) fn candidates(
    base: &SnapshotFiles,
    summaries: &HashMap<i32, ValueSummary>,
    ids: &[i32],
    null_safe: bool,
) -> Vec<String> {
    base.entries()
        .filter(|e| may_match(e, summaries, ids, null_safe))
        .map(|e| e.data_file().file_path().to_owned())
        .collect()
}

/// The candidate files that really hold a row matching `new_rows`.
pub(super) async fn files_matching(
    writer: &FileWriter,
    rows: &RowMatch,
    candidates: &[String],
    new_rows: &str,
) -> Result<Vec<String>> {
    if candidates.is_empty() {
        return Ok(Vec::new());
    }
    let schema = writer.schema();
    let key_schema = Schema::builder()
        .with_fields(
            rows.columns
                .iter()
                .filter_map(|k| schema.field_by_name(k).cloned())
                .collect::<Vec<_>>(),
        )
        .build()
        .map_err(|e| Error::internal("key schema").with_source(e))?;
    let sql = format!(
        "SELECT DISTINCT e.__rat_file FROM ({}) AS e WHERE EXISTS (SELECT 1 FROM ({new_rows}) AS n WHERE {})",
        files_relation_with_source(&key_schema, candidates, writer.read_by(), "__rat_file"),
        rows.condition("n", "e")
    );
    let found = writer.session().run(move |c| string_set(c, &sql)).await?;
    Ok(opened_by_duckdb(candidates, &found))
}

/// The distinct strings of a query's first column.
pub(super) fn string_set(conn: &duckdb::Connection, sql: &str) -> Result<HashSet<String>> {
    let mut stmt = conn
        .prepare(sql)
        .map_err(|e| duck_error("query failed", e))?;
    let rows = stmt
        .query_map([], |r| r.get::<_, String>(0))
        .map_err(|e| duck_error("query failed", e))?;
    rows.collect::<std::result::Result<HashSet<_>, _>>()
        .map_err(|e| duck_error("query failed", e))
}

/// The URIs among `candidates` whose path DuckDB reported (it reports paths
/// as it opened them, not as the manifests spell them).
pub(super) fn opened_by_duckdb(candidates: &[String], found: &HashSet<String>) -> Vec<String> {
    candidates
        .iter()
        .filter(|uri| found.contains(engine_path(uri)))
        .cloned()
        .collect()
}

/// The shared tail of upserts and partition replacement: find the base files
/// holding a row that matches the freshly written `new_files`, rewrite them
/// without those rows (together with the new rows of their partitions), and
/// report the change.
pub(super) async fn replace_matching(
    writer: &FileWriter,
    rows: &RowMatch,
    ids: &[i32],
    new_files: Vec<DataFile>,
    base: &SnapshotFiles,
) -> Result<Change> {
    let summaries = summarize_files(&new_files, ids);
    let candidates = candidates(base, &summaries, ids, rows.null_safe);
    let new_rows = written(writer, &new_files);
    let affected = files_matching(writer, rows, &candidates, &new_rows).await?;
    let kept = format!(
        "SELECT e.* FROM ({}) AS e WHERE NOT EXISTS (SELECT 1 FROM ({new_rows}) AS n WHERE {})",
        files_relation(writer.schema(), &affected, writer.read_by()),
        rows.condition("n", "e")
    );
    let added = rewrite_with_new(writer, &kept, &affected, base, new_files).await?;
    Ok(Change::new(added, affected))
}

/// Writes `rewritten` (the rows of the `affected` base files that stay,
/// as they stay) together with the new files in the partitions those base
/// files are in, so a touched partition ends with one file, not one of
/// kept rows and one of new rows, and repeated changes do not fragment the
/// table. New files of other partitions are kept as written; the ones
/// merged are deleted (this attempt wrote them and never commits them).
pub(super) async fn rewrite_with_new(
    writer: &FileWriter,
    rewritten: &str,
    affected: &[String],
    base: &SnapshotFiles,
    new_files: Vec<DataFile>,
) -> Result<Vec<DataFile>> {
    if affected.is_empty() {
        return Ok(new_files);
    }
    let affected_paths: HashSet<&str> = affected.iter().map(String::as_str).collect();
    let touched: HashSet<&Struct> = base
        .data_files_of_spec(writer.spec_id())
        .filter(|f| affected_paths.contains(f.file_path()))
        .map(|f| f.partition())
        .collect();
    let (merged, separate): (Vec<DataFile>, Vec<DataFile>) = new_files
        .into_iter()
        .partition(|f| touched.contains(f.partition()));
    let select = if merged.is_empty() {
        rewritten.to_owned()
    } else {
        format!(
            "SELECT * FROM ({rewritten}) AS __rat_kept UNION ALL BY NAME SELECT * FROM ({}) AS __rat_new",
            written(writer, &merged)
        )
    };
    let mut added = separate;
    added.extend(writer.write(&select, "rewrite").await?);
    writer.discard(&merged).await;
    Ok(added)
}

/// A relation over files this run just wrote (always in the write schema).
pub(super) fn written(writer: &FileWriter, files: &[DataFile]) -> String {
    let paths: Vec<String> = files
        .iter()
        .map(|f| writer.readable(f.file_path()))
        .collect();
    files_relation(writer.schema(), &paths, ColumnMatch::ByName)
}
