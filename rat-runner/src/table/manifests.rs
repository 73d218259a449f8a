//! Which manifests a new snapshot lists, and merging small ones: Iceberg's
//! `commit.manifest-merge.enabled`, `commit.manifest.min-count-to-merge` and
//! `commit.manifest.target-size-bytes`, with the semantics of Iceberg Java's
//! merging appends. Without merging every append adds a manifest that every
//! later commit and reader must open, so the cost of a commit would grow
//! with the table's history instead of staying bounded.

use std::collections::HashMap;

use iceberg::spec::{DataFile, ManifestFile, TableMetadata};

use super::properties::{
    MANIFEST_MERGE_ENABLED, MANIFEST_MIN_COUNT_TO_MERGE, MANIFEST_TARGET_SIZE_BYTES, bool_property,
    u64_property,
};

/// When a commit merges manifests, from the table's properties (Iceberg's
/// defaults where unset: enabled, 100 manifests, 8 MiB).
///
/// ```
/// use rat_runner::table::MergePolicy;
///
/// let policy = MergePolicy::default();
/// assert!(policy.enabled);
/// assert_eq!(policy.min_count_to_merge, 100);
/// assert_eq!(policy.target_size_bytes, 8 * 1024 * 1024);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MergePolicy {
    /// `commit.manifest-merge.enabled`.
    pub enabled: bool,
    /// `commit.manifest.min-count-to-merge`.
    pub min_count_to_merge: usize,
    /// `commit.manifest.target-size-bytes`.
    pub target_size_bytes: u64,
}

impl Default for MergePolicy {
    fn default() -> Self {
        Self {
            enabled: true,
            min_count_to_merge: 100,
            target_size_bytes: 8 * 1024 * 1024,
        }
    }
}

impl MergePolicy {
    /// The policy a table's properties set; unparsable values keep the
    /// default, as Iceberg's writers do.
    pub fn of(metadata: &TableMetadata) -> Self {
        let defaults = Self::default();
        let props = metadata.properties();
        Self {
            enabled: bool_property(props, MANIFEST_MERGE_ENABLED, defaults.enabled),
            min_count_to_merge: u64_property(
                props,
                MANIFEST_MIN_COUNT_TO_MERGE,
                defaults.min_count_to_merge as u64,
            ) as usize,
            target_size_bytes: u64_property(
                props,
                MANIFEST_TARGET_SIZE_BYTES,
                defaults.target_size_bytes,
            ),
        }
    }
}

/// One entry of a manifest still to be written.
#[derive(Debug, Clone)]
pub(super) enum Planned {
    /// A file this snapshot adds.
    Added(DataFile),
    /// A live file of an earlier snapshot.
    Existing {
        file: DataFile,
        snapshot_id: i64,
        sequence_number: i64,
        file_sequence_number: Option<i64>,
    },
    /// A file this snapshot removes.
    Deleted {
        file: DataFile,
        sequence_number: i64,
        file_sequence_number: Option<i64>,
    },
}

/// A manifest of the new snapshot: one carried over unchanged, or one to
/// write.
#[derive(Debug, Clone)]
pub(super) enum Unit {
    /// A manifest of the base snapshot, kept by reference: its position
    /// among the base's manifests and how many live files it holds.
    Carry {
        index: usize,
        manifest: ManifestFile,
        live: u64,
    },
    /// A manifest to write: `entries`, then the live entries of the base
    /// manifests at `merged` (read only now, when merging needs them).
    Write {
        spec_id: i32,
        entries: Vec<Planned>,
        merged: Vec<usize>,
    },
}

impl Unit {
    /// A manifest to write with `entries` only.
    pub(super) fn write(spec_id: i32, entries: Vec<Planned>) -> Self {
        Self::Write {
            spec_id,
            entries,
            merged: Vec::new(),
        }
    }

    fn spec_id(&self) -> i32 {
        match self {
            Unit::Carry { manifest, .. } => manifest.partition_spec_id,
            Unit::Write { spec_id, .. } => *spec_id,
        }
    }

    fn entry_count(&self) -> u64 {
        match self {
            Unit::Carry { live, .. } => *live,
            Unit::Write { entries, .. } => entries.len() as u64,
        }
    }

    /// Its size on storage: known for a carried manifest, estimated from
    /// the carried ones' bytes per entry for one not yet written.
    fn size(&self, bytes_per_entry: u64) -> u64 {
        match self {
            Unit::Carry { manifest, .. } => manifest.manifest_length.max(0) as u64,
            Unit::Write { entries, .. } => entries.len() as u64 * bytes_per_entry,
        }
    }
}

/// Merges `units` (the new snapshot's manifests, newest first) the way
/// Iceberg Java's merging append does: per partition spec, manifests are
/// packed in order into bins of the target size; a bin of one manifest is
/// kept, the bin holding the newest manifest is kept while it has fewer than
/// the minimum count, and every other bin becomes one manifest.
pub(super) fn merge(units: Vec<Unit>, policy: MergePolicy) -> Vec<Unit> {
    if !policy.enabled || units.len() < 2 {
        return units;
    }
    let (carried_bytes, carried_entries) = units
        .iter()
        .filter(|u| matches!(u, Unit::Carry { .. }))
        .fold((0u64, 0u64), |(b, n), u| {
            (b + u.size(0), n + u.entry_count())
        });
    let bytes_per_entry = carried_bytes
        .checked_div(carried_entries)
        .map_or(DEFAULT_BYTES_PER_ENTRY, |b| b.max(1));
    let mut order: Vec<i32> = Vec::new();
    let mut groups: HashMap<i32, Vec<(bool, Unit)>> = HashMap::new();
    for (i, unit) in units.into_iter().enumerate() {
        let spec = unit.spec_id();
        if !groups.contains_key(&spec) {
            order.push(spec);
        }
        groups.entry(spec).or_default().push((i == 0, unit));
    }
    let mut out = Vec::new();
    for spec in order {
        let group = groups.remove(&spec).unwrap_or_default();
        for bin in pack(group, policy.target_size_bytes, bytes_per_entry) {
            let holds_newest = bin.iter().any(|(first, _)| *first);
            if bin.len() == 1 || (holds_newest && bin.len() < policy.min_count_to_merge) {
                out.extend(bin.into_iter().map(|(_, u)| u));
                continue;
            }
            let mut entries = Vec::new();
            let mut merged = Vec::new();
            for (_, unit) in bin {
                match unit {
                    Unit::Carry { index, .. } => merged.push(index),
                    Unit::Write {
                        entries: planned,
                        merged: more,
                        ..
                    } => {
                        entries.extend(planned);
                        merged.extend(more);
                    }
                }
            }
            out.push(Unit::Write {
                spec_id: spec,
                entries,
                merged,
            });
        }
    }
    out
}

/// A guess for manifests of a table with none carried yet (an Avro entry
/// with column statistics is a few hundred bytes).
const DEFAULT_BYTES_PER_ENTRY: u64 = 512;

/// Packs in order: a bin takes units while they fit in `target` (a unit
/// larger than the target gets a bin of its own).
fn pack(group: Vec<(bool, Unit)>, target: u64, bytes_per_entry: u64) -> Vec<Vec<(bool, Unit)>> {
    let mut bins: Vec<Vec<(bool, Unit)>> = Vec::new();
    let mut current: Vec<(bool, Unit)> = Vec::new();
    let mut current_size = 0u64;
    for item in group {
        let size = item.1.size(bytes_per_entry);
        if !current.is_empty() && current_size + size > target {
            bins.push(std::mem::take(&mut current));
            current_size = 0;
        }
        current_size += size;
        current.push(item);
    }
    if !current.is_empty() {
        bins.push(current);
    }
    bins
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(n: usize) -> Unit {
        let file = |i: usize| {
            iceberg::spec::DataFileBuilder::default()
                .content(iceberg::spec::DataContentType::Data)
                .file_path(format!("file:///t/data/{i}.parquet"))
                .file_format(iceberg::spec::DataFileFormat::Parquet)
                .partition(iceberg::spec::Struct::empty())
                .partition_spec_id(0)
                .record_count(1)
                .file_size_in_bytes(10)
                .build()
                .expect("a data file")
        };
        Unit::write(0, (0..n).map(|i| Planned::Added(file(i))).collect())
    }

    fn counts(units: &[Unit]) -> Vec<bool> {
        units
            .iter()
            .map(|u| matches!(u, Unit::Write { .. }))
            .collect()
    }

    #[test]
    fn the_newest_bin_waits_for_the_minimum_count() {
        let policy = MergePolicy {
            min_count_to_merge: 3,
            ..MergePolicy::default()
        };
        let two = merge(vec![write(1), write(1)], policy);
        assert_eq!(counts(&two), vec![true, true], "below the count: kept");
        let three = merge(vec![write(1), write(1), write(1)], policy);
        assert_eq!(three.len(), 1, "at the count: one manifest");
    }

    fn carry(index: usize) -> Unit {
        Unit::Carry {
            index,
            manifest: ManifestFile {
                manifest_path: format!("file:///t/metadata/{index}-m0.avro"),
                manifest_length: 100,
                partition_spec_id: 0,
                content: iceberg::spec::ManifestContentType::Data,
                sequence_number: 1,
                min_sequence_number: 1,
                added_snapshot_id: 1,
                added_files_count: Some(1),
                existing_files_count: Some(0),
                deleted_files_count: Some(0),
                added_rows_count: Some(1),
                existing_rows_count: Some(0),
                deleted_rows_count: Some(0),
                partitions: None,
                key_metadata: None,
                first_row_id: None,
            },
            live: 1,
        }
    }

    #[test]
    fn merged_base_manifests_are_named_for_reading_at_write_time() {
        let policy = MergePolicy {
            min_count_to_merge: 3,
            ..MergePolicy::default()
        };
        let merged = merge(vec![write(2), carry(0), carry(1)], policy);
        let [
            Unit::Write {
                entries, merged, ..
            },
        ] = merged.as_slice()
        else {
            panic!("one manifest to write: {merged:?}");
        };
        assert_eq!(entries.len(), 2, "the new entries");
        assert_eq!(merged, &vec![0, 1], "both base manifests, in order");
        let kept = merge(vec![write(2), carry(0)], policy);
        assert!(matches!(kept[1], Unit::Carry { index: 0, .. }));
    }

    #[test]
    fn disabled_merging_keeps_every_manifest() {
        let policy = MergePolicy {
            enabled: false,
            min_count_to_merge: 2,
            ..MergePolicy::default()
        };
        assert_eq!(merge(vec![write(1), write(1), write(1)], policy).len(), 3);
    }

    #[test]
    fn bins_are_bounded_by_the_target_size() {
        let policy = MergePolicy {
            min_count_to_merge: 2,
            target_size_bytes: 2 * DEFAULT_BYTES_PER_ENTRY,
            ..MergePolicy::default()
        };
        // Four one-entry manifests in bins of two: two merged manifests.
        let merged = merge(vec![write(1), write(1), write(1), write(1)], policy);
        assert_eq!(merged.len(), 2);
    }
}
