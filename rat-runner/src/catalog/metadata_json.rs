//! Table metadata written as JSON from borrowed parts.
//!
//! iceberg-rust serialises a [`TableMetadata`] by cloning it whole and
//! converting every snapshot into its serde twin first; on a table with a
//! long history that clone costs more than writing the JSON, and a run pays
//! it twice (its branch commit and its publish). [`to_json`] writes the same
//! format-v2 document straight from references (the tests below check it
//! against iceberg's serializer). iceberg 0.10 keeps a metadata's refs
//! private, so [`Refs`] carries them beside it: read from the file's JSON,
//! then carried through each commit's changes.

use std::collections::BTreeMap;

use iceberg::TableUpdate;
use iceberg::spec::{
    FormatVersion, MAIN_BRANCH, MetadataLog, PartitionSpec, PartitionStatisticsFile, Schema,
    SnapshotLog, SnapshotReference, SnapshotRetention, SortOrder, StatisticsFile, Summary,
    TableMetadata,
};
use serde::{Deserialize, Serialize};

/// About what one snapshot or log entry takes in the document (a rat
/// snapshot with its summary is ~550 bytes), to size the buffer once.
const BYTES_PER_ENTRY: usize = 640;

/// The refs (branches and tags) of one table metadata, by name.
///
/// ```ignore
/// let refs = Refs::read(json, &metadata)?;
/// let next = refs.after(&built.changes, &built.metadata);
/// ```
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Refs(BTreeMap<String, SnapshotReference>);

impl Refs {
    /// The refs of the metadata document `json`, which parsed as
    /// `metadata`, completed as iceberg completes them on reading: a current
    /// snapshot with no `main` ref gets an unbounded `main` branch.
    pub(crate) fn read(json: &[u8], metadata: &TableMetadata) -> serde_json::Result<Self> {
        #[derive(Deserialize)]
        struct RefsOnly {
            #[serde(default)]
            refs: Option<BTreeMap<String, SnapshotReference>>,
        }
        let mut refs = Self(
            serde_json::from_slice::<RefsOnly>(json)?
                .refs
                .unwrap_or_default(),
        );
        refs.complete_main(metadata);
        Ok(refs)
    }

    /// The refs of `metadata`, built from the metadata these refs belong to
    /// by a builder that recorded `changes`; `None` when they disagree with
    /// what `metadata` says of its refs (then the caller cannot vouch for
    /// the map and writes through iceberg instead).
    pub(crate) fn after(&self, changes: &[TableUpdate], metadata: &TableMetadata) -> Option<Self> {
        let mut refs = self.clone();
        for change in changes {
            match change {
                TableUpdate::SetSnapshotRef {
                    ref_name,
                    reference,
                } => {
                    refs.0.insert(ref_name.clone(), reference.clone());
                }
                TableUpdate::RemoveSnapshotRef { ref_name } => {
                    refs.0.remove(ref_name);
                }
                _ => {}
            }
        }
        // Removing a snapshot drops the refs that pointed at it.
        refs.0
            .retain(|_, r| metadata.snapshot_by_id(r.snapshot_id).is_some());
        refs.complete_main(metadata);
        refs.agree_with(metadata).then_some(refs)
    }

    fn complete_main(&mut self, metadata: &TableMetadata) {
        if let Some(id) = metadata.current_snapshot_id() {
            self.0.entry(MAIN_BRANCH.to_owned()).or_insert_with(|| {
                SnapshotReference::new(id, SnapshotRetention::branch(None, None, None))
            });
        }
    }

    /// Every ref names the snapshot `metadata` resolves it to, and `main`
    /// is the current snapshot.
    fn agree_with(&self, metadata: &TableMetadata) -> bool {
        let resolved = self.0.iter().all(|(name, r)| {
            metadata.snapshot_for_ref(name).map(|s| s.snapshot_id()) == Some(r.snapshot_id)
        });
        resolved && self.0.get(MAIN_BRANCH).map(|r| r.snapshot_id) == metadata.current_snapshot_id()
    }
}

/// `metadata` as the JSON document of a metadata file, with `refs` as its
/// refs; `None` for a format other than v2 (write those through iceberg).
pub(crate) fn to_json(
    metadata: &TableMetadata,
    refs: &Refs,
) -> Option<serde_json::Result<Vec<u8>>> {
    if metadata.format_version() != FormatVersion::V2 {
        return None;
    }
    // Sized up front: a long history's document is hundreds of KB, and
    // growing a buffer by doubling copies and faults in pages for it again.
    let mut json = Vec::with_capacity(
        BYTES_PER_ENTRY * (metadata.snapshots().len() + metadata.metadata_log().len()) + 16 * 1024,
    );
    Some(serde_json::to_writer(&mut json, &MetadataV2::new(metadata, refs)).map(|()| json))
}

/// The format-v2 metadata document, field for field as the spec (and
/// iceberg-rust's `TableMetadataV2`) writes it.
#[derive(Serialize)]
#[serde(rename_all = "kebab-case")]
struct MetadataV2<'a> {
    format_version: u8,
    table_uuid: uuid::Uuid,
    location: &'a str,
    last_sequence_number: i64,
    last_updated_ms: i64,
    last_column_id: i32,
    schemas: Vec<&'a Schema>,
    current_schema_id: i32,
    partition_specs: Vec<&'a PartitionSpec>,
    default_spec_id: i32,
    last_partition_id: i32,
    #[serde(skip_serializing_if = "Option::is_none")]
    properties: Option<BTreeMap<&'a str, &'a str>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    current_snapshot_id: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    snapshot_log: Option<&'a [SnapshotLog]>,
    #[serde(skip_serializing_if = "Option::is_none")]
    metadata_log: Option<&'a [MetadataLog]>,
    sort_orders: Vec<&'a SortOrder>,
    default_sort_order_id: i64,
    refs: &'a BTreeMap<String, SnapshotReference>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    statistics: Vec<&'a StatisticsFile>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    partition_statistics: Vec<&'a PartitionStatisticsFile>,
    #[serde(skip_serializing_if = "Option::is_none")]
    snapshots: Option<Vec<SnapshotV2<'a>>>,
}

impl<'a> MetadataV2<'a> {
    fn new(m: &'a TableMetadata, refs: &'a Refs) -> Self {
        let mut schemas: Vec<&Schema> = m.schemas_iter().map(|s| s.as_ref()).collect();
        schemas.sort_by_key(|s| s.schema_id());
        let mut partition_specs: Vec<&PartitionSpec> =
            m.partition_specs_iter().map(|s| s.as_ref()).collect();
        partition_specs.sort_by_key(|s| s.spec_id());
        let mut sort_orders: Vec<&SortOrder> = m.sort_orders_iter().map(|s| s.as_ref()).collect();
        sort_orders.sort_by_key(|s| s.order_id);
        let mut snapshots: Vec<SnapshotV2> = m
            .snapshots()
            .map(|s| SnapshotV2 {
                snapshot_id: s.snapshot_id(),
                parent_snapshot_id: s.parent_snapshot_id(),
                sequence_number: s.sequence_number(),
                timestamp_ms: s.timestamp_ms(),
                manifest_list: s.manifest_list(),
                summary: s.summary(),
                schema_id: s.schema_id(),
            })
            .collect();
        snapshots.sort_by_key(|s| (s.sequence_number, s.timestamp_ms, s.snapshot_id));
        let mut statistics: Vec<&StatisticsFile> = m.statistics_iter().collect();
        statistics.sort_by_key(|s| s.snapshot_id);
        let mut partition_statistics: Vec<&PartitionStatisticsFile> =
            m.partition_statistics_iter().collect();
        partition_statistics.sort_by_key(|s| s.snapshot_id);
        let properties = m.properties();
        Self {
            format_version: 2,
            table_uuid: m.uuid(),
            location: m.location(),
            last_sequence_number: m.last_sequence_number(),
            last_updated_ms: m.last_updated_ms(),
            last_column_id: m.last_column_id(),
            schemas,
            current_schema_id: m.current_schema_id(),
            partition_specs,
            default_spec_id: m.default_partition_spec_id(),
            last_partition_id: m.last_partition_id(),
            properties: (!properties.is_empty()).then(|| {
                properties
                    .iter()
                    .map(|(k, v)| (k.as_str(), v.as_str()))
                    .collect()
            }),
            current_snapshot_id: m.current_snapshot_id(),
            snapshot_log: non_empty(m.history()),
            metadata_log: non_empty(m.metadata_log()),
            sort_orders,
            default_sort_order_id: m.default_sort_order_id(),
            refs: &refs.0,
            statistics,
            partition_statistics,
            snapshots: (!snapshots.is_empty()).then_some(snapshots),
        }
    }
}

fn non_empty<T>(items: &[T]) -> Option<&[T]> {
    (!items.is_empty()).then_some(items)
}

/// One snapshot of a format-v2 document.
#[derive(Serialize)]
#[serde(rename_all = "kebab-case")]
struct SnapshotV2<'a> {
    snapshot_id: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    parent_snapshot_id: Option<i64>,
    sequence_number: i64,
    timestamp_ms: i64,
    manifest_list: &'a str,
    summary: &'a Summary,
    #[serde(skip_serializing_if = "Option::is_none")]
    schema_id: Option<i32>,
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use iceberg::spec::{
        NestedField, NullOrder, Operation, PrimitiveType, Snapshot, SortDirection, SortField,
        TableMetadataBuilder, Transform, Type, UnboundPartitionSpec,
    };
    use serde_json::Value;

    use super::*;

    fn schema(fields: usize) -> Schema {
        let fields = (1..=fields)
            .map(|i| {
                NestedField::optional(
                    i as i32,
                    format!("c{i}"),
                    Type::Primitive(PrimitiveType::Long),
                )
                .into()
            })
            .collect::<Vec<_>>();
        Schema::builder().with_fields(fields).build().unwrap()
    }

    fn snapshot(id: i64, parent: Option<i64>, sequence: i64) -> Snapshot {
        Snapshot::builder()
            .with_snapshot_id(id)
            .with_parent_snapshot_id(parent)
            .with_sequence_number(sequence)
            .with_timestamp_ms(chrono::Utc::now().timestamp_millis() + sequence * 1000)
            .with_manifest_list(format!("file:///t/metadata/snap-{id}.avro"))
            .with_schema_id(0)
            .with_summary(Summary {
                operation: Operation::Append,
                additional_properties: HashMap::from([
                    ("added-records".to_owned(), "100".to_owned()),
                    ("rat.run-id".to_owned(), format!("run{id}")),
                ]),
            })
            .build()
    }

    /// A table with a history: evolved schema, partitioning, a sort order,
    /// properties, snapshots on main and a branch, a tag, statistics and a
    /// metadata log.
    fn history() -> TableMetadata {
        let spec = UnboundPartitionSpec::builder()
            .add_partition_field(1, "c1_bucket", Transform::Bucket(4))
            .unwrap()
            .build();
        let order = SortOrder::builder()
            .with_order_id(1)
            .with_sort_field(SortField {
                source_id: 2,
                transform: Transform::Identity,
                direction: SortDirection::Descending,
                null_order: NullOrder::Last,
            })
            .build_unbound()
            .unwrap();
        let mut metadata = TableMetadataBuilder::new(
            schema(2),
            spec,
            order,
            "file:///t".to_owned(),
            FormatVersion::V2,
            HashMap::from([("write.target-file-size-bytes".to_owned(), "1024".to_owned())]),
        )
        .unwrap()
        .build()
        .unwrap()
        .metadata;
        for sequence in 1..=4 {
            let location = format!("file:///t/metadata/{sequence:05}.metadata.json");
            let mut builder = metadata.into_builder(Some(location));
            let parent = builder_parent(sequence);
            builder = match sequence {
                3 => builder.add_current_schema(schema(3)).unwrap(),
                _ => builder,
            };
            let branch = if sequence == 4 { "run-x" } else { MAIN_BRANCH };
            builder = builder
                .set_branch_snapshot(snapshot(sequence, parent, sequence), branch)
                .unwrap();
            if sequence == 2 {
                let tag = SnapshotReference::new(
                    2,
                    SnapshotRetention::Tag {
                        max_ref_age_ms: Some(86_400_000),
                    },
                );
                builder = builder
                    .set_ref("v1", tag)
                    .unwrap()
                    .set_statistics(StatisticsFile {
                        snapshot_id: 2,
                        statistics_path: "file:///t/metadata/2.stats".into(),
                        file_size_in_bytes: 10,
                        file_footer_size_in_bytes: 2,
                        key_metadata: None,
                        blob_metadata: vec![],
                    });
                builder = builder.set_partition_statistics(PartitionStatisticsFile {
                    snapshot_id: 2,
                    statistics_path: "file:///t/metadata/2.pstats".into(),
                    file_size_in_bytes: 10,
                });
            }
            metadata = builder.build().unwrap().metadata;
        }
        metadata
    }

    fn builder_parent(sequence: i64) -> Option<i64> {
        match sequence {
            1 => None,
            4 => Some(2),
            n => Some(n - 1),
        }
    }

    fn ours(metadata: &TableMetadata, refs: &Refs) -> Value {
        canonical(serde_json::from_slice(&to_json(metadata, refs).unwrap().unwrap()).unwrap())
    }

    fn theirs(metadata: &TableMetadata) -> Value {
        canonical(serde_json::to_value(metadata).unwrap())
    }

    /// The document with its id-keyed lists in id order: iceberg writes
    /// them in its hash maps' order, which no reader may depend on.
    fn canonical(mut document: Value) -> Value {
        for (list, id) in [
            ("schemas", "schema-id"),
            ("partition-specs", "spec-id"),
            ("sort-orders", "order-id"),
            ("snapshots", "snapshot-id"),
            ("statistics", "snapshot-id"),
            ("partition-statistics", "snapshot-id"),
        ] {
            if let Some(items) = document.get_mut(list).and_then(Value::as_array_mut) {
                items.sort_by_key(|item| item[id].as_i64());
            }
        }
        document
    }

    fn refs_of(metadata: &TableMetadata) -> Refs {
        Refs::read(&serde_json::to_vec(metadata).unwrap(), metadata).unwrap()
    }

    #[test]
    fn writes_the_document_iceberg_writes() {
        let metadata = history();
        let refs = refs_of(&metadata);
        assert_eq!(refs.0.keys().collect::<Vec<_>>(), ["main", "run-x", "v1"]);
        assert_eq!(ours(&metadata, &refs), theirs(&metadata));
        // And iceberg reads it back as the same metadata.
        let json = to_json(&metadata, &refs).unwrap().unwrap();
        let read: TableMetadata = serde_json::from_slice(&json).unwrap();
        assert_eq!(read, metadata);
    }

    fn empty_table(version: FormatVersion) -> TableMetadata {
        TableMetadataBuilder::new(
            schema(1),
            UnboundPartitionSpec::builder().build(),
            SortOrder::unsorted_order(),
            "file:///t".to_owned(),
            version,
            HashMap::new(),
        )
        .unwrap()
        .build()
        .unwrap()
        .metadata
    }

    #[test]
    fn a_new_table_has_no_snapshots_and_no_refs() {
        let metadata = empty_table(FormatVersion::V2);
        let refs = refs_of(&metadata);
        assert!(refs.0.is_empty());
        assert_eq!(ours(&metadata, &refs), theirs(&metadata));
    }

    #[test]
    fn refs_follow_a_commits_changes() {
        let metadata = history();
        let refs = refs_of(&metadata);
        // Publish the branch, drop it, retag, and expire the tag's snapshot.
        let built = metadata
            .clone()
            .into_builder(Some("file:///t/metadata/00005.metadata.json".into()))
            .set_ref(
                MAIN_BRANCH,
                SnapshotReference::new(4, SnapshotRetention::branch(None, None, None)),
            )
            .unwrap()
            .remove_ref("run-x")
            .set_ref(
                "v2",
                SnapshotReference::new(
                    3,
                    SnapshotRetention::Tag {
                        max_ref_age_ms: None,
                    },
                ),
            )
            .unwrap()
            .remove_snapshots(&[2])
            .build()
            .unwrap();
        let next = refs.after(&built.changes, &built.metadata).unwrap();
        assert_eq!(next, refs_of(&built.metadata));
        assert_eq!(next.0.keys().collect::<Vec<_>>(), ["main", "v2"]);
        assert_eq!(ours(&built.metadata, &next), theirs(&built.metadata));
    }

    #[test]
    fn refs_that_disagree_with_the_metadata_are_refused() {
        let metadata = history();
        let mut refs = refs_of(&metadata);
        refs.0.insert(
            "ghost".into(),
            SnapshotReference::new(1, SnapshotRetention::branch(None, None, None)),
        );
        assert_eq!(refs.after(&[], &metadata), None);
        let mut refs = refs_of(&metadata);
        refs.0.remove(MAIN_BRANCH);
        refs.0.insert(
            MAIN_BRANCH.into(),
            SnapshotReference::new(1, SnapshotRetention::branch(None, None, None)),
        );
        assert_eq!(refs.after(&[], &metadata), None);
    }

    #[test]
    fn other_format_versions_are_left_to_iceberg() {
        let metadata = empty_table(FormatVersion::V1);
        assert!(to_json(&metadata, &Refs::default()).is_none());
    }
}
