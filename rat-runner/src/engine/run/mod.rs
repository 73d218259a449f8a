//! One run of one pipeline, phase by phase.

mod cleanup;
mod gate;
mod python;
mod session;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use backon::BackoffBuilder;
use chrono::{DateTime, Utc};
use iceberg::spec::{DataFile, Schema};
use rat_core::run::PhaseTiming;
use rat_core::{
    Error, ErrorKind, Language, LoadedTable, LogLevel, NewTable, Phase, Pipeline, Project,
    QualityResult, Result, RunContext, RunResult, RunSpec, RunStatus,
};
use tokio_util::sync::CancellationToken;

use super::Engine;
use super::merge::{
    needs_base_files, plan_changes, reads_base, reuse_changes, with_validity_columns,
};
use super::probe::{result_schema, watermark};
use super::relations::{Relation, check_select, grant_table};
use super::stale::remove_stale_branches;
use super::write::{FileWriter, partition_exprs};
use crate::duck::{ColumnMatch, Sandbox};
use crate::table::{
    BaseSnapshot, evolve_schema, partition_spec, same_fields, spec_matches, stage_snapshot,
};
use crate::template::{TemplateContext, render};

/// State of a run in progress; turned into a [`RunResult`] at the end.
pub(super) struct Run<'e> {
    engine: &'e Engine,
    spec: RunSpec,
    ctx: RunContext,
    /// Cancelled by the caller's token or by the run's own time limit.
    cancel: CancellationToken,
    timed_out: Arc<AtomicBool>,
    started_at: DateTime<Utc>,
    phase: Phase,
    phase_started: Instant,
    timings: Vec<PhaseTiming>,
    strategy: Option<rat_core::MergeStrategy>,
    rows_written: u64,
    base_snapshot_id: Option<i64>,
    snapshot_id: Option<i64>,
    quality: Vec<QualityResult>,
    warnings: Vec<String>,
    /// Files written for the run that `main` does not reference yet.
    unpublished: cleanup::Unpublished,
}

/// The outcome of one attempt at writing, testing and publishing.
enum Attempt {
    Published,
    /// `main` moved (or the table changed) under the run; try again.
    Conflict(Error),
}

/// Data files an attempt wrote that a retry may reuse, when the result does
/// not depend on the table's state.
struct Reusable {
    schema: Schema,
    added: Vec<DataFile>,
}

impl<'e> Run<'e> {
    pub(super) fn new(engine: &'e Engine, spec: RunSpec, ctx: RunContext) -> Self {
        let cancel = ctx.cancel.child_token();
        Self {
            engine,
            spec,
            ctx,
            cancel,
            timed_out: Arc::new(AtomicBool::new(false)),
            started_at: Utc::now(),
            phase: Phase::Load,
            phase_started: Instant::now(),
            timings: Vec::new(),
            strategy: None,
            rows_written: 0,
            base_snapshot_id: None,
            snapshot_id: None,
            quality: Vec::new(),
            warnings: Vec::new(),
            unpublished: cleanup::Unpublished::default(),
        }
    }

    pub(super) async fn execute(mut self) -> RunResult {
        self.log(
            LogLevel::Info,
            format!("run {} of {} started", self.spec.run_id, self.spec.table),
        );
        self.ctx.log.phase(Phase::Load);
        if let Err(e) = self.spec.limits.validate() {
            return self.finish(Err(e));
        }
        let timer = self.spec.limits.timeout.map(|limit| {
            let cancel = self.cancel.clone();
            let timed_out = Arc::clone(&self.timed_out);
            tokio::spawn(async move {
                tokio::time::sleep(limit).await;
                timed_out.store(true, Ordering::SeqCst);
                cancel.cancel();
            })
        });
        let outcome = self.go().await;
        if let Some(timer) = timer {
            timer.abort();
        }
        if outcome.is_err() {
            self.discard_unpublished().await;
        }
        self.finish(outcome)
    }

    fn finish(mut self, outcome: Result<()>) -> RunResult {
        self.timings.push(PhaseTiming {
            phase: self.phase,
            millis: self.phase_started.elapsed().as_millis() as u64,
        });
        let (status, error) = match outcome {
            Ok(()) => (RunStatus::Success, None),
            Err(e) => {
                let e = if self.timed_out.load(Ordering::SeqCst) {
                    let limit = self.spec.limits.timeout.unwrap_or_default();
                    Error::new(
                        ErrorKind::Timeout,
                        format!("run exceeded its time limit of {}s", limit.as_secs_f64()),
                    )
                } else if self.cancel.is_cancelled() && e.kind() != ErrorKind::Cancelled {
                    Error::new(ErrorKind::Cancelled, "run cancelled")
                } else {
                    e
                };
                let status = RunResult::status_for(&e);
                (status, Some(e))
            }
        };
        match &error {
            None => self.log(
                LogLevel::Info,
                format!(
                    "run succeeded: {} rows written, snapshot {}",
                    self.rows_written,
                    self.snapshot_id.map_or("none".into(), |s| s.to_string())
                ),
            ),
            Some(e) => self.log(LogLevel::Error, format!("run {status}: {e}")),
        }
        RunResult {
            run_id: self.spec.run_id,
            table: self.spec.table,
            status,
            phase: self.phase,
            strategy: self.strategy,
            started_at: self.started_at,
            finished_at: Utc::now(),
            timings: self.timings,
            rows_written: self.rows_written,
            base_snapshot_id: self.base_snapshot_id,
            snapshot_id: if status == RunStatus::Success {
                self.snapshot_id
            } else {
                None
            },
            quality: self.quality,
            warnings: self.warnings,
            error: error.as_ref().map(Into::into),
        }
    }

    fn log(&self, level: LogLevel, message: String) {
        self.ctx.log.log(level, message);
    }

    /// Enters `phase`, closing the timing of the previous one; stops here if
    /// the run was cancelled.
    fn enter(&mut self, phase: Phase) -> Result<()> {
        if self.cancel.is_cancelled() {
            return Err(Error::new(ErrorKind::Cancelled, "run cancelled"));
        }
        if phase != self.phase {
            self.ctx.log.phase(phase);
            self.timings.push(PhaseTiming {
                phase: self.phase,
                millis: self.phase_started.elapsed().as_millis() as u64,
            });
            self.phase = phase;
            self.phase_started = Instant::now();
        }
        self.log(LogLevel::Debug, format!("phase {phase}"));
        Ok(())
    }

    async fn go(&mut self) -> Result<()> {
        self.enter(Phase::Load)?;
        let pipeline = Project::load_pipeline(
            self.engine.storage.as_ref(),
            &self.spec.project,
            &self.spec.table,
        )
        .await?;
        self.strategy = Some(pipeline.settings.merge_strategy);
        remove_stale_branches(self.engine, &self.spec, &|level, message| {
            self.log(level, message)
        })
        .await;
        for w in &pipeline.warnings {
            self.log(LogLevel::Warn, w.clone());
        }
        self.warnings.extend(pipeline.warnings.iter().cloned());
        self.log(
            LogLevel::Info,
            format!(
                "loaded {} ({}, {} quality tests)",
                pipeline.source_file,
                pipeline.settings.merge_strategy,
                pipeline.tests.len()
            ),
        );

        let base_sandbox = self.base_sandbox().await?;
        let max = self.engine.config.max_commit_attempts.max(1);
        let mut delays = backon::ExponentialBuilder::default()
            .with_min_delay(Duration::from_millis(20))
            .with_max_delay(Duration::from_secs(1))
            .with_jitter()
            .without_max_times()
            .build();
        let mut reusable: Option<Reusable> = None;
        for attempt in 1..=max {
            match self
                .attempt(&pipeline, &base_sandbox, &mut reusable)
                .await?
            {
                Attempt::Published => return Ok(()),
                Attempt::Conflict(e) if attempt < max => {
                    self.log(
                        LogLevel::Warn,
                        format!(
                            "commit conflict ({e}); re-planning on the new main (attempt {}/{max})",
                            attempt + 1
                        ),
                    );
                    let delay = delays.next().unwrap_or(Duration::from_secs(1));
                    tokio::select! {
                        _ = tokio::time::sleep(delay) => {}
                        _ = self.cancel.cancelled() => {
                            return Err(Error::new(ErrorKind::Cancelled, "run cancelled"));
                        }
                    }
                }
                Attempt::Conflict(e) => {
                    return Err(Error::new(
                        ErrorKind::Conflict,
                        format!("gave up after {max} attempts: the table kept changing"),
                    )
                    .with_source(e));
                }
            }
        }
        unreachable!("the loop returns on its last attempt")
    }

    /// Compile, execute, write to the branch, test and publish, on the
    /// table as it is now.
    async fn attempt(
        &mut self,
        pipeline: &Pipeline,
        base_sandbox: &Sandbox,
        reusable: &mut Option<Reusable>,
    ) -> Result<Attempt> {
        let catalog = self.engine.catalog.clone();
        let file = pipeline.source_file.as_str();
        let target = &pipeline.table;
        let settings = &pipeline.settings;

        self.enter(Phase::Compile)?;
        let existing = match catalog.load_table(target).await {
            Ok(t) => Some(t),
            Err(e) if e.kind() == ErrorKind::NotFound => None,
            Err(e) => return Err(e),
        };
        let base_main = existing.as_ref().and_then(LoadedTable::main_snapshot_id);
        self.base_snapshot_id = base_main;
        let mut base = match &existing {
            Some(t) => BaseSnapshot::list(t, base_main).await?,
            None => BaseSnapshot::default(),
        };
        if let Some(t) = &existing
            && needs_base_files(pipeline)
        {
            base.read(t).await?;
        }
        // rat's own statements (the watermark) run before the lockdown;
        // the pipeline's only after it.
        let mut session = self.open_session()?;
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
            Language::Python => Some(python::Script::discover(self, pipeline).await?),
        };
        let rendered = match &script {
            None => {
                let rendered = render(&pipeline.source, file, &template_ctx)?;
                check_select(&session, &rendered.sql, file).await?;
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

        self.enter(Phase::Execute)?;
        if let Some(script) = &script {
            self.run_script(pipeline, script, &relations, watermark_value, &session)
                .await?;
        }
        let mut result_schema = result_schema(&session, &rendered.sql, file).await?;
        if settings.merge_strategy == rat_core::MergeStrategy::Scd2 {
            result_schema = with_validity_columns(settings, &result_schema)
                .map_err(|e| e.with_context("file", file))?;
        }
        let table = match existing {
            Some(t) => t,
            None if script.is_some() => {
                // rat's own SQL only: the session locks down below.
                let table = self.create_table(pipeline, &result_schema).await?;
                grant_table(&session, &table).await?;
                table
            }
            None => {
                // A new table's folder is known only now: the session
                // that writes into it is locked down with it.
                let table = self.create_table(pipeline, &result_schema).await?;
                session = self.open_session()?;
                grant_table(&session, &table).await?;
                let folder =
                    FileWriter::run_folder(&table, &self.spec.run_id, &self.engine.staging_dir());
                self.expose(
                    &session,
                    &relations,
                    &rendered,
                    base_sandbox,
                    Some(folder),
                    file,
                )
                .await?;
                table
            }
        };
        if script.is_some() {
            let mut locked = sandbox.clone();
            locked.allow_folder(&FileWriter::run_folder(
                &table,
                &self.spec.run_id,
                &self.engine.staging_dir(),
            ));
            session.lock_down(&locked).await?;
        }
        if !spec_matches(
            table.metadata.default_partition_spec(),
            table.metadata.current_schema(),
            &settings.partition_by,
        ) {
            return Err(Error::new(
                ErrorKind::Unsupported,
                "partition_by differs from the table's partition spec; changing a table's partitioning is not supported yet",
            )
            .with_context("file", file)
            .with_context("field", "partition_by"));
        }
        let write_schema = evolve_schema(
            table.metadata.current_schema(),
            table.metadata.last_column_id(),
            &result_schema,
            settings.merge_strategy,
        )
        .map_err(|e| e.with_context("file", file))?;
        self.unpublished.track(&table, &self.spec.run_id);
        let writer = FileWriter::new(
            session.session.clone(),
            table.clone(),
            Arc::new(write_schema.clone()),
            self.spec.run_id.clone(),
            self.engine.staging_dir(),
        );
        let changes = match reusable.take() {
            Some(r) if same_fields(&r.schema, &write_schema) => {
                self.log(
                    LogLevel::Info,
                    "reusing the data files of the previous attempt".into(),
                );
                reuse_changes(settings.merge_strategy, r.added, &base)?
            }
            _ => plan_changes(&writer, settings, &rendered.sql, &base, self.started_at)
                .await
                .map_err(|e| e.with_context("file", file))?,
        };
        let reusable_after = (!rendered.reads_target
            && matches!(
                settings.merge_strategy,
                rat_core::MergeStrategy::FullRefresh | rat_core::MergeStrategy::AppendOnly
            ))
        .then(|| Reusable {
            schema: write_schema.clone(),
            added: changes.added.clone(),
        });
        self.unpublished
            .add_data(changes.added.iter().map(|f| f.file_path().to_owned()));
        self.rows_written = changes.added.iter().map(DataFile::record_count).sum();
        self.log(
            LogLevel::Info,
            format!(
                "wrote {} rows in {} data files; replacing {} files",
                self.rows_written,
                changes.added.len(),
                changes.removed.len()
            ),
        );
        // Only quality tests read the branch's files.
        let branch_files: Vec<String> = if pipeline.tests.is_empty() {
            Vec::new()
        } else {
            base.require_files()?
                .paths()
                .into_iter()
                .filter(|p| !changes.removed.contains(p))
                .chain(changes.added.iter().map(|f| f.file_path().to_owned()))
                .collect()
        };

        // The test phase has a session of its own.
        drop(writer);
        drop(session);

        self.enter(Phase::Write)?;
        let branch = self.spec.run_id.branch();
        let staged = stage_snapshot(
            &table,
            &base,
            changes,
            &write_schema,
            &branch,
            &self.spec.run_id,
        )
        .await?;
        let snapshot_id = staged.snapshot_id;
        self.unpublished.add_metadata(staged.metadata_files);
        let on_branch = match catalog.commit(staged.commit).await {
            Ok(t) => t,
            Err(e) if e.kind() == ErrorKind::Conflict => {
                self.unpublished
                    .discard_attempt(reusable_after.is_some())
                    .await;
                *reusable = reusable_after;
                return Ok(Attempt::Conflict(e));
            }
            Err(e) => return Err(e),
        };
        self.snapshot_id = Some(snapshot_id);
        self.log(
            LogLevel::Info,
            format!("committed snapshot {snapshot_id} to branch {branch}"),
        );

        // From here on, every exit removes the branch unless published.
        let outcome = self
            .test_and_publish(
                pipeline,
                base_sandbox,
                &template_ctx,
                &on_branch,
                Relation {
                    schema: on_branch.metadata.current_schema().as_ref().clone(),
                    files: branch_files,
                    by: ColumnMatch::for_table(&on_branch.metadata),
                    location: on_branch.metadata.location().to_owned(),
                    s3: on_branch.s3.clone(),
                },
                base_main,
                snapshot_id,
            )
            .await;
        match outcome {
            Ok(Attempt::Published) => {
                self.unpublished.published();
                Ok(Attempt::Published)
            }
            other => {
                self.abandon(&branch, snapshot_id).await;
                if matches!(other, Ok(Attempt::Conflict(_))) {
                    self.unpublished
                        .discard_attempt(reusable_after.is_some())
                        .await;
                    *reusable = reusable_after;
                    self.snapshot_id = None;
                }
                other
            }
        }
    }

    /// Creates the table on its first run, with the result's schema and the
    /// partition spec of `partition_by`. Losing a creation race is fine:
    /// the winner's table is used.
    async fn create_table(&self, pipeline: &Pipeline, schema: &Schema) -> Result<LoadedTable> {
        let catalog = &self.engine.catalog;
        let spec = partition_spec(&pipeline.settings.partition_by, schema)
            .and_then(|spec| {
                let bound = spec.clone().bind(schema.clone()).map_err(|e| {
                    Error::invalid("invalid partition_by")
                        .with_context("field", "partition_by")
                        .with_source(e)
                })?;
                partition_exprs(&bound, schema)?;
                Ok(spec)
            })
            .map_err(|e| e.with_context("file", &pipeline.source_file))?;
        let mut properties = crate::table::properties::created_table_defaults();
        properties.insert("rat.pipeline".to_owned(), pipeline.table.to_string());
        if let Some(description) = &pipeline.settings.description {
            properties.insert("comment".to_owned(), description.clone());
        }
        catalog.create_namespace(&pipeline.table.namespace).await?;
        let new_table = NewTable {
            schema: schema.clone(),
            partition_spec: spec,
            properties,
        };
        match catalog.create_table(&pipeline.table, new_table).await {
            Ok(t) => {
                self.log(LogLevel::Info, format!("created table {}", pipeline.table));
                Ok(t)
            }
            Err(e) if e.kind() == ErrorKind::AlreadyExists => {
                catalog.load_table(&pipeline.table).await
            }
            Err(e) => Err(e),
        }
    }
}
