//! The execute phase of a Python pipeline: its inputs found and resolved
//! like a template's `ref()`s, its script run in its own interpreter, its
//! `result` loaded into the run's session, where the rest of the run reads
//! it as `SELECT * FROM` a table, exactly like a SQL result.

use std::collections::{BTreeMap, BTreeSet};

use rat_core::{Error, Pipeline, Result};

use super::Run;
use crate::dag::PythonInputs;
use crate::duck::{DuckSession, landing_view_name};
use crate::engine::relations::{
    Relation, grant_landing, grant_relations, landing_views, table_views_sql,
};
use crate::python::{DuckSettings, RESULT_TABLE, ScriptContext, find_inputs_async, run_script};
use crate::template::{RefTarget, Rendered};

/// What a Python pipeline's run knows before its script starts.
pub(super) struct Script {
    inputs: PythonInputs,
}

impl Script {
    /// Finds the script's inputs (the same `ast` pass planning does).
    pub(super) async fn discover(run: &Run<'_>, pipeline: &Pipeline) -> Result<Self> {
        run.engine.config.python.check_runs(&pipeline.source_file)?;
        let mut found = find_inputs_async(
            &run.engine.config.python,
            vec![(pipeline.source_file.clone(), pipeline.source.clone())],
        )
        .await?;
        let inputs = PythonInputs::of(pipeline, found.pop().unwrap_or_default())?;
        Ok(Self { inputs })
    }

    /// The script as the rest of the run sees it: a SELECT of its result,
    /// reading what its `ref()`s and `landing_zone()`s name. It reads its
    /// own table when it names it or has a watermark to compute.
    pub(super) fn rendered(&self, pipeline: &Pipeline) -> Rendered {
        let refs: BTreeSet<RefTarget> = self
            .inputs
            .refs
            .values()
            .cloned()
            .map(RefTarget::current)
            .collect();
        let reads_target = pipeline.settings.watermark_column.is_some()
            || refs.iter().any(|r| r.table == pipeline.table);
        Rendered {
            sql: format!("SELECT * FROM {RESULT_TABLE}"),
            refs,
            landing_zones: self.inputs.landing_zones.clone(),
            reads_target,
        }
    }
}

impl Run<'_> {
    /// Runs the script with the views of `relations` and its landing zones,
    /// and loads its result into `session` (not locked down yet: no
    /// pipeline SQL runs there, only rat's own). Returns the files the
    /// views read.
    pub(super) async fn run_script(
        &mut self,
        pipeline: &Pipeline,
        script: &Script,
        relations: &BTreeMap<RefTarget, Relation>,
        watermark_value: Option<String>,
        session: &DuckSession,
    ) -> Result<()> {
        let file = pipeline.source_file.as_str();
        // Remote files: the script's DuckDB gets the same scoped access as
        // the run's (granted here, handed over as statements).
        grant_relations(session, relations).await?;
        grant_landing(
            session,
            self.engine.storage.as_ref(),
            &self.spec.project,
            &script.inputs.landing_zones,
        )
        .await?;
        let landing = landing_views(
            self.engine.storage.as_ref(),
            &self.spec.project,
            &script.inputs.landing_zones,
            file,
        )
        .await?;
        let refs = script
            .inputs
            .refs
            .iter()
            .map(|(name, table)| (name.clone(), RefTarget::current(table.clone()).view_name()))
            .collect();
        let landing_zones = script
            .inputs
            .landing_zones
            .iter()
            .map(|z| (z.to_string(), landing_view_name(z.as_str())))
            .collect();
        let limits = &self.spec.limits;
        let defaults = &self.engine.config.limits;
        let context = ScriptContext {
            file: file.to_owned(),
            source: pipeline.source.clone(),
            this: pipeline.table.to_string(),
            run_started_at: self
                .started_at
                .to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
            is_incremental: watermark_value.is_some(),
            watermark_value,
            config: serde_json::to_value(&pipeline.settings)
                .map_err(|e| Error::internal(format!("cannot encode settings: {e}")))?,
            views_sql: format!("{}{}", table_views_sql(relations), landing.sql),
            refs,
            landing_zones,
            duckdb: DuckSettings {
                threads: limits.threads.or(defaults.threads),
                memory_limit: limits
                    .memory_limit
                    .clone()
                    .or(defaults.memory_limit.clone()),
            },
            address_space_limit: limits.address_space_ceiling()?,
        };
        self.consumed = landing.consumed;
        let rows = run_script(
            &self.engine.python_workers,
            &context,
            session,
            self.ctx.log.clone(),
            &self.cancel,
        )
        .await?;
        self.log(
            rat_core::LogLevel::Info,
            format!("the script's result holds {rows} rows"),
        );
        Ok(())
    }
}
