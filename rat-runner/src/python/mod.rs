//! Python pipelines (`pipeline.py`): the interpreter rat starts, the
//! bootstrap it hands the script to, and what crosses between them.
//!
//! Python code cannot be sandboxed in-process, so it never runs in rat's
//! process: each run starts the configured interpreter with rat's own
//! bootstrap module ([`BOOTSTRAP`]), a clean environment and a temporary
//! working folder; the run's context goes in as JSON on stdin, `result`
//! comes back as an Arrow IPC stream on stdout, and the script's output
//! arrives on stderr, line by line, into the run's log. Planning asks the
//! same bootstrap, with the standard library only, which tables and
//! landing zones a script names (Python's own `ast`).

mod process;
mod result;
mod worker;

use std::path::PathBuf;
use std::process::{Command, Stdio};

use rat_core::{Error, ErrorKind, Result};
use serde::{Deserialize, Serialize};

pub use process::{DuckSettings, ScriptContext, run_script};
pub(crate) use result::RESULT_TABLE;
pub use worker::WorkerPool;

/// rat's bootstrap module: builds a pipeline's globals, runs it and streams
/// its result (see the module's docstring).
pub const BOOTSTRAP: &str = include_str!("bootstrap.py");

/// The variable naming the interpreter when the configuration does not.
pub const PYTHON_ENV: &str = "RAT_PYTHON";

/// Which Python runs pipelines.
///
/// ```
/// use rat_runner::python::PythonConfig;
/// let python = PythonConfig::new("/opt/venv/bin/python");
/// assert_eq!(python.interpreter.to_str(), Some("/opt/venv/bin/python"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PythonConfig {
    /// The interpreter: a path, or a name looked up on `PATH`. It must be
    /// able to import `pyarrow` and `duckdb`.
    pub interpreter: PathBuf,
    /// Why this engine does not run Python pipelines, when it does not (a
    /// server's in-process executor: Python cannot be sandboxed there).
    /// Their scripts are still read for planning, which runs none of them.
    #[serde(default)]
    pub refused: Option<String>,
    /// Interpreters kept started with pyarrow and duckdb imported, each
    /// waiting for one script (0: every script starts cold).
    #[serde(default = "default_warm_workers")]
    pub warm_workers: usize,
}

fn default_warm_workers() -> usize {
    1
}

impl PythonConfig {
    /// A given interpreter.
    pub fn new(interpreter: impl Into<PathBuf>) -> Self {
        Self {
            interpreter: interpreter.into(),
            refused: None,
            warm_workers: default_warm_workers(),
        }
    }

    /// The same interpreter, refusing to run scripts for `reason`.
    pub fn refusing(mut self, reason: impl Into<String>) -> Self {
        self.refused = Some(reason.into());
        self
    }

    /// An error when scripts may not run here.
    pub(crate) fn check_runs(&self, file: &str) -> Result<()> {
        match &self.refused {
            None => Ok(()),
            Some(reason) => Err(Error::new(
                ErrorKind::Unsupported,
                format!("this Python pipeline cannot run here: {reason}"),
            )
            .with_context("file", file)),
        }
    }

    /// `$RAT_PYTHON`, else `python3` on `PATH`.
    pub fn from_env() -> Self {
        Self::new(std::env::var_os(PYTHON_ENV).unwrap_or_else(|| "python3".into()))
    }

    fn not_started(&self, e: &std::io::Error) -> Error {
        Error::invalid(format!(
            "cannot start Python '{}': {e}; set {PYTHON_ENV} (or python: in rat.yaml) to an interpreter with pyarrow and duckdb",
            self.interpreter.display()
        ))
        .with_context("field", "python")
    }
}

impl Default for PythonConfig {
    fn default() -> Self {
        Self::from_env()
    }
}

/// A name a script passes to `ref()` or `landing_zone()`, and where.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct NamedInput {
    /// The literal argument.
    pub name: String,
    /// 1-based line of the call.
    pub line: usize,
}

/// What one script reads, found without running it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct ScriptInputs {
    /// `ref('...')` arguments.
    #[serde(default)]
    pub refs: Vec<NamedInput>,
    /// `landing_zone('...')` arguments.
    #[serde(default)]
    pub landing_zones: Vec<NamedInput>,
}

#[derive(Deserialize)]
struct Found {
    #[serde(flatten)]
    inputs: ScriptInputs,
    error: Option<Located>,
}

#[derive(Deserialize)]
struct Located {
    message: String,
    line: Option<usize>,
}

/// The `ref()` and `landing_zone()` calls of each `(file, source)` script,
/// in one interpreter start for all of them. A syntax error or a call whose
/// argument is not a literal is an error naming the file and line.
///
/// Blocking (it waits for the interpreter, tens of milliseconds with only
/// the standard library imported); async callers use
/// [`find_inputs_async`].
pub fn find_inputs(python: &PythonConfig, scripts: &[(&str, &str)]) -> Result<Vec<ScriptInputs>> {
    if scripts.is_empty() {
        return Ok(Vec::new());
    }
    let request = serde_json::json!({
        "scripts": scripts.iter().map(|(file, source)| serde_json::json!({"file": file, "source": source})).collect::<Vec<_>>()
    });
    let mut child = Command::new(&python.interpreter)
        .args(["-c", BOOTSTRAP, "deps"])
        .env_clear()
        .envs(process::base_env())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| python.not_started(&e))?;
    let stdin = child.stdin.take().expect("piped stdin");
    let writer = std::thread::spawn(move || serde_json::to_writer(stdin, &request));
    let output = child
        .wait_with_output()
        .map_err(|e| python.not_started(&e))?;
    let _ = writer.join();
    if !output.status.success() {
        return Err(Error::new(
            ErrorKind::Executor,
            format!(
                "Python '{}' could not read the pipeline scripts: {}",
                python.interpreter.display(),
                String::from_utf8_lossy(&output.stderr).trim()
            ),
        ));
    }
    let found: Vec<Found> = serde_json::from_slice(&output.stdout)
        .map_err(|e| Error::internal(format!("the Python bootstrap answered badly: {e}")))?;
    scripts
        .iter()
        .zip(found)
        .map(|((file, _), found)| match found.error {
            None => Ok(found.inputs),
            Some(err) => {
                let e = Error::invalid(err.message).with_context("file", file);
                Err(match err.line {
                    Some(line) => e.with_context("line", line),
                    None => e,
                })
            }
        })
        .collect()
}

/// [`find_inputs`] on the blocking pool.
pub async fn find_inputs_async(
    python: &PythonConfig,
    scripts: Vec<(String, String)>,
) -> Result<Vec<ScriptInputs>> {
    let python = python.clone();
    tokio::task::spawn_blocking(move || {
        let borrowed: Vec<(&str, &str)> = scripts
            .iter()
            .map(|(f, s)| (f.as_str(), s.as_str()))
            .collect();
        find_inputs(&python, &borrowed)
    })
    .await
    .map_err(|e| Error::internal(format!("finding a script's inputs: {e}")))?
}
