//! Dry runs ([`crate::preview`]): a run's compile phase on the table as
//! it is now, then the pipeline's result read (a preview) or its quality
//! tests run against `main`. Nothing is staged, committed or archived: a
//! dry run has no branch, and its sessions may write nowhere.

use std::sync::Arc;
use std::time::Instant;

use rat_core::{
    Error, Language, MemoryLogSink, Phase, Pipeline, QualityResult, Result, RunContext, RunSpec,
};

use super::compile::Compiled;
use super::{Run, TimeLimit};
use crate::duck::{DuckSession, duck_error};
use crate::engine::Engine;
use crate::engine::relations::relation_at;
use crate::preview::{
    CompiledPipeline, DryRunLimits, PipelinePreview, PreviewTiming, ReadTable, TestReport,
};
use crate::query::{describe, select_rows};
use crate::template::TemplateContext;

impl Engine {
    /// What `pipeline` compiles to now: the rendered SELECT, DuckDB's plan
    /// of it and the snapshots its `ref()`s resolve to, without running
    /// it. Errors name the file and, when DuckDB reports one, the line.
    ///
    /// ```no_run
    /// # async fn demo(engine: &rat_runner::Engine, pipeline: &rat_core::Pipeline) -> rat_core::Result<()> {
    /// let compiled = engine.compile_pipeline(pipeline, Default::default()).await?;
    /// println!("{}", compiled.compiled_sql.unwrap_or_default());
    /// # Ok(()) }
    /// ```
    pub async fn compile_pipeline(
        &self,
        pipeline: &Pipeline,
        limits: DryRunLimits,
    ) -> Result<CompiledPipeline> {
        let mut run = Run::dry(self, pipeline, limits);
        let _limit = TimeLimit(run.start_time_limit());
        let outcome = run.dry_compile_explained(pipeline, limits).await;
        outcome.map_err(|e| run.ended_with(e))
    }

    /// The first `limits.max_rows` rows `pipeline` would write if it ran
    /// now (a Python script runs in its own interpreter as in a run),
    /// with the compiled SQL, its plan and timings. Nothing is written.
    pub async fn preview_pipeline(
        &self,
        pipeline: &Pipeline,
        limits: DryRunLimits,
    ) -> Result<PipelinePreview> {
        let log = MemoryLogSink::default();
        let mut run = Run::dry(self, pipeline, limits).logging_to(log.clone());
        let _limit = TimeLimit(run.start_time_limit());
        let outcome = run.dry_preview(pipeline, limits).await;
        let mut preview = outcome.map_err(|e| run.ended_with(e))?;
        preview.log = log.records();
        Ok(preview)
    }

    /// Runs `pipeline`'s quality tests against its table's `main` as it
    /// is, exactly as a run's gate would on its branch; `not_found` when
    /// the table does not exist yet. Nothing is written.
    pub async fn test_pipeline(
        &self,
        pipeline: &Pipeline,
        limits: DryRunLimits,
    ) -> Result<TestReport> {
        let mut run = Run::dry(self, pipeline, limits);
        let _limit = TimeLimit(run.start_time_limit());
        let outcome = run.dry_test(pipeline).await;
        outcome.map_err(|e| run.ended_with(e))
    }
}

impl<'e> Run<'e> {
    /// A run of `pipeline` that writes nothing, within `limits.timeout`,
    /// logging nowhere until [`Run::logging_to`].
    fn dry(engine: &'e Engine, pipeline: &Pipeline, limits: DryRunLimits) -> Self {
        let mut spec = RunSpec::new(pipeline.table.clone());
        spec.limits.timeout = Some(limits.timeout);
        let ctx = RunContext {
            cancel: Default::default(),
            log: Arc::new(MemoryLogSink::default()),
        };
        let mut run = Run::new(engine, spec, ctx);
        run.dry = true;
        run
    }

    fn logging_to(mut self, log: MemoryLogSink) -> Self {
        self.ctx.log = Arc::new(log);
        self
    }

    /// The compile phase on the table as it is now, and what it found.
    async fn dry_compile(&mut self, pipeline: &Pipeline) -> Result<(Compiled, CompiledPipeline)> {
        self.enter(Phase::Load)?;
        let base_sandbox = self.base_sandbox().await?;
        let compiled = self.compile(pipeline, &base_sandbox).await?;
        let described = CompiledPipeline {
            table: pipeline.table.clone(),
            language: pipeline.language,
            compiled_sql: compiled
                .script
                .is_none()
                .then(|| compiled.rendered.sql.clone()),
            explain: None,
            reads: compiled
                .relations
                .iter()
                .map(|(target, relation)| ReadTable {
                    table: target.table.clone(),
                    snapshot_id: relation.snapshot_id,
                })
                .collect(),
            landing_zones: compiled
                .rendered
                .landing_zones
                .iter()
                .map(ToString::to_string)
                .collect(),
            warnings: pipeline.warnings.clone(),
        };
        Ok((compiled, described))
    }

    /// The compile phase, and DuckDB's plan of a SQL pipeline's SELECT.
    async fn dry_compile_explained(
        &mut self,
        pipeline: &Pipeline,
        limits: DryRunLimits,
    ) -> Result<CompiledPipeline> {
        let (compiled, mut described) = self.dry_compile(pipeline).await?;
        if pipeline.language == Language::Sql {
            let plan = explain(&compiled.session, &compiled.rendered.sql, limits).await;
            described.explain =
                Some(plan.map_err(|e| e.with_context("file", &pipeline.source_file))?);
        }
        Ok(described)
    }

    async fn dry_preview(
        &mut self,
        pipeline: &Pipeline,
        limits: DryRunLimits,
    ) -> Result<PipelinePreview> {
        let started = Instant::now();
        let (compiled, mut described) = self.dry_compile(pipeline).await?;
        let compile_ms = started.elapsed().as_millis() as u64;
        self.enter(Phase::Execute)?;
        if let Some(script) = &compiled.script {
            self.run_script(
                pipeline,
                script,
                &compiled.relations,
                compiled.watermark_value.clone(),
                &compiled.session,
            )
            .await?;
            compiled.session.lock_down(&compiled.sandbox).await?;
        }
        let session = &compiled.session;
        let sql = &compiled.rendered.sql;
        let file = pipeline.source_file.as_str();
        let located = |e: Error| e.with_context("file", file);
        if compiled.script.is_none() {
            described.explain = Some(explain(session, sql, limits).await.map_err(located)?);
        }
        let schema = describe(session, sql, limits.timeout)
            .await
            .map_err(located)?;
        let output = select_rows(session, sql, limits.max_rows, limits.timeout)
            .await
            .map_err(located)?;
        described
            .warnings
            .extend(super::execute::undescribed_columns(pipeline, |name| {
                schema.iter().any(|c| c.name == name)
            }));
        Ok(PipelinePreview {
            compiled: described,
            schema,
            output,
            timing: PreviewTiming {
                compile_ms,
                execute_ms: (started.elapsed().as_millis() as u64).saturating_sub(compile_ms),
            },
            log: Vec::new(),
        })
    }

    async fn dry_test(&mut self, pipeline: &Pipeline) -> Result<TestReport> {
        let started = Instant::now();
        self.enter(Phase::Load)?;
        let table = self
            .engine
            .catalog
            .load_table(&pipeline.table)
            .await
            .map_err(|e| match e.kind() {
                rat_core::ErrorKind::NotFound => Error::not_found(format!(
                    "table '{}' does not exist yet: run its pipeline before testing it",
                    pipeline.table
                )),
                _ => e,
            })?;
        let base_sandbox = self.base_sandbox().await?;
        let main = relation_at(&table, None, &pipeline.source_file).await?;
        let snapshot_id = main.snapshot_id;
        let template_ctx = TemplateContext {
            table: pipeline.table.clone(),
            strategy: pipeline.settings.merge_strategy,
            watermark_value: None,
            run_started_at: self.started_at,
        };
        self.enter(Phase::Test)?;
        if !pipeline.tests.is_empty() {
            let session = self
                .test_session(pipeline, &template_ctx, main, &base_sandbox)
                .await?;
            self.run_quality_tests(pipeline, &session, &template_ctx)
                .await?;
        }
        let results = std::mem::take(&mut self.quality);
        Ok(TestReport {
            table: pipeline.table.clone(),
            snapshot_id,
            passed: !results.iter().any(QualityResult::blocks),
            results,
            millis: started.elapsed().as_millis() as u64,
        })
    }
}

/// DuckDB's plan of the SELECT `sql` (`EXPLAIN`), as its text.
async fn explain(session: &DuckSession, sql: &str, limits: DryRunLimits) -> Result<String> {
    let explain = format!("EXPLAIN {sql}");
    session
        .run_with_timeout(limits.timeout, move |c| {
            let failed = |e| duck_error("cannot plan the pipeline SQL", e);
            let mut stmt = c.prepare(&explain).map_err(failed)?;
            let lines = stmt
                .query_map([], |r| r.get::<_, String>(1))
                .map_err(failed)?
                .collect::<std::result::Result<Vec<_>, _>>()
                .map_err(failed)?;
            Ok(lines.join("\n"))
        })
        .await
}
