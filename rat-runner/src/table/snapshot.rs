//! Writing a snapshot ourselves: manifests, manifest list, summary, and the
//! commit that puts it on a branch (iceberg-rust 0.10 only fast-appends to
//! `main`, so rat owns its commits; see ARCHITECTURE.md).

use std::collections::{BTreeSet, HashMap, HashSet};

use iceberg::spec::{
    DataFile, FormatVersion, ManifestEntry, ManifestFile, ManifestListWriter, ManifestWriter,
    ManifestWriterBuilder, Operation, PartitionSpecRef, Schema, SchemaRef, Snapshot,
    SnapshotReference, SnapshotRetention, SnapshotSummaryCollector, Summary,
};
use iceberg::{TableRequirement, TableUpdate};
use rat_core::{Error, ErrorKind, LoadedTable, Result, RunId, TableCommit};

use super::files::{BaseSnapshot, live_entries};
use super::manifests::{MergePolicy, Planned, Unit, merge};

/// What a run changes in a table, as files.
#[derive(Debug, Clone)]
pub struct FileChanges {
    /// The Iceberg operation recorded in the snapshot summary.
    pub operation: Operation,
    /// New data files.
    pub added: Vec<DataFile>,
    /// Paths of live data files of the base snapshot that the run removes.
    pub removed: HashSet<String>,
}

/// A snapshot written to storage and the commit that adds it to a branch.
#[derive(Debug, Clone)]
pub struct StagedSnapshot {
    /// Its id.
    pub snapshot_id: i64,
    /// Records added minus records removed, and the totals.
    pub added_records: u64,
    /// Records in removed files.
    pub removed_records: u64,
    /// The branch commit (schema change, add snapshot, set branch ref).
    pub commit: TableCommit,
    /// The metadata files written for it (manifests and the manifest
    /// list): what to delete when the snapshot is abandoned.
    pub metadata_files: Vec<String>,
}

/// Writes manifests and a manifest list for `changes` on top of `base` (the
/// branch's parent state, normally `main` when the run started) and prepares
/// the commit that creates `branch` at the new snapshot.
///
/// Unchanged manifests are carried over by reference; a manifest that loses
/// files is rewritten with those entries marked deleted and the rest kept as
/// existing. `schema`, when it differs from the table's current schema, is
/// added and made current in the same commit.
pub async fn stage_snapshot(
    table: &LoadedTable,
    base: &BaseSnapshot,
    changes: FileChanges,
    schema: &Schema,
    branch: &str,
    run_id: &RunId,
) -> Result<StagedSnapshot> {
    let metadata = &table.metadata;
    let location = metadata.location().trim_end_matches('/').to_owned();
    let file_io = &table.file_io;

    // Schema first: the snapshot must carry the id the schema gets.
    let mut schema_changes = Vec::new();
    let mut write_schema: SchemaRef = metadata.current_schema().clone();
    if !same_fields(metadata.current_schema(), schema) {
        let result = metadata
            .as_ref()
            .clone()
            .into_builder(Some(table.metadata_location.clone()))
            .add_current_schema(schema.clone())
            .and_then(|b| b.build())
            .map_err(|e| invalid_commit(table, e))?;
        write_schema = result.metadata.current_schema().clone();
        schema_changes = result.changes;
    }
    let spec: PartitionSpecRef = metadata.default_partition_spec().clone();

    let snapshot_id = new_snapshot_id(table);
    let sequence_number = metadata.next_sequence_number();
    let parent = base.snapshot().map(|s| s.snapshot_id());
    let mut summary = SnapshotSummaryCollector::default();
    let mut units: Vec<Unit> = Vec::new();
    let mut added_records = 0;
    if !changes.added.is_empty() {
        // New files go first: readers planning recent data find them sooner.
        let mut entries = Vec::with_capacity(changes.added.len());
        for data_file in changes.added {
            added_records += data_file.record_count();
            summary.add_file(&data_file, write_schema.clone(), spec.clone());
            entries.push(Planned::Added(data_file));
        }
        units.push(Unit::write(spec.spec_id(), entries));
    }
    if base.files().is_none() && !changes.removed.is_empty() {
        return Err(Error::internal(format!(
            "files of {} to remove, but its base snapshot's manifests were not read",
            table.table
        )));
    }
    let base_manifests = base.manifests();
    let mut removed_records = 0;
    let mut removed_found = 0;
    for (index, &(manifest, entries)) in base_manifests.iter().enumerate() {
        let live = match entries {
            Some(e) => e.len() as u64,
            None => listed_live_files(table, manifest).await?,
        };
        // A manifest whose files were all deleted by an earlier snapshot
        // only recorded that deletion; like Iceberg's own writers, do not
        // carry it forward, or every run would read a longer list.
        if live == 0 {
            continue;
        }
        let carry = Unit::Carry {
            index,
            manifest: manifest.clone(),
            live,
        };
        let Some(entries) = entries else {
            units.push(carry);
            continue;
        };
        let losing = entries
            .iter()
            .any(|e| changes.removed.contains(e.data_file().file_path()));
        if !losing {
            units.push(carry);
            continue;
        }
        let manifest_spec = spec_by_id(table, manifest.partition_spec_id, &spec);
        let mut planned = Vec::with_capacity(entries.len());
        for entry in entries {
            if !changes.removed.contains(entry.data_file().file_path()) {
                planned.push(existing(entry, snapshot_id));
                continue;
            }
            let file = entry.data_file();
            removed_records += file.record_count();
            removed_found += 1;
            summary.remove_file(file, write_schema.clone(), manifest_spec.clone());
            planned.push(Planned::Deleted {
                file: file.clone(),
                sequence_number: entry.sequence_number().unwrap_or(0),
                file_sequence_number: entry.file_sequence_number,
            });
        }
        units.push(Unit::write(manifest.partition_spec_id, planned));
    }
    if removed_found != changes.removed.len() {
        return Err(Error::internal(format!(
            "{} of the files to remove are not in the base snapshot of {}",
            changes.removed.len() - removed_found,
            table.table
        )));
    }
    let mut manifests: Vec<ManifestFile> = Vec::new();
    let mut written: Vec<String> = Vec::new();
    for unit in merge(units, MergePolicy::of(metadata)) {
        match unit {
            Unit::Carry { manifest, .. } => manifests.push(manifest),
            Unit::Write {
                spec_id,
                mut entries,
                merged,
            } => {
                for index in merged {
                    let (manifest, read) = base_manifests[index];
                    let loaded;
                    let live = match read {
                        Some(e) => e,
                        None => {
                            loaded = live_entries(table, manifest).await?;
                            loaded.as_slice()
                        }
                    };
                    entries.extend(live.iter().map(|e| existing(e, snapshot_id)));
                }
                let manifest_spec = spec_by_id(table, spec_id, &spec);
                let manifest = write_manifest(
                    table,
                    &location,
                    run_id,
                    snapshot_id,
                    &write_schema,
                    &manifest_spec,
                    entries,
                )
                .await?;
                written.push(manifest.manifest_path.clone());
                manifests.push(manifest);
            }
        }
    }

    let list_path = format!("{location}/metadata/snap-{snapshot_id}-1-{run_id}.avro");
    let mut list_writer = ManifestListWriter::v2(
        file_io
            .new_output(&list_path)
            .map_err(|e| storage_error(table, e))?
            .writer()
            .await
            .map_err(|e| storage_error(table, e))?,
        snapshot_id,
        parent,
        sequence_number,
    );
    list_writer
        .add_manifests(manifests.into_iter())
        .map_err(|e| invalid_commit(table, e))?;
    list_writer
        .close()
        .await
        .map_err(|e| storage_error(table, e))?;
    written.push(list_path.clone());

    let mut properties = summary.build();
    add_totals(&mut properties, base, added_records, removed_records);
    properties.insert(RUN_ID_PROPERTY.into(), run_id.to_string());
    let snapshot = Snapshot::builder()
        .with_snapshot_id(snapshot_id)
        .with_parent_snapshot_id(parent)
        .with_sequence_number(sequence_number)
        .with_timestamp_ms(chrono::Utc::now().timestamp_millis())
        .with_manifest_list(list_path)
        .with_schema_id(write_schema.schema_id())
        .with_summary(Summary {
            operation: changes.operation,
            additional_properties: properties,
        })
        .build();

    let mut updates: Vec<TableUpdate> = schema_changes;
    updates.push(TableUpdate::AddSnapshot { snapshot });
    updates.push(TableUpdate::SetSnapshotRef {
        ref_name: branch.to_owned(),
        reference: SnapshotReference::new(snapshot_id, SnapshotRetention::branch(None, None, None)),
    });
    let mut requirements = vec![
        TableRequirement::UuidMatch {
            uuid: metadata.uuid(),
        },
        TableRequirement::RefSnapshotIdMatch {
            r#ref: branch.to_owned(),
            snapshot_id: None,
        },
    ];
    if !updates.iter().all(|u| {
        matches!(
            u,
            TableUpdate::AddSnapshot { .. } | TableUpdate::SetSnapshotRef { .. }
        )
    }) {
        requirements.push(TableRequirement::CurrentSchemaIdMatch {
            current_schema_id: metadata.current_schema_id(),
        });
        requirements.push(TableRequirement::LastAssignedFieldIdMatch {
            last_assigned_field_id: metadata.last_column_id(),
        });
    }
    debug_assert_eq!(metadata.format_version(), FormatVersion::V2);
    Ok(StagedSnapshot {
        snapshot_id,
        added_records,
        removed_records,
        commit: TableCommit {
            table: table.table.clone(),
            requirements,
            updates,
        },
        metadata_files: written,
    })
}

/// Totals over the whole table after the change, as the spec's summary
/// keys: the parent's totals plus this change, as Iceberg's writers keep
/// them. A parent without totals has them counted from its read entries;
/// with only its manifest list, a total it lacks is left out.
fn add_totals(
    properties: &mut HashMap<String, String>,
    base: &BaseSnapshot,
    added_records: u64,
    removed_records: u64,
) {
    let num = |key: &str| -> i64 {
        properties
            .get(key)
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    let change = [
        (
            "total-data-files",
            num("added-data-files") - num("deleted-data-files"),
        ),
        (
            "total-files-size",
            num("added-files-size") - num("removed-files-size"),
        ),
        (
            "total-records",
            added_records as i64 - removed_records as i64,
        ),
    ];
    for (key, delta) in change {
        if let Some(total) = base_total(base, key) {
            properties.insert(key.into(), (total + delta).to_string());
        }
    }
    for key in [
        "total-delete-files",
        "total-position-deletes",
        "total-equality-deletes",
    ] {
        properties.insert(key.into(), "0".into());
    }
}

/// One of the base snapshot's totals (`total-data-files`,
/// `total-files-size`, `total-records`).
fn base_total(base: &BaseSnapshot, key: &str) -> Option<i64> {
    let Some(snapshot) = base.snapshot() else {
        return Some(0);
    };
    let recorded = snapshot.summary().additional_properties.get(key);
    if let Some(total) = recorded.and_then(|v| v.parse().ok()) {
        return Some(total);
    }
    let files = base.files()?;
    Some(match key {
        "total-data-files" => files.entries().count() as i64,
        "total-files-size" => files.entries().map(|e| e.file_size_in_bytes() as i64).sum(),
        _ => files.record_count() as i64,
    })
}

/// A live entry of a base manifest, as an existing entry of a new one.
fn existing(entry: &ManifestEntry, snapshot_id: i64) -> Planned {
    Planned::Existing {
        snapshot_id: entry.snapshot_id().unwrap_or(snapshot_id),
        sequence_number: entry.sequence_number().unwrap_or(0),
        file_sequence_number: entry.file_sequence_number,
        file: entry.data_file().clone(),
    }
}

/// How many live data files a listed manifest holds: the list's counts
/// (required by the v2 spec), or the manifest itself when they are absent.
async fn listed_live_files(table: &LoadedTable, manifest: &ManifestFile) -> Result<u64> {
    match (manifest.added_files_count, manifest.existing_files_count) {
        (Some(added), Some(existing)) => Ok(u64::from(added) + u64::from(existing)),
        _ => Ok(live_entries(table, manifest).await?.len() as u64),
    }
}

/// Whether two schemas have the same fields (ids, names, types), ignoring
/// schema ids.
pub fn same_fields(a: &Schema, b: &Schema) -> bool {
    a.as_struct() == b.as_struct()
}

/// Writes one manifest of the snapshot being staged.
async fn write_manifest(
    table: &LoadedTable,
    location: &str,
    run_id: &RunId,
    snapshot_id: i64,
    schema: &SchemaRef,
    spec: &PartitionSpecRef,
    entries: Vec<Planned>,
) -> Result<ManifestFile> {
    // Named after the run: maintenance recognises the files of a run that
    // died before it could delete them (see `maintain::orphans`).
    let path = format!(
        "{location}/metadata/{run_id}-{}-m0.avro",
        uuid::Uuid::new_v4().simple()
    );
    let output = table
        .file_io
        .new_output(path)
        .map_err(|e| storage_error(table, e))?;
    let mut writer: ManifestWriter = ManifestWriterBuilder::new(
        output,
        Some(snapshot_id),
        schema.clone(),
        spec.as_ref().clone(),
    )
    .build_v2_data();
    for entry in entries {
        match entry {
            Planned::Added(file) => writer.add_file(file, -1),
            Planned::Existing {
                file,
                snapshot_id,
                sequence_number,
                file_sequence_number,
            } => writer.add_existing_file(file, snapshot_id, sequence_number, file_sequence_number),
            Planned::Deleted {
                file,
                sequence_number,
                file_sequence_number,
            } => writer.add_delete_file(file, sequence_number, file_sequence_number),
        }
        .map_err(|e| invalid_commit(table, e))?;
    }
    writer
        .write_manifest_file()
        .await
        .map_err(|e| storage_error(table, e))
}

fn spec_by_id(table: &LoadedTable, spec_id: i32, default: &PartitionSpecRef) -> PartitionSpecRef {
    table
        .metadata
        .partition_spec_by_id(spec_id)
        .cloned()
        .unwrap_or_else(|| default.clone())
}

fn new_snapshot_id(table: &LoadedTable) -> i64 {
    loop {
        let id = rand::random::<i64>() & i64::MAX;
        if id != 0 && table.metadata.snapshot_by_id(id).is_none() {
            return id;
        }
    }
}

/// The commit that makes `main` point where `branch` points and removes the
/// branch, provided neither moved since the run looked.
pub fn publish_commit(
    table: &LoadedTable,
    branch: &str,
    snapshot_id: i64,
    base_main: Option<i64>,
) -> TableCommit {
    TableCommit {
        table: table.table.clone(),
        requirements: vec![
            TableRequirement::RefSnapshotIdMatch {
                r#ref: rat_core::MAIN_BRANCH.to_owned(),
                snapshot_id: base_main,
            },
            TableRequirement::RefSnapshotIdMatch {
                r#ref: branch.to_owned(),
                snapshot_id: Some(snapshot_id),
            },
        ],
        updates: vec![
            TableUpdate::SetSnapshotRef {
                ref_name: rat_core::MAIN_BRANCH.to_owned(),
                reference: SnapshotReference::new(
                    snapshot_id,
                    SnapshotRetention::branch(None, None, None),
                ),
            },
            TableUpdate::RemoveSnapshotRef {
                ref_name: branch.to_owned(),
            },
        ],
    }
}

/// The commit that abandons a run: removes its branch and its snapshot,
/// leaving `main` as it was.
pub fn abandon_commit(table: &LoadedTable, branch: &str, snapshot_id: Option<i64>) -> TableCommit {
    let mut updates = vec![TableUpdate::RemoveSnapshotRef {
        ref_name: branch.to_owned(),
    }];
    // Only drop the snapshot if nothing else (main) points at it.
    if let Some(id) = snapshot_id.filter(|id| table.main_snapshot_id() != Some(*id)) {
        updates.push(TableUpdate::RemoveSnapshots {
            snapshot_ids: vec![id],
        });
    }
    TableCommit {
        table: table.table.clone(),
        requirements: vec![],
        updates,
    }
}

/// Removes the branch a run left behind (its process was killed after
/// committing to it), with its snapshot. Nothing to do is not an error.
pub async fn abandon_run(catalog: &dyn rat_core::Catalog, spec: &rat_core::RunSpec) -> Result<()> {
    let table = match catalog.load_table(&spec.table).await {
        Ok(t) => t,
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e),
    };
    let branch = spec.run_id.branch();
    let Some(snapshot) = table.ref_snapshot_id(&branch) else {
        return Ok(());
    };
    catalog
        .commit(abandon_commit(&table, &branch, Some(snapshot)))
        .await
        .map(|_| ())
}

/// The snapshot summary property naming the run that wrote the snapshot.
pub const RUN_ID_PROPERTY: &str = "rat.run-id";

/// The runs whose `run-<id>` branch is still on the table. A run's branch
/// is set by the commit that adds its snapshot, whose summary names the
/// run, and a branch keeps its snapshot from expiring; so the summaries
/// name every run that can have left one, found without listing the refs
/// (see [`ref_names`]: that costs the whole metadata's serialisation).
pub fn runs_with_branches(metadata: &iceberg::spec::TableMetadata) -> BTreeSet<RunId> {
    metadata
        .snapshots()
        .filter_map(|s| s.summary().additional_properties.get(RUN_ID_PROPERTY))
        .filter_map(|id| id.parse::<RunId>().ok())
        .filter(|run| metadata.snapshot_for_ref(&run.branch()).is_some())
        .collect()
}

/// The names of a table's refs (branches and tags). iceberg 0.10 keeps the
/// map private, so they are read from the metadata's JSON form.
pub fn ref_names(metadata: &iceberg::spec::TableMetadata) -> Vec<String> {
    serde_json::to_value(metadata)
        .ok()
        .and_then(|v| {
            v.get("refs")?
                .as_object()
                .map(|m| m.keys().cloned().collect())
        })
        .unwrap_or_default()
}

fn storage_error(table: &LoadedTable, err: iceberg::Error) -> Error {
    Error::new(ErrorKind::Storage, "cannot write table metadata")
        .with_context("table", &table.table)
        .with_source(err)
}

fn invalid_commit(table: &LoadedTable, err: iceberg::Error) -> Error {
    Error::new(ErrorKind::Internal, "cannot build snapshot")
        .with_context("table", &table.table)
        .with_source(err)
}
