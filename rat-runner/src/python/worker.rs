//! Warm Python workers: interpreters started ahead of need, each with
//! pyarrow and duckdb already imported, waiting on stdin for the context of
//! one script. A run takes one, and a replacement starts at once; a worker
//! runs exactly one script and exits, so nothing of one run reaches
//! another. Starting is cheap for rat (a fork and exec); the import cost
//! (about a second of CPU) is paid by the worker before it is needed.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Mutex;
use std::time::Instant;

use rat_core::{Error, ErrorKind, Result};
use tokio::process::{Child, Command};

use super::{BOOTSTRAP, PythonConfig, process::base_env};

/// One interpreter that has not been given its script yet, and the
/// folder that is its home, temp and working folder.
#[derive(Debug)]
pub(crate) struct Worker {
    pub(crate) child: Child,
    pub(crate) workdir: PathBuf,
    /// When it was started.
    pub(crate) started: Instant,
    /// Whether it was started ahead of need (taken idle from the pool).
    pub(crate) warm: bool,
}

impl Worker {
    /// Starts an interpreter in a fresh folder under `staging`, with a
    /// clean environment.
    fn spawn(python: &PythonConfig, staging: &Path) -> Result<Self> {
        let workdir = staging.join(format!("python-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&workdir).map_err(|e| {
            Error::new(
                ErrorKind::Storage,
                format!("cannot create a Python worker's folder: {e}"),
            )
            .with_context("file", workdir.display())
        })?;
        let home = workdir.to_string_lossy().into_owned();
        let child = Command::new(&python.interpreter)
            .args(["-c", BOOTSTRAP, "run"])
            .env_clear()
            .envs(base_env())
            .env("HOME", &home)
            .env("TMPDIR", &home)
            .current_dir(&workdir)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| {
                let _ = std::fs::remove_dir_all(&workdir);
                python.not_started(&e)
            })?;
        Ok(Self {
            child,
            workdir,
            started: Instant::now(),
            warm: false,
        })
    }

    /// Whether the interpreter is still waiting (not killed while idle).
    fn alive(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        // The interpreter is killed on drop (kill_on_drop); its folder goes.
        let _ = std::fs::remove_dir_all(&self.workdir);
    }
}

/// Idle workers of one interpreter, kept at [`PythonConfig::warm_workers`].
#[derive(Debug)]
pub struct WorkerPool {
    python: PythonConfig,
    staging: PathBuf,
    idle: Mutex<Vec<Worker>>,
}

impl WorkerPool {
    /// A pool starting workers of `python` in folders under `staging`; none
    /// starts before the first script asks for one.
    pub fn new(python: PythonConfig, staging: PathBuf) -> Self {
        Self {
            python,
            staging,
            idle: Mutex::new(Vec::new()),
        }
    }

    /// The interpreter the workers run.
    pub fn python(&self) -> &PythonConfig {
        &self.python
    }

    /// A worker for one script: a warm one when there is one alive, else a
    /// cold start; then the pool is topped up again.
    pub(crate) fn take(&self) -> Result<Worker> {
        let warm = {
            let mut idle = self.idle.lock().expect("worker pool");
            let mut found = None;
            while let Some(mut worker) = idle.pop() {
                if worker.alive() {
                    worker.warm = true;
                    found = Some(worker);
                    break;
                }
            }
            found
        };
        let worker = match warm {
            Some(worker) => worker,
            None => Worker::spawn(&self.python, &self.staging)?,
        };
        self.top_up();
        Ok(worker)
    }

    /// Starts workers until `warm_workers` are idle. A failure to start is
    /// not an error here: the next script's cold start reports it.
    fn top_up(&self) {
        let mut idle = self.idle.lock().expect("worker pool");
        while idle.len() < self.python.warm_workers {
            match Worker::spawn(&self.python, &self.staging) {
                Ok(worker) => idle.push(worker),
                Err(_) => break,
            }
        }
    }

    /// How many workers are idle now.
    pub fn idle(&self) -> usize {
        self.idle.lock().expect("worker pool").len()
    }
}
