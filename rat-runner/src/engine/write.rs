//! Writing query results as Iceberg data files: DuckDB's `COPY ... TO`
//! Parquet with field ids, partitioned by the table's spec, then a manifest
//! entry per file from its footer.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use futures::StreamExt;
use iceberg::io::FileIO;

use iceberg::spec::{
    DataFile, Literal, PartitionSpec, PrimitiveType, Schema, Struct, Transform, Type,
};
use rat_core::{Error, ErrorKind, LoadedTable, Result, RunId};

use crate::duck::{
    ColumnMatch, DuckSession, cast_projection, duck_error, engine_path, field_ids_option,
    quote_ident, quote_literal,
};
use crate::table::properties::{TARGET_FILE_SIZE_BYTES, u64_property};
use crate::table::{describe_data_file, partition_path, same_fields};

/// Target size of one data file when the table does not set
/// `write.target-file-size-bytes`: the size compaction aims at, so files a
/// run writes are not what the next compaction rewrites.
const TARGET_FILE_SIZE: u64 = 128 * 1024 * 1024;

/// Writes data files of one table for one run.
#[derive(Debug, Clone)]
pub(crate) struct FileWriter {
    session: DuckSession,
    table: LoadedTable,
    schema: Arc<Schema>,
    spec: Arc<PartitionSpec>,
    run_id: RunId,
    /// Where files of remote tables are written before their upload.
    staging: PathBuf,
    /// Local copies of the files uploaded so far, which the run reads
    /// instead of the uploads (its session may read no other `s3://`
    /// file than those it resolved before running pipeline SQL).
    staged: Arc<Staged>,
}

/// The uploaded files' local copies, removed with the last writer clone.
#[derive(Debug, Default)]
struct Staged {
    folder: Option<PathBuf>,
    copies: std::sync::Mutex<std::collections::HashMap<String, String>>,
}

impl Drop for Staged {
    fn drop(&mut self) {
        if let Some(folder) = &self.folder {
            let _ = std::fs::remove_dir_all(folder);
        }
    }
}

/// How a partition value comes out of DuckDB.
#[derive(Debug, Clone, Copy)]
pub(crate) enum ValueKind {
    Int,
    Long,
    Date,
    Timestamp,
    Timestamptz,
    Boolean,
    Double,
    Float,
    Text,
    /// A decimal as text with all its fractional digits.
    Decimal,
}

impl FileWriter {
    /// A writer for `table` with the schema and spec the run writes with.
    pub(crate) fn new(
        session: DuckSession,
        table: LoadedTable,
        schema: Arc<Schema>,
        run_id: RunId,
        staging: PathBuf,
    ) -> Self {
        let spec = table.metadata.default_partition_spec().clone();
        let folder = is_remote(table.metadata.location())
            .then(|| PathBuf::from(Self::run_folder(&table, &run_id, &staging)));
        Self {
            session,
            table,
            schema,
            spec,
            run_id,
            staging,
            staged: Arc::new(Staged {
                folder,
                copies: Default::default(),
            }),
        }
    }

    /// Where this run's session reads a file it wrote: its local copy when
    /// it was uploaded, else the file itself.
    pub(crate) fn readable(&self, uri: &str) -> String {
        let copies = self.staged.copies.lock().unwrap_or_else(|e| e.into_inner());
        copies.get(uri).cloned().unwrap_or_else(|| uri.to_owned())
    }

    /// The run's DuckDB session.
    pub(crate) fn session(&self) -> &DuckSession {
        &self.session
    }

    /// How to read the table's files with the write schema: by name only if
    /// the table never evolved and this run does not evolve it either.
    pub(crate) fn read_by(&self) -> ColumnMatch {
        let current = self.table.metadata.current_schema();
        if same_fields(current, &self.schema) {
            ColumnMatch::for_table(&self.table.metadata)
        } else {
            ColumnMatch::ByFieldId
        }
    }

    /// The id of the partition spec files are written with.
    pub(crate) fn spec_id(&self) -> i32 {
        self.spec.spec_id()
    }

    /// The schema files are written with.
    pub(crate) fn schema(&self) -> &Arc<Schema> {
        &self.schema
    }

    /// The local folder DuckDB writes a run's files of `table` into (the
    /// run's own: its session may write nowhere else): `data/<run>/` of a
    /// local table, or `<run>/` of the staging folder for a remote one,
    /// whose files are uploaded from there.
    pub(crate) fn run_folder(table: &LoadedTable, run_id: &RunId, staging: &Path) -> String {
        let location = table.metadata.location().trim_end_matches('/');
        if is_remote(location) {
            staging.join(run_id.as_str()).to_string_lossy().into_owned()
        } else {
            format!("{}/data/{run_id}", engine_path(location))
        }
    }

    /// Runs `select` (already in the table's column types, see
    /// [`cast_projection`]) and writes its rows as data files under a fresh
    /// folder `data/<run>/<label>/`. Returns one [`DataFile`] per non-empty
    /// file.
    pub(crate) async fn write(&self, select: &str, label: &str) -> Result<Vec<DataFile>> {
        let location = self.table.metadata.location().trim_end_matches('/');
        let dir = format!("{location}/data/{}/{label}", self.run_id);
        // DuckDB writes local files; remote tables get them uploaded through
        // the table's I/O (with its refreshing credentials).
        let remote = is_remote(location);
        let local_dir = format!(
            "{}/{label}",
            Self::run_folder(&self.table, &self.run_id, &self.staging)
        );
        std::fs::create_dir_all(&local_dir)?;
        self.copy_and_describe(select, &local_dir, &dir, remote)
            .await
    }

    async fn copy_and_describe(
        &self,
        select: &str,
        local_dir: &str,
        dir: &str,
        remote: bool,
    ) -> Result<Vec<DataFile>> {
        let partition_exprs = partition_exprs(&self.spec, &self.schema)?;
        let file_size = u64_property(
            self.table.metadata.properties(),
            TARGET_FILE_SIZE_BYTES,
            TARGET_FILE_SIZE,
        );
        // DuckDB cannot split partitioned writes by size: each partition
        // of one write is one file.
        let (source, partition_clause) = if partition_exprs.is_empty() {
            (select.to_owned(), format!(", FILE_SIZE_BYTES {file_size}"))
        } else {
            let extra: Vec<String> = partition_exprs
                .iter()
                .enumerate()
                .map(|(i, (expr, _))| format!("{expr} AS __rat_p{i}"))
                .collect();
            let names: Vec<String> = (0..partition_exprs.len())
                .map(|i| format!("__rat_p{i}"))
                .collect();
            (
                format!(
                    "SELECT *, {} FROM ({select}) AS __rat_rows",
                    extra.join(", ")
                ),
                format!(
                    ", PARTITION_BY ({}), WRITE_PARTITION_COLUMNS false, OVERWRITE_OR_IGNORE true",
                    names.join(", ")
                ),
            )
        };
        // Unique names: files of two runs, or of two partitions whose
        // folder names read alike, never collide.
        let copy = format!(
            "COPY ({source}) TO {} (FORMAT parquet, COMPRESSION zstd, FIELD_IDS {}, RETURN_FILES true, FILENAME_PATTERN '{}-{{uuid}}'{partition_clause})",
            quote_literal(local_dir),
            field_ids_option(&self.schema),
            self.run_id,
        );
        let written: Vec<String> = self
            .session
            .run(move |c| {
                let mut stmt = c
                    .prepare(&copy)
                    .map_err(|e| duck_error("query failed", e))?;
                let mut rows = stmt.query([]).map_err(|e| duck_error("query failed", e))?;
                let mut files = Vec::new();
                while let Some(row) = rows.next().map_err(|e| duck_error("query failed", e))? {
                    let list: duckdb::types::Value =
                        row.get(1).map_err(|e| duck_error("COPY result", e))?;
                    if let duckdb::types::Value::List(items) = list {
                        for item in items {
                            if let duckdb::types::Value::Text(path) = item {
                                files.push(path);
                            }
                        }
                    }
                }
                Ok(files)
            })
            .await?;

        let mut out = Vec::with_capacity(written.len());
        for local in written {
            let partition = self.partition_value(&local, &partition_exprs).await?;
            let local = self.move_to_partition_folder(&local, local_dir, &partition)?;
            let local_uri = format!("file://{local}");
            let uri = match local.strip_prefix(local_dir) {
                Some(relative) if remote => format!("{dir}{relative}"),
                _ => local_uri.clone(),
            };
            let data_file = describe_data_file(
                &self.table.file_io,
                &local_uri,
                &uri,
                &self.schema,
                partition,
                self.spec.spec_id(),
            )
            .await?;
            if data_file.record_count() == 0 {
                let _ = std::fs::remove_file(&local);
                continue;
            }
            if remote {
                upload(&self.table.file_io, &local, &uri).await?;
                let mut copies = self.staged.copies.lock().unwrap_or_else(|e| e.into_inner());
                copies.insert(uri.clone(), local);
            }
            out.push(data_file);
        }
        remove_engine_folders(local_dir);
        Ok(out)
    }

    /// Moves a file DuckDB wrote under its own partition folders
    /// (`__rat_p0=20458/`) to the folder Iceberg's writers would use
    /// (`at_day=2026-01-05/`); unpartitioned files stay where they are.
    fn move_to_partition_folder(
        &self,
        local: &str,
        local_dir: &str,
        partition: &Struct,
    ) -> Result<String> {
        if self.spec.fields().is_empty() {
            return Ok(local.to_owned());
        }
        let name = Path::new(local)
            .file_name()
            .ok_or_else(|| Error::internal(format!("DuckDB wrote '{local}', not a file")))?;
        let folder = Path::new(local_dir).join(partition_path(&self.spec, &self.schema, partition));
        std::fs::create_dir_all(&folder)?;
        let target = folder.join(name);
        std::fs::rename(local, &target)?;
        Ok(target.to_string_lossy().into_owned())
    }

    /// Deletes files this attempt wrote and will not commit (merged into a
    /// later write). Best effort: a file left behind is an orphan, removed
    /// by maintenance once old enough.
    pub(crate) async fn discard(&self, files: &[DataFile]) {
        for file in files {
            let uri = file.file_path();
            let copy = {
                let mut copies = self.staged.copies.lock().unwrap_or_else(|e| e.into_inner());
                copies.remove(uri)
            };
            if let Some(local) = copy {
                let _ = std::fs::remove_file(local);
            }
            let _ = self.table.file_io.delete(uri).await;
        }
    }

    /// `SELECT ... FROM (<user sql>)` cast to the write schema.
    pub(crate) fn projection(&self, sql: &str) -> String {
        cast_projection(&self.schema, sql)
    }

    /// Reads a file's partition tuple by evaluating the transforms on its
    /// first row (every row of a file shares it, by construction of the COPY).
    async fn partition_value(&self, local: &str, exprs: &[(String, ValueKind)]) -> Result<Struct> {
        if exprs.is_empty() {
            return Ok(Struct::empty());
        }
        let select: Vec<String> = exprs
            .iter()
            .map(|(e, _)| format!("CAST({e} AS VARCHAR)"))
            .collect();
        let sql = format!(
            "SELECT {} FROM read_parquet({}, hive_partitioning = false) LIMIT 1",
            select.join(", "),
            quote_literal(local)
        );
        let n = exprs.len();
        let texts: Vec<Option<String>> = self
            .session
            .run(move |c| {
                c.query_row(&sql, [], |row| {
                    (0..n).map(|i| row.get::<_, Option<String>>(i)).collect()
                })
                .map_err(|e| duck_error("cannot read partition value", e))
            })
            .await?;
        let literals = texts
            .into_iter()
            .zip(exprs)
            .map(|(text, (_, kind))| text.map(|t| literal(&t, *kind)).transpose())
            .collect::<Result<Vec<_>>>()?;
        Ok(Struct::from_iter(literals))
    }
}

/// Removes the partition folders DuckDB made under `local_dir`, emptied by
/// [`FileWriter::move_to_partition_folder`].
fn remove_engine_folders(local_dir: &str) {
    let Ok(entries) = std::fs::read_dir(local_dir) else {
        return;
    };
    for entry in entries.flatten() {
        if entry.file_name().to_string_lossy().starts_with("__rat_p") {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

/// Whether a table location is remote (its files are uploaded, not
/// written in place).
fn is_remote(location: &str) -> bool {
    location.contains("://") && !location.starts_with("file://")
}

/// Streams the local file `local` to `uri` (multipart when large).
async fn upload(file_io: &FileIO, local: &str, uri: &str) -> Result<()> {
    let failed = |e: iceberg::Error| {
        Error::new(
            ErrorKind::Storage,
            format!("cannot upload a data file: {e}"),
        )
        .with_context("file", uri)
    };
    let file = tokio::fs::File::open(local).await?;
    let mut chunks = tokio_util::io::ReaderStream::with_capacity(file, UPLOAD_CHUNK);
    let mut writer = file_io
        .new_output(uri)
        .map_err(failed)?
        .writer()
        .await
        .map_err(failed)?;
    while let Some(chunk) = chunks.next().await {
        writer.write(chunk?).await.map_err(failed)?;
    }
    writer.close().await.map_err(failed)?;
    Ok(())
}

/// Bytes read from a staged file per upload call.
const UPLOAD_CHUNK: usize = 8 << 20;

/// A DuckDB expression per partition field of `spec` computing the Iceberg
/// transform of its source column in `schema`, and how to read its value
/// back. A transform rat cannot compute for that column type is an error
/// naming the column (checked before a table is created).
pub(crate) fn partition_exprs(
    spec: &PartitionSpec,
    schema: &Schema,
) -> Result<Vec<(String, ValueKind)>> {
    spec.fields()
        .iter()
        .map(|field| {
            let source = schema.field_by_id(field.source_id).ok_or_else(|| {
                Error::internal(format!(
                    "partition source {} not in schema",
                    field.source_id
                ))
            })?;
            let Type::Primitive(ty) = source.field_type.as_ref() else {
                return Err(unsupported_partition(field.transform, &source.name));
            };
            transform_expr(field.transform, &quote_ident(&source.name), ty)
                .ok_or_else(|| unsupported_partition(field.transform, &source.name))
        })
        .collect()
}

/// The DuckDB expression of an Iceberg transform over `col` of type `ty`.
/// Temporal transforms count boundaries from the epoch, which is Iceberg's
/// floor semantics (the session runs in UTC).
fn transform_expr(t: Transform, col: &str, ty: &PrimitiveType) -> Option<(String, ValueKind)> {
    use PrimitiveType as P;
    let temporal = |unit: &str| -> Option<String> {
        match ty {
            P::Date => Some(format!("date_diff('{unit}', DATE '1970-01-01', {col})")),
            P::Timestamp => Some(format!(
                "date_diff('{unit}', TIMESTAMP '1970-01-01', {col})"
            )),
            P::Timestamptz => Some(format!(
                "date_diff('{unit}', TIMESTAMPTZ '1970-01-01 00:00:00+00', {col})"
            )),
            _ => None,
        }
    };
    match t {
        Transform::Identity => {
            let kind = match ty {
                P::Boolean => ValueKind::Boolean,
                P::Int => ValueKind::Int,
                P::Long => ValueKind::Long,
                P::Float => ValueKind::Float,
                P::Double => ValueKind::Double,
                P::Date => ValueKind::Date,
                P::Timestamp => ValueKind::Timestamp,
                P::Timestamptz => ValueKind::Timestamptz,
                P::String => ValueKind::Text,
                P::Decimal { .. } => ValueKind::Decimal,
                _ => return None,
            };
            let expr = match kind {
                ValueKind::Date => format!("date_diff('day', DATE '1970-01-01', {col})"),
                ValueKind::Timestamp | ValueKind::Timestamptz => format!("epoch_us({col})"),
                _ => col.to_owned(),
            };
            Some((expr, kind))
        }
        Transform::Bucket(n) => {
            let arg = match ty {
                P::Int | P::Long => format!("CAST({col} AS BIGINT)"),
                P::Date => format!("CAST(date_diff('day', DATE '1970-01-01', {col}) AS BIGINT)"),
                P::Timestamp | P::Timestamptz => format!("epoch_us({col})"),
                P::String => col.to_owned(),
                P::Binary | P::Fixed(_) => format!("CAST({col} AS BLOB)"),
                P::Decimal { .. } => {
                    return Some((
                        format!("rat_bucket_decimal({n}, CAST({col} AS VARCHAR))"),
                        ValueKind::Int,
                    ));
                }
                _ => return None,
            };
            Some((format!("rat_bucket({n}, {arg})"), ValueKind::Int))
        }
        Transform::Year => Some((temporal("year")?, ValueKind::Int)),
        Transform::Month => Some((temporal("month")?, ValueKind::Int)),
        Transform::Day => Some((temporal("day")?, ValueKind::Date)),
        Transform::Hour => {
            let expr = match ty {
                P::Timestamp => format!("date_diff('hour', TIMESTAMP '1970-01-01', {col})"),
                P::Timestamptz => {
                    format!("date_diff('hour', TIMESTAMPTZ '1970-01-01 00:00:00+00', {col})")
                }
                _ => return None,
            };
            Some((expr, ValueKind::Int))
        }
        Transform::Truncate(w) => match ty {
            P::Int => Some((
                format!("{col} - ((({col} % {w}) + {w}) % {w})"),
                ValueKind::Int,
            )),
            P::Long => Some((
                format!("{col} - ((({col} % {w}) + {w}) % {w})"),
                ValueKind::Long,
            )),
            P::String => Some((format!("left({col}, {w})"), ValueKind::Text)),
            _ => None,
        },
        _ => None,
    }
}

fn literal(text: &str, kind: ValueKind) -> Result<Literal> {
    let bad = || Error::internal(format!("unexpected partition value '{text}'"));
    Ok(match kind {
        ValueKind::Int => Literal::int(text.parse::<i32>().map_err(|_| bad())?),
        ValueKind::Date => Literal::date(text.parse::<i32>().map_err(|_| bad())?),
        ValueKind::Long => Literal::long(text.parse::<i64>().map_err(|_| bad())?),
        ValueKind::Timestamp => Literal::timestamp(text.parse::<i64>().map_err(|_| bad())?),
        ValueKind::Timestamptz => Literal::timestamptz(text.parse::<i64>().map_err(|_| bad())?),
        ValueKind::Boolean => Literal::bool(text == "true"),
        ValueKind::Float => Literal::float(text.parse::<f32>().map_err(|_| bad())?),
        ValueKind::Double => Literal::double(text.parse::<f64>().map_err(|_| bad())?),
        ValueKind::Text => Literal::string(text),
        ValueKind::Decimal => {
            Literal::decimal(text.replace('.', "").parse::<i128>().map_err(|_| bad())?)
        }
    })
}

fn unsupported_partition(t: Transform, column: &str) -> Error {
    Error::new(
        ErrorKind::Unsupported,
        format!("partitioning column '{column}' by {t} is not supported yet"),
    )
    .with_context("field", "partition_by")
}
