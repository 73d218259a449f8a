//! Iceberg tables as rat reads and writes them: snapshot files, data file
//! statistics, schema evolution, snapshots and the commits around branches.

mod datafile;
mod files;
mod history;
mod listing;
mod manifests;
mod partition_path;
pub mod properties;
mod rollback;
mod schema;
mod snapshot;

pub use datafile::describe_data_file;
pub use files::{
    BaseSnapshot, SnapshotFiles, SnapshotManifests, snapshot_files, snapshot_manifests,
};
pub(crate) use files::{metadata_error, read_manifest_list};
pub use history::{SnapshotInfo, history};
pub use listing::{ListedFile, list_table_files};
pub use manifests::MergePolicy;
pub use partition_path::partition_path;
pub use rollback::{Rollback, rollback};
pub use schema::{
    evolve_schema, iceberg_transform, partition_spec, spec_matches, with_column_docs,
};
pub use snapshot::{
    FileChanges, RUN_ID_PROPERTY, StagedSnapshot, abandon_commit, abandon_run, publish_commit,
    ref_names, runs_with_branches, same_fields, stage_snapshot,
};
