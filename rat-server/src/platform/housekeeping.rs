//! Housekeeping the lease holder does now and then: rat's own run records,
//! logs, run folders and audit entries pruned to their retention, and every table maintained
//! (compaction, snapshot expiry, orphan removal).

use chrono::Utc;
use rat_core::project::{Project, ProjectSource};
use rat_core::{ErrorKind, MaintenanceSettings, Result, RunRetention, TableRef};
use rat_runner::maintain::{MaintainOptions, maintain};

use super::Platform;
use crate::api::all_tables;

/// Firings each schedule's history keeps.
pub const KEPT_FIRINGS: u32 = 1_000;

/// What one housekeeping pass did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Housekeeping {
    /// Run records deleted.
    pub runs_pruned: usize,
    /// Audit log entries deleted (older than the retention).
    pub audit_pruned: u64,
    /// Schedule firings deleted (each schedule keeps its newest
    /// [`KEPT_FIRINGS`]).
    pub firings_pruned: u64,
    /// Tables maintained.
    pub tables_maintained: usize,
    /// Files maintenance removed.
    pub files_removed: usize,
    /// Tables whose maintenance failed (logged; the next pass tries again).
    pub tables_failed: usize,
}

impl Platform {
    /// Prunes run records to `retention` and maintains every table with
    /// its settings ([`Platform::maintenance_settings`]). A table that
    /// fails is logged and skipped.
    pub async fn housekeep(&self, retention: &RunRetention) -> Result<Housekeeping> {
        let pruned = self.store().prune(retention, Utc::now()).await?;
        // The records are gone either way: a folder left here is only disk.
        if let Err(e) = self.executor().forget(&pruned).await {
            tracing::warn!("cannot remove the folders of pruned runs: {e}");
        }
        let mut done = Housekeeping {
            runs_pruned: pruned.len(),
            firings_pruned: self.schedule_store().prune_firings(KEPT_FIRINGS).await?,
            audit_pruned: self.prune_audit(retention.audit_retention).await?,
            ..Housekeeping::default()
        };
        for table in all_tables(self, None).await? {
            let maintained = async {
                let settings = self.maintenance_settings(&table.table).await?;
                let options = MaintainOptions::new(settings).with_run_store(self.store().clone());
                maintain(self.catalog().as_ref(), &table.table, &options).await
            };
            match maintained.await {
                Ok(report) => {
                    done.tables_maintained += 1;
                    done.files_removed += report.removed_files.len();
                }
                Err(e) => {
                    done.tables_failed += 1;
                    tracing::warn!(table = %table.table, "maintenance failed: {e}");
                }
            }
        }
        Ok(done)
    }

    /// How `table` is maintained: the project's settings (`maintenance:`
    /// in `rat.yaml`), with those its pipeline sets over them. A table no
    /// pipeline writes gets the project's.
    pub async fn maintenance_settings(&self, table: &TableRef) -> Result<MaintenanceSettings> {
        let project = self.project_maintenance();
        let storage = self.storage(&table.namespace)?;
        let source = ProjectSource::of(&table.namespace);
        match Project::load_pipeline(storage.as_ref(), &source, table).await {
            Ok(pipeline) => Ok(pipeline.settings.maintenance.apply(&project)),
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(project),
            Err(e) => Err(e),
        }
    }
}
