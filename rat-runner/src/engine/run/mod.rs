//! One run of one pipeline, phase by phase.

mod archive;
mod cleanup;
mod compile;
mod dry;
mod execute;
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
    Error, ErrorKind, LoadedTable, LogLevel, NewTable, Phase, Pipeline, Project, QualityResult,
    Result, RunContext, RunResult, RunSpec, RunStatus,
};
use tokio_util::sync::CancellationToken;

use super::Engine;
use super::relations::Relation;
use super::stale::remove_stale_branches;
use super::write::partition_exprs;
use crate::duck::{ColumnMatch, Sandbox};
use crate::table::properties::COMMENT;
use crate::table::{partition_spec, stage_snapshot, with_column_docs};
use execute::Executed;

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
    /// The landing files the last attempt read, by zone.
    consumed: Vec<(rat_core::Identifier, rat_core::ObjectKey)>,
    /// A dry run ([`crate::preview`]): its sessions may write nowhere.
    dry: bool,
}

/// A run's timer: stopped when dropped.
struct TimeLimit(Option<tokio::task::JoinHandle<()>>);

impl Drop for TimeLimit {
    fn drop(&mut self) {
        if let Some(timer) = &self.0 {
            timer.abort();
        }
    }
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
            consumed: Vec::new(),
            dry: false,
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
        let limit = TimeLimit(self.start_time_limit());
        let outcome = self.go().await;
        drop(limit);
        if outcome.is_err() {
            self.discard_unpublished().await;
        }
        self.finish(outcome)
    }

    /// Cancels the run when its time limit passes (the handle stops the
    /// timer).
    fn start_time_limit(&self) -> Option<tokio::task::JoinHandle<()>> {
        self.spec.limits.timeout.map(|limit| {
            let cancel = self.cancel.clone();
            let timed_out = Arc::clone(&self.timed_out);
            tokio::spawn(async move {
                tokio::time::sleep(limit).await;
                timed_out.store(true, Ordering::SeqCst);
                cancel.cancel();
            })
        })
    }

    /// The error the run ended with: what stopped it when its time limit
    /// or a cancel did, else `e`.
    fn ended_with(&self, e: Error) -> Error {
        if self.timed_out.load(Ordering::SeqCst) {
            let limit = self.spec.limits.timeout.unwrap_or_default();
            let what = if self.dry { "dry run" } else { "run" };
            Error::new(
                ErrorKind::Timeout,
                format!("{what} exceeded its time limit of {}s", limit.as_secs_f64()),
            )
        } else if self.cancel.is_cancelled() && e.kind() != ErrorKind::Cancelled {
            Error::new(ErrorKind::Cancelled, "run cancelled")
        } else {
            e
        }
    }

    fn finish(mut self, outcome: Result<()>) -> RunResult {
        self.timings.push(PhaseTiming {
            phase: self.phase,
            millis: self.phase_started.elapsed().as_millis() as u64,
        });
        let (status, error) = match outcome {
            Ok(()) => (RunStatus::Success, None),
            Err(e) => {
                let e = self.ended_with(e);
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
                Attempt::Published => {
                    self.archive_consumed().await;
                    return Ok(());
                }
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
        let compiled = self.compile(pipeline, base_sandbox).await?;
        let (template_ctx, base_main) = (compiled.template_ctx.clone(), compiled.base_main);
        // The execute phase's session ends with it: the test phase has one
        // of its own.
        let Executed {
            table,
            base,
            write_schema,
            changes,
            reusable_after,
            branch_files,
        } = self
            .execute_pipeline(pipeline, base_sandbox, compiled, reusable)
            .await?;

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
                    snapshot_id: Some(snapshot_id),
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
            properties.insert(COMMENT.to_owned(), description.clone());
        }
        catalog.create_namespace(&pipeline.table.namespace).await?;
        let new_table = NewTable {
            schema: with_column_docs(schema, &pipeline.settings.columns)?,
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
