//! Housekeeping the lease holder does now and then: rat's own run records
//! and logs pruned to their retention, and every table maintained
//! (compaction, snapshot expiry, orphan removal).

use chrono::Utc;
use rat_core::{MaintenanceSettings, Result, RunRetention};
use rat_runner::maintain::{MaintainOptions, maintain};

use super::Platform;
use crate::api::all_tables;

/// What one housekeeping pass did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Housekeeping {
    /// Run records deleted.
    pub runs_pruned: usize,
    /// Tables maintained.
    pub tables_maintained: usize,
    /// Files maintenance removed.
    pub files_removed: usize,
    /// Tables whose maintenance failed (logged; the next pass tries again).
    pub tables_failed: usize,
}

impl Platform {
    /// Prunes run records to `retention` and maintains every table with
    /// `settings`. A table that fails is logged and skipped.
    pub async fn housekeep(
        &self,
        retention: &RunRetention,
        settings: &MaintenanceSettings,
    ) -> Result<Housekeeping> {
        let mut done = Housekeeping {
            runs_pruned: self.store().prune(retention, Utc::now()).await?.len(),
            ..Housekeeping::default()
        };
        let options = MaintainOptions::new(*settings).with_run_store(self.store().clone());
        for table in all_tables(self, None).await? {
            match maintain(self.catalog().as_ref(), &table.table, &options).await {
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
}
