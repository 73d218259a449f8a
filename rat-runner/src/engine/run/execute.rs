//! The execute phase of an attempt: the result's schema, the table made on
//! a first run, the data files written and the changes planned, ready to
//! be staged on the run's branch.

use std::sync::Arc;

use iceberg::spec::{DataFile, Schema};
use rat_core::{Error, ErrorKind, LogLevel, Phase, Pipeline, Result};

use super::compile::Compiled;
use super::{Reusable, Run};
use crate::duck::Sandbox;
use crate::engine::merge::{plan_changes, reuse_changes, with_validity_columns};
use crate::engine::probe::result_schema;
use crate::engine::relations::grant_table;
use crate::engine::write::FileWriter;
use crate::table::{
    BaseSnapshot, FileChanges, evolve_schema, same_fields, spec_matches, with_column_docs,
};

/// What the execute phase wrote, for staging and testing.
pub(super) struct Executed {
    /// The target table (made now on a first run).
    pub(super) table: rat_core::LoadedTable,
    /// What the run builds on.
    pub(super) base: BaseSnapshot,
    /// The schema the files were written with.
    pub(super) write_schema: Schema,
    /// Files added and removed.
    pub(super) changes: FileChanges,
    /// The files a retry may reuse.
    pub(super) reusable_after: Option<Reusable>,
    /// The files of the branch snapshot (only when tests read them).
    pub(super) branch_files: Vec<String>,
}

impl Run<'_> {
    /// Enters the execute phase: runs the pipeline and writes its data files.
    pub(super) async fn execute_pipeline(
        &mut self,
        pipeline: &Pipeline,
        base_sandbox: &Sandbox,
        compiled: Compiled,
        reusable: &mut Option<Reusable>,
    ) -> Result<Executed> {
        let file = pipeline.source_file.as_str();
        let settings = &pipeline.settings;
        let Compiled {
            existing,
            base,
            mut session,
            watermark_value,
            script,
            rendered,
            relations,
            sandbox,
            ..
        } = compiled;
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
                session = self.open_session().await?;
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
        .and_then(|schema| with_column_docs(&schema, &settings.columns))
        .map_err(|e| e.with_context("file", file))?;
        for warning in
            undescribed_columns(pipeline, |name| write_schema.field_by_name(name).is_some())
        {
            self.log(LogLevel::Warn, warning.clone());
            self.warnings.push(warning);
        }
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

        Ok(Executed {
            table,
            base,
            write_schema,
            changes,
            reusable_after,
            branch_files,
        })
    }
}

/// A warning for each column `columns:` describes that the result lacks.
pub(super) fn undescribed_columns(
    pipeline: &Pipeline,
    has_column: impl Fn(&str) -> bool,
) -> Vec<String> {
    let file = &pipeline.source_file;
    pipeline
        .settings
        .columns
        .names()
        .filter(|name| !has_column(name))
        .map(|name| format!("{file}: 'columns' describes '{name}', which the table does not have"))
        .collect()
}
