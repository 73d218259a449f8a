//! One error envelope for every failure: `{"error": {"code", "message"}}`
//! with the HTTP status its kind calls for.

use axum::extract::multipart::MultipartRejection;
use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts, OptionalFromRequest, Request};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use rat_core::{Error, ErrorKind};
use serde::de::DeserializeOwned;

use crate::api::{ErrorBody, ErrorEnvelope};

/// A failed request: a status, a stable code and a message.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    code: String,
    message: String,
    context: std::collections::BTreeMap<String, String>,
    /// An access check's refusal (the response carries [`Denied`]).
    denied: bool,
}

/// Marks a response an access check refused (whatever its status), for
/// the audit log.
#[derive(Debug, Clone, Copy)]
pub struct Denied;

impl ApiError {
    /// An error with an explicit status and code.
    pub fn new(status: StatusCode, code: &str, message: impl Into<String>) -> Self {
        Self {
            status,
            code: code.to_owned(),
            denied: false,
            message: message.into(),
            context: Default::default(),
        }
    }

    /// `400 bad_request`: the request itself is malformed.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "bad_request", message)
    }

    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// What went wrong, as the caller is told.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// Whether an access check refused the request.
    pub fn is_denied(&self) -> bool {
        self.denied
    }
}

/// The status of each error kind.
pub fn status_of(kind: ErrorKind) -> StatusCode {
    match kind {
        ErrorKind::InvalidInput | ErrorKind::Query | ErrorKind::QualityGate => {
            StatusCode::UNPROCESSABLE_ENTITY
        }
        ErrorKind::NotFound => StatusCode::NOT_FOUND,
        ErrorKind::AlreadyExists | ErrorKind::Conflict | ErrorKind::Cancelled => {
            StatusCode::CONFLICT
        }
        ErrorKind::Unsupported => StatusCode::NOT_IMPLEMENTED,
        // The limit was the caller's (a query's, a dry run's): its answer, not
        // the server failing (as SQL HTTP APIs such as Snowflake's answer).
        ErrorKind::Timeout => StatusCode::REQUEST_TIMEOUT,
        ErrorKind::QueueFull | ErrorKind::RateLimited => StatusCode::TOO_MANY_REQUESTS,
        ErrorKind::Unauthorized => StatusCode::UNAUTHORIZED,
        ErrorKind::Forbidden => StatusCode::FORBIDDEN,
        ErrorKind::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
        ErrorKind::Storage | ErrorKind::Catalog => StatusCode::BAD_GATEWAY,
        _ => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

impl From<Error> for ApiError {
    fn from(e: Error) -> Self {
        let status = status_of(e.kind());
        if status.is_server_error() {
            tracing::warn!(kind = %e.kind(), "request failed: {e}");
        }
        Self {
            status,
            code: e.kind().as_str().to_owned(),
            message: e.to_string(),
            context: e
                .context_pairs()
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .collect(),
            denied: e.is_denied(),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let envelope = ErrorEnvelope {
            error: ErrorBody {
                code: self.code,
                message: self.message,
                context: self.context,
            },
        };
        let mut response = (self.status, axum::Json(envelope)).into_response();
        if self.denied {
            response.extensions_mut().insert(Denied);
        }
        if self.status == StatusCode::TOO_MANY_REQUESTS {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        }
        response
    }
}

/// The result of a handler.
pub type ApiResult<T> = std::result::Result<T, ApiError>;

fn rejection(status: StatusCode, what: &str, text: String) -> ApiError {
    let code = match status {
        StatusCode::PAYLOAD_TOO_LARGE => "too_large",
        StatusCode::UNSUPPORTED_MEDIA_TYPE => "unsupported_media_type",
        StatusCode::UNPROCESSABLE_ENTITY => "invalid_input",
        _ => "bad_request",
    };
    ApiError::new(status, code, format!("{what}: {text}"))
}

/// A JSON body whose rejections (syntax, missing fields, too large, wrong
/// content type) come back in the envelope.
#[derive(Debug)]
pub struct Json<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for Json<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match <axum::Json<T> as FromRequest<S>>::from_request(req, state).await {
            Ok(axum::Json(value)) => Ok(Self(value)),
            Err(e) => Err(json_rejection(e)),
        }
    }
}

/// An optional JSON body (`Option<Json<T>>`): none without a
/// `Content-Type`, else parsed with the same rejections.
impl<S: Send + Sync, T: DeserializeOwned> OptionalFromRequest<S> for Json<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Option<Self>, Self::Rejection> {
        match <axum::Json<T> as OptionalFromRequest<S>>::from_request(req, state).await {
            Ok(body) => Ok(body.map(|axum::Json(value)| Self(value))),
            Err(e) => Err(json_rejection(e)),
        }
    }
}

/// A multipart body the extractor refused (not `multipart/form-data`,
/// no boundary), in the envelope.
pub(crate) fn multipart_rejection(e: MultipartRejection) -> ApiError {
    rejection(e.status(), "request body", e.body_text())
}

fn json_rejection(e: JsonRejection) -> ApiError {
    rejection(e.status(), "request body", e.body_text())
}

/// Query parameters whose rejections come back in the envelope.
#[derive(Debug)]
pub struct Query<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for Query<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match axum::extract::Query::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Query(value)) => Ok(Self(value)),
            Err(e) => Err(query_rejection(e)),
        }
    }
}

fn query_rejection(e: QueryRejection) -> ApiError {
    rejection(StatusCode::BAD_REQUEST, "query string", e.body_text())
}

/// Path parameters whose rejections come back in the envelope.
#[derive(Debug)]
pub struct Path<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned + Send> FromRequestParts<S> for Path<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match axum::extract::Path::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Path(value)) => Ok(Self(value)),
            Err(e) => Err(path_rejection(e)),
        }
    }
}

fn path_rejection(e: PathRejection) -> ApiError {
    rejection(StatusCode::BAD_REQUEST, "path", e.body_text())
}
