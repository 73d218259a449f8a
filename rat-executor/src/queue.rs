//! The run queue: bounded, first come first served, except that a run whose
//! namespace is at its concurrency cap waits without holding back runs of
//! other namespaces.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;

use rat_core::Identifier;
use tokio::sync::Notify;

#[derive(Debug)]
struct State<J> {
    waiting: VecDeque<(Identifier, J)>,
    /// Places promised to submissions still being recorded.
    reserved: usize,
    running: HashMap<Identifier, usize>,
    closed: bool,
}

/// Jobs waiting for a worker, tagged with their namespace.
#[derive(Debug)]
pub(crate) struct JobQueue<J> {
    state: Mutex<State<J>>,
    changed: Notify,
    capacity: usize,
    per_namespace: Option<usize>,
}

/// A place in the queue, held while a submission is recorded; released
/// when dropped unsent.
pub(crate) struct Reservation<'a, J> {
    queue: &'a JobQueue<J>,
    sent: bool,
}

impl<J> Reservation<'_, J> {
    pub(crate) fn send(mut self, namespace: Identifier, job: J) {
        self.sent = true;
        {
            let mut state = self.queue.lock();
            state.reserved -= 1;
            state.waiting.push_back((namespace, job));
        }
        self.queue.changed.notify_waiters();
    }
}

impl<J> Drop for Reservation<'_, J> {
    fn drop(&mut self) {
        if !self.sent {
            self.queue.lock().reserved -= 1;
        }
    }
}

/// Why a place could not be reserved.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Refused {
    Full,
    Closed,
}

impl<J> JobQueue<J> {
    pub(crate) fn new(capacity: usize, per_namespace: Option<usize>) -> Self {
        Self {
            state: Mutex::new(State {
                waiting: VecDeque::new(),
                reserved: 0,
                running: HashMap::new(),
                closed: false,
            }),
            changed: Notify::new(),
            capacity: capacity.max(1),
            per_namespace: per_namespace.map(|n| n.max(1)),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State<J>> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub(crate) fn try_reserve(&self) -> Result<Reservation<'_, J>, Refused> {
        let mut state = self.lock();
        if state.closed {
            return Err(Refused::Closed);
        }
        if state.waiting.len() + state.reserved >= self.capacity {
            return Err(Refused::Full);
        }
        state.reserved += 1;
        Ok(Reservation {
            queue: self,
            sent: false,
        })
    }

    /// The oldest job whose namespace is under its cap, counted as running
    /// until [`done`](Self::done); waits while there is none. `None` once
    /// closed.
    pub(crate) async fn next(&self) -> Option<(Identifier, J)> {
        loop {
            let notified = self.changed.notified();
            tokio::pin!(notified);
            // Registered before looking, so a change in between wakes us.
            notified.as_mut().enable();
            {
                let mut state = self.lock();
                if state.closed {
                    return None;
                }
                let cap = self.per_namespace.unwrap_or(usize::MAX);
                let admissible = state
                    .waiting
                    .iter()
                    .position(|(ns, _)| state.running.get(ns).copied().unwrap_or(0) < cap);
                if let Some(job) = admissible.and_then(|i| state.waiting.remove(i)) {
                    *state.running.entry(job.0.clone()).or_default() += 1;
                    return Some(job);
                }
            }
            notified.await;
        }
    }

    /// A job of `namespace` taken by [`next`](Self::next) ended.
    pub(crate) fn done(&self, namespace: &Identifier) {
        {
            let mut state = self.lock();
            if let Some(n) = state.running.get_mut(namespace) {
                *n -= 1;
                if *n == 0 {
                    state.running.remove(namespace);
                }
            }
        }
        self.changed.notify_waiters();
    }

    /// Takes out a waiting job (a run cancelled before it started).
    pub(crate) fn remove(&self, matches: impl Fn(&J) -> bool) -> Option<J> {
        let mut state = self.lock();
        let i = state.waiting.iter().position(|(_, j)| matches(j))?;
        state.waiting.remove(i).map(|(_, j)| j)
    }

    /// Wakes the workers to stop; waiting jobs are dropped.
    pub(crate) fn close(&self) {
        self.lock().closed = true;
        self.changed.notify_waiters();
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::Duration;

    use super::*;

    fn ns(name: &str) -> Identifier {
        rat_core::ident::namespace(name).unwrap()
    }

    #[tokio::test]
    async fn a_namespace_at_its_cap_does_not_hold_back_others() {
        let queue = JobQueue::new(10, Some(1));
        for (n, job) in [("a", 1), ("a", 2), ("b", 3)] {
            queue.try_reserve().unwrap().send(ns(n), job);
        }
        assert_eq!(queue.next().await, Some((ns("a"), 1)));
        // a is at its cap: b's job goes first.
        assert_eq!(queue.next().await, Some((ns("b"), 3)));
        let queue = Arc::new(queue);
        let waiter = tokio::spawn({
            let queue = Arc::clone(&queue);
            async move { queue.next().await }
        });
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(!waiter.is_finished(), "a's second job must wait");
        queue.done(&ns("a"));
        let next = tokio::time::timeout(Duration::from_secs(5), waiter).await;
        assert_eq!(next.unwrap().unwrap(), Some((ns("a"), 2)));
    }

    #[tokio::test]
    async fn reservations_count_against_the_bound_until_dropped() {
        let queue = JobQueue::<u8>::new(2, None);
        let first = queue.try_reserve().unwrap();
        let second = queue.try_reserve().unwrap();
        assert_eq!(queue.try_reserve().err(), Some(Refused::Full));
        drop(first);
        second.send(ns("a"), 1);
        assert!(queue.try_reserve().is_ok());
        assert_eq!(queue.remove(|j| *j == 1), Some(1));
        queue.close();
        assert_eq!(queue.next().await, None);
        assert_eq!(queue.try_reserve().err(), Some(Refused::Closed));
    }
}
