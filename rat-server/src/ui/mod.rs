//! The web IDE (feature `ui`, on by default): pages rendered on the
//! server from the same [`PlatformApi`](crate::api::PlatformApi) verbs the
//! HTTP API and the CLI call, acting for the request's principal, with
//! their templates and assets embedded in the binary (nothing is fetched
//! from elsewhere, so it works offline).
//!
//! - [`render`]: the template environment, the HTML error page, assets.
//! - [`home`]: `/`, what a team looks at first.
//! - [`pipelines`]: `/pipelines`, by namespace and layer, searched.
//! - [`runs`]: `/runs`, filtered and paged.
//! - [`tables`]: `/tables`, the explorer: tables, their schemas and
//!   snapshots.
//! - [`settings`]: `/settings`, this server and the caller.
//! - [`views`]: records shaped for templates.

mod home;
mod pipelines;
mod render;
mod runs;
mod settings;
mod tables;
mod views;

use std::sync::Arc;

use axum::Router;
use axum::routing::get;

use crate::api::PlatformApi;

/// The pages and their assets, to merge beside `/api/v1` (behind the
/// same authentication).
pub(crate) fn router() -> Router<Arc<dyn PlatformApi>> {
    Router::new()
        .route("/", get(home::page))
        .route("/pipelines", get(pipelines::list))
        .route("/runs", get(runs::page))
        .route("/settings", get(settings::page))
        .route("/tables", get(tables::list))
        .route("/tables/{namespace}/{layer}/{name}", get(tables::detail))
        .route("/assets/{file}", get(render::asset))
}
