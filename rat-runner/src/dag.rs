//! The pipeline DAG: edges from `ref()`s, cycle detection, topological order.

use std::collections::{BTreeMap, BTreeSet};

use rat_core::{Error, Identifier, Language, Pipeline, Project, Result, TableRef};

use crate::python::{PythonConfig, ScriptInputs, find_inputs};
use crate::template::{Rendered, TemplateContext, render};

/// Dependencies between the pipelines of a project.
#[derive(Debug, Clone, Default)]
pub struct Dag {
    /// For each pipeline, the tables its SQL and tests reference (itself excluded).
    pub deps: BTreeMap<TableRef, BTreeSet<TableRef>>,
    /// Every pipeline, upstream before downstream (ties broken by name).
    pub order: Vec<TableRef>,
}

/// What discovery learned about one pipeline.
#[derive(Debug, Clone)]
pub struct Discovered {
    /// What the pipeline's own code reads.
    pub code: DiscoveredCode,
    /// Each quality test's file and SQL, rendered for a first run.
    pub tests: Vec<(String, Rendered)>,
    /// Every table referenced in any rendering of the SQL, the script or
    /// its tests.
    pub refs: BTreeSet<TableRef>,
}

/// A pipeline's code as discovery saw it.
#[derive(Debug, Clone)]
pub enum DiscoveredCode {
    /// The SQL rendered for a first run (no watermark).
    Sql(Rendered),
    /// The literal `ref()` / `landing_zone()` arguments of a script.
    Python(PythonInputs),
}

/// What a Python pipeline reads, by the names its script uses.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PythonInputs {
    /// `ref()` argument as written → the table it names.
    pub refs: BTreeMap<String, TableRef>,
    /// `landing_zone()` arguments.
    pub landing_zones: BTreeSet<Identifier>,
}

impl PythonInputs {
    /// Checks what the bootstrap found in `pipeline`'s script: every name
    /// a valid table or zone, errors naming the file and line.
    pub fn of(pipeline: &Pipeline, found: ScriptInputs) -> Result<Self> {
        let file = pipeline.source_file.as_str();
        let namespace = pipeline.table.namespace.as_str();
        let located =
            |e: Error, line: usize| e.with_context("file", file).with_context("line", line);
        let mut inputs = Self::default();
        for named in found.refs {
            let table = TableRef::parse(&named.name, namespace).map_err(|e| {
                located(
                    Error::invalid(format!("ref('{}'): {}", named.name, e.message())),
                    named.line,
                )
            })?;
            inputs.refs.insert(named.name, table);
        }
        for named in found.landing_zones {
            let zone = Identifier::new(&named.name).map_err(|e| {
                located(
                    Error::invalid(format!("landing_zone('{}'): {}", named.name, e.message())),
                    named.line,
                )
            })?;
            inputs.landing_zones.insert(zone);
        }
        Ok(inputs)
    }
}

/// A watermark stand-in for discovery, so `{% if watermark_value %}` branches
/// are rendered too.
const WATERMARK_PLACEHOLDER: &str = "1970-01-01 00:00:00";

/// Renders a pipeline (and its tests) the ways discovery needs: once as a
/// first run and once with a watermark, collecting every `ref()`; a Python
/// pipeline's script is read by `python`'s `ast` (one interpreter start).
pub fn discover(pipeline: &Pipeline, python: &PythonConfig) -> Result<Discovered> {
    let script = match pipeline.language {
        Language::Sql => None,
        Language::Python => {
            let mut found = find_inputs(
                python,
                &[(pipeline.source_file.as_str(), pipeline.source.as_str())],
            )?;
            found.pop()
        }
    };
    discover_with(pipeline, script)
}

/// [`discover`] with a script's inputs already found (`None` for SQL).
fn discover_with(pipeline: &Pipeline, script: Option<ScriptInputs>) -> Result<Discovered> {
    let ctx = |watermark: Option<&str>| TemplateContext {
        table: pipeline.table.clone(),
        strategy: pipeline.settings.merge_strategy,
        watermark_value: watermark.map(str::to_owned),
        run_started_at: chrono::Utc::now(),
    };
    let tables = |r: &Rendered| r.refs.iter().map(|t| t.table.clone()).collect::<Vec<_>>();
    let (code, mut refs) = match (pipeline.language, script) {
        (Language::Python, found) => {
            let inputs = PythonInputs::of(pipeline, found.unwrap_or_default())?;
            let refs: BTreeSet<TableRef> = inputs.refs.values().cloned().collect();
            (DiscoveredCode::Python(inputs), refs)
        }
        (Language::Sql, _) => {
            let first_run = render(&pipeline.source, &pipeline.source_file, &ctx(None))?;
            let later = render(
                &pipeline.source,
                &pipeline.source_file,
                &ctx(Some(WATERMARK_PLACEHOLDER)),
            )?;
            let refs = tables(&first_run)
                .into_iter()
                .chain(tables(&later))
                .collect();
            (DiscoveredCode::Sql(first_run), refs)
        }
    };
    let mut tests = Vec::with_capacity(pipeline.tests.len());
    for test in &pipeline.tests {
        let rendered = render(&test.sql, &test.file, &ctx(None))?;
        refs.extend(tables(&rendered));
        tests.push((test.file.clone(), rendered));
    }
    Ok(Discovered { code, tests, refs })
}

impl Dag {
    /// Builds the DAG of `project`; its Python pipelines' scripts are read
    /// by `python` (one interpreter start for all, blocking). A cycle is an
    /// error naming the files.
    pub fn build(
        project: &Project,
        python: &PythonConfig,
    ) -> Result<(Self, BTreeMap<TableRef, Discovered>)> {
        let scripts: Vec<(&str, &str)> = project
            .pipelines
            .values()
            .filter(|p| p.language == Language::Python)
            .map(|p| (p.source_file.as_str(), p.source.as_str()))
            .collect();
        let mut scripts_found = find_inputs(python, &scripts)?.into_iter();
        let mut found = BTreeMap::new();
        let mut deps = BTreeMap::new();
        for (table, pipeline) in &project.pipelines {
            let script = match pipeline.language {
                Language::Python => scripts_found.next(),
                Language::Sql => None,
            };
            let discovered = discover_with(pipeline, script)?;
            let mut d = discovered.refs.clone();
            d.remove(table);
            deps.insert(table.clone(), d);
            found.insert(table.clone(), discovered);
        }
        let order = topological_order(project, &deps)?;
        Ok((Self { deps, order }, found))
    }

    /// `targets` plus nothing else, in DAG order. Unknown targets are errors.
    pub fn select(&self, targets: &[TableRef]) -> Result<Vec<TableRef>> {
        for t in targets {
            if !self.deps.contains_key(t) {
                return Err(Error::not_found(format!(
                    "no pipeline '{t}' in the project"
                )));
            }
        }
        Ok(self
            .order
            .iter()
            .filter(|t| targets.contains(t))
            .cloned()
            .collect())
    }

    /// The pipelines depending on `table`, directly or not.
    pub fn downstream(&self, table: &TableRef) -> BTreeSet<TableRef> {
        let mut seen = BTreeSet::new();
        let mut stack = vec![table];
        while let Some(t) = stack.pop() {
            for (pipeline, deps) in &self.deps {
                if deps.contains(t) && seen.insert(pipeline.clone()) {
                    stack.push(pipeline);
                }
            }
        }
        seen.remove(table);
        seen
    }

    /// The pipelines `table` depends on, directly or not, that are part of
    /// the project.
    pub fn upstream(&self, table: &TableRef) -> BTreeSet<TableRef> {
        let mut seen = BTreeSet::new();
        let mut stack: Vec<&TableRef> = self.deps.get(table).into_iter().flatten().collect();
        while let Some(t) = stack.pop() {
            if self.deps.contains_key(t) && seen.insert(t.clone()) {
                stack.extend(self.deps.get(t).into_iter().flatten());
            }
        }
        seen
    }
}

/// Kahn's algorithm over project pipelines; edges to tables outside the
/// project (existing tables, other namespaces) impose no order.
fn topological_order(
    project: &Project,
    deps: &BTreeMap<TableRef, BTreeSet<TableRef>>,
) -> Result<Vec<TableRef>> {
    let mut remaining: BTreeMap<&TableRef, usize> = deps
        .iter()
        .map(|(t, d)| (t, d.iter().filter(|x| deps.contains_key(*x)).count()))
        .collect();
    let mut order = Vec::with_capacity(deps.len());
    let mut ready: BTreeSet<&TableRef> = remaining
        .iter()
        .filter(|(_, n)| **n == 0)
        .map(|(t, _)| *t)
        .collect();
    while let Some(next) = ready.pop_first() {
        remaining.remove(next);
        order.push(next.clone());
        for (t, d) in deps {
            if !d.contains(next) {
                continue;
            }
            if let Some(n) = remaining.get_mut(t) {
                *n -= 1;
                if *n == 0 {
                    ready.insert(t);
                }
            }
        }
    }
    if remaining.is_empty() {
        return Ok(order);
    }
    let cycle = find_cycle(deps, remaining.keys().copied().collect());
    let names: Vec<String> = cycle.iter().map(|t| t.short()).collect();
    let files: Vec<&str> = cycle
        .iter()
        .filter_map(|t| project.get(t).map(|p| p.source_file.as_str()))
        .collect();
    Err(
        Error::invalid(format!("dependency cycle: {}", names.join(" -> ")))
            .with_context("file", files.join(", ")),
    )
}

/// A cycle among `stuck` nodes, first node repeated at the end.
fn find_cycle(
    deps: &BTreeMap<TableRef, BTreeSet<TableRef>>,
    stuck: BTreeSet<&TableRef>,
) -> Vec<TableRef> {
    let Some(start) = stuck.first().copied() else {
        return Vec::new();
    };
    // Every stuck node has a stuck dependency; walk until a node repeats.
    let mut path: Vec<&TableRef> = vec![start];
    loop {
        let current = *path.last().expect("non-empty path");
        let Some(next) = deps
            .get(current)
            .and_then(|d| d.iter().find(|x| stuck.contains(x)))
        else {
            return path.into_iter().cloned().collect();
        };
        if let Some(pos) = path.iter().position(|p| *p == next) {
            let mut cycle: Vec<TableRef> = path[pos..].iter().map(|t| (*t).clone()).collect();
            cycle.push(next.clone());
            return cycle;
        }
        path.push(next);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn project(specs: &[(&str, &str)]) -> Project {
        let mut p = Project::default();
        for (name, sql) in specs {
            let table: TableRef = name.parse().unwrap();
            let file = format!("pipelines/{}/{}/pipeline.sql", table.layer, table.name);
            let pipeline = Pipeline::from_sources(table.clone(), &file, sql, None, &[]).unwrap();
            p.pipelines.insert(table, pipeline);
        }
        p
    }

    #[test]
    fn orders_upstream_first() {
        let p = project(&[
            ("gold.g", "SELECT * FROM {{ ref('silver.s') }}"),
            (
                "silver.s",
                "SELECT * FROM {{ ref('bronze.b') }} JOIN {{ ref('bronze.ext') }} USING (id)",
            ),
            ("bronze.b", "SELECT 1 AS id"),
        ]);
        let (dag, _) = Dag::build(&p, &PythonConfig::default()).unwrap();
        let order: Vec<String> = dag.order.iter().map(|t| t.short()).collect();
        assert_eq!(order, ["bronze.b", "silver.s", "gold.g"]);
        let g: TableRef = "gold.g".parse().unwrap();
        assert_eq!(dag.upstream(&g).len(), 2);
    }

    #[test]
    fn cycles_name_their_files() {
        let p = project(&[
            ("silver.a", "SELECT * FROM {{ ref('silver.b') }}"),
            ("silver.b", "SELECT * FROM {{ ref('gold.c') }}"),
            ("gold.c", "SELECT * FROM {{ ref('silver.a') }}"),
            ("bronze.ok", "SELECT 1"),
        ]);
        let err = Dag::build(&p, &PythonConfig::default()).unwrap_err();
        assert!(err.message().starts_with("dependency cycle"), "{err}");
        assert!(
            err.to_string().contains("pipelines/silver/a/pipeline.sql"),
            "{err}"
        );
    }

    #[test]
    fn watermark_branch_refs_are_discovered() {
        let p = project(&[(
            "silver.s",
            "-- @merge_strategy: incremental\n-- @unique_key: id\nSELECT 1 AS id {% if watermark_value %} FROM {{ ref('bronze.late') }}{% endif %}",
        )]);
        let (dag, _) = Dag::build(&p, &PythonConfig::default()).unwrap();
        let s: TableRef = "silver.s".parse().unwrap();
        assert_eq!(dag.deps[&s].len(), 1);
    }
}
