//! `rat query "<SQL>"`.

use crate::workspace::Place;

use rat_core::Result;
use rat_runner::query::{QueryOptions, query as run_query};

use crate::output::{EXIT_OK, print_json, print_table};

pub(crate) async fn query(place: &Place, sql: &str, max_rows: usize, json: bool) -> Result<u8> {
    let engine = crate::workspace::Workspace::open(place).await?.engine;
    let options = QueryOptions {
        max_rows,
        ..QueryOptions::default()
    };
    let out = run_query(engine.catalog().as_ref(), sql, &options).await?;
    if json {
        print_json(&out);
        return Ok(EXIT_OK);
    }
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
    if out.truncated {
        println!("(showing the first {max_rows} rows; use --max-rows for more)");
    }
    Ok(EXIT_OK)
}
