//! `rat cancel <run>`: a request through the run store; the process running
//! the run stops it (its branch is removed, main unchanged).

use crate::workspace::Place;
use std::time::{Duration, Instant};

use rat_core::{Result, RunId, RunStore};
use serde_json::json;

use crate::output::{EXIT_OK, print_json};
use crate::workspace::Workspace;

/// How long to wait for the run to stop before reporting "requested".
const WAIT: Duration = Duration::from_secs(5);

pub(crate) async fn cancel(place: &Place, run: &str, json: bool) -> Result<u8> {
    let run: RunId = run.parse()?;
    let ws = Workspace::open(place).await?;
    ws.store.request_cancel(&run).await?;
    let started = Instant::now();
    let mut record = ws.store.get(&run).await?;
    while !record.status.is_terminal() && started.elapsed() < WAIT {
        tokio::time::sleep(Duration::from_millis(100)).await;
        record = ws.store.get(&run).await?;
    }
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
