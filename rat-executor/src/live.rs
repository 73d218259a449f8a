//! [`LiveRun`]: a run this process is executing, as its launcher sees it:
//! the record, cancellation, the live log and what of it reached the store.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use rat_core::{LogLevel, LogRecord, LogSink, Phase, RunId, RunRecord, RunStore, Transition};
use tokio_util::sync::CancellationToken;

use crate::logs::LogBuffer;

/// A run this process is executing or recently executed. Launchers log to
/// it (it is a [`LogSink`]), watch its cancellation, and record their
/// handle on the work through it.
#[derive(Debug)]
pub struct LiveRun {
    record: Mutex<RunRecord>,
    cancel: CancellationToken,
    pub(crate) logs: Arc<LogBuffer>,
    /// Log lines before this sequence number are in the store.
    flushed: AtomicU64,
    /// Last phase written to the store.
    stored_phase: Mutex<Option<Phase>>,
}

impl LiveRun {
    pub(crate) fn new(record: RunRecord, log_capacity: usize) -> Arc<Self> {
        let stored_phase = record.phase;
        Arc::new(Self {
            record: Mutex::new(record),
            cancel: CancellationToken::new(),
            logs: LogBuffer::new(log_capacity),
            flushed: AtomicU64::new(0),
            stored_phase: Mutex::new(stored_phase),
        })
    }

    /// The run's record as this process knows it.
    pub fn snapshot(&self) -> RunRecord {
        self.record
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    pub(crate) fn update(&self, f: impl FnOnce(&mut RunRecord)) {
        f(&mut self.record.lock().unwrap_or_else(|p| p.into_inner()));
    }

    /// The run's id.
    pub fn run_id(&self) -> RunId {
        self.snapshot().run_id
    }

    /// Cancelled when the run is asked to stop (here or, through the store,
    /// from another process).
    pub fn cancellation(&self) -> &CancellationToken {
        &self.cancel
    }

    /// Appends a line numbered by the runner that emitted it; a line already
    /// seen (a source re-read after a restart) is ignored.
    pub fn push_record(&self, record: LogRecord) {
        self.logs.push_record(record);
    }

    /// Records the executor's handle on the work, here and in the store.
    pub async fn set_handle(
        &self,
        handle: String,
        store: &Arc<dyn RunStore>,
    ) -> rat_core::Result<()> {
        self.update(|r| r.handle = Some(handle.clone()));
        store
            .transition(&self.run_id(), Transition::Handle(handle))
            .await
    }

    pub(crate) fn mark_flushed(&self, next: u64) {
        self.flushed.store(next, Ordering::SeqCst);
    }

    /// Writes new log lines and a changed phase to the store. A launcher
    /// calls it before persisting a cursor into its log source, so the
    /// cursor never runs ahead of what the store holds.
    pub async fn flush(&self, store: &Arc<dyn RunStore>) {
        let from = self.flushed.load(Ordering::SeqCst);
        let (lines, _) = self.logs.since(from);
        let run = self.run_id();
        if let Some(last) = lines.last() {
            let next = last.seq + 1;
            match store.append_logs(&run, &lines).await {
                Ok(()) => self.flushed.store(next, Ordering::SeqCst),
                Err(e) => tracing::warn!("cannot store logs of run {run}: {e}"),
            }
        }
        let phase = self.snapshot().phase;
        let changed = {
            let mut stored = self.stored_phase.lock().unwrap_or_else(|p| p.into_inner());
            let changed = *stored != phase;
            *stored = phase;
            changed
        };
        if let (true, Some(phase)) = (changed, phase) {
            let _ = store.transition(&run, Transition::Phase(phase)).await;
        }
    }
}

impl LogSink for LiveRun {
    fn log(&self, level: LogLevel, message: String) {
        self.logs.push(level, message);
    }

    fn phase(&self, phase: Phase) {
        self.update(|r| r.phase = Some(phase));
    }
}
