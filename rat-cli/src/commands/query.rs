//! `rat query "<SQL>"`.

use rat_core::Result;
use rat_server::api::{PlatformApi, QueryRequest};

use crate::output::{EXIT_OK, print_json, print_output};

pub(crate) async fn query(
    api: &dyn PlatformApi,
    sql: &str,
    max_rows: usize,
    json: bool,
) -> Result<u8> {
    let request = QueryRequest {
        sql: sql.to_owned(),
        namespace: None,
        limit: Some(u32::try_from(max_rows).unwrap_or(u32::MAX)),
        timeout_ms: None,
        snapshots: Default::default(),
    };
    let out = api.query(&request).await?;
    if json {
        print_json(&out);
        return Ok(EXIT_OK);
    }
    print_output(&out);
    if out.truncated {
        println!("(showing the first {max_rows} rows; use --max-rows for more)");
    }
    Ok(EXIT_OK)
}
