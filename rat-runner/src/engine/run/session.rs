//! The run's DuckDB sessions: each opened with the run's limits and
//! stopped when it is cancelled, and locked down to what it may read
//! before any pipeline or test SQL reaches it.

use std::collections::BTreeMap;
use std::path::Path;

use rat_core::config::SqlAccess;
use rat_core::{Error, LogLevel, Pipeline, Result};

use super::Run;
use crate::duck::{DuckSession, INTERRUPT_REPEAT, MAX_PROJECT_FILES, Sandbox, SessionLimits};
use crate::engine::relations::{Relation, create_landing_views, create_table_views, resolve_refs};
use crate::template::{RefTarget, Rendered};

/// A session of the run, stopped when the run is cancelled; dropping it
/// ends its watcher.
pub(super) struct SessionGuard {
    pub(super) session: DuckSession,
    watcher: tokio::task::JoinHandle<()>,
}

impl std::ops::Deref for SessionGuard {
    type Target = DuckSession;

    fn deref(&self) -> &DuckSession {
        &self.session
    }
}

impl Drop for SessionGuard {
    fn drop(&mut self) {
        self.watcher.abort();
    }
}

impl Run<'_> {
    /// A fresh DuckDB database with the run's limits, whose statements
    /// stop when the run is cancelled (asked for, or its time limit).
    /// Opening one is a third of a small run's time, so it happens on a
    /// blocking thread: the caller can load tables meanwhile.
    pub(super) async fn open_session(&self) -> Result<SessionGuard> {
        let limits = &self.spec.limits;
        let defaults = &self.engine.config.limits;
        let limits = SessionLimits {
            threads: limits.threads.or(defaults.threads),
            memory_limit: limits
                .memory_limit
                .clone()
                .or(defaults.memory_limit.clone()),
            temp_directory: defaults.temp_directory.clone(),
        };
        let session = tokio::task::spawn_blocking(move || DuckSession::open(&limits))
            .await
            .map_err(|e| Error::internal(format!("opening a DuckDB session: {e}")))??;
        let watcher = {
            let cancel = self.cancel.clone();
            let session = session.clone();
            tokio::spawn(async move {
                cancel.cancelled().await;
                // Repeated until the session is dropped (this task is
                // aborted then).
                loop {
                    session.cancel();
                    tokio::time::sleep(INTERRUPT_REPEAT).await;
                }
            })
        };
        Ok(SessionGuard { session, watcher })
    }

    /// The sandbox every session of this run starts from: nothing, or the
    /// project's files when the engine allows them.
    pub(super) async fn base_sandbox(&self) -> Result<Sandbox> {
        let mut sandbox = Sandbox::default();
        let root = match self.engine.config.sql_access {
            SqlAccess::ProjectFiles => self.engine.storage.local_root().map(Path::to_path_buf),
            SqlAccess::Strict => None,
        };
        if let Some(root) = root {
            let (sandbox_with_files, left_out) = tokio::task::spawn_blocking(move || {
                let left_out = sandbox.allow_project_files(&root);
                (sandbox, left_out)
            })
            .await
            .map_err(|e| Error::internal(format!("listing project files: {e}")))?;
            sandbox = sandbox_with_files;
            if left_out > 0 {
                self.log(
                    LogLevel::Warn,
                    format!(
                        "the project holds more than {MAX_PROJECT_FILES} files: {left_out} are not readable by pipeline SQL"
                    ),
                );
            }
        }
        Ok(sandbox)
    }

    /// The relations the pipeline's views show: each `ref()`'s snapshot,
    /// and the target's own base (`this`) when the SQL reads it. A view
    /// and a sandbox entry cost per file, so a pipeline that never reads
    /// its table does not pay for the table's history.
    pub(super) async fn relations(
        &self,
        pipeline: &Pipeline,
        rendered: &Rendered,
        target: Option<&Relation>,
    ) -> Result<BTreeMap<RefTarget, Relation>> {
        let this = RefTarget::current(pipeline.table.clone());
        let mut others = rendered.refs.clone();
        others.remove(&this);
        let mut relations =
            resolve_refs(self.engine.catalog.as_ref(), &others, &pipeline.source_file).await?;
        if let Some(target) = target.filter(|_| rendered.reads_target) {
            relations.insert(this, target.clone());
        }
        Ok(relations)
    }

    /// Makes the views of `relations` and of the landing zones the
    /// template named, then locks the session down to exactly their files,
    /// the run's output `folder` and `base` (project files when allowed,
    /// the base files a merge reads).
    pub(super) async fn expose(
        &mut self,
        session: &DuckSession,
        relations: &BTreeMap<RefTarget, Relation>,
        rendered: &Rendered,
        base: &Sandbox,
        folder: Option<String>,
        file: &str,
    ) -> Result<()> {
        let mut sandbox = base.clone();
        create_table_views(session, relations).await?;
        for relation in relations.values() {
            sandbox.allow_files(&relation.files);
        }
        let landing = create_landing_views(
            session,
            self.engine.storage.as_ref(),
            &self.spec.project,
            &rendered.landing_zones,
            file,
        )
        .await?;
        sandbox.allow_files(&landing.files);
        self.consumed = landing.consumed;
        if let Some(folder) = folder {
            sandbox.allow_folder(&folder);
        }
        session.lock_down(&sandbox).await
    }
}
