//! Warm Python workers: interpreters started ahead of need, each with
//! pyarrow and duckdb already imported, waiting on stdin for the context of
//! one script. A run takes one, and a replacement starts at once; a worker
//! runs exactly one script and exits, so nothing of one run reaches
//! another. Starting is cheap for rat (a fork and exec); the import cost
//! (about a second of CPU) is paid by the worker before it is needed. A
//! worker says when its imports are done (its first line on stderr), and
//! the pool hands out such a ready worker first.

use std::os::fd::AsFd;
use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use rat_core::{Error, ErrorKind, Result};
use rustix::process::Signal;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::process::{Child, Command};

use super::shared::{self, Claimed};
use super::{BOOTSTRAP, PythonConfig, process::base_env};

/// The interpreter running `BOOTSTRAP` in `mode`, with a clean
/// environment, `workdir` as its home, temp and working folder.
pub(super) fn command(
    python: &PythonConfig,
    workdir: &Path,
    mode: &[&str],
) -> std::process::Command {
    let mut command = std::process::Command::new(&python.interpreter);
    command
        .args(["-c", BOOTSTRAP])
        .args(mode)
        .env_clear()
        .envs(base_env())
        .env("HOME", workdir)
        .env("TMPDIR", workdir)
        .current_dir(workdir);
    command
}

/// One interpreter that has not been given its script yet.
#[derive(Debug)]
pub(crate) struct Worker {
    process: Process,
    /// When it was started (for a shared one: when it was ready).
    started: Instant,
    /// Whether it was started ahead of need (taken idle from a pool).
    pub(crate) warm: bool,
    /// Whether its imports were done when it was taken.
    pub(crate) ready: bool,
}

#[derive(Debug)]
enum Process {
    /// Our child, in a folder of ours removed with it.
    Own { child: Child, workdir: PathBuf },
    /// Claimed from a server's pool (see [`shared`]).
    Shared(Claimed),
}

/// What a script's run reads and writes: the worker's stdin, stdout (the
/// result stream, read blocking by DuckDB) and stderr.
pub(crate) struct Pipes {
    pub(crate) stdin: Box<dyn AsyncWrite + Send + Unpin>,
    pub(crate) stdout: Box<dyn std::io::Read + Send>,
    pub(crate) stderr: Box<dyn AsyncRead + Send + Unpin>,
}

fn pipe_error(e: std::io::Error) -> Error {
    Error::internal(format!("cannot talk to the Python worker: {e}"))
}

impl Worker {
    /// Starts an interpreter in a fresh folder under `staging`.
    fn spawn(python: &PythonConfig, staging: &Path) -> Result<Self> {
        let workdir = staging.join(format!("python-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&workdir).map_err(|e| {
            Error::new(
                ErrorKind::Storage,
                format!("cannot create a Python worker's folder: {e}"),
            )
            .with_context("file", workdir.display())
        })?;
        let child = Command::from(command(python, &workdir, &["run"]))
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
            process: Process::Own { child, workdir },
            started: Instant::now(),
            warm: false,
            ready: false,
        })
    }

    fn shared(claimed: Claimed) -> Self {
        Self {
            started: claimed.ready_since,
            process: Process::Shared(claimed),
            warm: true,
            ready: true,
        }
    }

    /// The pid of an interpreter of ours.
    #[cfg(test)]
    fn own_pid(&self) -> Option<u32> {
        match &self.process {
            Process::Own { child, .. } => child.id(),
            Process::Shared(_) => None,
        }
    }

    /// Whether the interpreter is still waiting (not killed while idle).
    fn alive(&mut self) -> bool {
        match &mut self.process {
            Process::Own { child, .. } => matches!(child.try_wait(), Ok(None)),
            Process::Shared(_) => true,
        }
    }

    fn stderr_fd(&self) -> Option<std::os::fd::BorrowedFd<'_>> {
        match &self.process {
            Process::Own { child, .. } => child.stderr.as_ref().map(|e| e.as_fd()),
            Process::Shared(_) => None,
        }
    }

    /// Whether its imports are done: it has said something on stderr (its
    /// first line says so, or why they failed, which the run reports).
    /// Nothing reads its stderr before a run takes it.
    fn is_ready(&self) -> bool {
        self.stderr_fd()
            .is_some_and(|fd| readable_within(&[fd], Duration::ZERO))
    }

    /// Its stdin, stdout and stderr, once.
    pub(crate) fn pipes(&mut self) -> Result<Pipes> {
        match &mut self.process {
            Process::Own { child, .. } => {
                let (Some(stdin), Some(stdout), Some(stderr)) =
                    (child.stdin.take(), child.stdout.take(), child.stderr.take())
                else {
                    return Err(Error::internal("the Python worker's pipes were taken"));
                };
                let stdout = std::fs::File::from(stdout.into_owned_fd().map_err(pipe_error)?);
                Ok(Pipes {
                    stdin: Box::new(stdin),
                    stdout: Box::new(stdout),
                    stderr: Box::new(stderr),
                })
            }
            Process::Shared(claimed) => {
                let [stdin, stdout, stderr] = claimed
                    .streams
                    .take()
                    .ok_or_else(|| Error::internal("the Python worker's pipes were taken"))?;
                let nonblocking = |s: std::os::unix::net::UnixStream| {
                    s.set_nonblocking(true)?;
                    tokio::net::UnixStream::from_std(s)
                };
                Ok(Pipes {
                    stdin: Box::new(nonblocking(stdin).map_err(pipe_error)?),
                    stdout: Box::new(stdout),
                    stderr: Box::new(nonblocking(stderr).map_err(pipe_error)?),
                })
            }
        }
    }

    /// Waits until the interpreter has ended.
    pub(crate) async fn wait(&mut self) -> std::io::Result<ExitStatus> {
        match &mut self.process {
            Process::Own { child, .. } => child.wait().await,
            Process::Shared(claimed) => claimed.wait().await,
        }
    }

    /// Sends `signal` to the interpreter.
    pub(crate) fn signal(&self, signal: Signal) {
        match &self.process {
            Process::Own { child, .. } => {
                if let Some(pid) = child
                    .id()
                    .and_then(|p| rustix::process::Pid::from_raw(p as i32))
                {
                    let _ = rustix::process::kill_process(pid, signal);
                }
            }
            Process::Shared(claimed) => claimed.signal(signal),
        }
    }

    /// Kills the interpreter and waits for it.
    pub(crate) async fn kill(&mut self) {
        self.signal(Signal::KILL);
        let _ = self.wait().await;
    }

    /// What the run log says of the worker that runs its script.
    pub(crate) fn describe(&self) -> String {
        let started = self.started.elapsed().as_millis();
        let whose = match self.process {
            Process::Own { .. } => "",
            Process::Shared(_) => " of the server's",
        };
        match (self.warm, self.ready) {
            (false, _) => "a new Python worker runs the script (none was warm)".to_owned(),
            (true, true) => format!(
                "a warm Python worker{whose} runs the script (ready; started {started} ms before)"
            ),
            (true, false) => format!(
                "a warm Python worker runs the script (still importing; started {started} ms before)"
            ),
        }
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        match &self.process {
            // The interpreter is killed on drop (kill_on_drop); its folder goes.
            Process::Own { workdir, .. } => {
                let _ = std::fs::remove_dir_all(workdir);
            }
            // The executor reaps it and removes its folder.
            Process::Shared(claimed) => claimed.signal(Signal::KILL),
        }
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

    /// A worker for one script: one claimed from a server's pool, else a
    /// ready one of this pool, else the longest-started one still
    /// importing, else a cold start.
    pub(crate) fn take(&self) -> Result<Worker> {
        if let Some(claimed) = self
            .python
            .shared_workers
            .as_deref()
            .and_then(shared::claim)
        {
            return Ok(Worker::shared(claimed));
        }
        let warm = {
            let mut idle = self.idle.lock().expect("worker pool");
            idle.retain_mut(Worker::alive);
            let ready = idle.iter().position(Worker::is_ready);
            match ready.or((!idle.is_empty()).then_some(0)) {
                Some(at) => {
                    let mut worker = idle.remove(at);
                    worker.warm = true;
                    worker.ready = ready.is_some();
                    Some(worker)
                }
                None => None,
            }
        };
        let worker = match warm {
            Some(worker) => worker,
            None => Worker::spawn(&self.python, &self.staging)?,
        };
        if !worker.ready {
            // Scripts come faster than workers get ready: the next one
            // starts now rather than when this script is over.
            self.top_up();
        }
        Ok(worker)
    }

    /// Starts workers until `warm_workers` are idle. A script's run calls
    /// it when its interpreter has ended, so that, while workers are ready
    /// in time, a replacement's imports do not compete with the script for
    /// CPU. A failure to start is not an error here: the next script's
    /// cold start reports it.
    pub(crate) fn top_up(&self) {
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

    /// Waits up to `timeout` until an idle worker's imports are done;
    /// whether one is ready. Waits on the workers' own signal (their
    /// stderr becoming readable), not on a clock; with no idle worker,
    /// `false` at once.
    pub async fn wait_ready(&self, timeout: Duration) -> bool {
        // Handles of their own on the pipes, so the wait holds no lock.
        let fds: Vec<_> = {
            let idle = self.idle.lock().expect("worker pool");
            idle.iter()
                .filter_map(Worker::stderr_fd)
                .filter_map(|fd| rustix::io::dup(fd).ok())
                .collect()
        };
        if fds.is_empty() {
            return false;
        }
        tokio::task::spawn_blocking(move || readable_within(&fds, timeout))
            .await
            .unwrap_or(false)
    }
}

/// Whether one of `fds` has something to read (or its writer is gone)
/// within `timeout`; zero asks without waiting.
fn readable_within<F: AsFd>(fds: &[F], timeout: Duration) -> bool {
    let timeout = rustix::event::Timespec::try_from(timeout).unwrap_or_default();
    let mut polled: Vec<_> = fds
        .iter()
        .map(|fd| rustix::event::PollFd::new(fd, rustix::event::PollFlags::IN))
        .collect();
    matches!(rustix::event::poll(&mut polled, Some(&timeout)), Ok(n) if n > 0)
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    /// An older worker that has said nothing yet loses to a younger one
    /// whose imports are done.
    #[tokio::test]
    async fn a_ready_worker_goes_before_an_older_one_still_importing() {
        let dir = tempfile::tempdir().unwrap();
        // An "interpreter" that never finishes starting.
        let silent = dir.path().join("silent-python");
        std::fs::write(&silent, "#!/bin/sh\nexec sleep 60\n").unwrap();
        std::fs::set_permissions(&silent, std::fs::Permissions::from_mode(0o755)).unwrap();
        let python = PythonConfig {
            warm_workers: 2,
            ..PythonConfig::from_env()
        };
        let pool = WorkerPool::new(python, dir.path().to_owned());
        let importing = Worker::spawn(&PythonConfig::new(&silent), dir.path()).unwrap();
        let importing_pid = importing.own_pid();
        let fresh = Worker::spawn(pool.python(), dir.path()).unwrap();
        let fresh_pid = fresh.own_pid();
        pool.idle.lock().unwrap().extend([importing, fresh]);

        assert!(pool.wait_ready(Duration::from_secs(120)).await);
        let taken = pool.take().unwrap();
        assert_eq!(taken.own_pid(), fresh_pid);
        assert!(taken.warm && taken.ready);
        assert!(taken.describe().contains("(ready;"), "{}", taken.describe());
        // The silent one still waits; a ready one's replacement starts
        // once its script is over.
        assert_eq!(pool.idle(), 1);
        assert_eq!(pool.idle.lock().unwrap()[0].own_pid(), importing_pid);
        pool.top_up();
        assert_eq!(pool.idle(), 2);
    }

    /// With nothing idle there is nothing to wait for.
    #[tokio::test]
    async fn an_empty_pool_is_never_ready() {
        let dir = tempfile::tempdir().unwrap();
        let pool = WorkerPool::new(PythonConfig::from_env(), dir.path().to_owned());
        assert!(!pool.wait_ready(Duration::from_secs(5)).await);
    }
}
