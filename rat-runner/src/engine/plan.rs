//! Validating a batch of runs before any of them writes: the whole project
//! parses, the DAG has no cycle, every `ref()` can be satisfied, every SQL
//! file is one SELECT.

use std::collections::{BTreeMap, BTreeSet};

use rat_core::{Error, ErrorKind, Pipeline, Project, ProjectSource, Result, TableRef};

use super::Engine;
use super::relations::check_select;
use crate::dag::{Dag, Discovered, DiscoveredCode, discover};
use crate::duck::{DuckSession, Sandbox};

/// Pipelines to run, in dependency order, from a validated project.
#[derive(Debug, Clone)]
pub struct RunPlan {
    /// The validated project.
    pub project: Project,
    /// The DAG of the whole project.
    pub dag: Dag,
    /// What to run, upstream first.
    pub order: Vec<TableRef>,
}

impl RunPlan {
    /// The pipelines of `order` that `table` depends on (to skip `table`
    /// when one of them fails).
    pub fn upstream_in_plan(&self, table: &TableRef) -> BTreeSet<TableRef> {
        let planned: BTreeSet<&TableRef> = self.order.iter().collect();
        self.dag
            .upstream(table)
            .into_iter()
            .filter(|t| planned.contains(t))
            .collect()
    }
}

impl Engine {
    /// Checks one pipeline as it would be saved: settings, templates and
    /// the SQL syntax of the pipeline and its tests, without touching the
    /// catalog (its upstream tables may not exist yet). The tables it
    /// `ref()`s are in the result.
    pub async fn check_pipeline(&self, pipeline: &Pipeline) -> Result<Discovered> {
        let (python, owned) = (self.config.python.clone(), pipeline.clone());
        let found = tokio::task::spawn_blocking(move || discover(&owned, &python))
            .await
            .map_err(|e| Error::internal(format!("checking {}: {e}", pipeline.table)))??;
        let session = parser_session(&self.config).await?;
        check_rendered(&session, pipeline, &found).await?;
        Ok(found)
    }

    /// The DAG of `project`, its Python scripts read by the engine's
    /// interpreter (on the blocking pool).
    pub async fn dag(&self, project: &Project) -> Result<(Dag, BTreeMap<TableRef, Discovered>)> {
        let (python, project) = (self.config.python.clone(), project.clone());
        tokio::task::spawn_blocking(move || Dag::build(&project, &python))
            .await
            .map_err(|e| Error::internal(format!("building the DAG: {e}")))?
    }

    /// Loads `source`, builds its DAG and checks the selected pipelines
    /// (`targets`; all when empty). Nothing is written; the first problem is
    /// returned with the file it is in.
    pub async fn plan(&self, source: &ProjectSource, targets: &[TableRef]) -> Result<RunPlan> {
        let project = Project::load(self.storage.as_ref(), source).await?;
        if project.pipelines.is_empty() {
            return Err(Error::new(
                ErrorKind::NotFound,
                format!(
                    "no pipelines found under '{}pipelines/' (expected pipelines/<layer>/<name>/pipeline.sql)",
                    source.prefix
                ),
            ));
        }
        let (dag, discovered) = self.dag(&project).await?;
        let order = if targets.is_empty() {
            dag.order.clone()
        } else {
            dag.select(targets)?
        };

        let session = parser_session(&self.config).await?;
        let mut will_exist: BTreeSet<TableRef> = BTreeSet::new();
        for table in &order {
            let pipeline = &project.pipelines[table];
            let found = &discovered[table];
            check_rendered(&session, pipeline, found).await?;
            for dep in found.refs.iter().filter(|d| *d != table) {
                if will_exist.contains(dep) {
                    continue;
                }
                match self.catalog.load_table(dep).await {
                    Ok(_) => {}
                    Err(e) if e.kind() == ErrorKind::NotFound => {
                        let hint = if project.pipelines.contains_key(dep) {
                            format!("; run its pipeline first (rat run {})", dep.short())
                        } else {
                            String::new()
                        };
                        return Err(Error::invalid(format!(
                            "ref('{}') names a table that does not exist{hint}",
                            dep.short()
                        ))
                        .with_context("file", &pipeline.source_file));
                    }
                    Err(e) => return Err(e),
                }
            }
            will_exist.insert(table.clone());
        }
        Ok(RunPlan {
            project,
            dag,
            order,
        })
    }
}

/// A session that only parses: locked down before any SQL reaches it.
async fn parser_session(config: &super::EngineConfig) -> Result<DuckSession> {
    let session = DuckSession::open(&config.limits)?;
    session.lock_down(&Sandbox::default()).await?;
    Ok(session)
}

async fn check_rendered(
    session: &DuckSession,
    pipeline: &Pipeline,
    found: &Discovered,
) -> Result<()> {
    // A script's syntax was checked when its inputs were found.
    if let DiscoveredCode::Sql(first_run) = &found.code {
        let file = &pipeline.source_file;
        check_select(session, &first_run.sql, file, &pipeline.source).await?;
    }
    for (file, rendered) in &found.tests {
        let template = pipeline.tests.iter().find(|t| &t.file == file);
        let template = template.map_or(rendered.sql.as_str(), |t| t.sql.as_str());
        check_select(session, &rendered.sql, file, template).await?;
    }
    Ok(())
}
