//! Helpers shared by the engine's integration tests: a project in a temp
//! folder with the embedded catalog, run through the real engine.
#![allow(dead_code, unreachable_pub, clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex};

use rat_core::{
    LogLevel, LogSink, ProjectSource, RunContext, RunEngine, RunResult, RunSpec, RunStatus,
    TableRef,
};
use rat_runner::catalog::SqlCatalog;
pub mod namespaces;
pub mod remote;
pub mod safety;

use rat_runner::python::PythonConfig;
use rat_runner::query::{QueryOptions, QueryOutput, query};
use rat_runner::storage::LocalStorage;
use rat_runner::{Engine, EngineConfig, RunPlan};
use serde_json::Value;

/// A project folder with tables under `.rat/`.
pub struct TestProject {
    pub dir: tempfile::TempDir,
    pub engine: Engine,
    /// Where the pipelines are and which namespace they fill.
    pub source: ProjectSource,
}

impl TestProject {
    pub async fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let engine = open_engine(dir.path()).await;
        Self {
            dir,
            engine,
            source: ProjectSource::embedded(),
        }
    }

    /// A copy of `examples/sample-project`.
    pub async fn sample() -> Self {
        let project = Self::new().await;
        let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/sample-project");
        copy_tree(&src, project.dir.path());
        project
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn catalog_db(&self) -> PathBuf {
        self.path().join(".rat/catalog.db")
    }

    pub fn warehouse(&self) -> PathBuf {
        self.path().join(".rat/warehouse")
    }

    pub fn write(&self, relative: &str, content: &str) {
        let path = self.path().join(relative);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, content).unwrap();
    }

    /// Writes a project file through the engine's storage (local or S3).
    pub async fn put_file(&self, relative: &str, content: &str) {
        use rat_core::StorageExt;
        let key = self.source.key(relative).unwrap();
        self.engine
            .storage()
            .put(&key, content.to_owned().into())
            .await
            .unwrap();
    }

    pub fn remove(&self, relative: &str) {
        std::fs::remove_file(self.path().join(relative)).unwrap();
    }

    /// Validates then runs `targets` (all when empty) in order, like `rat run`.
    pub async fn run(&self, targets: &[&str]) -> rat_core::Result<Vec<RunResult>> {
        let plan = self.plan(targets).await?;
        let mut out = Vec::new();
        for table in plan.order {
            out.push(self.run_one(&table).await);
        }
        Ok(out)
    }

    pub async fn plan(&self, targets: &[&str]) -> rat_core::Result<RunPlan> {
        let targets: Vec<TableRef> = targets
            .iter()
            .map(|t| TableRef::parse(t, self.source.namespace.as_str()).unwrap())
            .collect();
        self.engine.plan(&self.source, &targets).await
    }

    pub async fn run_one(&self, table: &TableRef) -> RunResult {
        let ctx = RunContext {
            cancel: Default::default(),
            log: Arc::new(MemoryLog::default()),
        };
        let spec = RunSpec {
            project: self.source.clone(),
            ..RunSpec::new(table.clone())
        };
        self.engine.execute(spec, ctx).await
    }

    /// Runs and asserts every run succeeded.
    pub async fn run_ok(&self, targets: &[&str]) -> Vec<RunResult> {
        let results = self.run(targets).await.unwrap();
        for r in &results {
            assert_eq!(
                r.status,
                RunStatus::Success,
                "{} failed: {:?}",
                r.table,
                r.error
            );
        }
        results
    }

    pub async fn query(&self, sql: &str) -> QueryOutput {
        let options = QueryOptions {
            max_rows: 1_000_000,
            default_namespace: self.source.namespace.to_string(),
            ..QueryOptions::default()
        };
        query(self.engine.catalog().as_ref(), sql, &options)
            .await
            .unwrap_or_else(|e| panic!("query {sql:?} failed: {e}"))
    }

    /// A single number from a query.
    pub async fn scalar(&self, sql: &str) -> i64 {
        let out = self.query(sql).await;
        out.rows[0][0]
            .as_i64()
            .unwrap_or_else(|| panic!("not a number: {:?}", out.rows))
    }

    pub async fn load(&self, table: &str) -> rat_core::LoadedTable {
        self.engine
            .catalog()
            .load_table(&table.parse().unwrap())
            .await
            .unwrap()
    }

    /// The names of a table's refs (branches and tags).
    pub async fn refs(&self, table: &str) -> Vec<String> {
        let loaded = self.load(table).await;
        let json = serde_json::to_value(loaded.metadata.as_ref()).unwrap();
        let mut names: Vec<String> = json["refs"]
            .as_object()
            .map(|m| m.keys().cloned().collect())
            .unwrap_or_default();
        names.sort();
        names
    }

    pub fn python(&self, script: &str) -> Value {
        run_python(script, self.path())
    }
}

pub async fn open_engine(project: &Path) -> Engine {
    let storage = LocalStorage::new(project).unwrap();
    let catalog = SqlCatalog::open(
        project.join(".rat/catalog.db"),
        project.join(".rat/warehouse"),
    )
    .await
    .unwrap();
    let config = EngineConfig {
        python: PythonConfig::new(python_bin()),
        ..EngineConfig::default()
    };
    Engine::with_config(Arc::new(storage), Arc::new(catalog), config)
}

/// Collects log lines.
#[derive(Debug, Default, Clone)]
pub struct MemoryLog(pub Arc<Mutex<Vec<(LogLevel, String)>>>);

impl LogSink for MemoryLog {
    fn log(&self, level: LogLevel, message: String) {
        self.0.lock().unwrap().push((level, message));
    }
}

pub fn copy_tree(src: &Path, dst: &Path) {
    for entry in std::fs::read_dir(src).unwrap() {
        let entry = entry.unwrap();
        let target = dst.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            if entry.file_name() == ".rat" {
                continue;
            }
            std::fs::create_dir_all(&target).unwrap();
            copy_tree(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

/// The interpreter of the project's test venv (scripts/test-env.sh makes it).
pub fn python_bin() -> PathBuf {
    let venv = std::env::var_os("RAT_VENV")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(std::env::var_os("HOME").unwrap()).join(".cache/rat/venv")
        });
    let bin = venv.join("bin/python");
    assert!(
        bin.exists(),
        "no Python venv at {}: run scripts/test-env.sh (scripts/test.sh does) to create it",
        venv.display()
    );
    bin
}

/// Runs a Python script in `cwd`; it must print one JSON document.
pub fn run_python(script: &str, cwd: &Path) -> Value {
    let out = Command::new(python_bin())
        .arg("-c")
        .arg(script)
        .current_dir(cwd)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "python failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "python printed no JSON ({e}): {}",
            String::from_utf8_lossy(&out.stdout)
        )
    })
}
