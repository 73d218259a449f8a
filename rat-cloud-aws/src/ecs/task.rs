//! A task as rat tracks it: the handle persisted with the run, and what a
//! description of the task says about the run.

use aws_sdk_ecs::types::Task;
use serde::{Deserialize, Serialize};

/// What the run store keeps about a run's task, so any executor can pick
/// the run up: where the task is, its log stream and how far its log was
/// read. Written as soon as RunTask returns, updated as logs are read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct TaskHandle {
    pub(crate) cluster: String,
    pub(crate) task_arn: String,
    /// Launch attempt, from 1 (tasks that failed to start are replaced).
    pub(crate) attempt: u32,
    /// CloudWatch group and stream of the runner's output.
    pub(crate) log_group: Option<String>,
    pub(crate) log_stream: Option<String>,
    /// GetLogEvents forward token after the last stored line.
    pub(crate) log_token: Option<String>,
}

impl TaskHandle {
    pub(crate) fn parse(text: &str) -> Option<Self> {
        serde_json::from_str(text).ok()
    }

    pub(crate) fn to_text(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    /// The task id: the last part of its ARN.
    pub(crate) fn task_id(&self) -> &str {
        self.task_arn.rsplit('/').next().unwrap_or(&self.task_arn)
    }
}

/// The client token of a launch attempt: the run id first, so a repeated
/// RunTask of one attempt starts one task.
pub(crate) fn client_token(run: &str, attempt: u32) -> String {
    if attempt <= 1 {
        run.to_owned()
    } else {
        format!("{run}-{attempt}")
    }
}

/// What one DescribeTasks said about a task.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Observed {
    /// ECS does not know the task (yet, or any more).
    Missing,
    /// Not stopped yet; `running` once its containers run.
    Live { last_status: String, running: bool },
    /// Stopped, with why.
    Stopped(Stop),
}

/// How a task stopped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Stop {
    pub(crate) stop_code: Option<String>,
    pub(crate) reason: String,
    /// The runner container's exit code, when it ran.
    pub(crate) exit_code: Option<i32>,
}

impl Stop {
    /// The task never ran the runner (capacity, network interface,
    /// image pull...): another task may well start.
    pub(crate) fn failed_to_start(&self) -> bool {
        self.stop_code.as_deref() == Some("TaskFailedToStart")
            || (self.exit_code.is_none()
                && super::api::capacity_text(&self.reason.to_ascii_lowercase()))
    }

    /// For people: code, reason and exit code.
    pub(crate) fn describe(&self) -> String {
        let mut text = match &self.stop_code {
            Some(code) => format!("{code}: {}", self.reason),
            None => self.reason.clone(),
        };
        match self.exit_code {
            Some(137) => text.push_str("; the runner was killed (exit 137): out of memory"),
            Some(code) => text.push_str(&format!("; runner exit code {code}")),
            None => {}
        }
        text
    }
}

/// Reads a described task; `container` names the runner's container.
pub(crate) fn observe(task: &Task, container: &str) -> Observed {
    let last_status = task.last_status().unwrap_or("PROVISIONING").to_owned();
    if last_status != "STOPPED" {
        let running = last_status == "RUNNING";
        return Observed::Live {
            last_status,
            running,
        };
    }
    let runner = task
        .containers()
        .iter()
        .find(|c| c.name() == Some(container))
        .or_else(|| task.containers().first());
    let mut reason = task.stopped_reason().unwrap_or_default().to_owned();
    if let Some(why) = runner.and_then(|c| c.reason()).filter(|r| !r.is_empty()) {
        reason = if reason.is_empty() {
            why.to_owned()
        } else {
            format!("{reason} ({why})")
        };
    }
    Observed::Stopped(Stop {
        stop_code: task.stop_code().map(|c| c.as_str().to_owned()),
        reason,
        exit_code: runner.and_then(|c| c.exit_code()),
    })
}

#[cfg(test)]
mod tests {
    use aws_sdk_ecs::types::{Container, TaskStopCode};

    use super::*;

    fn stopped(code: Option<TaskStopCode>, reason: &str, exit: Option<i32>) -> Stop {
        let task = Task::builder()
            .last_status("STOPPED")
            .set_stop_code(code)
            .stopped_reason(reason)
            .containers(
                Container::builder()
                    .name("rat-runner")
                    .set_exit_code(exit)
                    .build(),
            )
            .build();
        match observe(&task, "rat-runner") {
            Observed::Stopped(stop) => stop,
            other => panic!("not stopped: {other:?}"),
        }
    }

    #[test]
    fn stops_are_told_apart() {
        let eni = stopped(
            Some(TaskStopCode::TaskFailedToStart),
            "Timeout waiting for network interface provisioning to complete.",
            None,
        );
        assert!(eni.failed_to_start());
        let oom = stopped(
            Some(TaskStopCode::EssentialContainerExited),
            "Essential container in task exited",
            Some(137),
        );
        assert!(!oom.failed_to_start());
        assert!(
            oom.describe().contains("out of memory"),
            "{}",
            oom.describe()
        );
        let spot = stopped(
            Some(TaskStopCode::SpotInterruption),
            "Your Spot Task was interrupted.",
            Some(143),
        );
        assert!(!spot.failed_to_start());
        assert!(spot.describe().contains("SpotInterruption"));
    }

    #[test]
    fn handles_round_trip_and_tokens_follow_attempts() {
        let handle = TaskHandle {
            cluster: "c".into(),
            task_arn: "arn:aws:ecs:eu-west-1:1:task/c/abc123".into(),
            attempt: 2,
            log_group: Some("/rat".into()),
            log_stream: Some("rat/rat-runner/abc123".into()),
            log_token: Some("f/1".into()),
        };
        assert_eq!(TaskHandle::parse(&handle.to_text()), Some(handle.clone()));
        assert_eq!(handle.task_id(), "abc123");
        assert_eq!(TaskHandle::parse("pid:1:2"), None);
        assert_eq!(client_token("r1", 1), "r1");
        assert_eq!(client_token("r1", 3), "r1-3");
    }
}
