//! `rat rollback <table> --to <snapshot-id>`.

use crate::workspace::Place;

use rat_core::{Result, TableRef};
use rat_runner::table::rollback as rollback_table;

use crate::output::{EXIT_OK, print_json};

pub(crate) async fn rollback(place: &Place, table: &str, to: i64, json: bool) -> Result<u8> {
    let table: TableRef = table.parse()?;
    let engine = crate::workspace::Workspace::open(place).await?.engine;
    let done = rollback_table(engine.catalog().as_ref(), &table, to).await?;
    if json {
        print_json(&done);
    } else if done.from == Some(done.to) {
        println!("{table}: main is already at snapshot {to}");
    } else {
        let from = done.from.map_or("nothing".to_owned(), |f| f.to_string());
        println!("{table}: main moved from snapshot {from} back to {to}");
    }
    Ok(EXIT_OK)
}
