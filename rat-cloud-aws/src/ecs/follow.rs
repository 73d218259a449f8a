//! Following a launched task to its end: its state from the tracker, its
//! output from CloudWatch (stored before the token that points past it),
//! StopTask on cancel and on timeouts, then what the run's outcome is.

use std::sync::Arc;
use std::time::Duration;

use rat_core::{ErrorKind, LogLevel, LogSink, RunError, RunStatus, RunStore};
use rat_executor::{LiveRun, Outcome, RunnerOutput};
use tokio::time::Instant;

use super::config::EcsConfig;
use super::task::{Observed, Stop, TaskHandle};
use super::tracker::Tracker;
use crate::cloudwatch::CloudWatchLogs;

/// Why rat stopped a task.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum StopCause {
    Cancel,
    StartTimeout,
    Runtime,
}

impl StopCause {
    fn reason(self) -> &'static str {
        match self {
            StopCause::Cancel => "rat: run cancelled",
            StopCause::StartTimeout => "rat: task did not start within the start timeout",
            StopCause::Runtime => "rat: run exceeded its time limit",
        }
    }
}

/// How following a task ended.
pub(crate) enum Followed {
    /// The task never ran the runner; another attempt may.
    FailedToStart(String),
    /// The run ended.
    Ended(Outcome),
}

pub(crate) struct Following<'a> {
    pub(crate) ecs: &'a aws_sdk_ecs::Client,
    pub(crate) logs: &'a CloudWatchLogs,
    pub(crate) tracker: &'a Arc<Tracker>,
    pub(crate) config: &'a EcsConfig,
    pub(crate) live: &'a Arc<LiveRun>,
    pub(crate) store: &'a Arc<dyn RunStore>,
    /// The run's time limit.
    pub(crate) limit: Option<Duration>,
}

/// The runner stops itself at its limit; rat stops the task this much
/// later if it has not.
const LIMIT_GRACE: Duration = Duration::from_secs(30);

impl Following<'_> {
    pub(crate) async fn follow(&self, mut handle: TaskHandle) -> Followed {
        let mut watch = self.tracker.watch(&handle.cluster, &handle.task_arn);
        let mut output = RunnerOutput::default();
        let launched = Instant::now();
        let mut running_since: Option<Instant> = None;
        let mut stopped_by: Option<StopCause> = None;
        let stop = loop {
            let cancelled = self.live.cancellation().clone();
            tokio::select! {
                _ = watch.states.changed() => {}
                _ = tokio::time::sleep(self.config.poll_interval) => {}
                _ = cancelled.cancelled(), if stopped_by.is_none() => {}
            }
            self.read_logs(&mut handle, &mut output).await;
            let state = watch.states.borrow_and_update().clone();
            match state {
                Some(Observed::Stopped(stop)) => break stop,
                Some(Observed::Live { running: true, .. }) if running_since.is_none() => {
                    running_since = Some(Instant::now());
                }
                Some(Observed::Missing) if launched.elapsed() > self.config.start_timeout => {
                    break Stop {
                        stop_code: None,
                        reason: "ECS no longer knows the task".into(),
                        exit_code: None,
                    };
                }
                _ => {}
            }
            if stopped_by.is_none() {
                let cause = if self.live.cancellation().is_cancelled() {
                    Some(StopCause::Cancel)
                } else if running_since.is_none() && launched.elapsed() > self.config.start_timeout
                {
                    Some(StopCause::StartTimeout)
                } else {
                    let limit = self.limit.map(|l| l + LIMIT_GRACE.min(l));
                    running_since
                        .zip(limit)
                        .filter(|(since, limit)| since.elapsed() > *limit)
                        .map(|_| StopCause::Runtime)
                };
                if let Some(cause) = cause {
                    self.stop_task(&handle, cause).await;
                    stopped_by = Some(cause);
                }
            }
        };
        drop(watch);
        if stop.failed_to_start() && stopped_by.is_none() {
            return Followed::FailedToStart(stop.describe());
        }
        self.drain(&mut handle, &mut output, &stop).await;
        Followed::Ended(outcome(output, &stop, stopped_by, self.limit))
    }

    async fn stop_task(&self, handle: &TaskHandle, cause: StopCause) {
        let result = super::api::with_retries(
            self.config,
            || async {
                self.ecs
                    .stop_task()
                    .cluster(&handle.cluster)
                    .task(&handle.task_arn)
                    .reason(cause.reason())
                    .send()
                    .await
                    .map_err(|e| super::api::sdk_error("StopTask", e))
            },
            |_, _| {},
        )
        .await;
        if let Err(e) = result {
            tracing::warn!("run {}: {e}", self.live.run_id());
        }
    }

    /// New output lines go to the run; once they are in the store, the
    /// token after them is recorded with the handle, so a restarted
    /// executor resumes where the stored log ends.
    async fn read_logs(&self, handle: &mut TaskHandle, output: &mut RunnerOutput) {
        let (Some(group), Some(stream)) = (&handle.log_group, &handle.log_stream) else {
            return;
        };
        let page = match self
            .logs
            .read(group, stream, handle.log_token.as_deref())
            .await
        {
            Ok(page) => page,
            Err(e) => {
                tracing::warn!("run {}: {e}", self.live.run_id());
                return;
            }
        };
        for line in &page.lines {
            output.read_line(Some(self.live), line);
        }
        if page.token != handle.log_token {
            self.live.flush(self.store).await;
            handle.log_token = page.token;
            if let Err(e) = self.live.set_handle(handle.to_text(), self.store).await {
                tracing::warn!(
                    "run {}: cannot record the log position: {e}",
                    self.live.run_id()
                );
            }
        }
    }

    /// Reads what arrived after the task stopped: until the runner's
    /// result shows, or for the drain period when it ran but has not.
    async fn drain(&self, handle: &mut TaskHandle, output: &mut RunnerOutput, stop: &Stop) {
        let deadline = Instant::now() + self.config.log_drain;
        loop {
            self.read_logs(handle, output).await;
            let expect_more = output.result().is_none() && stop.exit_code.is_some();
            if !expect_more || Instant::now() >= deadline {
                return;
            }
            tokio::time::sleep(self.config.poll_interval.min(Duration::from_secs(1))).await;
        }
    }

    /// Adds what the executor noticed (retries...) to the run's log, after
    /// the runner's own lines, and returns `outcome`.
    pub(crate) fn conclude(&self, notes: Vec<String>, outcome: Outcome) -> Outcome {
        for note in notes {
            self.live.log(LogLevel::Warn, note);
        }
        outcome
    }
}

/// The run's outcome from the runner's output and how its task stopped.
fn outcome(
    mut output: RunnerOutput,
    stop: &Stop,
    stopped_by: Option<StopCause>,
    limit: Option<Duration>,
) -> Outcome {
    if let Some(result) = output.take_result() {
        return Outcome::Finished(Box::new(result));
    }
    let how = stop.describe();
    let (status, kind, message) = match stopped_by {
        Some(StopCause::Cancel) => (
            RunStatus::Cancelled,
            ErrorKind::Cancelled,
            format!("cancelled; the task stopped ({how})"),
        ),
        Some(StopCause::StartTimeout) => (
            RunStatus::Failed,
            ErrorKind::Timeout,
            format!("the task did not start within the start timeout ({how})"),
        ),
        Some(StopCause::Runtime) => (
            RunStatus::Failed,
            ErrorKind::Timeout,
            format!(
                "the run exceeded its time limit of {}s and its task was stopped ({how})",
                limit.unwrap_or_default().as_secs()
            ),
        ),
        None if stop.exit_code == Some(137) => (
            RunStatus::Failed,
            ErrorKind::Executor,
            format!("out of memory: {how}"),
        ),
        None if stop.stop_code.as_deref() == Some("UserInitiated") => (
            RunStatus::Cancelled,
            ErrorKind::Cancelled,
            format!("the task was stopped outside rat ({how})"),
        ),
        None => {
            let mut message = format!("the task stopped without a run result ({how})");
            let mut kind = ErrorKind::Executor;
            if let Some(error) = output.error() {
                message.push_str(&format!(": {}", error.message));
                kind = error.error_kind();
            }
            (RunStatus::Failed, kind, message)
        }
    };
    Outcome::Aborted {
        status,
        error: RunError::new(kind, message),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stop(code: &str, reason: &str, exit: Option<i32>) -> Stop {
        Stop {
            stop_code: Some(code.into()),
            reason: reason.into(),
            exit_code: exit,
        }
    }

    fn aborted(outcome: Outcome) -> (RunStatus, String) {
        match outcome {
            Outcome::Aborted { status, error } => (status, error.message),
            Outcome::Finished(_) => panic!("finished"),
        }
    }

    #[test]
    fn stops_without_a_result_map_to_statuses() {
        let oom = stop(
            "EssentialContainerExited",
            "Essential container in task exited",
            Some(137),
        );
        let (status, message) = aborted(outcome(RunnerOutput::default(), &oom, None, None));
        assert_eq!(status, RunStatus::Failed);
        assert!(message.contains("out of memory"), "{message}");

        let killed = stop("UserInitiated", "rat: run cancelled", Some(137));
        let (status, _) = aborted(outcome(
            RunnerOutput::default(),
            &killed,
            Some(StopCause::Cancel),
            None,
        ));
        assert_eq!(
            status,
            RunStatus::Cancelled,
            "our own stop is a cancel, not an OOM"
        );

        let slow = stop(
            "UserInitiated",
            "rat: run exceeded its time limit",
            Some(143),
        );
        let (status, message) = aborted(outcome(
            RunnerOutput::default(),
            &slow,
            Some(StopCause::Runtime),
            Some(Duration::from_secs(60)),
        ));
        assert_eq!(status, RunStatus::Failed);
        assert!(message.contains("time limit of 60s"), "{message}");

        let mut output = RunnerOutput::default();
        output.read_line(
            None,
            r#"{"type":"error","kind":"invalid_input","message":"invalid runner input: eof"}"#,
        );
        let (status, message) = aborted(outcome(
            output,
            &stop("EssentialContainerExited", "exited", Some(2)),
            None,
            None,
        ));
        assert_eq!(status, RunStatus::Failed);
        assert!(message.contains("invalid runner input"), "{message}");
    }
}
