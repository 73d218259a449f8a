//! Who owns a run: a process identified by its pid and start time, so a
//! reused pid is not mistaken for the process that crashed, on a named
//! host, so one machine never judges another's processes.

use std::fmt;
use std::str::FromStr;

/// A process as `pid:start` (start time in clock ticks since boot, from
/// `/proc/<pid>/stat`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ProcessId {
    /// The pid.
    pub pid: u32,
    /// Its start time.
    pub start: u64,
}

impl ProcessId {
    /// This process.
    pub fn current() -> Self {
        Self::of(std::process::id()).unwrap_or(Self {
            pid: std::process::id(),
            start: 0,
        })
    }

    /// The process with `pid`, if it exists.
    pub fn of(pid: u32) -> Option<Self> {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
        // The command name may hold spaces and parentheses; fields resume
        // after the last ')'. starttime is field 22, the 20th after it.
        let after = stat.rsplit_once(')')?.1;
        let fields: Vec<&str> = after.split_whitespace().collect();
        if fields.first() == Some(&"Z") {
            return None; // a zombie has exited
        }
        let start = fields.get(19)?.parse().ok()?;
        Some(Self { pid, start })
    }

    /// Whether this very process (same pid, same start) is still running.
    pub fn is_alive(&self) -> bool {
        Self::of(self.pid).is_some_and(|now| now.start == self.start)
    }
}

impl fmt::Display for ProcessId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "pid:{}:{}", self.pid, self.start)
    }
}

impl FromStr for ProcessId {
    type Err = ();
    fn from_str(s: &str) -> Result<Self, ()> {
        let mut parts = s.strip_prefix("pid:").ok_or(())?.split(':');
        let pid = parts.next().ok_or(())?.parse().map_err(|_| ())?;
        let start = parts.next().ok_or(())?.parse().map_err(|_| ())?;
        Ok(Self { pid, start })
    }
}

/// Who owns a run: an executor's process and the host it runs on,
/// `pid:PID:START@HOST`. Executors sharing a run store across machines
/// (servers on one PostgreSQL) judge only owners on their own host: a
/// process id means nothing elsewhere.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Owner {
    /// The executor's process.
    pub process: ProcessId,
    /// Its host name; `None` in records written before hosts were noted,
    /// which are taken as local.
    pub host: Option<String>,
}

impl Owner {
    /// This process on this host.
    pub fn current() -> Self {
        Self {
            process: ProcessId::current(),
            host: this_host(),
        }
    }

    /// Whether this machine can tell if the owner still runs.
    pub fn is_here(&self) -> bool {
        match &self.host {
            None => true,
            Some(host) => this_host().as_deref() == Some(host.as_str()),
        }
    }
}

/// The kernel's host name (a container's own, so two containers on one
/// machine are two hosts, as their pid namespaces are).
fn this_host() -> Option<String> {
    let name = std::fs::read_to_string("/proc/sys/kernel/hostname").ok()?;
    let name = name.trim();
    (!name.is_empty()).then(|| name.to_owned())
}

impl fmt::Display for Owner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.host {
            Some(host) => write!(f, "{}@{host}", self.process),
            None => write!(f, "{}", self.process),
        }
    }
}

impl FromStr for Owner {
    type Err = ();
    fn from_str(s: &str) -> Result<Self, ()> {
        let (process, host) = match s.split_once('@') {
            Some((process, host)) if !host.is_empty() => (process, Some(host.to_owned())),
            Some(_) => return Err(()),
            None => (s, None),
        };
        Ok(Self {
            process: process.parse()?,
            host,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn owners_name_their_host_and_only_local_ones_are_judged() {
        let me = Owner::current();
        assert!(me.host.is_some());
        assert_eq!(me.to_string().parse::<Owner>(), Ok(me.clone()));
        assert!(me.is_here());
        let elsewhere = Owner {
            host: Some("another-machine".into()),
            ..me.clone()
        };
        assert!(!elsewhere.is_here());
        // A record from before hosts were noted is local.
        let legacy: Owner = me.process.to_string().parse().unwrap();
        assert_eq!(legacy.host, None);
        assert!(legacy.is_here());
        assert!("pid:1:2@".parse::<Owner>().is_err());
    }

    #[test]
    fn the_current_process_is_alive_and_round_trips() {
        let me = ProcessId::current();
        assert!(me.is_alive());
        assert_eq!(me.to_string().parse::<ProcessId>(), Ok(me));
        let reused = ProcessId {
            pid: me.pid,
            start: me.start + 1,
        };
        assert!(!reused.is_alive());
    }

    #[test]
    fn an_exited_child_is_not_alive() {
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let id = ProcessId::of(child.id());
        child.wait().unwrap();
        if let Some(id) = id {
            assert!(!id.is_alive());
        }
    }
}
