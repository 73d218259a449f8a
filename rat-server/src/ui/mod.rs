//! The web IDE (feature `ui`, on by default): pages rendered on the
//! server from the same [`PlatformApi`](crate::api::PlatformApi) verbs the
//! HTTP API and the CLI call, acting for the request's principal, with
//! their templates and assets embedded in the binary (nothing is fetched
//! from elsewhere, so it works offline).
//!
//! - [`render`]: the template environment, the HTML error page, assets.
//! - [`login`]: `/login`, `/logout` and the gate before every page.
//! - [`issuer`]: signing in at the OIDC issuer, `/login/oidc` and
//!   `/login/callback`.
//! - [`home`]: `/`, what a team looks at first.
//! - [`pipelines`]: `/pipelines`, by namespace and layer, searched.
//! - [`landing`]: `/landing`, zones and their files.
//! - [`lineage`]: `/lineage`, a namespace's DAG.
//! - [`query`]: `/query`, the query console.
//! - [`runs`]: `/runs`, filtered and paged.
//! - [`tables`]: `/tables`, the explorer: tables, their schemas and
//!   snapshots.
//! - [`schedules`]: `/schedules`, schedules and triggers.
//! - [`settings`]: `/settings`, this server and the caller.
//! - [`views`]: records shaped for templates.

mod home;
mod issuer;
mod landing;
mod lineage;
mod login;
mod pipelines;
mod query;
mod render;
mod runs;
mod schedules;
mod settings;
mod tables;
mod views;

use std::sync::Arc;

use axum::routing::{get, post};
use axum::{Extension, Router, middleware};

use crate::api::PlatformApi;
use crate::auth::Authenticator;
use render::Ui;

/// The pages and their assets under `root` (`/`, or `/prefix/`), to
/// merge beside `/api/v1`: behind the same authentication, a session
/// cookie accepted too.
pub(crate) fn router(auth: Authenticator, root: &str) -> Router<Arc<dyn PlatformApi>> {
    let ui = Arc::new(Ui::new(root, auth));
    let pages = Router::new()
        .route("/", get(home::page))
        .route("/pipelines", get(pipelines::list))
        .route(
            "/pipelines/{namespace}/{layer}/{name}",
            get(pipelines::detail),
        )
        .route("/landing", get(landing::list))
        .route("/landing/{namespace}/{zone}", get(landing::zone))
        .route("/lineage", get(lineage::page))
        .route("/query", get(query::page))
        .route("/runs", get(runs::page))
        .route("/runs/{id}", get(runs::detail))
        .route("/schedules", get(schedules::page))
        .route("/settings", get(settings::page))
        .route("/tables", get(tables::list))
        .route("/tables/{namespace}/{layer}/{name}", get(tables::detail))
        .route_layer(middleware::from_fn_with_state(ui.clone(), login::gate));
    Router::new()
        .route("/login", get(login::page).post(login::sign_in))
        .route("/login/oidc", get(issuer::begin))
        .route("/login/callback", get(issuer::finish))
        .route("/logout", post(login::sign_out))
        .route("/assets/{file}", get(render::asset))
        .merge(pages)
        .layer(middleware::from_fn(render::error_pages))
        .layer(Extension(ui))
}
