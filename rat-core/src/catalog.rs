//! The [`Catalog`] trait: Iceberg tables by `namespace.layer.name`, with
//! commits that are a compare-and-swap under requirements.

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use iceberg::io::FileIO;
use iceberg::spec::{Schema, TableMetadata, UnboundPartitionSpec};
use iceberg::{TableRequirement, TableUpdate};

use crate::credentials::S3Access;
use crate::error::Result;
use crate::ident::{Identifier, TableRef};

/// A table as loaded from a catalog: its current metadata, where that
/// metadata lives, and the I/O to read and write its files (with whatever
/// credentials the catalog vended for it).
#[derive(Clone)]
pub struct LoadedTable {
    /// The table.
    pub table: TableRef,
    /// Its current metadata.
    pub metadata: Arc<TableMetadata>,
    /// Location of the metadata file.
    pub metadata_location: String,
    /// I/O for the table's files.
    pub file_io: FileIO,
    /// How the SQL engine reaches the table's files when they are on S3
    /// (with the credentials the catalog vended for this table); `None`
    /// for local files.
    pub s3: Option<S3Access>,
}

impl LoadedTable {
    /// The snapshot id a ref (branch or tag) points at, if the ref exists.
    pub fn ref_snapshot_id(&self, reference: &str) -> Option<i64> {
        self.metadata
            .snapshot_for_ref(reference)
            .map(|s| s.snapshot_id())
    }

    /// The snapshot id of `main`.
    pub fn main_snapshot_id(&self) -> Option<i64> {
        self.ref_snapshot_id(MAIN_BRANCH)
    }
}

impl fmt::Debug for LoadedTable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LoadedTable")
            .field("table", &self.table)
            .field("metadata_location", &self.metadata_location)
            .field("main_snapshot_id", &self.main_snapshot_id())
            .finish_non_exhaustive()
    }
}

/// The branch readers see.
pub const MAIN_BRANCH: &str = "main";

/// What a new table starts with.
#[derive(Debug, Clone)]
pub struct NewTable {
    /// Schema (field ids assigned by the caller).
    pub schema: Schema,
    /// Partition spec (may be unpartitioned).
    pub partition_spec: UnboundPartitionSpec,
    /// Table properties.
    pub properties: HashMap<String, String>,
}

/// A change to one table: requirements that must all hold on the current
/// metadata, and updates applied atomically when they do (the Iceberg REST
/// commit request, which `TableMetadataBuilder` produces as `changes`).
#[derive(Debug, Clone)]
pub struct TableCommit {
    /// The table.
    pub table: TableRef,
    /// Preconditions, e.g. "ref `main` is still at snapshot 42".
    pub requirements: Vec<TableRequirement>,
    /// The changes.
    pub updates: Vec<TableUpdate>,
}

/// Iceberg tables of rat namespaces. A rat table `ns.layer.name` is the
/// Iceberg table `name` in the two-level Iceberg namespace `ns.layer`.
///
/// Commits are a compare-and-swap: when a requirement no longer holds (for
/// example another run moved `main`), [`Catalog::commit`] fails with a
/// retryable [`ErrorKind::Conflict`](crate::ErrorKind::Conflict) and changes
/// nothing. Branches are Iceberg snapshot refs.
///
/// Implementations: `rat_runner::catalog::SqlCatalog` (embedded SQLite, the
/// Iceberg JDBC/SQL catalog layout), `rat_runner::catalog::RestCatalog` (any
/// Iceberg REST catalog).
#[async_trait]
pub trait Catalog: Send + Sync + fmt::Debug {
    /// The rat namespaces that exist.
    async fn list_namespaces(&self) -> Result<Vec<Identifier>>;

    /// Creates a namespace (and its layer levels); no error if it exists.
    async fn create_namespace(&self, namespace: &Identifier) -> Result<()>;

    /// The Iceberg properties of a namespace's top level (rat keeps its
    /// description in [`NAMESPACE_COMMENT`]);
    /// [`ErrorKind::NotFound`](crate::ErrorKind::NotFound) when it does not
    /// exist.
    async fn namespace_properties(&self, namespace: &Identifier) -> Result<NamespaceProperties>;

    /// Sets `updates` and removes `removals` among a namespace's properties.
    async fn update_namespace_properties(
        &self,
        namespace: &Identifier,
        updates: NamespaceProperties,
        removals: Vec<String>,
    ) -> Result<()>;

    /// Drops a namespace and its layer levels;
    /// [`ErrorKind::Conflict`](crate::ErrorKind::Conflict) while it still
    /// holds tables, [`ErrorKind::NotFound`](crate::ErrorKind::NotFound) when
    /// it does not exist.
    async fn drop_namespace(&self, namespace: &Identifier) -> Result<()>;

    /// Tables of a rat namespace, across its layers, sorted.
    async fn list_tables(&self, namespace: &Identifier) -> Result<Vec<TableRef>>;

    /// Loads a table; [`ErrorKind::NotFound`](crate::ErrorKind::NotFound) when missing.
    async fn load_table(&self, table: &TableRef) -> Result<LoadedTable>;

    /// Creates a table; [`ErrorKind::AlreadyExists`](crate::ErrorKind::AlreadyExists) when it exists.
    async fn create_table(&self, table: &TableRef, new_table: NewTable) -> Result<LoadedTable>;

    /// Applies a commit atomically if every requirement holds.
    async fn commit(&self, commit: TableCommit) -> Result<LoadedTable>;

    /// Removes a table from the catalog (its files stay).
    async fn drop_table(&self, table: &TableRef) -> Result<()>;
}

/// The error of a table that is not there, the same from every catalog
/// (and from a view of one that hides the table from its caller).
pub fn table_not_found(table: &TableRef) -> crate::Error {
    crate::Error::not_found(format!("table '{table}' does not exist")).with_context("table", table)
}

/// A namespace's Iceberg properties, by key.
pub type NamespaceProperties = std::collections::BTreeMap<String, String>;

/// The namespace property holding its description, as Spark's
/// `COMMENT ON NAMESPACE` and other Iceberg tools write it.
pub const NAMESPACE_COMMENT: &str = "comment";

/// A shared catalog handle.
pub type SharedCatalog = Arc<dyn Catalog>;
