//! Health, metrics, features, namespaces.

use axum::http::StatusCode;

use super::{Api, Paging};
use serde::Deserialize;

use crate::api::{
    Features, Health, Namespace, NamespaceRemoved, NewNamespace, Page, Readiness, UpdateNamespace,
};
use crate::error::{ApiResult, Json, Path, Query};

pub(super) async fn health() -> axum::Json<Health> {
    axum::Json(Health {
        status: "ok".into(),
        version: env!("CARGO_PKG_VERSION").into(),
    })
}

/// `200` with the checks when every component answers, else `503`.
pub(super) async fn ready(Api(api): Api) -> ApiResult<(StatusCode, axum::Json<Readiness>)> {
    let readiness = api.readiness().await?;
    let status = if readiness.ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    Ok((status, axum::Json(readiness)))
}

/// `GET /metrics`: the OpenMetrics text format (Prometheus scrapes it).
pub(super) async fn metrics(Api(api): Api) -> ApiResult<impl axum::response::IntoResponse> {
    let text = api.metrics_text().await?;
    let kind = "application/openmetrics-text; version=1.0.0; charset=utf-8";
    Ok(([(axum::http::header::CONTENT_TYPE, kind)], text))
}

/// Records each answered request in `metrics` by its matched route.
pub(super) async fn track(
    axum::extract::State(metrics): axum::extract::State<std::sync::Arc<crate::metrics::Metrics>>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    let route = request
        .extensions()
        .get::<axum::extract::MatchedPath>()
        .map_or("unmatched".to_owned(), |p| p.as_str().to_owned());
    let method = request.method().to_string();
    let started = std::time::Instant::now();
    let response = next.run(request).await;
    metrics.request(
        &route,
        &method,
        response.status().as_u16(),
        started.elapsed(),
    );
    response
}

pub(super) async fn features(Api(api): Api) -> ApiResult<axum::Json<Features>> {
    Ok(axum::Json(api.features().await?))
}

pub(super) async fn namespaces(
    Api(api): Api,
    Query(paging): Query<Paging>,
) -> ApiResult<axum::Json<Page<Namespace>>> {
    Ok(axum::Json(paging.page(api.namespaces().await?)?))
}

pub(super) async fn create_namespace(
    Api(api): Api,
    Json(body): Json<NewNamespace>,
) -> ApiResult<(StatusCode, axum::Json<Namespace>)> {
    let created = api.create_namespace(&body).await?;
    Ok((StatusCode::CREATED, axum::Json(created)))
}

pub(super) async fn namespace(
    Api(api): Api,
    Path(name): Path<String>,
) -> ApiResult<axum::Json<Namespace>> {
    Ok(axum::Json(api.namespace(&name).await?))
}

pub(super) async fn update_namespace(
    Api(api): Api,
    Path(name): Path<String>,
    Json(body): Json<UpdateNamespace>,
) -> ApiResult<axum::Json<Namespace>> {
    Ok(axum::Json(api.update_namespace(&name, &body).await?))
}

#[derive(Debug, Deserialize)]
pub(super) struct Force {
    #[serde(default)]
    force: bool,
}

pub(super) async fn delete_namespace(
    Api(api): Api,
    Path(name): Path<String>,
    Query(force): Query<Force>,
) -> ApiResult<axum::Json<NamespaceRemoved>> {
    Ok(axum::Json(api.delete_namespace(&name, force.force).await?))
}

/// The OpenAPI document of this API (`openapi.yaml` in the crate), as JSON.
pub fn openapi_document() -> &'static serde_json::Value {
    static DOCUMENT: std::sync::LazyLock<serde_json::Value> = std::sync::LazyLock::new(|| {
        serde_yaml_ng::from_str(include_str!("../../openapi.yaml"))
            .expect("openapi.yaml is valid YAML (checked by a test)")
    });
    &DOCUMENT
}

pub(super) async fn openapi() -> axum::Json<serde_json::Value> {
    axum::Json(openapi_document().clone())
}
