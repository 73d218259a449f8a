//! Loading an unchanged table from a REST catalog that sends entity tags
//! costs a `304`: the client asks with `If-None-Match` and keeps what it
//! had. SeaweedFS sends no `ETag` on loadTable, so the catalog here is
//! SeaweedFS behind a small proxy of this test that adds what the Iceberg
//! REST spec allows (an `ETag` from the metadata location, `304` when it
//! still matches); everything else is SeaweedFS's own answer.
#![allow(clippy::unwrap_used)]

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::Response;
use common::remote::{
    REST_URI, admin_credentials, oauth2, remote_sample, require_seaweedfs, rest_config,
};

#[derive(Clone)]
struct Proxy {
    http: reqwest::Client,
    not_modified: Arc<AtomicUsize>,
}

async fn forward(State(proxy): State<Proxy>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let body = axum::body::to_bytes(body, usize::MAX).await.unwrap();
    let url = format!("{REST_URI}{}", parts.uri);
    let mut outgoing = proxy.http.request(parts.method.clone(), url).body(body);
    for name in [
        header::AUTHORIZATION,
        header::CONTENT_TYPE,
        header::HeaderName::from_static("x-iceberg-access-delegation"),
    ] {
        if let Some(value) = parts.headers.get(&name) {
            outgoing = outgoing.header(name, value);
        }
    }
    let answer = outgoing.send().await.unwrap();
    let status = answer.status();
    let content_type = answer.headers().get(header::CONTENT_TYPE).cloned();
    let bytes: Bytes = answer.bytes().await.unwrap();
    let etag = loaded_table_tag(&parts.method, status, &bytes);
    if let Some(tag) = &etag
        && parts.headers.get(header::IF_NONE_MATCH) == Some(tag)
    {
        proxy.not_modified.fetch_add(1, Ordering::SeqCst);
        return response(StatusCode::NOT_MODIFIED, HeaderMap::new(), Bytes::new());
    }
    let mut headers = HeaderMap::new();
    if let Some(value) = content_type {
        headers.insert(header::CONTENT_TYPE, value);
    }
    if let Some(tag) = etag {
        headers.insert(header::ETAG, tag);
    }
    response(
        StatusCode::from_u16(status.as_u16()).unwrap(),
        headers,
        bytes,
    )
}

/// The tag of a successful load: its metadata location, which every
/// commit changes.
fn loaded_table_tag(
    method: &Method,
    status: reqwest::StatusCode,
    body: &[u8],
) -> Option<HeaderValue> {
    if method != Method::GET || !status.is_success() {
        return None;
    }
    let value: serde_json::Value = serde_json::from_slice(body).ok()?;
    let location = value.get("metadata-location")?.as_str()?;
    HeaderValue::from_str(&format!("\"{location}\"")).ok()
}

fn response(status: StatusCode, headers: HeaderMap, body: Bytes) -> Response {
    let mut response = Response::new(Body::from(body));
    *response.status_mut() = status;
    *response.headers_mut() = headers;
    response
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unchanged_table_is_a_not_modified_answer() {
    require_seaweedfs();
    let not_modified = Arc::new(AtomicUsize::new(0));
    let proxy = Proxy {
        http: reqwest::Client::new(),
        not_modified: not_modified.clone(),
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let app = axum::Router::new().fallback(forward).with_state(proxy);
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });

    let dir = tempfile::tempdir().unwrap();
    let mut catalog = rest_config(oauth2(dir.path()), false, admin_credentials(dir.path()));
    catalog.uri = format!("http://{address}");
    let storage = admin_credentials(dir.path());
    let project = remote_sample(dir, storage, catalog).await;
    project.run_ok(&["bronze.customers"]).await;
    let table = format!("{}.bronze.customers", project.source.namespace);

    let first = project.load(&table).await;
    let before = not_modified.load(Ordering::SeqCst);
    let again = project.load(&table).await;
    assert_eq!(
        not_modified.load(Ordering::SeqCst),
        before + 1,
        "no conditional load"
    );
    assert!(Arc::ptr_eq(&first.metadata, &again.metadata));

    // A commit changes the tag: the next load is the new table.
    project.run_ok(&["bronze.customers"]).await;
    let after = project.load(&table).await;
    assert_ne!(after.metadata_location, first.metadata_location);
    assert_ne!(after.main_snapshot_id(), first.main_snapshot_id());
    let rows = project
        .scalar(&format!(
            "SELECT count(*) FROM \"{}\".bronze.customers",
            project.source.namespace
        ))
        .await;
    assert!(rows > 0);
}
