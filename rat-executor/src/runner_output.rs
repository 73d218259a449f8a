//! [`RunnerOutput`]: what a `rat-runner` prints, read back line by line —
//! from a file next to a child process or from a container's log stream.

use rat_core::{LogLevel, LogRecord, LogSink, Phase, RunResult};
use serde::Deserialize;

use crate::live::LiveRun;

/// One line of a runner's stderr.
#[derive(Deserialize)]
#[serde(tag = "type", rename_all = "lowercase")]
enum RunnerLine {
    Log(LogRecord),
    Phase { phase: Phase },
    Error { message: String },
}

/// The state gathered from a runner's output lines: log lines and phases
/// go to the live run as they are read; the error it reported and its
/// result are kept.
///
/// ```
/// use rat_executor::RunnerOutput;
///
/// let mut output = RunnerOutput::default();
/// output.read_line(None, r#"{"type":"error","message":"invalid runner input"}"#);
/// assert_eq!(output.error(), Some("invalid runner input"));
/// assert!(output.result().is_none());
/// ```
#[derive(Debug, Default)]
pub struct RunnerOutput {
    error: Option<String>,
    result: Option<RunResult>,
}

impl RunnerOutput {
    /// Reads one line (without its newline). Lines that are not the
    /// runner's protocol are kept as warnings, so nothing printed is lost.
    pub fn read_line(&mut self, live: Option<&LiveRun>, line: &str) {
        let line = line.trim_end();
        if line.is_empty() {
            return;
        }
        match serde_json::from_str::<RunnerLine>(line) {
            Ok(RunnerLine::Log(record)) => {
                if let Some(live) = live {
                    live.push_record(record);
                }
            }
            Ok(RunnerLine::Phase { phase }) => {
                if let Some(live) = live {
                    live.phase(phase);
                }
            }
            Ok(RunnerLine::Error { message }) => self.error = Some(message),
            Err(_) => match serde_json::from_str::<RunResult>(line) {
                Ok(result) => self.result = Some(result),
                Err(_) => {
                    if let Some(live) = live {
                        live.log(LogLevel::Warn, format!("runner: {line}"));
                    }
                }
            },
        }
    }

    /// The error the runner reported when it could not run.
    pub fn error(&self) -> Option<&str> {
        self.error.as_deref()
    }

    /// The run's result, once printed.
    pub fn result(&self) -> Option<&RunResult> {
        self.result.as_ref()
    }

    /// Takes the result.
    pub fn take_result(&mut self) -> Option<RunResult> {
        self.result.take()
    }
}
