//! The `rat-runner` protocol, in one place for the writer (the runner
//! binary) and every reader (the process executor, the ECS executor).
//!
//! - **Input**: a [`RunnerInput`] as JSON, from a file, stdin or the
//!   variable [`INPUT_VARIABLE`] (`--spec FILE|-|env:NAME`).
//! - **Environment**: executors name the run in [`NAMESPACE_VARIABLE`] and
//!   [`RUN_ID_VARIABLE`], where a `credential_process` finds its scope.
//! - **stderr**: one [`RunnerEvent`] per line while running — log lines,
//!   phase changes, and an error when the runner could not run.
//! - **stdout**: the [`RunResult`] as one JSON line at the end.
//! - **Exit code**: [`RunnerExit`].
//!
//! ```
//! use rat_core::runner::{RunnerEvent, RunnerLine};
//! use rat_core::{Error, Phase};
//!
//! let line = RunnerEvent::Phase { phase: Phase::Execute }.to_line();
//! assert_eq!(line, r#"{"type":"phase","phase":"execute"}"#);
//! let error = RunnerEvent::error(&Error::invalid("bad spec")).to_line();
//! match RunnerLine::parse(&error) {
//!     Some(RunnerLine::Event(RunnerEvent::Error(e))) => assert_eq!(e.kind, "invalid_input"),
//!     other => panic!("{other:?}"),
//! }
//! ```

use serde::{Deserialize, Serialize};

use crate::config::{LakehouseConfig, SqlAccess};
use crate::error::Error;
use crate::run::{LogRecord, Phase, RunError, RunResult, RunSpec, RunStatus};

/// What a `rat-runner` process reads: one run (with its limits) and where
/// the lakehouse is.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunnerInput {
    /// The run.
    pub spec: RunSpec,
    /// Storage and catalog.
    pub lakehouse: LakehouseConfig,
    /// What the run's SQL may read beyond what it resolved.
    #[serde(default)]
    pub sql_access: SqlAccess,
    /// The interpreter of Python pipelines (`python:` of `rat.yaml`);
    /// `None`: the runner's `$RAT_PYTHON`, else `python3`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub python: Option<std::path::PathBuf>,
    /// The folder of the executor's warm Python workers, when it keeps
    /// some: a Python run takes one there instead of starting one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub python_workers: Option<std::path::PathBuf>,
}

/// The files of a process executor's warm Python workers, which its
/// runners claim ([`RunnerInput::python_workers`] names the folder; each
/// worker has a private folder in it).
pub mod python_workers {
    /// In the pool folder: a runner looked for a worker (the executor
    /// starts none before).
    pub const WANTED: &str = "wanted";
    /// In a worker's folder: its pid, once its imports are done.
    pub const READY: &str = "ready";
    /// In a worker's folder: the socket the claiming runner connects to.
    pub const SOCKET: &str = "sock";
    /// In a worker's folder: created (exclusively) by the runner that
    /// claims it, holding that runner's pid.
    pub const CLAIMED: &str = "claimed";
}

/// The variable carrying the [`RunnerInput`] of a container's runner
/// (`--spec env:RAT_RUNNER_INPUT`).
pub const INPUT_VARIABLE: &str = "RAT_RUNNER_INPUT";

/// The variable naming a run's namespace in the environment of the
/// processes executors start for it (a runner; a task), where a
/// `credential_process` such as `rat-aws-credentials` finds it: one
/// lakehouse configuration then serves every namespace, each run's
/// credentials scoped to its own.
pub const NAMESPACE_VARIABLE: &str = "RAT_NAMESPACE";

/// The variable naming the run id beside [`NAMESPACE_VARIABLE`].
pub const RUN_ID_VARIABLE: &str = "RAT_RUN_ID";

/// How a runner process exits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunnerExit {
    /// `0`: the run succeeded.
    Succeeded,
    /// `1`: the run failed or was cancelled (its result says why).
    Failed,
    /// `2`: the input was invalid or the runner could not start (no
    /// result; an [`RunnerEvent::Error`] line says why).
    Invalid,
}

impl RunnerExit {
    /// The process exit code.
    pub fn code(self) -> i32 {
        match self {
            RunnerExit::Succeeded => 0,
            RunnerExit::Failed => 1,
            RunnerExit::Invalid => 2,
        }
    }

    /// The meaning of an exit code, when it is one of the protocol's.
    pub fn from_code(code: i32) -> Option<Self> {
        match code {
            0 => Some(RunnerExit::Succeeded),
            1 => Some(RunnerExit::Failed),
            2 => Some(RunnerExit::Invalid),
            _ => None,
        }
    }

    /// The exit of a run that ended with `status`.
    pub fn of(status: RunStatus) -> Self {
        match status {
            RunStatus::Success => RunnerExit::Succeeded,
            _ => RunnerExit::Failed,
        }
    }
}

/// One line of a runner's stderr.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum RunnerEvent {
    /// A log line, numbered from 0.
    Log(LogRecord),
    /// The run entered a phase.
    Phase {
        /// The phase.
        phase: Phase,
    },
    /// The runner could not run (with [`RunnerExit::Invalid`]) or could
    /// not finish what it was asked (`--abandon`): kind, message, file.
    Error(RunError),
}

impl RunnerEvent {
    /// The error line for `err`.
    pub fn error(err: &Error) -> Self {
        RunnerEvent::Error(RunError::from(err))
    }

    /// The line, without its newline.
    pub fn to_line(&self) -> String {
        // A derived Serialize of owned strings and numbers cannot fail.
        serde_json::to_string(self).unwrap_or_default()
    }
}

/// What one line of a runner's output (stderr or stdout, wherever they
/// end up: files, a container's log stream) holds.
#[derive(Debug, Clone, PartialEq)]
pub enum RunnerLine {
    /// A protocol event.
    Event(RunnerEvent),
    /// The run's result.
    Result(Box<RunResult>),
    /// Anything else the process printed (kept, so nothing is lost).
    Other(String),
}

impl RunnerLine {
    /// Reads one line (trailing whitespace ignored); `None` when blank.
    pub fn parse(line: &str) -> Option<Self> {
        let line = line.trim_end();
        if line.is_empty() {
            return None;
        }
        Some(
            if let Ok(event) = serde_json::from_str::<RunnerEvent>(line) {
                RunnerLine::Event(event)
            } else if let Ok(result) = serde_json::from_str::<RunResult>(line) {
                RunnerLine::Result(Box::new(result))
            } else {
                RunnerLine::Other(line.to_owned())
            },
        )
    }

    /// The stdout line reporting `result`.
    pub fn result_line(result: &RunResult) -> String {
        serde_json::to_string(result).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{ErrorKind, LogLevel};

    #[test]
    fn what_the_writer_writes_the_reader_reads() {
        let log = RunnerEvent::Log(LogRecord {
            seq: 3,
            at: chrono::Utc::now(),
            level: LogLevel::Warn,
            message: "careful".into(),
        });
        let error = RunnerEvent::error(
            &Error::new(ErrorKind::NotFound, "no pipeline").with_context("file", "p.sql"),
        );
        for event in [log, error, RunnerEvent::Phase { phase: Phase::Test }] {
            let line = event.to_line();
            assert!(!line.contains('\n'));
            assert_eq!(
                RunnerLine::parse(&format!("{line}\r\n")),
                Some(RunnerLine::Event(event))
            );
        }
        let Some(RunnerLine::Event(RunnerEvent::Error(e))) =
            RunnerLine::parse(&RunnerEvent::error(&Error::new(ErrorKind::NotFound, "x")).to_line())
        else {
            panic!("not an error line")
        };
        assert_eq!(ErrorKind::from_name(&e.kind), Some(ErrorKind::NotFound));
        assert_eq!(
            RunnerLine::parse("Segmentation fault"),
            Some(RunnerLine::Other("Segmentation fault".into()))
        );
        assert_eq!(RunnerLine::parse("  "), None);
    }

    #[test]
    fn exit_codes_round_trip() {
        for exit in [
            RunnerExit::Succeeded,
            RunnerExit::Failed,
            RunnerExit::Invalid,
        ] {
            assert_eq!(RunnerExit::from_code(exit.code()), Some(exit));
        }
        assert_eq!(RunnerExit::from_code(137), None);
        assert_eq!(RunnerExit::of(RunStatus::Cancelled), RunnerExit::Failed);
    }
}
