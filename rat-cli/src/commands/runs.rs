//! `rat runs`.

use rat_core::{Result, RunFilter};
use rat_server::api::PlatformApi;

use crate::output::{EXIT_OK, print_json, print_table};

pub(crate) async fn runs(api: &dyn PlatformApi, filter: &RunFilter, json: bool) -> Result<u8> {
    let records = api.runs(filter).await?;
    if json {
        print_json(&records);
        return Ok(EXIT_OK);
    }
    if records.is_empty() {
        println!("No runs yet.");
        return Ok(EXIT_OK);
    }
    let rows: Vec<Vec<String>> = records
        .iter()
        .map(|r| {
            let took = match (r.started_at, r.finished_at) {
                (Some(s), Some(f)) => format!("{:.1}s", (f - s).num_milliseconds() as f64 / 1000.0),
                _ => "-".into(),
            };
            let note = r.error.as_ref().map_or(String::new(), |e| {
                let line = e.message.lines().next().unwrap_or_default();
                line.chars().take(60).collect()
            });
            vec![
                r.run_id.to_string(),
                r.table.to_string(),
                r.status.to_string(),
                r.phase.map_or("-".into(), |p| p.to_string()),
                r.submitted_at.format("%Y-%m-%d %H:%M:%S").to_string(),
                took,
                r.executor.clone(),
                note,
            ]
        })
        .collect();
    print_table(
        &[
            "run",
            "table",
            "status",
            "phase",
            "submitted (UTC)",
            "took",
            "executor",
            "error",
        ],
        &rows,
    );
    Ok(EXIT_OK)
}
