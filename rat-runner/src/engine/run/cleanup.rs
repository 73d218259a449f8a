//! What an attempt wrote that no published snapshot references: deleted as
//! soon as the attempt is abandoned (a re-plan after a conflict) or the run
//! fails, so failed runs leave no files behind. A run killed before it could
//! clean up is handled by maintenance (its run folder is unreferenced).

use iceberg::io::FileIO;
use rat_core::{LoadedTable, LogLevel, RunId};

use super::Run;

/// Files of the current run that are not (yet) part of `main`.
#[derive(Default)]
pub(super) struct Unpublished {
    /// The table's I/O and the run's data folder, once the table is known.
    table: Option<(FileIO, String)>,
    data: Vec<String>,
    metadata: Vec<String>,
}

impl Unpublished {
    /// Remembers where the run writes in `table`.
    pub(super) fn track(&mut self, table: &LoadedTable, run_id: &RunId) {
        let location = table.metadata.location().trim_end_matches('/');
        self.table = Some((table.file_io.clone(), format!("{location}/data/{run_id}/")));
    }

    pub(super) fn add_data(&mut self, paths: impl IntoIterator<Item = String>) {
        self.data.extend(paths);
    }

    pub(super) fn add_metadata(&mut self, paths: impl IntoIterator<Item = String>) {
        self.metadata.extend(paths);
    }

    /// Everything is referenced by `main` now: nothing to delete.
    pub(super) fn published(&mut self) {
        self.data.clear();
        self.metadata.clear();
        self.table = None;
    }

    /// Deletes the attempt's manifests and manifest list, and its data
    /// files unless a retry reuses them. Returns how many files went.
    pub(super) async fn discard_attempt(&mut self, keep_data: bool) -> usize {
        let mut paths = std::mem::take(&mut self.metadata);
        if !keep_data {
            paths.append(&mut self.data);
        }
        self.delete(paths).await
    }

    /// Deletes everything the run wrote: tracked files and whatever else is
    /// in its data folder (a write cut off half way).
    pub(super) async fn discard_run(&mut self) -> usize {
        let mut paths = std::mem::take(&mut self.metadata);
        paths.append(&mut self.data);
        let deleted = self.delete(paths).await;
        if let Some((file_io, folder)) = self.table.take() {
            let _ = file_io.delete_prefix(&folder).await;
        }
        deleted
    }

    async fn delete(&self, paths: Vec<String>) -> usize {
        let Some((file_io, _)) = &self.table else {
            return 0;
        };
        let mut deleted = 0;
        for path in paths {
            if file_io.delete(&path).await.is_ok() {
                deleted += 1;
            }
        }
        deleted
    }
}

impl Run<'_> {
    /// After a failed run: deletes what it wrote, unless its snapshot turns
    /// out to be on `main` after all (a publish whose reply was lost), in
    /// which case the files are live and stay.
    pub(super) async fn discard_unpublished(&mut self) {
        if let Some(snapshot) = self.snapshot_id {
            match self.engine.catalog.load_table(&self.spec.table).await {
                Ok(t) if t.main_snapshot_id() != Some(snapshot) => {}
                Ok(_) => return self.unpublished.published(),
                Err(e) => {
                    self.log(
                        LogLevel::Warn,
                        format!("left the run's files for maintenance: {e}"),
                    );
                    return;
                }
            }
        }
        let deleted = self.unpublished.discard_run().await;
        if deleted > 0 {
            self.log(
                LogLevel::Info,
                format!("deleted {deleted} files the failed run wrote"),
            );
        }
    }
}
