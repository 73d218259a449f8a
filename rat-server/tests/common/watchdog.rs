//! A stall watchdog on a plain OS thread: if a test has not finished by its
//! deadline, it prints every thread's stack (gdb attached to this process)
//! and the caller's report, then aborts. A tokio timeout cannot do this
//! when the runtime's workers are the ones blocked.
#![allow(dead_code)]

use std::sync::mpsc;
use std::time::Duration;

/// Dropping it (the test finished) disarms the watchdog.
pub struct Watchdog {
    _disarm: mpsc::Sender<()>,
}

/// Arms a watchdog that fires after `deadline`, printing `report()`.
pub fn arm(deadline: Duration, report: impl FnOnce() -> String + Send + 'static) -> Watchdog {
    let (disarm, disarmed) = mpsc::channel::<()>();
    std::thread::spawn(move || {
        if disarmed.recv_timeout(deadline) != Err(mpsc::RecvTimeoutError::Timeout) {
            return;
        }
        let stacks = std::process::Command::new("gdb")
            .args(["-batch", "-p", &std::process::id().to_string()])
            .args(["-ex", "thread apply all bt"])
            .output()
            .map(|out| String::from_utf8_lossy(&out.stdout).into_owned())
            .unwrap_or_else(|e| format!("gdb: {e}"));
        eprintln!("stalled for {deadline:?}\n{}\nthreads:\n{stacks}", report());
        std::process::abort();
    });
    Watchdog { _disarm: disarm }
}
