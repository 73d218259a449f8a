//! `rat cancel <run>`: a request through the run store; the process running
//! the run stops it (its branch is removed, main unchanged).

use std::time::{Duration, Instant};

use rat_core::{Executor, Result, RunId, RunRecord, RunStore};
use serde_json::json;

use super::Target;
use crate::output::{EXIT_OK, print_json};
use crate::workspace::Workspace;

/// How long to wait for the run to stop before reporting "requested".
const WAIT: Duration = Duration::from_secs(5);

pub(crate) async fn cancel(target: &Target, run: &str, json: bool) -> Result<u8> {
    let run: RunId = run.parse()?;
    let record = match target {
        Target::Local(place) => {
            let ws = Workspace::open(place).await?;
            ws.store.request_cancel(&run).await?;
            wait_for_end(|| ws.store.get(&run)).await?
        }
        Target::Remote(client) => {
            client.cancel(&run).await?;
            wait_for_end(|| client.status(&run)).await?
        }
    };
    if json {
        print_json(&json!({ "run_id": run, "status": record.status }));
    } else if record.status.is_terminal() {
        println!("run {run} is {}", record.status);
    } else {
        println!(
            "cancel of run {run} requested; it is still {}",
            record.status
        );
    }
    Ok(EXIT_OK)
}

/// The record once the run ended, or as it is after [`WAIT`].
async fn wait_for_end<F, Fut>(read: F) -> Result<RunRecord>
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = Result<RunRecord>>,
{
    let started = Instant::now();
    let mut record = read().await?;
    while !record.status.is_terminal() && started.elapsed() < WAIT {
        tokio::time::sleep(Duration::from_millis(100)).await;
        record = read().await?;
    }
    Ok(record)
}
