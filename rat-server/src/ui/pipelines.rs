//! `/pipelines`: the pipelines the caller may see, by namespace and
//! layer, narrowed by a search on their names (a GET form, so a search
//! is a link).

use axum::extract::Query;
use serde::Deserialize;

use super::render::{PageResult, Shell};
use super::views::namespace_names;
use crate::http::Api;

#[derive(Debug, Default, Deserialize)]
pub(super) struct PipelinesForm {
    #[serde(default)]
    namespace: String,
    #[serde(default)]
    layer: String,
    #[serde(default)]
    q: String,
}

pub(super) async fn list(
    shell: Shell,
    Api(api): Api,
    Query(form): Query<PipelinesForm>,
) -> PageResult {
    let namespace = Some(form.namespace.trim()).filter(|n| !n.is_empty());
    let layer = Some(form.layer.trim()).filter(|l| !l.is_empty());
    let search = form.q.trim().to_lowercase();
    let pipelines: Vec<_> = api
        .pipelines(namespace, layer)
        .await?
        .into_iter()
        .filter(|p| search.is_empty() || p.table.to_string().contains(&search))
        .collect();
    let namespaces = namespace_names(api.as_ref()).await?;
    shell.page(
        "pipelines.html",
        minijinja::context! {
            title => "Pipelines",
            section => "pipelines",
            pipelines => pipelines,
            namespaces => namespaces,
            layers => ["bronze", "silver", "gold"],
            namespace => namespace.unwrap_or(""),
            layer => layer.unwrap_or(""),
            q => form.q.trim(),
        },
    )
}
