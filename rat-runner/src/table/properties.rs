//! The Iceberg table properties rat honours when it writes and maintains a
//! table, by their spec names, and the defaults rat gives tables it creates.

use std::collections::HashMap;

/// The table's description (Iceberg's and Spark's `comment`); rat writes
/// a pipeline's `description` here.
pub const COMMENT: &str = "comment";

/// The update that makes the table's [`COMMENT`] `description`, when it
/// says something else (a description removed from the pipeline leaves the
/// property as it is: another tool may have written it).
///
/// ```
/// use std::collections::HashMap;
/// use rat_runner::table::properties::{comment_update, COMMENT};
///
/// let props = HashMap::from([(COMMENT.to_owned(), "old".to_owned())]);
/// assert!(comment_update(&props, Some("new")).is_some());
/// assert!(comment_update(&props, Some("old")).is_none());
/// assert!(comment_update(&props, None).is_none());
/// ```
pub fn comment_update(
    props: &HashMap<String, String>,
    description: Option<&str>,
) -> Option<iceberg::TableUpdate> {
    let description = description?;
    (props.get(COMMENT).map(String::as_str) != Some(description)).then(|| {
        iceberg::TableUpdate::SetProperties {
            updates: HashMap::from([(COMMENT.to_owned(), description.to_owned())]),
        }
    })
}

/// Whether appends merge small manifests (default true).
pub const MANIFEST_MERGE_ENABLED: &str = "commit.manifest-merge.enabled";
/// Fewest manifests a bin holding a commit's new manifest needs before it is
/// merged (default 100).
pub const MANIFEST_MIN_COUNT_TO_MERGE: &str = "commit.manifest.min-count-to-merge";
/// The size merged manifests aim at (default 8 MiB).
pub const MANIFEST_TARGET_SIZE_BYTES: &str = "commit.manifest.target-size-bytes";
/// How many previous metadata files the metadata log keeps (default 100).
pub const METADATA_PREVIOUS_VERSIONS_MAX: &str = "write.metadata.previous-versions-max";
/// Whether a commit deletes the metadata files that drop out of the log
/// (spec default false; rat sets it on the tables it creates).
pub const METADATA_DELETE_AFTER_COMMIT: &str = "write.metadata.delete-after-commit.enabled";
/// The size data files aim at (default 128 MiB, rat's compaction target).
pub const TARGET_FILE_SIZE_BYTES: &str = "write.target-file-size-bytes";

/// A boolean property (`true`/`false`, any case); `default` when unset or
/// not a boolean, as Iceberg's writers read it.
///
/// ```
/// use std::collections::HashMap;
/// use rat_runner::table::properties::{bool_property, METADATA_DELETE_AFTER_COMMIT};
///
/// let props = HashMap::from([(METADATA_DELETE_AFTER_COMMIT.to_owned(), "TRUE".to_owned())]);
/// assert!(bool_property(&props, METADATA_DELETE_AFTER_COMMIT, false));
/// assert!(!bool_property(&HashMap::new(), METADATA_DELETE_AFTER_COMMIT, false));
/// ```
pub fn bool_property(props: &HashMap<String, String>, key: &str, default: bool) -> bool {
    props
        .get(key)
        .and_then(|v| v.trim().to_ascii_lowercase().parse().ok())
        .unwrap_or(default)
}

/// A numeric property; `default` when unset, unparsable or zero.
pub fn u64_property(props: &HashMap<String, String>, key: &str, default: u64) -> u64 {
    props
        .get(key)
        .and_then(|v| v.trim().parse().ok())
        .filter(|v| *v > 0)
        .unwrap_or(default)
}

/// What rat sets `commit.manifest.min-count-to-merge` to on the tables it
/// creates. Iceberg's 100 suits engines that open manifests in parallel;
/// a run opens its base snapshot's manifests one by one, and measured
/// (`rat-benches append-history`) each costs about as much as the rest of a
/// small append, so up to 100 of them made run 100 several times slower
/// than run 1. At 10 the newest manifests are folded in every ten commits.
pub const CREATED_MIN_COUNT_TO_MERGE: usize = 10;

/// Properties rat gives a table it creates, beyond the spec's defaults:
/// superseded metadata files are deleted as they leave the log, so a
/// table's `metadata/` folder stays bounded by
/// `write.metadata.previous-versions-max`; manifests merge sooner (see
/// [`CREATED_MIN_COUNT_TO_MERGE`]). A user may change either later.
pub fn created_table_defaults() -> HashMap<String, String> {
    HashMap::from([
        ("write.format.default".to_owned(), "parquet".to_owned()),
        (METADATA_DELETE_AFTER_COMMIT.to_owned(), "true".to_owned()),
        (
            MANIFEST_MIN_COUNT_TO_MERGE.to_owned(),
            CREATED_MIN_COUNT_TO_MERGE.to_string(),
        ),
    ])
}
