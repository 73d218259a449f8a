//! The HTTP API: routes under `/api/v1`, `/health` outside it, the error
//! envelope for everything that fails (unknown routes included).

mod audit;
mod authoring;
mod base_path;
mod cors;
mod files;
mod landing;
mod meta;
mod notifications;

pub use meta::openapi_document;
mod pipelines;
mod runs;
mod schedules;
mod sharing;
mod tables;
mod versions;

use axum::Router;
use std::sync::Arc;

use axum::extract::{DefaultBodyLimit, FromRequestParts};
use axum::http::request::Parts;
use axum::http::{HeaderName, StatusCode};
use axum::middleware;
use axum::routing::{get, post};

pub use base_path::BasePath;
pub use cors::CorsConfig;
pub use landing::MAX_UPLOAD_FILES;
use serde::Deserialize;
use tower_http::compression::CompressionLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::TraceLayer;

use crate::api::{DEFAULT_PAGE, MAX_PAGE, Page, PlatformApi};
use crate::auth::{self, Authenticator};
use crate::error::{ApiError, ApiResult};

/// Largest request body accepted; larger ones get `413`.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

/// What every handler works through: any implementation of the API, for
/// the request's [`Principal`](auth::Principal) when it has one.
pub(crate) struct Api(pub(crate) Arc<dyn PlatformApi>);

impl FromRequestParts<Arc<dyn PlatformApi>> for Api {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        api: &Arc<dyn PlatformApi>,
    ) -> Result<Self, Self::Rejection> {
        Ok(Api(match parts.extensions.get::<auth::Principal>() {
            Some(principal) => api.acting_for(principal),
            None => api.clone(),
        }))
    }
}

/// The API over `platform`, every route but `/health`, `/health/live`,
/// `/health/ready` and `/api/v1/openapi.json` checked by `auth`.
///
/// ```no_run
/// # async fn demo(platform: rat_server::Platform) -> std::io::Result<()> {
/// use std::sync::Arc;
/// use rat_server::auth::Authenticator;
///
/// let app = rat_server::http::router(Arc::new(platform), Authenticator::none());
/// let listener = tokio::net::TcpListener::bind("127.0.0.1:8080").await?;
/// axum::serve(listener, app).await
/// # }
/// ```
pub fn router(platform: Arc<dyn PlatformApi>, auth: Authenticator) -> Router {
    router_under(platform, auth, &BasePath::default())
}

/// [`router`] answering under `base` (`server.base_path`): every route,
/// the probes included, is `{base}/...`; `{base}` alone leads to the web
/// IDE at `{base}/`.
pub fn router_under(
    platform: Arc<dyn PlatformApi>,
    auth: Authenticator,
    base: &BasePath,
) -> Router {
    let api = Router::new()
        .route("/features", get(meta::features))
        .route("/me", get(sharing::me))
        .route("/sharing", get(sharing::grants).post(sharing::share))
        .route("/sharing/transfer", post(sharing::transfer))
        .route("/sharing/{id}", axum::routing::delete(sharing::unshare))
        .route("/audit", get(audit::entries))
        .route(
            "/namespaces",
            get(meta::namespaces).post(meta::create_namespace),
        )
        .route(
            "/namespaces/{namespace}",
            get(meta::namespace)
                .patch(meta::update_namespace)
                .delete(meta::delete_namespace),
        )
        .route("/namespaces/{namespace}/members", get(sharing::members))
        .route(
            "/namespaces/{namespace}/members/{member}",
            axum::routing::put(sharing::add_member).delete(sharing::remove_member),
        )
        .route(
            "/namespaces/{namespace}/notifications",
            get(notifications::list).post(notifications::create),
        )
        .route(
            "/namespaces/{namespace}/notifications/{id}",
            get(notifications::get).delete(notifications::delete),
        )
        .route(
            "/namespaces/{namespace}/notifications/{id}/deliveries",
            get(notifications::deliveries),
        )
        .route("/pipelines", get(pipelines::list).post(pipelines::create))
        .route(
            "/pipelines/{namespace}/{layer}/{name}",
            get(pipelines::get)
                .put(pipelines::replace)
                .delete(pipelines::delete),
        )
        .route(
            "/pipelines/{namespace}/{layer}/{name}/tests",
            get(authoring::list).post(authoring::create),
        )
        .route(
            "/pipelines/{namespace}/{layer}/{name}/tests/run",
            post(authoring::run),
        )
        .route(
            "/pipelines/{namespace}/{layer}/{name}/tests/{test}",
            get(authoring::get)
                .put(authoring::replace)
                .delete(authoring::delete),
        )
        .route(
            "/pipelines/{namespace}/{layer}/{name}/preview",
            post(authoring::preview),
        )
        .route(
            "/pipelines/{namespace}/{layer}/{name}/compile",
            post(authoring::compile),
        )
        .route(
            "/pipelines/{namespace}/{layer}/{name}/versions",
            get(versions::list),
        )
        .route(
            "/pipelines/{namespace}/{layer}/{name}/versions/{version}",
            get(versions::get),
        )
        .route(
            "/pipelines/{namespace}/{layer}/{name}/versions/{version}/rollback",
            post(versions::rollback),
        )
        .route(
            "/pipelines/{namespace}/{layer}/{name}/draft",
            get(versions::draft).delete(versions::discard),
        )
        .route(
            "/pipelines/{namespace}/{layer}/{name}/publish",
            post(versions::publish),
        )
        .route("/lineage", get(pipelines::lineage))
        .route("/runs", get(runs::list).post(runs::submit))
        .route("/runs/{id}", get(runs::get))
        .route("/runs/{id}/cancel", post(runs::cancel))
        .route("/runs/{id}/logs", get(runs::logs))
        .route("/batches/{id}", get(runs::batch))
        .route("/batches/{id}/cancel", post(runs::cancel_batch))
        .route("/tables", get(tables::list))
        .route("/tables/{namespace}/{layer}/{name}", get(tables::get))
        .route(
            "/tables/{namespace}/{layer}/{name}/preview",
            get(tables::preview),
        )
        .route(
            "/tables/{namespace}/{layer}/{name}/history",
            get(tables::history),
        )
        .route(
            "/tables/{namespace}/{layer}/{name}/rollback",
            post(tables::rollback),
        )
        .route(
            "/tables/{namespace}/{layer}/{name}/maintain",
            post(tables::maintain),
        )
        .route("/query", post(tables::query))
        .route("/schedules", get(schedules::list).post(schedules::create))
        .route(
            "/schedules/{id}",
            get(schedules::get)
                .put(schedules::replace)
                .delete(schedules::delete),
        )
        .route("/schedules/{id}/firings", get(schedules::firings))
        .route("/cron", get(schedules::cron))
        .route("/files/{namespace}", get(files::list))
        .route(
            "/files/{namespace}/{*path}",
            get(files::read).put(files::write).delete(files::delete),
        )
        .route("/landing-zones", get(landing::list).post(landing::create))
        .route(
            "/landing-zones/{namespace}/{zone}",
            get(landing::get).delete(landing::delete),
        )
        .route(
            "/landing-zones/{namespace}/{zone}/files",
            get(landing::files)
                .post(landing::upload)
                // The platform limits each file as it streams.
                .layer(DefaultBodyLimit::disable()),
        )
        .route(
            "/landing-zones/{namespace}/{zone}/files/{file}",
            get(landing::download).delete(landing::delete_file),
        )
        .route(
            "/landing-zones/{namespace}/{zone}/files/{file}/preview",
            get(landing::preview),
        )
        .route_layer(middleware::from_fn_with_state(auth.clone(), auth::require))
        // Public, like /health: it describes, it reveals nothing.
        .route("/openapi.json", get(meta::openapi))
        // Its own token is the credential (a caller such as a CI system
        // holds that, not an API key).
        .route("/webhooks/{id}", post(schedules::webhook))
        // Outside authentication: refusals of it are recorded too.
        .route_layer(middleware::from_fn_with_state(
            platform.clone(),
            audit::record,
        ));
    let scraped = Router::new()
        .route("/metrics", get(meta::metrics))
        .route_layer(middleware::from_fn_with_state(auth.clone(), auth::require));
    // The web IDE's pages, behind the same authentication.
    #[cfg(feature = "ui")]
    let scraped = scraped.merge(crate::ui::router(auth, &base.root()));
    #[cfg(not(feature = "ui"))]
    drop(auth);
    let metrics = platform.metrics();
    let app = Router::new()
        // Public, for probes: liveness is the process answering at all,
        // readiness its components answering too.
        .route("/health", get(meta::health))
        .route("/health/live", get(meta::health))
        .route("/health/ready", get(meta::ready))
        .nest("/api/v1", api)
        .merge(scraped)
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed);
    // Each route's own layer, so the matched route names the series.
    let app = match metrics {
        Some(metrics) => app.layer(middleware::from_fn_with_state(metrics, meta::track)),
        None => app,
    };
    let app: Router = app
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        // gzip when the caller accepts it; event streams (live logs) and
        // small bodies stay as they are (tower-http's default predicate).
        .layer(CompressionLayer::new())
        // Outermost last: the id is set (or the caller's kept), the
        // request's log lines carry it, and the response echoes it.
        .layer(PropagateRequestIdLayer::new(REQUEST_ID.clone()))
        .layer(TraceLayer::new_for_http().make_span_with(request_span))
        .layer(SetRequestIdLayer::new(REQUEST_ID.clone(), MakeRequestUuid))
        .with_state(platform);
    match base.as_str() {
        "" => app,
        _ => base_path::under(app, base.clone()),
    }
}

/// The header naming a request: the caller's when it sends one, else a
/// new UUID; on every response.
pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// The span of one request, under which its log lines are written.
fn request_span<B>(request: &axum::http::Request<B>) -> tracing::Span {
    let id = request
        .headers()
        .get(&REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("-");
    tracing::info_span!(
        "request",
        request_id = %id,
        method = %request.method(),
        path = %request.uri().path(),
    )
}

async fn not_found() -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, "not_found", "no such route")
}

async fn method_not_allowed() -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        "this route does not accept that method",
    )
}

/// `?limit=&offset=` of a list.
#[derive(Debug, Clone, Copy, Default, Deserialize)]
pub(crate) struct Paging {
    limit: Option<u32>,
    #[serde(default)]
    offset: u32,
}

impl Paging {
    /// The page size; `limit` above [`MAX_PAGE`] or zero is refused.
    pub(crate) fn limit(&self) -> ApiResult<u32> {
        match self.limit {
            None => Ok(DEFAULT_PAGE),
            Some(n) if (1..=MAX_PAGE).contains(&n) => Ok(n),
            Some(n) => Err(ApiError::bad_request(format!(
                "limit {n} is out of range: 1 to {MAX_PAGE}"
            ))),
        }
    }

    pub(crate) fn offset(&self) -> u32 {
        self.offset
    }

    /// One page of a list held in memory.
    pub(crate) fn page<T>(&self, items: Vec<T>) -> ApiResult<Page<T>> {
        let limit = self.limit()?;
        let rest: Vec<T> = items
            .into_iter()
            .skip(self.offset as usize)
            .take(limit as usize + 1)
            .collect();
        Ok(Page::of(rest, limit, self.offset))
    }
}
