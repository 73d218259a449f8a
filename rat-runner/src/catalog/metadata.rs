//! [`MetadataCache`]: parsed table metadata by the file it was read from.
//! An Iceberg metadata file never changes once written (every commit writes
//! a new one), so a table whose pointer still names a file already read is
//! not read and parsed again: loading an unchanged table costs the pointer
//! lookup only, however large its history.

use std::sync::Arc;

use iceberg::spec::TableMetadata;

use super::metadata_json::Refs;

/// What a cache keeps of one metadata file: the parsed metadata, and its
/// refs when they are known (see [`Refs`]).
type Entry = (Arc<TableMetadata>, Option<Arc<Refs>>);

/// Weight units a cache holds by default (about one per snapshot, schema
/// and log entry of the metadata it keeps).
pub(crate) const DEFAULT_CAPACITY: u64 = 200_000;

/// The weight of one table's metadata in a cache.
pub(crate) fn weight(metadata: &TableMetadata) -> u32 {
    let units = 1
        + metadata.snapshots().len()
        + metadata.schemas_iter().len()
        + metadata.metadata_log().len();
    u32::try_from(units).unwrap_or(u32::MAX)
}

/// Parsed metadata by location, bounded by a weight that follows its size.
///
/// ```
/// use std::sync::Arc;
/// use rat_runner::catalog::MetadataCache;
///
/// let cache = MetadataCache::default();
/// assert!(cache.get("file:///lake/t/metadata/00001-a.metadata.json").is_none());
/// ```
#[derive(Clone)]
pub struct MetadataCache {
    entries: moka::sync::Cache<String, Entry>,
}

impl std::fmt::Debug for MetadataCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MetadataCache")
            .field("entries", &self.entries.entry_count())
            .finish()
    }
}

impl Default for MetadataCache {
    fn default() -> Self {
        Self::with_capacity(DEFAULT_CAPACITY)
    }
}

impl MetadataCache {
    /// A cache holding up to `capacity` weight units (one per snapshot,
    /// schema and metadata log entry, plus one per table).
    pub fn with_capacity(capacity: u64) -> Self {
        let entries = moka::sync::Cache::builder()
            .max_capacity(capacity)
            .weigher(|_: &String, (metadata, _): &Entry| weight(metadata))
            .build();
        Self { entries }
    }

    /// The metadata read from `location`, if kept.
    pub fn get(&self, location: &str) -> Option<Arc<TableMetadata>> {
        self.entries.get(location).map(|(metadata, _)| metadata)
    }

    /// The metadata read from `location` and its refs, if kept.
    pub(crate) fn get_with_refs(&self, location: &str) -> Option<Entry> {
        self.entries.get(location)
    }

    /// Keeps `metadata`, whose refs are `refs`, as what `location` holds.
    pub(crate) fn insert_with_refs(
        &self,
        location: &str,
        metadata: Arc<TableMetadata>,
        refs: Option<Arc<Refs>>,
    ) {
        self.entries.insert(location.to_owned(), (metadata, refs));
    }
}
