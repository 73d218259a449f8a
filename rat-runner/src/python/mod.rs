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

mod inputs;
mod process;
mod result;
mod shared;
mod worker;

use std::path::PathBuf;

use rat_core::{Error, ErrorKind, Result};
use serde::{Deserialize, Serialize};

pub use inputs::{NamedInput, ScriptInputs, find_inputs, find_inputs_async};
pub use process::{DuckSettings, ScriptContext, run_script};
pub(crate) use result::RESULT_TABLE;
pub use shared::exec_worker;
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
    /// A folder where a server's process executor keeps warm workers for
    /// its runners; a script takes one from there before anything else.
    #[serde(default)]
    pub shared_workers: Option<PathBuf>,
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
            shared_workers: None,
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

    /// Starts the interpreter as runs do (a cleared environment) and
    /// imports what pipelines need: its version, or why it failed. An
    /// image's health check (`rat-runner --check`).
    pub fn check(&self) -> Result<String> {
        let out = std::process::Command::new(&self.interpreter)
            .env_clear()
            .args([
                "-c",
                "import sys, pyarrow, duckdb; print(sys.version.split()[0])",
            ])
            .output()
            .map_err(|e| self.not_started(&e))?;
        if !out.status.success() {
            let said = String::from_utf8_lossy(&out.stderr);
            return Err(Error::invalid(format!(
                "Python '{}' cannot import pyarrow and duckdb: {}",
                self.interpreter.display(),
                said.lines().last().unwrap_or_default()
            ))
            .with_context("field", "python"));
        }
        Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
    }

    pub(crate) fn not_started(&self, e: &std::io::Error) -> Error {
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
