//! `/landing` and `/landing/{ns}/{zone}`: landing zones, where raw files
//! wait for pipelines — the zones the caller may see (and a form for a new
//! one), a zone's files with uploads by drag and drop (with progress) and
//! a preview of a file (the page's script calls the API for those).

use axum::extract::Path;

use super::render::{PageError, PageResult, Shell};
use super::views::namespace_names;
use crate::api::ZoneRef;
use crate::http::Api;

pub(super) async fn list(shell: Shell, Api(api): Api) -> PageResult {
    let zones = api.landing_zones(None).await?;
    shell.page(
        "landing.html",
        minijinja::context! {
            title => "Landing zones",
            section => "landing",
            zones => zones,
            namespaces => namespace_names(api.as_ref()).await?,
        },
    )
}

pub(super) async fn zone(
    shell: Shell,
    Api(api): Api,
    Path((namespace, name)): Path<(String, String)>,
) -> PageResult {
    let zone = ZoneRef::parse(&namespace, &name)
        .map_err(|e| PageError::from(e.with_context("field", "zone")))?;
    let detail = api.landing_zone(&zone).await?;
    let files = api.landing_files(&zone, false).await?;
    shell.page(
        "zone.html",
        minijinja::context! {
            title => format!("{}.{}", zone.namespace, zone.zone),
            section => "landing",
            zone => detail,
            path => format!("{}/{}", zone.namespace, zone.zone),
            files => files,
        },
    )
}
