//! Making `ref()`s and `landing_zone()`s real in a run's DuckDB session:
//! a view per referenced table over the committed data files of the snapshot
//! it resolves to, and a view per landing zone over its files.

use std::collections::{BTreeMap, BTreeSet};

use rat_core::project::FileFormat;
use rat_core::project::landing::{is_zone_data, zone_prefix};
use rat_core::{
    Catalog, Error, ErrorKind, Identifier, Layer, LoadedTable, ObjectKey, ProjectSource, Result,
    S3Access, Storage, StorageExt, TableRef,
};

use crate::duck::{
    ColumnMatch, DuckSession, duck_error, files_relation, landing_view_name, quote_ident,
    quote_literal, string_list,
};
use crate::table::{SnapshotFiles, snapshot_files};
use crate::template::{AsOf, RefTarget};

/// The data a view shows: a schema and the files of one snapshot.
#[derive(Debug, Clone)]
pub(crate) struct Relation {
    /// Schema of the snapshot (columns, types, field ids).
    pub(crate) schema: iceberg::spec::Schema,
    /// Data file URIs.
    pub(crate) files: Vec<String>,
    /// How columns are found in the files.
    pub(crate) by: ColumnMatch,
    /// The table's folder (where all its files live).
    pub(crate) location: String,
    /// How DuckDB reaches the files when they are remote.
    pub(crate) s3: Option<S3Access>,
    /// The snapshot the files are of (`None`: a table without one, or
    /// files not of one snapshot).
    pub(crate) snapshot_id: Option<i64>,
}

impl Relation {
    /// The relation of one of `table`'s snapshots, read with that snapshot's schema.
    pub(crate) fn of(table: &LoadedTable, files: &SnapshotFiles) -> Self {
        let schema = files
            .schema
            .as_deref()
            .unwrap_or(table.metadata.current_schema());
        Self {
            schema: schema.clone(),
            files: files.paths(),
            by: ColumnMatch::for_table(&table.metadata),
            location: table.metadata.location().to_owned(),
            s3: table.s3.clone(),
            snapshot_id: files.snapshot.as_ref().map(|s| s.snapshot_id()),
        }
    }

    /// The SQL of the relation.
    pub(crate) fn sql(&self) -> String {
        files_relation(&self.schema, &self.files, self.by)
    }
}

/// Lets the session read `table`'s files when they are remote.
pub(crate) async fn grant_table(session: &DuckSession, table: &LoadedTable) -> Result<()> {
    match &table.s3 {
        Some(access) => session.grant_s3(table.metadata.location(), access).await,
        None => Ok(()),
    }
}

/// Resolves each `ref()` target to a snapshot: `main`'s, or the one named by
/// `as_of`. A missing table or version is an error naming `file`; a table
/// that exists without a snapshot reads as empty.
pub(crate) async fn resolve_refs(
    catalog: &dyn Catalog,
    refs: &BTreeSet<RefTarget>,
    file: &str,
) -> Result<BTreeMap<RefTarget, Relation>> {
    let mut out = BTreeMap::new();
    for target in refs {
        let table = &target.table;
        let loaded = match catalog.load_table(table).await {
            Ok(t) => t,
            Err(e) if e.kind() == ErrorKind::NotFound => {
                return Err(Error::invalid(format!(
                    "ref('{}') names a table that does not exist and no pipeline produces",
                    table.short()
                ))
                .with_context("file", file));
            }
            Err(e) => return Err(e),
        };
        out.insert(
            target.clone(),
            relation_at(&loaded, target.as_of, file).await?,
        );
    }
    Ok(out)
}

/// The relation of `table` on `main` at `as_of` (now when `None`).
pub(crate) async fn relation_at(
    table: &LoadedTable,
    as_of: Option<AsOf>,
    file: &str,
) -> Result<Relation> {
    let snapshot = snapshot_as_of(table, as_of).map_err(|e| e.with_context("file", file))?;
    let files = snapshot_files(table, snapshot).await?;
    Ok(Relation::of(table, &files))
}

/// The snapshot a table had on `main` at `as_of` (now when `None`).
pub(crate) fn snapshot_as_of(table: &LoadedTable, as_of: Option<AsOf>) -> Result<Option<i64>> {
    match as_of {
        None => Ok(table.main_snapshot_id()),
        Some(AsOf::Snapshot(id)) => match table.metadata.snapshot_by_id(id) {
            Some(_) => Ok(Some(id)),
            None => Err(Error::invalid(format!(
                "table '{}' has no snapshot {id}{} (see rat history {})",
                table.table,
                expired_note(table),
                table.table.short()
            ))),
        },
        Some(AsOf::Time(t)) => table
            .metadata
            .history()
            .iter()
            .take_while(|entry| entry.timestamp_ms <= t.timestamp_millis())
            .last()
            .map(|entry| Some(entry.snapshot_id))
            .ok_or_else(|| {
                Error::invalid(format!(
                    "table '{}' had no snapshot on main at {}{}",
                    table.table,
                    t.format("%Y-%m-%d %H:%M:%S%.3f UTC"),
                    expired_note(table)
                ))
            }),
    }
}

/// When maintenance expired snapshots: says so, with how far back history
/// now goes, so time travel past it is not mistaken for a typo.
fn expired_note(table: &LoadedTable) -> String {
    let Some(before) = table
        .metadata
        .properties()
        .get(crate::maintain::EXPIRED_BEFORE_PROPERTY)
        .and_then(|v| v.parse::<i64>().ok())
        .and_then(chrono::DateTime::from_timestamp_millis)
    else {
        return String::new();
    };
    format!(
        ": it may have been expired (snapshots up to {} were expired by maintenance)",
        before.format("%Y-%m-%d %H:%M:%S UTC")
    )
}

/// Creates (or replaces) the views for `relations` in the session.
pub(crate) async fn create_table_views(
    session: &DuckSession,
    relations: &BTreeMap<RefTarget, Relation>,
) -> Result<()> {
    grant_relations(session, relations).await?;
    let sql = table_views_sql(relations);
    session
        .run(move |c| {
            c.execute_batch(&sql)
                .map_err(|e| duck_error("cannot create table views", e))
        })
        .await
}

/// Lets the session read the relations whose files are remote.
pub(crate) async fn grant_relations(
    session: &DuckSession,
    relations: &BTreeMap<RefTarget, Relation>,
) -> Result<()> {
    for relation in relations.values() {
        if let Some(access) = &relation.s3 {
            session.grant_s3(&relation.location, access).await?;
        }
    }
    Ok(())
}

/// The statements making the view of each relation (a Python script's
/// DuckDB connection runs the same ones).
pub(crate) fn table_views_sql(relations: &BTreeMap<RefTarget, Relation>) -> String {
    let mut sql = String::new();
    let namespaces: BTreeSet<&Identifier> = relations.keys().map(|t| &t.table.namespace).collect();
    for ns in namespaces {
        sql.push_str(&format!(
            "ATTACH IF NOT EXISTS ':memory:' AS {};\n",
            quote_ident(ns.as_str())
        ));
    }
    for (target, relation) in relations {
        sql.push_str(&format!(
            "CREATE SCHEMA IF NOT EXISTS {}.{};\nCREATE OR REPLACE VIEW {} AS {};\n",
            quote_ident(target.table.namespace.as_str()),
            quote_ident(target.table.layer.as_str()),
            target.view_name(),
            relation.sql()
        ));
    }
    sql
}

/// Creates the views of the landing zones a template named; what they
/// read.
pub(crate) async fn create_landing_views(
    session: &DuckSession,
    storage: &dyn Storage,
    project: &ProjectSource,
    zones: &BTreeSet<Identifier>,
    file: &str,
) -> Result<LandingViews> {
    grant_landing(session, storage, project, zones).await?;
    let views = landing_views(storage, project, zones, file).await?;
    if !views.sql.is_empty() {
        let sql = views.sql.clone();
        session
            .run(move |c| {
                c.execute_batch(&sql)
                    .map_err(|e| duck_error("cannot read landing zone", e))
            })
            .await?;
    }
    Ok(views)
}

/// Lets the session read `zones` when the storage is remote.
pub(crate) async fn grant_landing(
    session: &DuckSession,
    storage: &dyn Storage,
    project: &ProjectSource,
    zones: &BTreeSet<Identifier>,
) -> Result<()> {
    if let Some(access) = storage.s3_access() {
        for zone in zones {
            let folder = ObjectKey::new(format!("{}landing/{zone}", project.prefix))?;
            session
                .grant_s3(&storage.engine_url(&folder), &access)
                .await?;
        }
    }
    Ok(())
}

/// The views of some landing zones: their statements and the files they read.
#[derive(Debug, Default)]
pub(crate) struct LandingViews {
    /// `CREATE VIEW` statements (empty for no zones).
    pub(crate) sql: String,
    /// The files the views read, as the engine reaches them.
    pub(crate) files: Vec<String>,
    /// The same files by zone and key.
    pub(crate) consumed: Vec<(Identifier, ObjectKey)>,
}

/// The views of `zones` over the data files each holds now (not rat's own
/// files: the zone's settings, its archive).
pub(crate) async fn landing_views(
    storage: &dyn Storage,
    project: &ProjectSource,
    zones: &BTreeSet<Identifier>,
    file: &str,
) -> Result<LandingViews> {
    let mut views = LandingViews::default();
    if zones.is_empty() {
        return Ok(views);
    }
    views
        .sql
        .push_str("CREATE SCHEMA IF NOT EXISTS memory.landing;\n");
    for zone in zones {
        let objects = zone_data(storage, project, zone).await?;
        let reader =
            landing_reader(zone, &objects, storage).map_err(|e| e.with_context("file", file))?;
        for object in objects {
            views.files.push(storage.engine_url(&object.key));
            views.consumed.push((zone.clone(), object.key));
        }
        views.sql.push_str(&format!(
            "CREATE OR REPLACE VIEW {} AS SELECT * FROM {reader};\n",
            landing_view_name(zone.as_str())
        ));
    }
    Ok(views)
}

/// The objects of a zone `landing_zone()` reads, in key order.
pub(crate) async fn zone_data(
    storage: &dyn Storage,
    project: &ProjectSource,
    zone: &Identifier,
) -> Result<Vec<rat_core::ObjectMeta>> {
    let prefix = zone_prefix(project, zone);
    let mut objects = storage.list_all(&prefix).await?;
    objects.retain(|o| is_zone_data(&o.key.as_str()[prefix.len()..]));
    Ok(objects)
}

/// The table function reading a zone's files, chosen by their extension.
pub(crate) fn landing_reader(
    zone: &Identifier,
    objects: &[rat_core::ObjectMeta],
    storage: &dyn Storage,
) -> Result<String> {
    if objects.is_empty() {
        return Err(Error::invalid(format!(
            "landing zone '{zone}' has no files"
        )));
    }
    let mut by_format: BTreeMap<FileFormat, Vec<String>> = BTreeMap::new();
    for object in objects {
        let Some(format) = FileFormat::of(object.key.file_name()) else {
            return Err(Error::invalid(format!(
                "landing zone '{zone}' holds '{}', which is not csv, json or parquet",
                object.key
            )));
        };
        by_format
            .entry(format)
            .or_default()
            .push(storage.engine_url(&object.key));
    }
    if by_format.len() > 1 {
        let formats: Vec<&str> = by_format.keys().map(|f| f.as_str()).collect();
        return Err(Error::invalid(format!(
            "landing zone '{zone}' mixes file formats ({}); keep one format per zone",
            formats.join(", ")
        )));
    }
    let (format, urls) = by_format.into_iter().next().expect("one format");
    let list = string_list(&urls);
    Ok(match format {
        FileFormat::Parquet => format!("read_parquet({list}, union_by_name = true)"),
        FileFormat::Csv => format!("read_csv({list}, union_by_name = true, filename = false)"),
        FileFormat::Json => format!("read_json_auto({list}, union_by_name = true)"),
    })
}

/// Fails unless `sql` parses as exactly one SELECT (`WITH` and set
/// operations included). Errors name `file` and the line of `template`
/// (what `sql` was rendered from).
pub(crate) async fn check_select(
    session: &DuckSession,
    sql: &str,
    file: &str,
    template: &str,
) -> Result<()> {
    parse_select(session, sql, file, template).await.map(|_| ())
}

/// DuckDB's syntax tree of `sql` (`json_serialize_sql`), which must be
/// exactly one SELECT (`WITH` and set operations included). Errors name
/// `file` and the line of `template` (what `sql` was rendered from).
pub(crate) async fn parse_select(
    session: &DuckSession,
    sql: &str,
    file: &str,
    template: &str,
) -> Result<serde_json::Value> {
    let probe = format!("SELECT json_serialize_sql({})", quote_literal(sql));
    let json: String = session
        .run(move |c| {
            c.query_row(&probe, [], |r| r.get(0))
                .map_err(|e| duck_error("cannot parse SQL", e))
        })
        .await?;
    let parsed: serde_json::Value = serde_json::from_str(&json)
        .map_err(|e| Error::internal(format!("unexpected parser output: {e}")))?;
    if parsed["error"].as_bool() == Some(true) {
        let message = parsed["error_message"].as_str().unwrap_or("cannot parse");
        let mut err = if parsed["error_type"] == "parser" {
            Error::invalid(format!("SQL syntax error: {message}"))
        } else {
            Error::invalid(
                "the SQL must be a single SELECT query (WITH and UNION allowed); \
                 statements that write or change settings are refused",
            )
        };
        err = err.with_context("file", file);
        if let Some(pos) = parsed["position"]
            .as_str()
            .and_then(|p| p.parse::<usize>().ok())
        {
            let line = sql.get(..pos).map_or(1, |s| s.matches('\n').count() + 1);
            err = err.with_context("line", template_line(template, sql, line));
        }
        return Err(err);
    }
    let count = parsed["statements"].as_array().map_or(0, Vec::len);
    if count != 1 {
        return Err(Error::invalid(format!(
            "the SQL must be exactly one SELECT query, found {count} statements"
        ))
        .with_context("file", file));
    }
    Ok(parsed)
}

/// The line of `template` that line `line` of `rendered` came from.
/// Rendering drops the lines of a false `{% if %}` and repeats those of a
/// loop, but a line without Jinja renders as it is: the template's line
/// of the same text nearest to `line`; `line` itself when none has it.
fn template_line(template: &str, rendered: &str, line: usize) -> usize {
    let Some(text) = rendered.lines().nth(line.saturating_sub(1)) else {
        return line;
    };
    let text = text.trim_end();
    if text.trim().is_empty() {
        return line;
    }
    template
        .lines()
        .enumerate()
        .filter(|(_, l)| l.trim_end() == text)
        .map(|(i, _)| i + 1)
        .min_by_key(|i| i.abs_diff(line))
        .unwrap_or(line)
}

/// The tables a parsed query names as `layer.name` (in
/// `default_namespace`) or `namespace.layer.name`, wherever they appear
/// (joins, subqueries, CTE bodies, set operations). Names that cannot be
/// rat tables (no valid layer: CTEs, unqualified names) are left to the
/// engine's own errors.
pub(crate) fn named_tables(
    parsed: &serde_json::Value,
    default_namespace: &Identifier,
) -> BTreeSet<TableRef> {
    let mut found = BTreeSet::new();
    let mut stack = vec![parsed];
    while let Some(node) = stack.pop() {
        match node {
            serde_json::Value::Object(map) => {
                if map.get("type").and_then(|t| t.as_str()) == Some("BASE_TABLE")
                    && let Some(table) = base_table(map, default_namespace)
                {
                    found.insert(table);
                }
                stack.extend(map.values());
            }
            serde_json::Value::Array(items) => stack.extend(items),
            _ => {}
        }
    }
    found
}

fn base_table(
    node: &serde_json::Map<String, serde_json::Value>,
    default_namespace: &Identifier,
) -> Option<TableRef> {
    let text = |key: &str| node.get(key).and_then(|v| v.as_str()).unwrap_or_default();
    let layer: Layer = text("schema_name").parse().ok()?;
    let name = Identifier::new(text("table_name")).ok()?;
    let namespace = match text("catalog_name") {
        "" => default_namespace.clone(),
        ns => rat_core::ident::namespace(ns).ok()?,
    };
    Some(TableRef::new(namespace, layer, name))
}
