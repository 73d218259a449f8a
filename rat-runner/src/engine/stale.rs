//! Branches left behind: a run whose process was killed after committing
//! to its `run-<id>` branch never removes it. The next run of the table does.

use std::time::Duration;

use chrono::Utc;
use rat_core::{LogLevel, RunId, RunSpec};

use super::Engine;
use crate::table::{abandon_commit, runs_with_branches};

/// Removes `run-*` branches of the spec's table left by runs that ended
/// without cleaning up: those whose run record is terminal, or, without a
/// record, older than the configured age. Failures only log: a stale branch
/// is invisible to readers.
pub(super) async fn remove_stale_branches(
    engine: &Engine,
    spec: &RunSpec,
    log: &(dyn Fn(LogLevel, String) + Sync),
) {
    let catalog = &engine.catalog;
    let Ok(table) = catalog.load_table(&spec.table).await else {
        return;
    };
    for run in runs_with_branches(&table.metadata) {
        if run == spec.run_id {
            continue;
        }
        let branch = run.branch();
        let Some(reason) = stale_reason(engine, &run).await else {
            continue;
        };
        let removed = async {
            let table = catalog.load_table(&spec.table).await?;
            let snapshot = table.ref_snapshot_id(&branch);
            catalog
                .commit(abandon_commit(&table, &branch, snapshot))
                .await
        }
        .await;
        match removed {
            Ok(_) => log(
                LogLevel::Info,
                format!("removed stale branch {branch} ({reason})"),
            ),
            Err(e) => log(
                LogLevel::Warn,
                format!("could not remove stale branch {branch}: {e}"),
            ),
        }
    }
}

async fn stale_reason(engine: &Engine, run: &RunId) -> Option<String> {
    if let Some(store) = &engine.run_store {
        match store.get(run).await {
            Ok(record) if record.status.is_terminal() => {
                return Some(format!("its run {}", record.status));
            }
            Ok(_) => return None,
            Err(_) => {}
        }
    }
    let born = run.timestamp_ms()?;
    let now = Utc::now().timestamp_millis().max(0) as u64;
    let age = Duration::from_millis(now.saturating_sub(born));
    let limit = engine.config.stale_branch_age;
    (age > limit).then(|| format!("older than {}s with no live run", limit.as_secs()))
}
