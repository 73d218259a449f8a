//! Batches: a selection of pipelines validated as a whole (every file
//! parses, the DAG has no cycle, every `ref()` can be satisfied, every SQL
//! file is one SELECT — nothing runs otherwise), then run in DAG order by a
//! driver task of the process that accepted it: independent pipelines at
//! once, up to the batch's parallelism; what depends on a failure skipped.
//! Its progress is saved in the batch store after every change, so any
//! process sharing the store follows it, and a cancel asked for anywhere
//! reaches the driver.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use futures::StreamExt;
use rat_core::{
    Batch, BatchItem, BatchStore, Error, ErrorKind, Executor, ItemState, LogCursor, ProjectSource,
    Result, RunId, RunLimits, RunRequest, RunStatus, TableRef,
};
use tokio::sync::mpsc;

use rat_core::RunGate;
use rat_core::authz::Action;

use super::{Platform, parse_namespace};
use crate::api::BatchRequest;

/// How often a driver looks for a cancel request, and retries a
/// submission the executor's queue refused.
const TICK: Duration = Duration::from_millis(200);

impl Platform {
    /// Validates `request` as a whole, records the batch and starts its
    /// driver.
    pub(super) async fn start_batch(&self, request: &BatchRequest) -> Result<Batch> {
        let (namespace, targets) = selection(request)?;
        let engine = self.engine_for(&namespace).await?;
        let source = ProjectSource::of(&namespace);
        let mut plan = engine.plan(&source, &targets).await?;
        if request.downstream {
            let mut wanted: BTreeSet<TableRef> = plan.order.iter().cloned().collect();
            for table in &plan.order {
                wanted.extend(plan.dag.downstream(table));
            }
            let wanted: Vec<TableRef> = wanted.into_iter().collect();
            plan = engine.plan(&source, &wanted).await?;
        }
        for table in &plan.order {
            self.check_run(table).await?;
        }
        let items = plan
            .order
            .iter()
            .map(|t| BatchItem::waiting(t.clone(), plan.upstream_in_plan(t).into_iter().collect()))
            .collect();
        let batch = Batch::new(namespace, items);
        self.batch_store()
            .insert_batch(&batch, &self.inner.owner)
            .await?;
        let driver = Driver {
            executor: self.executor().clone(),
            store: self.batch_store().clone(),
            limits: request.limits.clone(),
            parallel: request.parallel.unwrap_or(usize::MAX),
            actor: self.run_actor(),
        };
        tokio::spawn(driver.drive(batch.clone()));
        Ok(batch)
    }

    pub(super) async fn read_batch(&self, id: &str) -> Result<Batch> {
        self.checked_batch(Action::Discover, id).await
    }

    /// A batch, refused as absent unless the caller may see every
    /// pipeline of it, and as `forbidden` unless it may do `action` to
    /// each.
    async fn checked_batch(&self, action: Action, id: &str) -> Result<Batch> {
        let batch = self.batch_store().batch(id).await?;
        for item in &batch.items {
            self.check(action, &item.table, || rat_core::batch::batch_not_found(id))
                .await?;
        }
        Ok(batch)
    }

    /// Asks the batch's driver (in whichever process) to stop it; the
    /// batch as it is right after.
    pub(super) async fn stop_batch(&self, id: &str) -> Result<Batch> {
        self.checked_batch(Action::Write, id).await?;
        self.batch_store().request_batch_cancel(id).await?;
        self.batch_store().batch(id).await
    }

    /// Ends the batches whose driver was a process of this machine that no
    /// longer runs: what waited is skipped, the batch failed (its runs are
    /// reconciled by their executors).
    pub(crate) async fn reconcile_batches(&self) -> Result<()> {
        for (mut batch, owner) in self.batch_store().unfinished_batches().await? {
            let Ok(owner) = owner.parse::<rat_executor::Owner>() else {
                continue;
            };
            if !owner.is_here() || owner.process.is_alive() {
                continue;
            }
            for item in &mut batch.items {
                if item.state == ItemState::Waiting {
                    skip(item, "the process driving the batch ended");
                }
            }
            batch.status = RunStatus::Failed;
            batch.finished_at = Some(Utc::now());
            self.batch_store().update_batch(&batch).await?;
        }
        Ok(())
    }
}

/// The namespace and pipelines a request names; errors name the field.
fn selection(request: &BatchRequest) -> Result<(rat_core::Identifier, Vec<TableRef>)> {
    let namespace = parse_namespace(
        request
            .namespace
            .as_deref()
            .unwrap_or(rat_core::DEFAULT_NAMESPACE),
    )?;
    request
        .limits
        .validate()
        .map_err(|e| e.with_context("field", "limits"))?;
    if request.parallel == Some(0) {
        return Err(Error::invalid("parallel must be at least 1").with_context("field", "parallel"));
    }
    match (request.all, request.pipelines.is_empty()) {
        (true, false) => {
            return Err(Error::invalid("give either pipelines or all, not both")
                .with_context("field", "all"));
        }
        (false, true) => {
            return Err(
                Error::invalid("name the pipelines to run, or set all to run every one")
                    .with_context("field", "pipelines"),
            );
        }
        _ => {}
    }
    let mut targets = Vec::new();
    for name in &request.pipelines {
        let table = TableRef::parse(name, namespace.as_str())
            .map_err(|e| e.with_context("field", "pipelines"))?;
        if table.namespace != namespace {
            return Err(Error::invalid(format!(
                "pipeline '{table}' is not in namespace '{namespace}': a batch runs one namespace's pipelines"
            ))
            .with_context("field", "pipelines"));
        }
        targets.push(table);
    }
    Ok((namespace, targets))
}

fn skip(item: &mut BatchItem, reason: impl Into<String>) {
    item.state = ItemState::Skipped;
    item.reason = Some(reason.into());
}

/// Runs one batch to its end.
struct Driver {
    executor: Arc<dyn Executor>,
    store: Arc<dyn BatchStore>,
    limits: RunLimits,
    parallel: usize,
    /// Whom its runs act for, and their gate (none without an authorizer).
    actor: Option<(String, Arc<dyn RunGate>)>,
}

impl Driver {
    async fn drive(self, mut batch: Batch) {
        if let Err(e) = self.run(&mut batch).await {
            tracing::warn!(batch = %batch.id, "batch driver: {e}");
            for item in &mut batch.items {
                if item.state == ItemState::Waiting {
                    skip(item, format!("the batch stopped: {e}"));
                }
            }
            batch.status = RunStatus::Failed;
            batch.finished_at = Some(Utc::now());
            let _ = self.store.update_batch(&batch).await;
        }
    }

    async fn run(&self, batch: &mut Batch) -> Result<()> {
        let (done_tx, mut done_rx) = mpsc::unbounded_channel::<usize>();
        let mut ticks = tokio::time::interval(TICK);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut cancelled = false;
        loop {
            self.start_ready(batch, &done_tx).await?;
            self.store.update_batch(batch).await?;
            if batch.tables_in(ItemState::Running).next().is_none()
                && batch.tables_in(ItemState::Waiting).next().is_none()
            {
                batch.status = batch.outcome();
                batch.finished_at = Some(Utc::now());
                return self.store.update_batch(batch).await;
            }
            tokio::select! {
                Some(index) = done_rx.recv() => self.finished(batch, index).await?,
                _ = ticks.tick() => {}
            }
            if !cancelled && self.store.batch(&batch.id).await?.cancel_requested {
                cancelled = true;
                batch.cancel_requested = true;
                for item in batch.items.iter().filter(|i| i.state == ItemState::Running) {
                    if let Some(run) = &item.run_id {
                        // A run that already ended cannot be cancelled.
                        let _ = self.executor.cancel(run).await;
                    }
                }
            }
        }
    }

    /// Starts what is ready, upstream first, while the batch may run
    /// more; skips what can no longer run.
    async fn start_ready(
        &self,
        batch: &mut Batch,
        done: &mpsc::UnboundedSender<usize>,
    ) -> Result<()> {
        let failed: HashMap<TableRef, bool> = batch
            .items
            .iter()
            .map(|i| (i.table.clone(), i.failed()))
            .collect();
        let finished: BTreeSet<TableRef> = batch.tables_in(ItemState::Finished).cloned().collect();
        let mut running = batch.tables_in(ItemState::Running).count();
        for index in 0..batch.items.len() {
            let item = &mut batch.items[index];
            if item.state != ItemState::Waiting {
                continue;
            }
            if batch.cancel_requested {
                skip(item, "cancelled");
                continue;
            }
            if let Some(upstream) = item.upstream.iter().find(|u| failed.get(*u) == Some(&true)) {
                let reason = format!("upstream {} failed", upstream.short());
                skip(item, reason);
                continue;
            }
            if !item.upstream.iter().all(|u| finished.contains(u)) || running >= self.parallel {
                continue;
            }
            let mut request =
                RunRequest::pipeline(item.table.clone()).with_limits(self.limits.clone());
            if let Some((who, gate)) = &self.actor {
                request = request.acting_for(who, gate.clone());
            }
            match self.executor.submit(request).await {
                Ok(run) => {
                    item.state = ItemState::Running;
                    item.run_id = Some(run.clone());
                    running += 1;
                    tokio::spawn(wait_for_end(
                        self.executor.clone(),
                        run,
                        index,
                        done.clone(),
                    ));
                }
                // Tried again on the next tick.
                Err(e) if e.kind() == ErrorKind::QueueFull => return Ok(()),
                Err(e) => skip(item, format!("could not be submitted: {e}")),
            }
        }
        Ok(())
    }

    /// Records how item `index`'s run ended.
    async fn finished(&self, batch: &mut Batch, index: usize) -> Result<()> {
        let item = &mut batch.items[index];
        let Some(run) = &item.run_id else {
            return Ok(());
        };
        let record = self.executor.status(run).await?;
        item.state = ItemState::Finished;
        item.status = Some(record.status);
        Ok(())
    }
}

/// Reports `index` once its run's log ends (the run ended).
async fn wait_for_end(
    executor: Arc<dyn Executor>,
    run: RunId,
    index: usize,
    done: mpsc::UnboundedSender<usize>,
) {
    let cursor = LogCursor {
        from_seq: i64::MAX as u64,
        follow: true,
    };
    if let Ok(mut lines) = executor.logs(&run, cursor).await {
        while lines.next().await.is_some() {}
    }
    // The log may end before the record does: wait for the record.
    while executor
        .status(&run)
        .await
        .is_ok_and(|r| !r.status.is_terminal())
    {
        tokio::time::sleep(TICK).await;
    }
    let _ = done.send(index);
}
