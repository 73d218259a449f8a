//! The compile phase of an attempt: the table as it is now, the run's
//! session, the watermark, the pipeline rendered (or a script's inputs
//! found) and every relation it reads resolved and exposed.

use std::collections::BTreeMap;

use rat_core::{Catalog, ErrorKind, Language, LoadedTable, Phase, Pipeline, Result};

use super::Run;
use super::python::Script;
use super::session::SessionGuard;
use crate::duck::Sandbox;
use crate::engine::merge::{needs_base_files, reads_base};
use crate::engine::probe::watermark;
use crate::engine::relations::{Relation, check_select, grant_table};
use crate::engine::write::FileWriter;
use crate::table::BaseSnapshot;
use crate::template::{RefTarget, Rendered, TemplateContext, render};

/// What the compile phase found, for the execute phase.
pub(super) struct Compiled {
    /// The target table, when it exists.
    pub(super) existing: Option<LoadedTable>,
    /// Its `main` snapshot when the run began.
    pub(super) base_main: Option<i64>,
    /// What the run builds on.
    pub(super) base: BaseSnapshot,
    /// The run's session (locked down for SQL; for a script, after its
    /// result is loaded).
    pub(super) session: SessionGuard,
    /// `max(watermark_column)` on `main`.
    pub(super) watermark_value: Option<String>,
    /// What templates (the pipeline's, its tests') see.
    pub(super) template_ctx: TemplateContext,
    /// A Python pipeline's script.
    pub(super) script: Option<Script>,
    /// The SELECT the write reads.
    pub(super) rendered: Rendered,
    /// What each `ref()` resolved to.
    pub(super) relations: BTreeMap<RefTarget, Relation>,
    /// What the session may read.
    pub(super) sandbox: Sandbox,
}

impl Run<'_> {
    /// Enters the compile phase and does its work on the table as it is now.
    pub(super) async fn compile(
        &mut self,
        pipeline: &Pipeline,
        base_sandbox: &Sandbox,
    ) -> Result<Compiled> {
        let catalog = self.engine.catalog.clone();
        let file = pipeline.source_file.as_str();
        let target = &pipeline.table;
        let settings = &pipeline.settings;

        self.enter(Phase::Compile)?;
        // The session opens while the table loads: a long history costs
        // its metadata's parse, which then overlaps DuckDB's start.
        let (session, (existing, mut base)) =
            tokio::try_join!(self.open_session(), load_target(catalog.as_ref(), pipeline))?;
        let base_main = existing.as_ref().and_then(LoadedTable::main_snapshot_id);
        self.base_snapshot_id = base_main;
        // rat's own statements (the watermark) run before the lockdown;
        // the pipeline's only after it.
        if let Some(table) = &existing {
            grant_table(&session, table).await?;
        }
        let watermark_value = match (&settings.watermark_column, &existing, base.files()) {
            (Some(column), Some(t), Some(files)) if files.snapshot.is_some() => {
                Some(watermark(&session, &Relation::of(t, files), column, file).await?).flatten()
            }
            _ => None,
        };
        let template_ctx = TemplateContext {
            table: target.clone(),
            strategy: settings.merge_strategy,
            watermark_value: watermark_value.clone(),
            run_started_at: self.started_at,
        };
        let script = match pipeline.language {
            Language::Sql => None,
            Language::Python => Some(Script::discover(self, pipeline).await?),
        };
        let rendered = match &script {
            None => {
                let rendered = render(&pipeline.source, file, &template_ctx)?;
                check_select(&session, &rendered.sql, file, &pipeline.source).await?;
                rendered
            }
            Some(script) => script.rendered(pipeline),
        };
        if let Some(t) = &existing
            && rendered.reads_target
        {
            base.read(t).await?;
        }
        let target_relation = existing
            .as_ref()
            .zip(base.files())
            .map(|(t, files)| Relation::of(t, files));
        let relations = self
            .relations(pipeline, &rendered, target_relation.as_ref())
            .await?;
        let write_folder = existing
            .as_ref()
            .filter(|_| !self.dry)
            .map(|t| FileWriter::run_folder(t, &self.spec.run_id, &self.engine.staging_dir()));
        // A copy-on-write merge reads base files after the lockdown.
        let mut sandbox = base_sandbox.clone();
        if let Some(base) = target_relation.as_ref()
            && reads_base(settings.merge_strategy)
        {
            sandbox.allow_files(&base.files);
        }
        if script.is_none() {
            self.expose(
                &session,
                &relations,
                &rendered,
                &sandbox,
                write_folder.clone(),
                file,
            )
            .await?;
        }

        Ok(Compiled {
            existing,
            base_main,
            base,
            session,
            watermark_value,
            template_ctx,
            script,
            rendered,
            relations,
            sandbox,
        })
    }
}

/// The target table as it is now (when it exists) and what its `main`
/// snapshot holds: the manifests always, the files when the merge needs
/// them.
async fn load_target(
    catalog: &dyn Catalog,
    pipeline: &Pipeline,
) -> Result<(Option<LoadedTable>, BaseSnapshot)> {
    let existing = match catalog.load_table(&pipeline.table).await {
        Ok(t) => t,
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok((None, BaseSnapshot::default())),
        Err(e) => return Err(e),
    };
    let mut base = BaseSnapshot::list(&existing, existing.main_snapshot_id()).await?;
    if needs_base_files(pipeline) {
        base.read(&existing).await?;
    }
    Ok((Some(existing), base))
}
