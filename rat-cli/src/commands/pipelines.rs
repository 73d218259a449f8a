//! `rat pipelines`: the pipelines of a namespace, locally or on a server.

use rat_core::{Project, ProjectSource, Result};
use rat_server::api::PipelineSummary;

use super::Target;
use crate::output::{EXIT_OK, print_json, print_table};

pub(crate) async fn pipelines(target: &Target, namespace: Option<&str>, json: bool) -> Result<u8> {
    let pipelines: Vec<PipelineSummary> = match target {
        Target::Local(place) => {
            let engine = crate::workspace::Workspace::open(place).await?.engine;
            let source = match namespace {
                Some(ns) => ProjectSource::of(&rat_core::ident::namespace(ns)?),
                None => ProjectSource::embedded(),
            };
            let project = Project::load(engine.storage().as_ref(), &source).await?;
            project
                .pipelines
                .into_keys()
                .map(PipelineSummary::from)
                .collect()
        }
        Target::Remote(client) => {
            client
                .pipelines(Some(namespace.unwrap_or(rat_core::DEFAULT_NAMESPACE)))
                .await?
        }
    };
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
