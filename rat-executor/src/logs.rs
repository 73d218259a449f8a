//! [`LogBuffer`]: a run's recent log lines in a bounded ring buffer, with
//! followers that get the backlog first and then every new line, in order.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use chrono::Utc;
use futures::StreamExt;
use futures::stream::BoxStream;
use rat_core::{LogCursor, LogLevel, LogRecord};
use tokio::sync::watch;

/// Default number of lines kept per run.
pub const DEFAULT_LOG_CAPACITY: usize = 10_000;

#[derive(Debug)]
struct State {
    records: VecDeque<LogRecord>,
    capacity: usize,
    next_seq: u64,
    closed: bool,
}

/// The log of one run while it is live.
///
/// ```
/// # tokio_test_block_on(async {
/// use futures::StreamExt;
/// use rat_core::{LogCursor, LogLevel};
/// use rat_executor::LogBuffer;
///
/// let logs = LogBuffer::new(2);
/// for i in 0..3 {
///     logs.push(LogLevel::Info, format!("line {i}"));
/// }
/// logs.close();
/// let lines: Vec<String> = logs.follow(LogCursor::default()).map(|r| r.message).collect().await;
/// assert!(lines[0].contains("1 earlier log line was dropped"));
/// assert_eq!(&lines[1..], ["line 1", "line 2"]);
/// # });
/// # fn tokio_test_block_on<F: std::future::Future>(f: F) -> F::Output {
/// #     tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(f)
/// # }
/// ```
#[derive(Debug)]
pub struct LogBuffer {
    state: Mutex<State>,
    /// Bumped on every change; followers wait on it.
    version: watch::Sender<u64>,
}

impl LogBuffer {
    /// A buffer keeping the last `capacity` lines.
    pub fn new(capacity: usize) -> Arc<Self> {
        Arc::new(Self {
            state: Mutex::new(State {
                records: VecDeque::new(),
                capacity: capacity.max(1),
                next_seq: 0,
                closed: false,
            }),
            version: watch::Sender::new(0),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Appends a line, numbering it.
    pub fn push(&self, level: LogLevel, message: String) -> LogRecord {
        let record = {
            let mut state = self.lock();
            let record = LogRecord::now(state.next_seq, level, message);
            Self::store(&mut state, record.clone());
            record
        };
        self.version.send_modify(|v| *v += 1);
        record
    }

    /// Appends a line numbered elsewhere (a runner process); lines at or
    /// below what the buffer already holds are ignored, so re-reading a
    /// source after a restart adds no duplicate.
    pub fn push_record(&self, record: LogRecord) {
        {
            let mut state = self.lock();
            if record.seq < state.next_seq {
                return;
            }
            Self::store(&mut state, record);
        }
        self.version.send_modify(|v| *v += 1);
    }

    fn store(state: &mut State, record: LogRecord) {
        state.next_seq = record.seq + 1;
        state.records.push_back(record);
        while state.records.len() > state.capacity {
            state.records.pop_front();
        }
    }

    /// No more lines will come; followers end after the backlog.
    pub fn close(&self) {
        self.lock().closed = true;
        self.version.send_modify(|v| *v += 1);
    }

    /// The next sequence number.
    pub fn next_seq(&self) -> u64 {
        self.lock().next_seq
    }

    /// Lines from `from_seq` on, with a marker first when some of them were
    /// dropped, and whether the buffer is closed.
    pub fn since(&self, from_seq: u64) -> (Vec<LogRecord>, bool) {
        let state = self.lock();
        let first = state.records.front().map_or(state.next_seq, |r| r.seq);
        let mut out = Vec::new();
        if from_seq < first {
            let dropped = first - from_seq;
            out.push(LogRecord {
                seq: first - 1,
                at: state.records.front().map_or_else(Utc::now, |r| r.at),
                level: LogLevel::Warn,
                message: format!(
                    "{dropped} earlier log line{} dropped (the buffer keeps the last {})",
                    if dropped == 1 { " was" } else { "s were" },
                    state.capacity
                ),
            });
        }
        out.extend(state.records.iter().filter(|r| r.seq >= from_seq).cloned());
        (out, state.closed)
    }

    /// The lines from `cursor.from_seq`: the backlog, then (when following)
    /// each new line as it arrives, until the buffer closes.
    pub fn follow(self: &Arc<Self>, cursor: LogCursor) -> BoxStream<'static, LogRecord> {
        let buffer = Arc::clone(self);
        let changes = buffer.version.subscribe();
        futures::stream::unfold(
            (buffer, changes, cursor.from_seq),
            move |(buffer, mut changes, next)| async move {
                loop {
                    // Mark the current version seen before reading, so a
                    // push between the read and the wait is not missed.
                    changes.borrow_and_update();
                    let (records, closed) = buffer.since(next);
                    if let Some(last) = records.last() {
                        let next = last.seq + 1;
                        return Some((records, (buffer, changes, next)));
                    }
                    if closed || !cursor.follow || changes.changed().await.is_err() {
                        return None;
                    }
                }
            },
        )
        .flat_map(futures::stream::iter)
        .boxed()
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[tokio::test]
    async fn a_live_follower_sees_every_line_in_order() {
        let logs = LogBuffer::new(100_000);
        let follower = tokio::spawn({
            let logs = Arc::clone(&logs);
            async move {
                logs.follow(LogCursor {
                    from_seq: 0,
                    follow: true,
                })
                .map(|r| r.seq)
                .collect::<Vec<_>>()
                .await
            }
        });
        for i in 0..20_000 {
            logs.push(LogLevel::Info, format!("{i}"));
            if i % 1000 == 0 {
                tokio::task::yield_now().await;
            }
        }
        logs.close();
        let seen = tokio::time::timeout(Duration::from_secs(10), follower)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(seen, (0..20_000).collect::<Vec<u64>>());
    }

    #[tokio::test]
    async fn a_late_follower_gets_the_backlog_first() {
        let logs = LogBuffer::new(10);
        for i in 0..5 {
            logs.push(LogLevel::Info, format!("{i}"));
        }
        let mut stream = logs.follow(LogCursor {
            from_seq: 2,
            follow: true,
        });
        assert_eq!(stream.next().await.unwrap().seq, 2);
        assert_eq!(stream.next().await.unwrap().seq, 3);
        assert_eq!(stream.next().await.unwrap().seq, 4);
        logs.push(LogLevel::Info, "5".into());
        assert_eq!(stream.next().await.unwrap().seq, 5);
        logs.close();
        assert!(stream.next().await.is_none());
    }

    #[tokio::test]
    async fn records_from_elsewhere_are_not_duplicated() {
        let logs = LogBuffer::new(10);
        for seq in [0, 1, 1, 0, 2] {
            logs.push_record(LogRecord {
                seq,
                at: Utc::now(),
                level: LogLevel::Info,
                message: seq.to_string(),
            });
        }
        let (lines, _) = logs.since(0);
        assert_eq!(lines.iter().map(|r| r.seq).collect::<Vec<_>>(), [0, 1, 2]);
    }
}
