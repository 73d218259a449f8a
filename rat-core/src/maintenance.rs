//! How rat keeps a table healthy: how long snapshots are kept, when an
//! unreferenced file counts as an orphan, what compaction aims at, and how
//! long rat's own run records live. Set project-wide under `maintenance:`
//! in `rat.yaml` and per pipeline under `maintenance:` in its config.yaml;
//! the engine's maintenance (`rat_runner::maintain`) applies them.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::config::de;

/// Table maintenance settings; every field has a default.
///
/// ```
/// use rat_core::MaintenanceSettings;
///
/// let s: MaintenanceSettings = serde_yaml_ng::from_str("snapshot_retention: 2d\nkeep_last: 3").unwrap();
/// assert_eq!(s.snapshot_retention.as_secs(), 2 * 86_400);
/// assert_eq!(s.keep_last, 3);
/// assert_eq!(s.orphan_age, MaintenanceSettings::default().orphan_age);
/// assert!(serde_yaml_ng::from_str::<MaintenanceSettings>("keep_lats: 3").is_err());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MaintenanceSettings {
    /// Snapshots older than this are expired (default 7 days)...
    #[serde(with = "de::span")]
    pub snapshot_retention: Duration,
    /// ...except the last this many of `main` (default 10) and every
    /// snapshot a branch or tag points to.
    #[serde(deserialize_with = "de::count")]
    pub keep_last: usize,
    /// A file no metadata references is removed once it is this old
    /// (default 3 days), so a writer still working is never hurt.
    #[serde(with = "de::span")]
    pub orphan_age: Duration,
    /// Compaction rewrites a partition's small files into files near this
    /// size (default 128 MiB, Iceberg's `write.target-file-size-bytes`).
    #[serde(deserialize_with = "de::number")]
    pub target_file_size: u64,
    /// Whether maintenance compacts small files at all (default true).
    pub compact: bool,
}

impl Default for MaintenanceSettings {
    fn default() -> Self {
        Self {
            snapshot_retention: Duration::from_secs(7 * 86_400),
            keep_last: 10,
            orphan_age: Duration::from_secs(3 * 86_400),
            target_file_size: 128 * 1024 * 1024,
            compact: true,
        }
    }
}

/// The maintenance settings one pipeline sets (`maintenance:` in its
/// config.yaml, or `-- @maintenance: {...}`), over the project's: only the
/// fields given, each validated as [`MaintenanceSettings`] reads it.
///
/// ```
/// use rat_core::{MaintenanceOverrides, MaintenanceSettings};
///
/// let yaml: serde_yaml_ng::Value = serde_yaml_ng::from_str("{keep_last: 3}").unwrap();
/// let overrides = MaintenanceOverrides::from_yaml(&yaml).unwrap();
/// let project = MaintenanceSettings { keep_last: 20, compact: false, ..Default::default() };
/// let effective = overrides.apply(&project);
/// assert_eq!((effective.keep_last, effective.compact), (3, false));
/// let bad: serde_yaml_ng::Value = serde_yaml_ng::from_str("{keep_lats: 3}").unwrap();
/// assert!(MaintenanceOverrides::from_yaml(&bad).unwrap_err().contains("keep_lats"));
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct MaintenanceOverrides(serde_yaml_ng::Mapping);

impl MaintenanceOverrides {
    /// The overrides a YAML mapping holds; an unknown field or a bad
    /// value is an error naming it.
    pub fn from_yaml(value: &serde_yaml_ng::Value) -> Result<Self, String> {
        let serde_yaml_ng::Value::Mapping(map) = value else {
            return Err("'maintenance' must be a mapping of settings".to_owned());
        };
        let overrides = Self(map.clone());
        overrides.merged(&MaintenanceSettings::default())?;
        Ok(overrides)
    }

    /// Whether the pipeline sets nothing.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// `project`'s settings with these fields replaced.
    pub fn apply(&self, project: &MaintenanceSettings) -> MaintenanceSettings {
        // Checked when read (`from_yaml`), so merging cannot fail here.
        self.merged(project).unwrap_or(*project)
    }

    fn merged(&self, base: &MaintenanceSettings) -> Result<MaintenanceSettings, String> {
        de::over(base, &self.0)
    }
}

/// How long rat keeps its own records of runs (default: the last 100 runs
/// of each pipeline, logs for 30 days, run folders as long as their
/// record) and of requests (the audit log, default 365 days).
///
/// ```
/// use rat_core::RunRetention;
///
/// let r: RunRetention = serde_yaml_ng::from_str("keep_runs: 20\nlog_retention: 7d").unwrap();
/// assert_eq!((r.keep_runs, r.log_retention.as_secs()), (20, 7 * 86_400));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RunRetention {
    /// Run records kept per pipeline, newest first (default 100).
    #[serde(deserialize_with = "de::count")]
    pub keep_runs: usize,
    /// Logs of runs older than this are deleted (default 30 days).
    #[serde(with = "de::span")]
    pub log_retention: Duration,
    /// Audit log entries older than this are deleted (default 365 days).
    #[serde(with = "de::span")]
    pub audit_retention: Duration,
}

impl Default for RunRetention {
    fn default() -> Self {
        Self {
            keep_runs: 100,
            log_retention: Duration::from_secs(30 * 86_400),
            audit_retention: Duration::from_secs(365 * 86_400),
        }
    }
}
