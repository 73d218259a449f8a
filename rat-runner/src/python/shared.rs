//! Warm workers a server shares with its one-shot runners: the process
//! executor keeps interpreters started (with pyarrow and duckdb imported)
//! in folders of its own, and a runner whose pipeline is Python claims one
//! instead of starting an interpreter itself.
//!
//! Each worker has a private folder (mode 0700) in the pool folder. Once
//! its imports are done it listens on `sock` there and writes its pid to
//! `ready`. A runner claims it by creating `claimed` (exclusively, holding
//! the runner's pid, so the executor can stop the worker when that runner
//! ends), then connects three times: the connections are the script's
//! stdin, stdout and stderr, exactly as a worker of the runner's own would
//! have on pipes. The runner is not its parent: it signals the worker and
//! learns that it ended through a pidfd, and reads its exit status from
//! `/proc` (the executor reaps it only after the runner has ended).

use std::fs::OpenOptions;
use std::io::Write;
use std::os::fd::OwnedFd;
use std::os::unix::fs::DirBuilderExt;
use std::os::unix::net::UnixStream;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::Path;
use std::process::ExitStatus;
use std::time::{Instant, SystemTime};

use rat_core::runner::python_workers::{CLAIMED, READY, SOCKET, WANTED};
use rat_core::{Error, ErrorKind};
use rustix::process::{Pid, PidfdFlags, Signal};

use super::PythonConfig;
use super::worker::command;

/// A worker claimed from a server's pool: its process (not the runner's
/// child) and its three connections until the run takes them.
#[derive(Debug)]
pub(crate) struct Claimed {
    pid: Pid,
    pidfd: OwnedFd,
    pub(crate) streams: Option<[UnixStream; 3]>,
    /// When its imports were done.
    pub(crate) ready_since: Instant,
}

/// Claims the longest-ready worker in `pool`; `None` when none is ready
/// (or every claim failed: a worker that died while idle is passed over),
/// and the executor is told one was wanted.
pub(crate) fn claim(pool: &Path) -> Option<Claimed> {
    let claimed = claim_ready(pool);
    if claimed.is_none() {
        let _ = std::fs::File::create(pool.join(WANTED));
    }
    claimed
}

fn claim_ready(pool: &Path) -> Option<Claimed> {
    let mut ready: Vec<(SystemTime, std::path::PathBuf)> = std::fs::read_dir(pool)
        .ok()?
        .filter_map(|entry| {
            let folder = entry.ok()?.path();
            let since = std::fs::metadata(folder.join(READY))
                .ok()?
                .modified()
                .ok()?;
            (!folder.join(CLAIMED).exists()).then_some((since, folder))
        })
        .collect();
    ready.sort();
    ready
        .into_iter()
        .find_map(|(since, folder)| claim_one(&folder, since))
}

fn claim_one(folder: &Path, since: SystemTime) -> Option<Claimed> {
    let mut claim = OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(folder.join(CLAIMED))
        .ok()?;
    claim
        .write_all(std::process::id().to_string().as_bytes())
        .ok()?;
    let pid: i32 = std::fs::read_to_string(folder.join(READY))
        .ok()?
        .trim()
        .parse()
        .ok()?;
    let pid = Pid::from_raw(pid)?;
    let pidfd = rustix::process::pidfd_open(pid, PidfdFlags::empty()).ok()?;
    let socket = folder.join(SOCKET);
    let connect = || UnixStream::connect(&socket).ok();
    let streams = [connect()?, connect()?, connect()?];
    let ready_for = since.elapsed().unwrap_or_default();
    Some(Claimed {
        pid,
        pidfd,
        streams: Some(streams),
        ready_since: Instant::now()
            .checked_sub(ready_for)
            .unwrap_or_else(Instant::now),
    })
}

impl Claimed {
    /// Sends `signal` to the worker (through its pidfd: never to another
    /// process that reused its pid).
    pub(crate) fn signal(&self, signal: Signal) {
        let _ = rustix::process::pidfd_send_signal(&self.pidfd, signal);
    }

    /// Waits until the worker has ended (its pidfd turns readable, on a
    /// blocking thread, which the worker's end always frees: a dropped
    /// worker is killed); its exit status from `/proc`.
    pub(crate) async fn wait(&self) -> std::io::Result<ExitStatus> {
        let pidfd = self.pidfd.try_clone()?;
        tokio::task::spawn_blocking(move || {
            let mut fds = [rustix::event::PollFd::new(
                &pidfd,
                rustix::event::PollFlags::IN,
            )];
            loop {
                match rustix::event::poll(&mut fds, None) {
                    Err(rustix::io::Errno::INTR) => continue,
                    other => return other.map_err(std::io::Error::from),
                }
            }
        })
        .await
        .map_err(std::io::Error::other)??;
        exit_status(self.pid)
    }
}

/// The exit status of a process that has ended and is not reaped yet (a
/// zombie): field 52 of `/proc/<pid>/stat`, in waitpid's form.
fn exit_status(pid: Pid) -> std::io::Result<ExitStatus> {
    let stat = std::fs::read_to_string(format!("/proc/{}/stat", pid.as_raw_nonzero()))?;
    // Fields after the command name (which may hold spaces) start at 3.
    let after_name = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let code = after_name
        .split_whitespace()
        .nth(52 - 3)
        .and_then(|f| f.parse::<i32>().ok())
        .ok_or_else(|| std::io::Error::other("no exit status in /proc"))?;
    Ok(ExitStatus::from_raw(code))
}

/// Becomes a server's warm worker in `folder`: creates it (private to
/// this user), asks to be killed when the executor that started it ends,
/// and replaces this process with the interpreter serving there. Returns
/// only when that fails.
pub fn exec_worker(python: &PythonConfig, folder: &Path) -> Error {
    if let Err(e) = std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(folder)
    {
        return Error::new(
            ErrorKind::Storage,
            format!("cannot create a Python worker's folder: {e}"),
        )
        .with_context("file", folder.display());
    }
    // An executor that dies takes its idle workers with it.
    let _ = rustix::process::set_parent_process_death_signal(Some(Signal::KILL));
    let folder_text = folder.to_string_lossy().into_owned();
    let error = command(python, folder, &["serve", &folder_text]).exec();
    python.not_started(&error)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A worker that died while idle (its pid gone) is passed over, and
    /// the executor learns that a worker was wanted.
    #[test]
    fn a_worker_that_died_idle_is_passed_over_and_one_is_wanted() {
        let pool = tempfile::tempdir().unwrap();
        assert!(claim(pool.path()).is_none());
        assert!(pool.path().join(WANTED).exists());
        let mut gone = std::process::Command::new("true").spawn().unwrap();
        let pid = gone.id();
        gone.wait().unwrap();
        let folder = pool.path().join("0");
        std::fs::create_dir(&folder).unwrap();
        std::fs::write(folder.join(READY), pid.to_string()).unwrap();
        assert!(claim(pool.path()).is_none());
        // Claimed once, never again.
        assert_eq!(
            std::fs::read_to_string(folder.join(CLAIMED)).unwrap(),
            std::process::id().to_string()
        );
    }

    #[test]
    fn the_exit_status_of_an_unreaped_child_reads_from_proc() {
        let mut child = std::process::Command::new("sh")
            .args(["-c", "exit 3"])
            .spawn()
            .unwrap();
        let pid = Pid::from_raw(child.id() as i32).unwrap();
        let pidfd = rustix::process::pidfd_open(pid, PidfdFlags::empty()).unwrap();
        // Ended (the pidfd is readable), not reaped: a zombie.
        let mut fds = [rustix::event::PollFd::new(
            &pidfd,
            rustix::event::PollFlags::IN,
        )];
        rustix::event::poll(&mut fds, None).unwrap();
        assert_eq!(exit_status(pid).unwrap().code(), Some(3));
        child.wait().unwrap();
    }
}
