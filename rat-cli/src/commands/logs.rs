//! `rat logs <run> [-f]`: the run's stored lines, or with `-f` its lines
//! as they happen until it ends, wherever it runs.

use futures::StreamExt;
use rat_core::{LogRecord, Result, RunId};
use rat_server::MAX_LOG_PAGE;
use rat_server::api::PlatformApi;

use crate::output::EXIT_OK;

pub(crate) async fn logs(api: &dyn PlatformApi, run: &str, follow: bool, json: bool) -> Result<u8> {
    let run: RunId = run.parse()?;
    if follow {
        let mut lines = api.follow_logs(&run, 0).await?;
        while let Some(line) = lines.next().await {
            print_line(&line, json);
        }
        return Ok(EXIT_OK);
    }
    let mut from_seq = 0;
    loop {
        let page = api.logs(&run, from_seq, MAX_LOG_PAGE).await?;
        for line in &page {
            print_line(line, json);
        }
        match page.last() {
            Some(last) if page.len() == MAX_LOG_PAGE as usize => from_seq = last.seq + 1,
            _ => return Ok(EXIT_OK),
        }
    }
}

fn print_line(line: &LogRecord, json: bool) {
    if json {
        // One JSON object per line, so a script can read as it comes.
        println!("{}", serde_json::to_string(line).unwrap_or_default());
    } else {
        let level = format!("{:?}", line.level).to_uppercase();
        println!(
            "{} {level:<5} {}",
            line.at.format("%H:%M:%S%.3f"),
            line.message
        );
    }
}
