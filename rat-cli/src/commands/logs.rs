//! `rat logs <run> [-f]`: from the run store, so it works from any terminal
//! while the run goes on elsewhere.

use crate::workspace::Place;
use std::time::Duration;

use futures::StreamExt;
use rat_core::{LogCursor, Result, RunId, RunStore};
use rat_executor::stored_logs;

use crate::output::EXIT_OK;
use crate::workspace::Workspace;

pub(crate) async fn logs(place: &Place, run: &str, follow: bool, json: bool) -> Result<u8> {
    let run: RunId = run.parse()?;
    let ws = Workspace::open(place).await?;
    ws.store.get(&run).await?;
    let cursor = LogCursor {
        from_seq: 0,
        follow,
    };
    let mut lines = stored_logs(ws.runs(), run, cursor, Duration::from_millis(100));
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
