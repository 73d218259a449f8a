//! The gate: quality tests on the run's branch, then publication or removal
//! of the branch.

use std::collections::BTreeSet;

use rat_core::project::Severity;
use rat_core::{Error, ErrorKind, LoadedTable, LogLevel, Phase, Pipeline, Result, TestOutcome};

use super::session::SessionGuard;
use super::{Attempt, Run};
use crate::duck::Sandbox;
use crate::engine::quality::run_test;
use crate::engine::relations::{Relation, create_table_views, resolve_refs};
use crate::table::properties::comment_update;
use crate::table::{abandon_commit, publish_commit};
use crate::template::{RefTarget, TemplateContext, render};

impl Run<'_> {
    #[allow(clippy::too_many_arguments)]
    pub(super) async fn test_and_publish(
        &mut self,
        pipeline: &Pipeline,
        base_sandbox: &Sandbox,
        template_ctx: &TemplateContext,
        on_branch: &LoadedTable,
        branch_relation: Relation,
        base_main: Option<i64>,
        snapshot_id: i64,
    ) -> Result<Attempt> {
        self.enter(Phase::Test)?;
        self.quality.clear();
        let session = if pipeline.tests.is_empty() {
            None
        } else {
            Some(
                self.test_session(pipeline, template_ctx, branch_relation, base_sandbox)
                    .await?,
            )
        };
        if let Some(session) = &session {
            self.run_quality_tests(pipeline, session, template_ctx)
                .await?;
        }
        if let Some(blocking) = self.quality.iter().find(|q| q.blocks()) {
            let reason = match blocking.outcome {
                TestOutcome::Errored => "errored".to_owned(),
                _ => format!("found {} violating rows", blocking.violations),
            };
            return Err(Error::new(
                ErrorKind::QualityGate,
                format!(
                    "quality test '{}' {reason}; nothing was published",
                    blocking.name
                ),
            )
            .with_context("file", &blocking.file));
        }

        self.enter(Phase::Publish)?;
        let branch = self.spec.run_id.branch();
        let mut publish = publish_commit(on_branch, &branch, snapshot_id, base_main);
        publish.updates.extend(comment_update(
            on_branch.metadata.properties(),
            pipeline.settings.description.as_deref(),
        ));
        match self.engine.catalog.commit(publish).await {
            Ok(_) => {
                self.log(
                    LogLevel::Info,
                    format!("published snapshot {snapshot_id} to main"),
                );
                Ok(Attempt::Published)
            }
            Err(e) if e.kind() == ErrorKind::Conflict => Ok(Attempt::Conflict(e)),
            Err(e) => Err(e),
        }
    }

    /// Runs the pipeline's quality tests in `session` (its views made),
    /// logging and keeping each result; a `warn` test that does not pass
    /// is also a warning of the run.
    pub(super) async fn run_quality_tests(
        &mut self,
        pipeline: &Pipeline,
        session: &SessionGuard,
        template_ctx: &TemplateContext,
    ) -> Result<()> {
        for test in &pipeline.tests {
            self.enter(Phase::Test)?;
            let result = run_test(session, test, template_ctx).await?;
            let level = match (result.outcome, result.severity) {
                (TestOutcome::Passed, _) => LogLevel::Info,
                (_, Severity::Warn) => LogLevel::Warn,
                (_, Severity::Error) => LogLevel::Error,
            };
            let detail = match result.outcome {
                TestOutcome::Passed => "passed".to_owned(),
                TestOutcome::Failed => format!("failed: {} violating rows", result.violations),
                TestOutcome::Errored => format!(
                    "errored: {}",
                    result.message.as_deref().unwrap_or("unknown error")
                ),
            };
            self.log(
                level,
                format!(
                    "quality test {} ({}) {detail}",
                    result.name, result.severity
                ),
            );
            if result.severity == Severity::Warn && result.outcome != TestOutcome::Passed {
                self.warnings
                    .push(format!("quality test '{}' {detail}", result.name));
            }
            self.quality.push(result);
        }
        Ok(())
    }

    /// The session quality tests run in: views of what they `ref()` and of
    /// the branch (`this`), locked down to exactly those files.
    pub(super) async fn test_session(
        &self,
        pipeline: &Pipeline,
        template_ctx: &TemplateContext,
        branch_relation: Relation,
        base_sandbox: &Sandbox,
    ) -> Result<SessionGuard> {
        let this = RefTarget::current(pipeline.table.clone());
        let mut test_refs = BTreeSet::new();
        for test in &pipeline.tests {
            test_refs.extend(render(&test.sql, &test.file, template_ctx)?.refs);
        }
        test_refs.remove(&this);
        // DuckDB starts while the tests' refs resolve.
        let (mut relations, session) = tokio::try_join!(
            resolve_refs(
                self.engine.catalog.as_ref(),
                &test_refs,
                &pipeline.tests[0].file,
            ),
            self.open_session(),
        )?;
        relations.insert(this, branch_relation);
        create_table_views(&session, &relations).await?;
        let mut sandbox = base_sandbox.clone();
        for relation in relations.values() {
            sandbox.allow_files(&relation.files);
        }
        session.lock_down(&sandbox).await?;
        Ok(session)
    }

    /// Removes the run's branch and snapshot. Failures are logged: the
    /// original error matters more, and a stale branch is harmless to readers.
    pub(super) async fn abandon(&self, branch: &str, snapshot_id: i64) {
        let catalog = &self.engine.catalog;
        let result = async {
            let table = catalog.load_table(&self.spec.table).await?;
            if table.ref_snapshot_id(branch).is_none() {
                return Ok(());
            }
            catalog
                .commit(abandon_commit(&table, branch, Some(snapshot_id)))
                .await
                .map(|_| ())
        }
        .await;
        match result {
            Ok(()) => self.log(LogLevel::Info, format!("removed branch {branch}")),
            Err(e) => self.log(
                LogLevel::Warn,
                format!("could not remove branch {branch}: {e}"),
            ),
        }
    }
}
