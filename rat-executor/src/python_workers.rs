//! Warm Python workers the process executor keeps for its one-shot
//! runners, so a Python pipeline on a strict server does not pay the
//! interpreter's imports (about a second of CPU) in each run.
//!
//! Each worker is `rat-runner python-worker --dir <pool>/<id>`, which
//! becomes the interpreter with pyarrow and duckdb imported, waiting in its
//! own private folder. A runner whose pipeline is Python claims a ready one
//! there (the runner's side, the folder's layout and why the runner is not
//! the worker's parent are in rat-runner's `python::shared`). The pool
//! stays empty until a runner has looked for a worker (it leaves
//! [`WANTED`] there), so a server without Python pipelines starts no interpreter.
//! Workers run one script each; a claimed worker is killed and reaped once
//! the runner that claimed it has ended, and replaced when a run starts or
//! ends.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use rat_core::runner::python_workers::{CLAIMED, WANTED};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::sync::Notify;

/// How the folder of an executor's workers starts (its pid and a number
/// follow).
const PREFIX: &str = ".python-";

/// The warm workers of one executor.
#[derive(Debug)]
pub(crate) struct PythonWorkers {
    runner: PathBuf,
    python: Option<PathBuf>,
    dir: PathBuf,
    count: usize,
    workers: Mutex<Vec<Warm>>,
    became_ready: Arc<Notify>,
    started: AtomicU64,
}

#[derive(Debug)]
struct Warm {
    folder: PathBuf,
    child: tokio::process::Child,
    ready: Arc<AtomicBool>,
}

impl Warm {
    /// The pid of the runner that claimed it, once claimed.
    fn claimed_by(&self) -> Option<u32> {
        let text = std::fs::read_to_string(self.folder.join(CLAIMED)).ok()?;
        Some(text.trim().parse().unwrap_or(0))
    }
}

impl PythonWorkers {
    /// A pool of `count` workers started by `runner`, in a folder of this
    /// process's under `runs_dir` (executors may share one). Folders of
    /// executors that are gone are removed: their workers died with them.
    pub(crate) fn new(
        runner: PathBuf,
        python: Option<PathBuf>,
        runs_dir: &Path,
        count: usize,
    ) -> std::io::Result<Self> {
        for entry in std::fs::read_dir(runs_dir)?.flatten() {
            let name = entry.file_name();
            let owner = name
                .to_str()
                .and_then(|n| n.strip_prefix(PREFIX))
                .and_then(|rest| rest.split('-').next());
            if owner.is_some_and(|pid| !Path::new("/proc").join(pid).exists()) {
                let _ = std::fs::remove_dir_all(entry.path());
            }
        }
        // One folder per pool, even for several in one process.
        static POOLS: AtomicU64 = AtomicU64::new(0);
        let dir = runs_dir.join(format!(
            "{PREFIX}{}-{}",
            std::process::id(),
            POOLS.fetch_add(1, Ordering::Relaxed)
        ));
        std::os::unix::fs::DirBuilderExt::mode(&mut std::fs::DirBuilder::new(), 0o700)
            .recursive(true)
            .create(&dir)?;
        Ok(Self {
            runner,
            python,
            dir,
            count,
            workers: Mutex::new(Vec::new()),
            became_ready: Arc::new(Notify::new()),
            started: AtomicU64::new(0),
        })
    }

    /// The folder runners claim workers in.
    pub(crate) fn dir(&self) -> &Path {
        &self.dir
    }

    /// Forgets idle workers that died, and starts workers until `count`
    /// are unclaimed, once a runner has wanted one. Claimed workers are
    /// left to [`release`](Self::release): their runner reads their exit
    /// status, which reaping here would take away.
    pub(crate) fn top_up(&self) {
        let mut workers = self.workers.lock().expect("python workers");
        let mut unclaimed = 0;
        workers.retain_mut(|w| {
            if w.claimed_by().is_some() {
                return true;
            }
            if matches!(w.child.try_wait(), Ok(None)) {
                unclaimed += 1;
                return true;
            }
            let _ = std::fs::remove_dir_all(&w.folder);
            false
        });
        if !self.dir.join(WANTED).exists() {
            return;
        }
        while unclaimed < self.count {
            match self.spawn() {
                Ok(worker) => workers.push(worker),
                Err(e) => {
                    tracing::warn!("cannot start a warm Python worker: {e}");
                    break;
                }
            }
            unclaimed += 1;
        }
    }

    fn spawn(&self) -> std::io::Result<Warm> {
        // Short names: the worker's socket path must stay short.
        let folder = self
            .dir
            .join(self.started.fetch_add(1, Ordering::Relaxed).to_string());
        let mut command = tokio::process::Command::new(&self.runner);
        command.arg("python-worker").arg("--dir").arg(&folder);
        if let Some(python) = &self.python {
            command.arg("--python").arg(python);
        }
        let mut child = command
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            // As runners: a terminal's Ctrl-C is the executor's to handle.
            .process_group(0)
            .spawn()?;
        let ready = Arc::new(AtomicBool::new(false));
        if let Some(stderr) = child.stderr.take() {
            let (ready, notify) = (Arc::clone(&ready), Arc::clone(&self.became_ready));
            // Its first line says its imports are done; anything else
            // before it (a failed start) is worth a warning.
            tokio::spawn(async move {
                let mut lines = BufReader::new(stderr).lines();
                while let Ok(Some(line)) = lines.next_line().await {
                    if line.contains("rat-ready") {
                        ready.store(true, Ordering::SeqCst);
                        notify.notify_waiters();
                    } else {
                        tracing::warn!("warm Python worker: {line}");
                    }
                }
            });
        }
        Ok(Warm {
            folder,
            child,
            ready,
        })
    }

    /// Kills and reaps the workers the runner `pid` claimed (it has ended).
    pub(crate) async fn release(&self, pid: u32) {
        let released: Vec<Warm> = {
            let mut workers = self.workers.lock().expect("python workers");
            let (mine, rest) = std::mem::take(&mut *workers)
                .into_iter()
                .partition(|w| w.claimed_by() == Some(pid));
            *workers = rest;
            mine
        };
        for mut worker in released {
            let _ = worker.child.kill().await;
            let _ = std::fs::remove_dir_all(&worker.folder);
        }
    }

    /// Waits up to `timeout` until an unclaimed worker's imports are done;
    /// whether one is. Waits for the worker's own word, not on a clock.
    pub(crate) async fn wait_ready(&self, timeout: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            // Created before the check: a word said after it wakes us.
            let notified = self.became_ready.notified();
            let any_ready = {
                let workers = self.workers.lock().expect("python workers");
                workers
                    .iter()
                    .any(|w| w.ready.load(Ordering::SeqCst) && w.claimed_by().is_none())
            };
            if any_ready {
                return true;
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                return false;
            }
        }
    }
}

impl Drop for PythonWorkers {
    /// The workers are killed as they drop (`kill_on_drop`); their folder
    /// goes first.
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
