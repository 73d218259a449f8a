//! `rat cancel <run>`: asks the process running the run to stop it (its
//! branch is removed, main unchanged), and waits a moment to say how it
//! ended.

use std::time::{Duration, Instant};

use rat_core::{Result, RunId};
use rat_server::api::PlatformApi;
use serde_json::json;

use crate::output::{EXIT_OK, print_json};

/// How long to wait for the run to stop before reporting "requested".
const WAIT: Duration = Duration::from_secs(5);

pub(crate) async fn cancel(api: &dyn PlatformApi, run: &str, json: bool) -> Result<u8> {
    let run: RunId = run.parse()?;
    let started = Instant::now();
    let mut record = api.cancel(&run).await?;
    while !record.status.is_terminal() && started.elapsed() < WAIT {
        tokio::time::sleep(Duration::from_millis(100)).await;
        record = api.run(&run).await?;
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
