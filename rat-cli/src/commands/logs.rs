//! `rat logs <run> [-f]`: from the run store, so it works from any terminal
//! while the run goes on elsewhere.

use std::time::Duration;

use futures::StreamExt;
use rat_core::{Executor, LogCursor, Result, RunId, RunStore};
use rat_executor::stored_logs;

use super::Target;
use crate::output::EXIT_OK;
use crate::workspace::Workspace;

pub(crate) async fn logs(target: &Target, run: &str, follow: bool, json: bool) -> Result<u8> {
    let run: RunId = run.parse()?;
    let cursor = LogCursor {
        from_seq: 0,
        follow,
    };
    let mut lines = match target {
        Target::Local(place) => {
            let ws = Workspace::open(place).await?;
            ws.store.get(&run).await?;
            stored_logs(ws.runs(), run, cursor, Duration::from_millis(100))
        }
        // Pushed by the server as they happen (server-sent events).
        Target::Remote(client) => client.logs(&run, cursor).await?,
    };
    while let Some(line) = lines.next().await {
        if json {
            // One JSON object per line, so a script can read as it comes.
            println!("{}", serde_json::to_string(&line).unwrap_or_default());
        } else {
            let level = format!("{:?}", line.level).to_uppercase();
            println!(
                "{} {level:<5} {}",
                line.at.format("%H:%M:%S%.3f"),
                line.message
            );
        }
    }
    Ok(EXIT_OK)
}
