//! `rat preview PIPELINE` and `rat compile PIPELINE`: a dry run's rows,
//! or only what the pipeline compiles to.

use std::path::Path;

use rat_core::{Error, Result, TableRef};
use rat_server::api::{CompiledPipeline, PlatformApi, PreviewRequest};

use crate::output::{EXIT_OK, print_json, print_output};

pub(crate) async fn preview(
    api: &dyn PlatformApi,
    table: &TableRef,
    limit: u32,
    sql_file: Option<&Path>,
    json: bool,
) -> Result<u8> {
    let sql = sql_file
        .map(|path| {
            std::fs::read_to_string(path).map_err(|e| {
                Error::invalid(format!("cannot read --sql {}: {e}", path.display()))
                    .with_context("field", "--sql")
            })
        })
        .transpose()?;
    let request = PreviewRequest {
        sql,
        limit: Some(limit),
        ..PreviewRequest::default()
    };
    let preview = api.preview_pipeline(table, &request).await?;
    if json {
        print_json(&preview);
        return Ok(EXIT_OK);
    }
    print_warnings(&preview.compiled);
    print_output(&preview.output);
    let timing = preview.timing;
    println!(
        "({} rows{}; compiled in {} ms, ran in {} ms; nothing was written)",
        preview.output.rows.len(),
        if preview.output.truncated {
            format!(", more beyond --limit {limit}")
        } else {
            String::new()
        },
        timing.compile_ms,
        timing.execute_ms
    );
    Ok(EXIT_OK)
}

pub(crate) async fn compile(api: &dyn PlatformApi, table: &TableRef, json: bool) -> Result<u8> {
    let compiled = api
        .compile_pipeline(table, &PreviewRequest::default())
        .await?;
    if json {
        print_json(&compiled);
        return Ok(EXIT_OK);
    }
    print_warnings(&compiled);
    match &compiled.compiled_sql {
        Some(sql) => println!("{}", sql.trim_end()),
        None => println!("(a Python script: its SQL is known once it runs; see rat preview)"),
    }
    for read in &compiled.reads {
        let snapshot = read
            .snapshot_id
            .map_or_else(|| "no snapshot yet".to_owned(), |s| format!("snapshot {s}"));
        println!("-- reads {} at {snapshot}", read.table);
    }
    if let Some(plan) = &compiled.explain {
        println!("\n{}", plan.trim_end());
    }
    Ok(EXIT_OK)
}

fn print_warnings(compiled: &CompiledPipeline) {
    for warning in &compiled.warnings {
        eprintln!("warning: {warning}");
    }
}
