//! Text and JSON output, exit codes, logging setup.

use std::io::IsTerminal;

use rat_core::{Error, ErrorKind};
use serde_json::json;

/// Everything succeeded.
pub(crate) const EXIT_OK: u8 = 0;
/// A run or the command failed.
pub(crate) const EXIT_FAILURE: u8 = 1;
/// Invalid input; nothing was changed.
pub(crate) const EXIT_INVALID: u8 = 2;

/// Logs go to stderr; stdout carries results only.
pub(crate) fn init_tracing(verbose: u8) {
    let level = match verbose {
        0 => "warn",
        1 => "info",
        _ => "debug",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_env("RAT_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(level));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        // A closed stderr drops log lines; reporting that would panic.
        .log_internal_errors(false)
        .try_init();
}

/// Prints an error and returns the exit code for it.
pub(crate) fn report_error(err: &Error, json: bool) -> u8 {
    let code = exit_code(err);
    if json {
        let body = json!({
            "error": {
                "kind": err.kind().as_str(),
                "message": err.to_string(),
                "file": err.context("file"),
            }
        });
        println!("{body}");
    } else {
        eprintln!("error: {err}");
    }
    code
}

fn exit_code(err: &Error) -> u8 {
    match err.kind() {
        // Missing or wrong credentials (RAT_TOKEN) are the caller's to fix.
        ErrorKind::InvalidInput
        | ErrorKind::TooLarge
        | ErrorKind::Unauthorized
        | ErrorKind::Forbidden => EXIT_INVALID,
        _ => EXIT_FAILURE,
    }
}

/// Whether stderr is a terminal (progress display on).
pub(crate) fn interactive() -> bool {
    std::io::stderr().is_terminal()
}

/// Prints rows as aligned columns.
pub(crate) fn print_table(headers: &[&str], rows: &[Vec<String>]) {
    let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (i, cell) in row.iter().enumerate() {
            if let Some(w) = widths.get_mut(i) {
                *w = (*w).max(cell.chars().count());
            }
        }
    }
    let line = |cells: Vec<&str>| {
        let padded: Vec<String> = cells
            .iter()
            .zip(&widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect();
        println!("{}", padded.join("  ").trim_end());
    };
    line(headers.to_vec());
    line(
        widths
            .iter()
            .map(|w| "-".repeat(*w))
            .collect::<Vec<_>>()
            .iter()
            .map(String::as_str)
            .collect(),
    );
    for row in rows {
        line(row.iter().map(String::as_str).collect());
    }
}

/// Prints a JSON value on stdout.
pub(crate) fn print_json(value: &impl serde::Serialize) {
    match serde_json::to_string_pretty(value) {
        Ok(text) => println!("{text}"),
        Err(e) => eprintln!("error: cannot encode JSON: {e}"),
    }
}

/// Prints a query's rows as a table (`NULL` for nulls, strings bare).
pub(crate) fn print_output(out: &rat_server::api::QueryOutput) {
    let rows: Vec<Vec<String>> = out
        .rows
        .iter()
        .map(|row| {
            row.iter()
                .map(|v| match v {
                    serde_json::Value::Null => "NULL".to_owned(),
                    serde_json::Value::String(s) => s.clone(),
                    other => other.to_string(),
                })
                .collect()
        })
        .collect();
    let headers: Vec<&str> = out.columns.iter().map(String::as_str).collect();
    print_table(&headers, &rows);
}
