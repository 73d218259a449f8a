//! [`ProcessExecutor`]: each run in its own `rat-runner` process — the
//! analogue of a container per run, and the same binary an ECS task runs.

use std::io::{BufRead, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use rat_core::config::SqlAccess;
use rat_core::runner::{NAMESPACE_VARIABLE, RUN_ID_VARIABLE};
use rat_core::{
    ErrorKind, LakehouseConfig, Result, RunError, RunId, RunRecord, RunResult, RunSpec, RunStatus,
    RunStore, RunnerInput, Storage,
};
use rustix::process::{Pid, Signal, kill_process};

use crate::forward_executor;
use crate::identity::ProcessId;
use crate::live::LiveRun;
use crate::pool::{Launcher, Outcome, Pool, PoolConfig};
use crate::python_workers::PythonWorkers;
use crate::runner_output::RunnerOutput;

/// How to start runner processes.
#[derive(Debug, Clone)]
pub struct ProcessConfig {
    /// The `rat-runner` binary.
    pub runner: PathBuf,
    /// Where the runs' storage and catalog are (passed to each runner).
    pub lakehouse: LakehouseConfig,
    /// A folder per run is created here: the runner's input, its log lines
    /// (its stderr) and its result (its stdout). The files outlive the
    /// executor, so a restarted executor can pick up a run where it was.
    pub runs_dir: PathBuf,
    /// Time between SIGTERM and SIGKILL when stopping a runner.
    pub grace: Duration,
    /// How often the runner's log file is read.
    pub tail_interval: Duration,
    /// What the runs' SQL may read beyond what they resolved.
    pub sql_access: SqlAccess,
    /// The interpreter of Python pipelines; `None`: the runner's default.
    pub python: Option<PathBuf>,
    /// Warm Python workers kept for runners (see [`crate::python_workers`]);
    /// none is started before a Python run asks for one. 0: every Python
    /// run starts its interpreter.
    pub python_workers: usize,
}

/// The `rat-runner` binary: `$RAT_RUNNER`, else the one beside the running
/// executable (how `cargo build` and packages lay them out). `hint` says
/// how the caller lets users point elsewhere.
pub fn locate_runner(hint: &str) -> Result<PathBuf> {
    locate_binary("rat-runner", "RAT_RUNNER", hint)
}

/// A companion binary of rat's: `$variable` when set, else `name` beside
/// the running executable; the error names both and `hint`.
pub fn locate_binary(name: &str, variable: &str, hint: &str) -> Result<PathBuf> {
    if let Some(path) = std::env::var_os(variable) {
        return Ok(PathBuf::from(path));
    }
    let beside = std::env::current_exe()?.with_file_name(name);
    if beside.is_file() {
        return Ok(beside);
    }
    Err(rat_core::Error::new(
        rat_core::ErrorKind::NotFound,
        format!(
            "the {name} binary is not at {} ({hint}, or set {variable})",
            beside.display()
        ),
    ))
}

impl ProcessConfig {
    /// Defaults for a runner binary and lakehouse: runs under `runs_dir`,
    /// 5 s grace, 20 ms log polling, strict SQL access.
    pub fn new(runner: PathBuf, lakehouse: LakehouseConfig, runs_dir: PathBuf) -> Self {
        Self {
            runner,
            lakehouse,
            runs_dir,
            grace: Duration::from_secs(5),
            tail_interval: Duration::from_millis(20),
            sql_access: SqlAccess::Strict,
            python: None,
            python_workers: 1,
        }
    }
}

/// Runs each pipeline in a child `rat-runner` process (see that binary for
/// the protocol), with the run's limits: DuckDB memory and threads, an OS
/// address-space limit, and a wall-clock timeout enforced by the runner and,
/// as a backstop, by SIGTERM then SIGKILL from here. Cancel sends SIGTERM,
/// then SIGKILL after the grace period. A runner killed mid-write has its
/// branch removed by a cleanup runner.
#[derive(Debug)]
pub struct ProcessExecutor {
    pool: Pool<Child>,
    python_workers: Option<Arc<PythonWorkers>>,
}

impl ProcessExecutor {
    /// Starts the workers and re-attaches to runners that outlived a crashed
    /// executor.
    pub async fn start(
        process: ProcessConfig,
        store: Arc<dyn RunStore>,
        storage: Arc<dyn Storage>,
        config: PoolConfig,
    ) -> Result<Self> {
        std::fs::create_dir_all(&process.runs_dir)?;
        let python_workers = match process.python_workers {
            0 => None,
            count => Some(Arc::new(PythonWorkers::new(
                process.runner.clone(),
                process.python.clone(),
                &process.runs_dir,
                count,
            )?)),
        };
        let child = Child {
            config: process,
            python_workers: python_workers.clone(),
        };
        let pool = Pool::start(child, store, storage, config).await?;
        Ok(Self {
            pool,
            python_workers,
        })
    }

    /// Waits up to `timeout` until a warm Python worker is ready for the
    /// next Python run; whether one is (never, before a Python run has
    /// asked for one, or with `python_workers: 0`).
    pub async fn python_worker_ready(&self, timeout: Duration) -> bool {
        match &self.python_workers {
            Some(workers) => workers.wait_ready(timeout).await,
            None => false,
        }
    }
}

#[derive(Debug)]
struct Child {
    config: ProcessConfig,
    python_workers: Option<Arc<PythonWorkers>>,
}

/// How to learn that the runner exited.
enum Exit {
    /// Our own child: its exit status is known.
    Own(tokio::process::Child),
    /// A runner adopted from a crashed executor: only its liveness is.
    Adopted(ProcessId),
}

impl Child {
    fn dir(&self, run: &RunId) -> PathBuf {
        self.config.runs_dir.join(run.as_str())
    }

    async fn spawn(&self, spec: &RunSpec, dir: &Path) -> std::io::Result<tokio::process::Child> {
        std::fs::create_dir_all(dir)?;
        let input = RunnerInput {
            spec: spec.clone(),
            lakehouse: self.config.lakehouse.clone(),
            sql_access: self.config.sql_access,
            python: self.config.python.clone(),
            python_workers: self.python_workers.as_ref().map(|w| w.dir().to_owned()),
        };
        std::fs::write(dir.join("input.json"), serde_json::to_vec_pretty(&input)?)?;
        let stdout = std::fs::File::create(dir.join("result.json"))?;
        let stderr = std::fs::File::create(dir.join("log.jsonl"))?;
        tokio::process::Command::new(&self.config.runner)
            .arg("--spec")
            .arg(dir.join("input.json"))
            // For a credentials command scoping storage to the run.
            .env(NAMESPACE_VARIABLE, spec.table.namespace.as_str())
            .env(RUN_ID_VARIABLE, spec.run_id.as_str())
            .stdin(Stdio::null())
            .stdout(stdout)
            .stderr(stderr)
            // Its own process group: a terminal's Ctrl-C reaches the
            // executor, which stops runners itself.
            .process_group(0)
            .spawn()
    }

    /// Follows a runner until it exits: tails its log, stops it on cancel or
    /// past its time limit, then reads its result.
    async fn follow(
        &self,
        spec_limits_timeout: Option<Duration>,
        dir: &Path,
        live: &Arc<LiveRun>,
        mut exit: Exit,
    ) -> Outcome {
        let pid = match &exit {
            Exit::Own(child) => child.id().and_then(ProcessId::of),
            Exit::Adopted(id) => Some(*id),
        };
        let mut tail = Tail::new(dir.join("log.jsonl"));
        let deadline = spec_limits_timeout.map(|t| Instant::now() + t + self.config.grace);
        let mut term_sent: Option<Instant> = None;
        let mut killed = false;
        let status = loop {
            tail.read(live);
            let exited = match &mut exit {
                Exit::Own(child) => match child.try_wait() {
                    Ok(Some(status)) => Some(Some(status)),
                    Ok(None) => None,
                    Err(_) => Some(None),
                },
                Exit::Adopted(id) => (!id.is_alive()).then_some(None),
            };
            if let Some(status) = exited {
                break status;
            }
            let now = Instant::now();
            let stop = live.cancellation().is_cancelled() || deadline.is_some_and(|d| now > d);
            match (stop, term_sent, pid) {
                (true, None, Some(pid)) => {
                    signal(pid, Signal::TERM);
                    term_sent = Some(now);
                }
                (_, Some(at), Some(pid))
                    if !killed && now.duration_since(at) > self.config.grace =>
                {
                    signal(pid, Signal::KILL);
                    killed = true;
                }
                _ => {}
            }
            tokio::time::sleep(self.config.tail_interval).await;
        };
        tail.read(live);
        if let Some(result) = read_result(&dir.join("result.json")) {
            return Outcome::Finished(Box::new(result));
        }
        let phase = live
            .snapshot()
            .phase
            .map_or("start".to_owned(), |p| p.to_string());
        let how = match status {
            Some(status) => describe_exit(status),
            None => "ended".to_owned(),
        };
        let reported = tail.output.error();
        let mut message = match reported {
            Some(e) => format!("the runner process {how} during {phase}: {}", e.message),
            None => format!("the runner process {how} during {phase} without reporting a result"),
        };
        if let Some(note) = self.remove_branch(dir).await {
            message.push_str(&format!("; {note}"));
        }
        let cancelled =
            live.cancellation().is_cancelled() && deadline.is_none_or(|d| Instant::now() <= d);
        let (status, kind) = if cancelled {
            (RunStatus::Cancelled, ErrorKind::Cancelled)
        } else {
            // What the runner said went wrong (invalid input, a storage
            // it could not reach...), else a crash.
            (
                RunStatus::Failed,
                reported.map_or(ErrorKind::Internal, RunError::error_kind),
            )
        };
        Outcome::Aborted {
            status,
            error: RunError::new(kind, message),
        }
    }

    /// Runs the runner in `--abandon` mode to remove the branch a killed
    /// runner may have left (the executor itself does not link the engine).
    async fn remove_branch(&self, dir: &Path) -> Option<String> {
        let cleanup = tokio::process::Command::new(&self.config.runner)
            .arg("--spec")
            .arg(dir.join("input.json"))
            .arg("--abandon")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        match tokio::time::timeout(Duration::from_secs(60), cleanup).await {
            Ok(Ok(s)) if s.success() => Some("its branch was removed, main is unchanged".into()),
            _ => Some("its branch could not be removed now; the next run of the table will".into()),
        }
    }
}

fn signal(pid: ProcessId, sig: Signal) {
    if !pid.is_alive() {
        return;
    }
    if let Some(p) = i32::try_from(pid.pid).ok().and_then(Pid::from_raw) {
        let _ = kill_process(p, sig);
    }
}

fn describe_exit(status: std::process::ExitStatus) -> String {
    use std::os::unix::process::ExitStatusExt;
    match (status.code(), status.signal()) {
        (_, Some(9)) => "was killed (SIGKILL)".into(),
        (_, Some(15)) => "was terminated (SIGTERM)".into(),
        (_, Some(s)) => format!("was killed by signal {s}"),
        (Some(137), _) => "was killed (exit 137, out of memory?)".into(),
        (Some(code), _) => format!("exited with code {code}"),
        (None, None) => "ended".into(),
    }
}

fn read_result(path: &Path) -> Option<RunResult> {
    let text = std::fs::read_to_string(path).ok()?;
    serde_json::from_str(text.lines().last()?).ok()
}

/// Reads complete new lines of a runner's log file.
struct Tail {
    path: PathBuf,
    offset: u64,
    output: RunnerOutput,
}

impl Tail {
    fn new(path: PathBuf) -> Self {
        Self {
            path,
            offset: 0,
            output: RunnerOutput::default(),
        }
    }

    fn read(&mut self, live: &LiveRun) {
        let Ok(mut file) = std::fs::File::open(&self.path) else {
            return;
        };
        if file.seek(SeekFrom::Start(self.offset)).is_err() {
            return;
        }
        let mut reader = std::io::BufReader::new(file);
        let mut line = String::new();
        while reader.read_line(&mut line).is_ok_and(|n| n > 0) {
            if !line.ends_with('\n') {
                break; // the rest is still being written
            }
            self.offset += line.len() as u64;
            self.output.read_line(Some(live), &line);
            line.clear();
        }
    }
}

#[async_trait]
impl Launcher for Child {
    const KIND: &'static str = "process";

    async fn launch(
        &self,
        spec: RunSpec,
        live: Arc<LiveRun>,
        store: &Arc<dyn RunStore>,
    ) -> Outcome {
        let dir = self.dir(&spec.run_id);
        if let Some(workers) = &self.python_workers {
            workers.top_up();
        }
        let child = match self.spawn(&spec, &dir).await {
            Ok(child) => child,
            Err(e) => {
                return Outcome::Aborted {
                    status: RunStatus::Failed,
                    error: RunError::new(
                        ErrorKind::Internal,
                        format!("cannot start {}: {e}", self.config.runner.display()),
                    ),
                };
            }
        };
        let pid = child.id();
        if let Some(id) = pid.and_then(ProcessId::of)
            && let Err(e) = live.set_handle(id.to_string(), store).await
        {
            tracing::warn!(
                "cannot record the runner process of run {}: {e}",
                spec.run_id
            );
        }
        let outcome = self
            .follow(spec.limits.timeout, &dir, &live, Exit::Own(child))
            .await;
        if let (Some(workers), Some(pid)) = (&self.python_workers, pid) {
            workers.release(pid).await;
            workers.top_up();
        }
        outcome
    }

    /// A runner was started for the run: whether it still runs (follow it)
    /// or ended meanwhile (read its result), the run can be completed here.
    fn can_adopt(&self, record: &RunRecord) -> bool {
        record
            .handle
            .as_deref()
            .is_some_and(|h| h.parse::<ProcessId>().is_ok())
            && self.dir(&record.run_id).join("input.json").exists()
    }

    async fn resume(
        &self,
        record: RunRecord,
        live: Arc<LiveRun>,
        _: &Arc<dyn RunStore>,
    ) -> Outcome {
        let dir = self.dir(&record.run_id);
        let pid = record
            .handle
            .as_deref()
            .and_then(|h| h.parse::<ProcessId>().ok());
        let timeout = std::fs::read(dir.join("input.json"))
            .ok()
            .and_then(|b| serde_json::from_slice::<RunnerInput>(&b).ok())
            .and_then(|i| i.spec.limits.timeout);
        match pid {
            Some(pid) => self.follow(timeout, &dir, &live, Exit::Adopted(pid)).await,
            None => Outcome::Aborted {
                status: RunStatus::Failed,
                error: RunError::new(
                    ErrorKind::Internal,
                    "the run has no runner process to follow",
                ),
            },
        }
    }

    /// The run's folder (its input, result and log files) goes with its
    /// record.
    async fn forget(&self, run: &RunId) -> rat_core::Result<()> {
        match tokio::fs::remove_dir_all(self.dir(run)).await {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e.into()),
            _ => Ok(()),
        }
    }
}

forward_executor!(ProcessExecutor);
