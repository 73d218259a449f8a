//! `rat pipelines`: the pipelines of a namespace.

use rat_core::Result;
use rat_server::api::PlatformApi;

use crate::output::{EXIT_OK, print_json, print_table};

pub(crate) async fn pipelines(
    api: &dyn PlatformApi,
    namespace: Option<&str>,
    json: bool,
) -> Result<u8> {
    let namespace = namespace.unwrap_or(rat_core::DEFAULT_NAMESPACE);
    let pipelines = api.pipelines(Some(namespace), None).await?;
    if json {
        print_json(&pipelines);
    } else if pipelines.is_empty() {
        println!("No pipelines yet.");
    } else {
        let rows: Vec<Vec<String>> = pipelines
            .iter()
            .map(|p| vec![p.table.to_string(), p.layer.clone(), p.name.clone()])
            .collect();
        print_table(&["pipeline", "layer", "name"], &rows);
    }
    Ok(EXIT_OK)
}
