//! `/pipelines`: the pipelines the caller may see, by namespace and
//! layer, narrowed by a search on their names (a GET form, so a search
//! is a link); `/pipelines/{ns}/{layer}/{name}`: one pipeline's code in
//! the editor, with check, preview, save and run (the page's script calls
//! the API for those); with `?draft=true`, its pending draft, to save,
//! publish or discard.

use axum::extract::{Path, Query};
use rat_core::project::{Language, MergeStrategy, PipelineFiles};
use serde::Deserialize;

use super::render::{PageError, PageResult, Shell};
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
            strategies => MergeStrategy::ALL.map(MergeStrategy::as_str),
            starters => starters(),
        },
    )
}

/// The starter code of each language and strategy, by
/// `language/strategy`, for the new pipeline form (JSON).
fn starters() -> String {
    let mut all = std::collections::BTreeMap::new();
    for language in [Language::Sql, Language::Python] {
        for strategy in MergeStrategy::ALL {
            let files = PipelineFiles::starter(language, strategy);
            let code = files.sql.or(files.python).unwrap_or_default();
            let name = if language == Language::Sql {
                "sql"
            } else {
                "python"
            };
            all.insert(format!("{name}/{}", strategy.as_str()), code);
        }
    }
    serde_json::to_string(&all).unwrap_or_default()
}

/// Tables offered to `ref()` completion.
const REFS: u32 = 500;
/// Versions listed on a pipeline's page.
const VERSIONS: u32 = 20;
/// Runs shown on a pipeline's page.
const RECENT_RUNS: u32 = 5;

/// `?draft=true` opens the pending draft in the editor.
#[derive(Debug, Default, Deserialize)]
pub(super) struct DetailForm {
    #[serde(default)]
    draft: bool,
}

pub(super) async fn detail(
    shell: Shell,
    Api(api): Api,
    Path((namespace, layer, name)): Path<(String, String, String)>,
    Query(form): Query<DetailForm>,
) -> PageResult {
    let table = crate::platform::pipeline_table(&namespace, &layer, &name)
        .map_err(|e| PageError::from(e.with_context("field", "pipeline")))?;
    let published = api.pipeline(&table).await?;
    let draft = match form.draft {
        true => Some(api.pipeline_draft(&table).await?),
        false => None,
    };
    let detail = draft.as_ref().unwrap_or(&published);
    let files = detail.files();
    let refs: Vec<String> = api
        .pipelines(None, None)
        .await?
        .into_iter()
        .filter(|p| p.table != table)
        .map(|p| {
            if p.table.namespace.as_str() == table.namespace.as_str() {
                format!("{}.{}", p.table.layer, p.table.name)
            } else {
                p.table.to_string()
            }
        })
        .take(REFS as usize)
        .collect();
    let versions = api.pipeline_versions(&table, VERSIONS, 0).await?;
    let runs = api
        .runs(&rat_core::store::RunFilter {
            table: Some(table.clone()),
            limit: Some(RECENT_RUNS),
            ..Default::default()
        })
        .await?;
    shell.page(
        "pipeline.html",
        minijinja::context! {
            title => table.to_string(),
            section => "pipelines",
            table => table.to_string(),
            path => format!("{}/{}/{}", table.namespace, table.layer, table.name),
            detail => detail,
            editing_draft => form.draft,
            strategies => MergeStrategy::ALL.map(MergeStrategy::as_str),
            pending_draft => published.draft,
            language => detail.pipeline.language,
            code => detail.pipeline.source,
            config => files.config.unwrap_or_default(),
            refs => serde_json::to_string(&refs).unwrap_or_default(),
            versions => versions.items,
            current_version => published.version.as_ref().map(|v| v.version),
            runs => runs.into_iter().map(super::views::RunRow::from).collect::<Vec<_>>(),
        },
    )
}
