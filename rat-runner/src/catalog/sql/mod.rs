//! [`SqlCatalog`]: an embedded Iceberg catalog in SQLite, in the Iceberg
//! JDBC/SQL catalog table layout, so pyiceberg's `SqlCatalog` (and Java's
//! `JdbcCatalog`) open the same file.

use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use iceberg::compression::CompressionCodec;
use iceberg::io::FileIO;
use iceberg::spec::{FormatVersion, SortOrder, TableMetadata, TableMetadataBuilder};
use iceberg::{MetadataLocation, TableRequirement};
use rat_core::catalog::table_not_found;
use rat_core::{
    Catalog, Error, ErrorKind, Identifier, Layer, LoadedTable, NamespaceProperties, NewTable,
    Result, TableCommit, TableRef,
};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions};
use sqlx::{Row, SqliteConnection};

mod namespaces;

use super::MetadataCache;
use super::metadata_json::{Refs, to_json};

/// The `catalog_name` rat writes and reads. Open the file from pyiceberg with
/// `SqlCatalog("rat", uri="sqlite:///…/catalog.db", warehouse="file:///…")`.
pub const DEFAULT_CATALOG_NAME: &str = "rat";

/// How often a commit re-reads and re-checks when another writer swapped the
/// metadata pointer between our read and our write.
const POINTER_RACE_RETRIES: usize = 16;

/// The first bytes of a gzip stream: a compressed metadata file.
const GZIP_MAGIC: [u8; 2] = [0x1F, 0x8B];

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS iceberg_tables (
    catalog_name VARCHAR(255) NOT NULL,
    table_namespace VARCHAR(255) NOT NULL,
    table_name VARCHAR(255) NOT NULL,
    metadata_location VARCHAR(1000),
    previous_metadata_location VARCHAR(1000),
    iceberg_type VARCHAR(5),
    PRIMARY KEY (catalog_name, table_namespace, table_name)
);
CREATE TABLE IF NOT EXISTS iceberg_namespace_properties (
    catalog_name VARCHAR(255) NOT NULL,
    namespace VARCHAR(255) NOT NULL,
    property_key VARCHAR(255) NOT NULL,
    property_value VARCHAR(1000) NOT NULL,
    PRIMARY KEY (catalog_name, namespace, property_key)
);
";

/// An Iceberg catalog whose table pointers live in SQLite and whose metadata,
/// manifests and data live under a warehouse folder.
///
/// Every commit is a compare-and-swap on the table's `metadata_location`
/// row, after checking the commit's requirements against the metadata that
/// row points to; a requirement that no longer holds is a retryable
/// [`ErrorKind::Conflict`].
///
/// ```no_run
/// # async fn demo() -> rat_core::Result<()> {
/// use rat_runner::catalog::SqlCatalog;
///
/// let catalog = SqlCatalog::open(".rat/catalog.db", ".rat/warehouse").await?;
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct SqlCatalog {
    pool: SqlitePool,
    name: String,
    warehouse_dir: PathBuf,
    file_io: FileIO,
    /// Metadata files already read: a load re-reads the pointer row only.
    metadata: MetadataCache,
}

impl SqlCatalog {
    /// Opens (creating if needed) a catalog database file and a local
    /// warehouse folder.
    pub async fn open(db_path: impl AsRef<Path>, warehouse: impl AsRef<Path>) -> Result<Self> {
        let db_path = db_path.as_ref();
        if let Some(parent) = db_path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::create_dir_all(warehouse.as_ref())?;
        let warehouse_dir = std::fs::canonicalize(warehouse.as_ref())?;
        let options = SqliteConnectOptions::new()
            .filename(db_path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .busy_timeout(Duration::from_secs(30));
        let pool = SqlitePoolOptions::new()
            .max_connections(4)
            .connect_with(options)
            .await
            .map_err(|e| catalog_error("cannot open catalog database", e))?;
        sqlx::raw_sql(SCHEMA)
            .execute(&pool)
            .await
            .map_err(|e| catalog_error("cannot create catalog tables", e))?;
        Ok(Self {
            pool,
            name: DEFAULT_CATALOG_NAME.to_owned(),
            warehouse_dir,
            file_io: FileIO::new_with_fs(),
            metadata: MetadataCache::default(),
        })
    }

    /// The warehouse folder.
    pub fn warehouse_dir(&self) -> &Path {
        &self.warehouse_dir
    }

    /// The warehouse as a `file://` URI (what pyiceberg calls `warehouse`).
    pub fn warehouse_uri(&self) -> String {
        format!("file://{}", self.warehouse_dir.display())
    }

    fn iceberg_namespace(table: &TableRef) -> String {
        table.iceberg_namespace().join(".")
    }

    /// A fresh folder for a new table: `{warehouse}/{ns}/{layer}/{name}`, with
    /// a suffix if a dropped table left files there.
    fn new_table_location(&self, table: &TableRef) -> String {
        let base = self
            .warehouse_dir
            .join(table.namespace.as_str())
            .join(table.layer.as_str())
            .join(table.name.as_str());
        let dir = if base.exists() {
            let suffix = uuid::Uuid::new_v4().simple().to_string();
            PathBuf::from(format!("{}-{}", base.display(), &suffix[..8]))
        } else {
            base
        };
        format!("file://{}", dir.display())
    }

    async fn ensure_namespace_rows(&self, conn: &mut SqliteConnection, ns: &str) -> Result<()> {
        sqlx::query(
            "INSERT OR IGNORE INTO iceberg_namespace_properties \
             (catalog_name, namespace, property_key, property_value) VALUES (?, ?, 'exists', 'true')",
        )
        .bind(&self.name)
        .bind(ns)
        .execute(conn)
        .await
        .map_err(|e| catalog_error("cannot create namespace", e))?;
        Ok(())
    }

    async fn current_location(&self, table: &TableRef) -> Result<Option<String>> {
        let row = sqlx::query(
            "SELECT metadata_location FROM iceberg_tables \
             WHERE catalog_name = ? AND table_namespace = ? AND table_name = ? \
             AND (iceberg_type = 'TABLE' OR iceberg_type IS NULL)",
        )
        .bind(&self.name)
        .bind(Self::iceberg_namespace(table))
        .bind(table.name.as_str())
        .fetch_optional(&self.pool)
        .await
        .map_err(|e| catalog_error("cannot read catalog", e))?;
        Ok(row.and_then(|r| r.get::<Option<String>, _>(0)))
    }

    /// The metadata `location` holds: read once, then from the cache.
    async fn read_metadata(&self, table: &TableRef, location: &str) -> Result<Arc<TableMetadata>> {
        Ok(self.read_with_refs(table, location).await?.0)
    }

    /// The metadata `location` holds and, unless the file is compressed,
    /// its refs: read once, then from the cache.
    async fn read_with_refs(
        &self,
        table: &TableRef,
        location: &str,
    ) -> Result<(Arc<TableMetadata>, Option<Arc<Refs>>)> {
        if let Some(known) = self.metadata.get_with_refs(location) {
            return Ok(known);
        }
        let read_error = |e: iceberg::Error| {
            Error::new(ErrorKind::Catalog, "cannot read table metadata")
                .with_context("table", table)
                .with_context("file", location)
                .with_source(e)
        };
        let bytes = self
            .file_io
            .new_input(location)
            .map_err(read_error)?
            .read()
            .await
            .map_err(read_error)?;
        // A compressed file (rare: rat never asks for one) is read again by
        // iceberg, which alone can inflate it; its refs stay unknown.
        let (metadata, refs) = if bytes.starts_with(&GZIP_MAGIC) {
            let metadata = TableMetadata::read_from(&self.file_io, location)
                .await
                .map_err(read_error)?;
            (metadata, None)
        } else {
            let metadata: TableMetadata =
                serde_json::from_slice(&bytes).map_err(|e| read_error(e.into()))?;
            let refs = Refs::read(&bytes, &metadata).map_err(|e| read_error(e.into()))?;
            (metadata, Some(Arc::new(refs)))
        };
        let metadata = Arc::new(metadata);
        self.metadata
            .insert_with_refs(location, metadata.clone(), refs.clone());
        Ok((metadata, refs))
    }

    /// Writes `metadata` to `location`: from borrowed parts when its refs
    /// are known and it is uncompressed v2 (see [`to_json`]), else through
    /// iceberg's serializer.
    async fn write_metadata(
        &self,
        table: &TableRef,
        metadata: &TableMetadata,
        refs: Option<&Refs>,
        location: &MetadataLocation,
    ) -> Result<()> {
        let uncompressed = matches!(
            metadata.metadata_compression_codec(),
            Ok(CompressionCodec::None)
        );
        let json = refs
            .filter(|_| uncompressed)
            .and_then(|refs| to_json(metadata, refs));
        let written = match json {
            Some(json) => {
                let json = json.map_err(|e| storage_error(table, e.into()))?;
                self.file_io
                    .new_output(location.to_string())
                    .map_err(|e| storage_error(table, e))?
                    .write(json.into())
                    .await
            }
            None => metadata.write_to(&self.file_io, location).await,
        };
        written.map_err(|e| storage_error(table, e))
    }

    fn loaded(
        &self,
        table: &TableRef,
        metadata: Arc<TableMetadata>,
        location: String,
    ) -> LoadedTable {
        LoadedTable {
            table: table.clone(),
            metadata,
            metadata_location: location,
            file_io: self.file_io.clone(),
            s3: None,
        }
    }

    /// One attempt: `Ok(None)` when the pointer moved under us.
    async fn try_commit(&self, commit: &TableCommit) -> Result<Option<LoadedTable>> {
        let table = &commit.table;
        let current_location = self
            .current_location(table)
            .await?
            .ok_or_else(|| table_not_found(table))?;
        let (current, refs) = self.read_with_refs(table, &current_location).await?;
        for requirement in &commit.requirements {
            requirement
                .check(Some(&current))
                .map_err(|e| conflict(table, requirement, e))?;
        }
        let mut builder =
            TableMetadata::clone(&current).into_builder(Some(current_location.clone()));
        for update in commit.updates.iter().cloned() {
            builder = update.apply(builder).map_err(|e| update_error(table, e))?;
        }
        let built = builder.build().map_err(|e| update_error(table, e))?;
        let new_refs = refs.and_then(|refs| refs.after(&built.changes, &built.metadata));
        let new_metadata = built.metadata;
        let new_location = MetadataLocation::from_str(&current_location)
            .map_err(|e| update_error(table, e))?
            .with_next_version()
            .with_new_metadata(&new_metadata);
        self.write_metadata(table, &new_metadata, new_refs.as_ref(), &new_location)
            .await?;
        let new_location = new_location.to_string();
        let swapped = sqlx::query(
            "UPDATE iceberg_tables SET metadata_location = ?, previous_metadata_location = ? \
             WHERE catalog_name = ? AND table_namespace = ? AND table_name = ? \
             AND metadata_location = ?",
        )
        .bind(&new_location)
        .bind(&current_location)
        .bind(&self.name)
        .bind(Self::iceberg_namespace(table))
        .bind(table.name.as_str())
        .bind(&current_location)
        .execute(&self.pool)
        .await
        .map_err(|e| catalog_error("cannot update table pointer", e))?
        .rows_affected()
            == 1;
        if !swapped {
            let _ = self.file_io.delete(&new_location).await;
            return Ok(None);
        }
        if delete_after_commit(&new_metadata) {
            // Best effort, as in Iceberg's writers: a file left here is an
            // orphan that maintenance removes later.
            for old in &built.expired_metadata_logs {
                let _ = self.file_io.delete(&old.metadata_file).await;
            }
        }
        let new_metadata = Arc::new(new_metadata);
        self.metadata
            .insert_with_refs(&new_location, new_metadata.clone(), new_refs.map(Arc::new));
        Ok(Some(self.loaded(table, new_metadata, new_location)))
    }
}

#[async_trait]
impl Catalog for SqlCatalog {
    async fn list_namespaces(&self) -> Result<Vec<Identifier>> {
        let rows = sqlx::query(
            "SELECT namespace FROM iceberg_namespace_properties WHERE catalog_name = ? \
             UNION SELECT table_namespace FROM iceberg_tables WHERE catalog_name = ?",
        )
        .bind(&self.name)
        .bind(&self.name)
        .fetch_all(&self.pool)
        .await
        .map_err(|e| catalog_error("cannot list namespaces", e))?;
        let mut out: Vec<Identifier> = rows
            .iter()
            .filter_map(|r| {
                let ns: String = r.get(0);
                let first = ns.split('.').next().unwrap_or_default().to_owned();
                rat_core::ident::namespace(&first).ok()
            })
            .collect();
        out.sort();
        out.dedup();
        Ok(out)
    }

    async fn create_namespace(&self, namespace: &Identifier) -> Result<()> {
        let mut tx = self
            .pool
            .begin()
            .await
            .map_err(|e| catalog_error("cannot begin transaction", e))?;
        self.ensure_namespace_rows(&mut tx, namespace.as_str())
            .await?;
        for layer in Layer::ALL {
            self.ensure_namespace_rows(&mut tx, &format!("{namespace}.{layer}"))
                .await?;
        }
        tx.commit()
            .await
            .map_err(|e| catalog_error("cannot create namespace", e))
    }

    async fn namespace_properties(&self, namespace: &Identifier) -> Result<NamespaceProperties> {
        self.properties_of(namespace).await
    }

    async fn update_namespace_properties(
        &self,
        namespace: &Identifier,
        updates: NamespaceProperties,
        removals: Vec<String>,
    ) -> Result<()> {
        self.update_properties(namespace, updates, removals).await
    }

    async fn drop_namespace(&self, namespace: &Identifier) -> Result<()> {
        self.drop_levels(namespace).await
    }

    async fn list_tables(&self, namespace: &Identifier) -> Result<Vec<TableRef>> {
        let rows = sqlx::query(
            "SELECT table_namespace, table_name FROM iceberg_tables \
             WHERE catalog_name = ? AND table_namespace LIKE ? ESCAPE '!' \
             AND (iceberg_type = 'TABLE' OR iceberg_type IS NULL)",
        )
        .bind(&self.name)
        .bind(namespaces::children_pattern(namespace))
        .fetch_all(&self.pool)
        .await
        .map_err(|e| catalog_error("cannot list tables", e))?;
        let mut out: Vec<TableRef> = rows
            .iter()
            .filter_map(|r| {
                let ns: String = r.get(0);
                let name: String = r.get(1);
                let (_, layer) = ns.split_once('.')?;
                Some(TableRef::new(
                    namespace.clone(),
                    layer.parse().ok()?,
                    Identifier::new(name).ok()?,
                ))
            })
            .collect();
        out.sort();
        Ok(out)
    }

    async fn load_table(&self, table: &TableRef) -> Result<LoadedTable> {
        let location = self
            .current_location(table)
            .await?
            .ok_or_else(|| table_not_found(table))?;
        let metadata = self.read_metadata(table, &location).await?;
        Ok(self.loaded(table, metadata, location))
    }

    async fn create_table(&self, table: &TableRef, new_table: NewTable) -> Result<LoadedTable> {
        if self.current_location(table).await?.is_some() {
            return Err(already_exists(table));
        }
        let location = self.new_table_location(table);
        let metadata = TableMetadataBuilder::new(
            new_table.schema,
            new_table.partition_spec,
            SortOrder::unsorted_order(),
            location.clone(),
            FormatVersion::V2,
            new_table.properties,
        )
        .and_then(|b| b.build())
        .map_err(|e| {
            Error::invalid("cannot create table metadata")
                .with_context("table", table)
                .with_source(e)
        })?
        .metadata;
        let metadata_location = MetadataLocation::new_with_metadata(&location, &metadata);
        metadata
            .write_to(&self.file_io, &metadata_location)
            .await
            .map_err(|e| storage_error(table, e))?;
        let metadata_location = metadata_location.to_string();

        let mut tx = self
            .pool
            .begin()
            .await
            .map_err(|e| catalog_error("cannot begin transaction", e))?;
        self.ensure_namespace_rows(&mut tx, table.namespace.as_str())
            .await?;
        self.ensure_namespace_rows(&mut tx, &Self::iceberg_namespace(table))
            .await?;
        let inserted = sqlx::query(
            "INSERT OR IGNORE INTO iceberg_tables (catalog_name, table_namespace, table_name, \
             metadata_location, previous_metadata_location, iceberg_type) VALUES (?, ?, ?, ?, NULL, 'TABLE')",
        )
        .bind(&self.name)
        .bind(Self::iceberg_namespace(table))
        .bind(table.name.as_str())
        .bind(&metadata_location)
        .execute(&mut *tx)
        .await
        .map_err(|e| catalog_error("cannot register table", e))?
        .rows_affected();
        tx.commit()
            .await
            .map_err(|e| catalog_error("cannot register table", e))?;
        if inserted == 0 {
            // Another writer created it first; our metadata file is an orphan.
            let _ = self.file_io.delete(&metadata_location).await;
            return Err(already_exists(table));
        }
        Ok(self.loaded(table, Arc::new(metadata), metadata_location))
    }

    async fn commit(&self, commit: TableCommit) -> Result<LoadedTable> {
        for _ in 0..POINTER_RACE_RETRIES {
            if let Some(loaded) = self.try_commit(&commit).await? {
                return Ok(loaded);
            }
        }
        Err(Error::new(
            ErrorKind::Conflict,
            "the table kept changing while committing",
        )
        .with_context("table", &commit.table))
    }

    async fn drop_table(&self, table: &TableRef) -> Result<()> {
        let affected = sqlx::query(
            "DELETE FROM iceberg_tables WHERE catalog_name = ? AND table_namespace = ? AND table_name = ?",
        )
        .bind(&self.name)
        .bind(Self::iceberg_namespace(table))
        .bind(table.name.as_str())
        .execute(&self.pool)
        .await
        .map_err(|e| catalog_error("cannot drop table", e))?
        .rows_affected();
        if affected == 0 {
            return Err(table_not_found(table));
        }
        Ok(())
    }
}

/// Iceberg's `write.metadata.delete-after-commit.enabled` (default false):
/// whether metadata files that drop out of the metadata log
/// (`write.metadata.previous-versions-max`) are deleted by the commit.
fn delete_after_commit(metadata: &TableMetadata) -> bool {
    crate::table::properties::bool_property(
        metadata.properties(),
        crate::table::properties::METADATA_DELETE_AFTER_COMMIT,
        false,
    )
}

fn catalog_error(message: &str, err: sqlx::Error) -> Error {
    Error::new(ErrorKind::Catalog, message).with_source(err)
}

fn already_exists(table: &TableRef) -> Error {
    Error::new(
        ErrorKind::AlreadyExists,
        format!("table '{table}' already exists"),
    )
    .with_context("table", table)
}

fn storage_error(table: &TableRef, err: iceberg::Error) -> Error {
    Error::new(ErrorKind::Storage, "cannot write table metadata")
        .with_context("table", table)
        .with_source(err)
}

fn conflict(table: &TableRef, requirement: &TableRequirement, err: iceberg::Error) -> Error {
    Error::new(ErrorKind::Conflict, "commit requirement no longer holds")
        .with_context("table", table)
        .with_context("requirement", format!("{requirement:?}"))
        .with_source(err)
}

/// Updates that no longer apply because the table moved (a snapshot whose
/// sequence number is now stale) are conflicts; anything else is invalid.
fn update_error(table: &TableRef, err: iceberg::Error) -> Error {
    let stale = err.message().contains("sequence number")
        || err.kind() == iceberg::ErrorKind::CatalogCommitConflicts;
    let kind = if stale {
        ErrorKind::Conflict
    } else {
        ErrorKind::Catalog
    };
    Error::new(kind, "cannot apply commit")
        .with_context("table", table)
        .with_source(err)
}
