//! [`RunnerOutput`]: what a `rat-runner` prints ([`rat_core::runner`]),
//! read back line by line — from a file next to a child process or from a
//! container's log stream.

use rat_core::runner::{RunnerEvent, RunnerLine};
use rat_core::{LogLevel, LogSink, RunError, RunResult};

use crate::live::LiveRun;

/// The state gathered from a runner's output lines: log lines and phases
/// go to the live run as they are read; the error it reported and its
/// result are kept.
///
/// ```
/// use rat_core::ErrorKind;
/// use rat_executor::RunnerOutput;
///
/// let mut output = RunnerOutput::default();
/// output.read_line(None, r#"{"type":"error","kind":"invalid_input","message":"invalid runner input"}"#);
/// let error = output.error().unwrap();
/// assert_eq!((error.error_kind(), error.message.as_str()), (ErrorKind::InvalidInput, "invalid runner input"));
/// assert!(output.result().is_none());
/// ```
#[derive(Debug, Default)]
pub struct RunnerOutput {
    error: Option<RunError>,
    result: Option<RunResult>,
}

impl RunnerOutput {
    /// Reads one line (without its newline). Lines that are not the
    /// runner's protocol are kept as warnings, so nothing printed is lost.
    pub fn read_line(&mut self, live: Option<&LiveRun>, line: &str) {
        match RunnerLine::parse(line) {
            None => {}
            Some(RunnerLine::Event(RunnerEvent::Log(record))) => {
                if let Some(live) = live {
                    live.push_record(record);
                }
            }
            Some(RunnerLine::Event(RunnerEvent::Phase { phase })) => {
                if let Some(live) = live {
                    live.phase(phase);
                }
            }
            Some(RunnerLine::Event(RunnerEvent::Error(error))) => self.error = Some(error),
            Some(RunnerLine::Result(result)) => self.result = Some(*result),
            Some(RunnerLine::Other(text)) => {
                if let Some(live) = live {
                    live.log(LogLevel::Warn, format!("runner: {text}"));
                }
            }
        }
    }

    /// The error the runner reported when it could not run.
    pub fn error(&self) -> Option<&RunError> {
        self.error.as_ref()
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
