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
pub use files::{SnapshotFiles, snapshot_files};
pub(crate) use files::{metadata_error, read_manifest_list};
pub use history::{SnapshotInfo, history};
pub use listing::{ListedFile, list_table_files};
pub use manifests::MergePolicy;
pub use partition_path::partition_path;
pub use rollback::{Rollback, rollback};
pub use schema::{evolve_schema, iceberg_transform, partition_spec, spec_matches};
pub use snapshot::{
    FileChanges, StagedSnapshot, abandon_commit, abandon_run, publish_commit, ref_names,
    same_fields, stage_snapshot,
};
