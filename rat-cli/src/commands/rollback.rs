//! `rat rollback <table> --to <snapshot-id>`.

use rat_core::{Result, TableRef};
use rat_server::api::PlatformApi;

use crate::output::{EXIT_OK, print_json};

pub(crate) async fn rollback(
    api: &dyn PlatformApi,
    table: &TableRef,
    to: i64,
    json: bool,
) -> Result<u8> {
    let done = api.rollback(table, to).await?;
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
