//! `rat versions <pipeline> [--show N | --rollback N [-m MESSAGE]]`.

use rat_core::{Result, TableRef};
use rat_server::api::{PipelineVersion, PlatformApi, VersionNote, VersionSummary};

use crate::output::{EXIT_OK, print_json, print_table};

/// What `rat versions` was asked to do.
pub(crate) enum Action {
    /// The newest versions, at most this many.
    List(u32),
    /// One version's files.
    Show(u64),
    /// A version's files published again, with a message.
    Rollback(u64, Option<String>),
}

pub(crate) async fn versions(
    api: &dyn PlatformApi,
    table: &TableRef,
    action: Action,
    json: bool,
) -> Result<u8> {
    match action {
        Action::List(limit) => {
            let page = api.pipeline_versions(table, limit, 0).await?;
            if json {
                print_json(&page.items);
            } else if page.items.is_empty() {
                println!("{table} has no saved version yet.");
            } else {
                print_versions(&page.items);
            }
        }
        Action::Show(number) => {
            let version = api.pipeline_version(table, number).await?;
            if json {
                print_json(&version);
            } else {
                print_version(&version);
            }
        }
        Action::Rollback(number, message) => {
            let detail = api
                .rollback_pipeline(table, number, &VersionNote { message })
                .await?;
            if json {
                print_json(&detail);
            } else {
                let now = detail.version.map_or("-".into(), |v| v.version.to_string());
                println!("{table}: version {number}'s code is published again as version {now}");
            }
        }
    }
    Ok(EXIT_OK)
}

fn print_versions(versions: &[VersionSummary]) {
    let rows: Vec<Vec<String>> = versions
        .iter()
        .map(|v| {
            vec![
                v.version.to_string(),
                v.state.to_string(),
                v.created_at.format("%Y-%m-%d %H:%M:%S").to_string(),
                v.author.clone().unwrap_or_else(|| "-".into()),
                v.message.clone().unwrap_or_default(),
            ]
        })
        .collect();
    print_table(&["version", "state", "saved (UTC)", "by", "message"], &rows);
}

fn print_version(version: &PipelineVersion) {
    let v = &version.summary;
    println!(
        "{} version {} ({}), saved {} by {}",
        v.table,
        v.version,
        v.state,
        v.created_at.format("%Y-%m-%d %H:%M:%S UTC"),
        v.author.as_deref().unwrap_or("-"),
    );
    if let Some(message) = &v.message {
        println!("  {message}");
    }
    let files = &version.files;
    let code = [("pipeline.sql", &files.sql), ("pipeline.py", &files.python)];
    let config = [("config.yaml", &files.config)];
    for (name, text) in code.iter().chain(config.iter()) {
        if let Some(text) = text {
            println!("\n--- {name}\n{}", text.trim_end());
        }
    }
    for (name, sql) in &files.tests {
        println!("\n--- tests/quality/{name}.sql\n{}", sql.trim_end());
    }
}
