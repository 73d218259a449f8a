//! The one error type of rat: a kind, a message, optional context and a
//! retryable flag (the shape of `object_store` and `iceberg` errors).

use std::fmt;

/// What went wrong, coarsely: enough for a caller to decide between telling
/// the user, retrying, or mapping to a status code.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    /// User input is invalid: an identifier, a YAML file, a template, SQL,
    /// a CLI flag. The message names the file, field or value.
    InvalidInput,
    /// A table, namespace, object, pipeline or run does not exist.
    NotFound,
    /// Something that must be unique already exists.
    AlreadyExists,
    /// A compare-and-swap lost a race (a commit requirement no longer holds).
    /// Retryable: reload and try again.
    Conflict,
    /// The feature is known but not implemented (yet) for this input.
    Unsupported,
    /// A query failed while executing in the engine.
    Query,
    /// A quality test with `error` severity failed; the run is not published.
    QualityGate,
    /// The run was cancelled.
    Cancelled,
    /// An operation exceeded its time limit.
    Timeout,
    /// Object storage or file system failure.
    Storage,
    /// Catalog failure other than a conflict (unreachable, corrupt metadata).
    Catalog,
    /// A bounded queue is full; try again later (maps to HTTP 429).
    QueueFull,
    /// A caller asked more often than its rate allows; try again later
    /// (maps to HTTP 429).
    RateLimited,
    /// The credentials given (a token, a key) are missing or wrong (maps
    /// to HTTP 401).
    Unauthorized,
    /// The caller is known but may not do this to an object it may see
    /// (maps to HTTP 403); one it may not see is
    /// [`ErrorKind::NotFound`], as if absent.
    Forbidden,
    /// An input is larger than the limit set for it (an upload).
    TooLarge,
    /// The compute backend of an executor (ECS...) failed or refused.
    Executor,
    /// A bug or an invariant violation inside rat.
    Internal,
}

impl ErrorKind {
    /// Whether errors of this kind are worth retrying by default.
    pub fn is_retryable_by_default(self) -> bool {
        matches!(
            self,
            ErrorKind::Conflict | ErrorKind::QueueFull | ErrorKind::RateLimited
        )
    }

    /// A stable lowercase name, used in JSON output and logs.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::InvalidInput => "invalid_input",
            ErrorKind::NotFound => "not_found",
            ErrorKind::AlreadyExists => "already_exists",
            ErrorKind::Conflict => "conflict",
            ErrorKind::Unsupported => "unsupported",
            ErrorKind::Query => "query",
            ErrorKind::QualityGate => "quality_gate",
            ErrorKind::Cancelled => "cancelled",
            ErrorKind::Timeout => "timeout",
            ErrorKind::Storage => "storage",
            ErrorKind::Catalog => "catalog",
            ErrorKind::QueueFull => "queue_full",
            ErrorKind::RateLimited => "rate_limited",
            ErrorKind::Unauthorized => "unauthorized",
            ErrorKind::Forbidden => "forbidden",
            ErrorKind::TooLarge => "too_large",
            ErrorKind::Executor => "executor",
            ErrorKind::Internal => "internal",
        }
    }
}

impl ErrorKind {
    /// The kind [`ErrorKind::as_str`] names.
    ///
    /// ```
    /// use rat_core::ErrorKind;
    /// assert_eq!(ErrorKind::from_name("queue_full"), Some(ErrorKind::QueueFull));
    /// assert_eq!(ErrorKind::from_name("oops"), None);
    /// ```
    pub fn from_name(name: &str) -> Option<Self> {
        const ALL: [ErrorKind; 18] = [
            ErrorKind::InvalidInput,
            ErrorKind::NotFound,
            ErrorKind::AlreadyExists,
            ErrorKind::Conflict,
            ErrorKind::Unsupported,
            ErrorKind::Query,
            ErrorKind::QualityGate,
            ErrorKind::Cancelled,
            ErrorKind::Timeout,
            ErrorKind::Storage,
            ErrorKind::Catalog,
            ErrorKind::QueueFull,
            ErrorKind::RateLimited,
            ErrorKind::Unauthorized,
            ErrorKind::Forbidden,
            ErrorKind::TooLarge,
            ErrorKind::Executor,
            ErrorKind::Internal,
        ];
        ALL.into_iter().find(|k| k.as_str() == name)
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// rat's error: a [`ErrorKind`], a human message, `key=value` context
/// (file, field, table...) and whether retrying may help.
///
/// ```
/// use rat_core::{Error, ErrorKind};
///
/// let err = Error::new(ErrorKind::InvalidInput, "unknown merge_strategy 'upsert'")
///     .with_context("file", "pipelines/silver/orders/config.yaml")
///     .with_context("field", "merge_strategy");
/// assert!(!err.is_retryable());
/// assert_eq!(
///     err.to_string(),
///     "unknown merge_strategy 'upsert' (file: pipelines/silver/orders/config.yaml, field: merge_strategy)"
/// );
/// ```
#[derive(thiserror::Error)]
pub struct Error {
    kind: ErrorKind,
    message: String,
    context: Vec<(std::borrow::Cow<'static, str>, String)>,
    /// How an error that happened elsewhere (a server) read there, shown
    /// as it is instead of message, context and source.
    rendered: Option<String>,
    retryable: bool,
    /// Whether an access check refused it (shown as it is, or as the
    /// object's own `not_found`): the audit log records the refusal.
    denied: bool,
    #[source]
    source: Option<Box<dyn std::error::Error + Send + Sync + 'static>>,
}

/// `Result` with rat's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// A new error; retryable when the kind is retryable by default.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
            context: Vec::new(),
            rendered: None,
            retryable: kind.is_retryable_by_default(),
            denied: false,
            source: None,
        }
    }

    /// The same error, marked as an access check's refusal (its message
    /// and kind unchanged: a hidden object still looks absent).
    pub fn denied(mut self) -> Self {
        self.denied = true;
        self
    }

    /// Whether an access check refused it.
    pub fn is_denied(&self) -> bool {
        self.denied
    }

    /// Shorthand for [`ErrorKind::InvalidInput`].
    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::InvalidInput, message)
    }

    /// Shorthand for [`ErrorKind::NotFound`].
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::NotFound, message)
    }

    /// Shorthand for [`ErrorKind::Internal`].
    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Internal, message)
    }

    /// An error another process reported (a server answering the API):
    /// its kind, the text it showed there (`rendered`, shown as it is) and
    /// its context, so it prints and reads as it did where it happened.
    ///
    /// ```
    /// use rat_core::{Error, ErrorKind};
    ///
    /// let there = Error::invalid("bad SQL").with_context("file", "p.sql");
    /// let context: Vec<(String, String)> = there.context_pairs().map(|(k, v)| (k.to_owned(), v.to_owned())).collect();
    /// let here = Error::remote(there.kind(), there.to_string(), context);
    /// assert_eq!(here.to_string(), there.to_string());
    /// assert_eq!(here.context("file"), Some("p.sql"));
    /// ```
    pub fn remote(
        kind: ErrorKind,
        rendered: impl Into<String>,
        context: impl IntoIterator<Item = (String, String)>,
    ) -> Self {
        let rendered = rendered.into();
        let mut error = Self::new(kind, rendered.clone());
        error.context = context
            .into_iter()
            .map(|(k, v)| (std::borrow::Cow::Owned(k), v))
            .collect();
        error.rendered = Some(rendered);
        error
    }

    /// Adds a `key: value` pair shown after the message. A key that is
    /// already present keeps its first (innermost) value.
    pub fn with_context(mut self, key: &'static str, value: impl fmt::Display) -> Self {
        if !self.context.iter().any(|(k, _)| *k == key) {
            self.context
                .push((std::borrow::Cow::Borrowed(key), value.to_string()));
            if let Some(rendered) = &mut self.rendered {
                rendered.push_str(&format!(" ({key}: {value})"));
            }
        }
        self
    }

    /// The `key: value` pairs of its context, innermost first.
    pub fn context_pairs(&self) -> impl Iterator<Item = (&str, &str)> {
        self.context.iter().map(|(k, v)| (k.as_ref(), v.as_str()))
    }

    /// Attaches the underlying cause.
    pub fn with_source(mut self, source: impl std::error::Error + Send + Sync + 'static) -> Self {
        self.source = Some(Box::new(source));
        self
    }

    /// Overrides whether the error is retryable.
    pub fn with_retryable(mut self, retryable: bool) -> Self {
        self.retryable = retryable;
        self
    }

    /// The kind of error.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// The message without context.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The value recorded for a context key, if any.
    pub fn context(&self, key: &str) -> Option<&str> {
        self.context
            .iter()
            .find(|(k, _)| *k == key)
            .map(|(_, v)| v.as_str())
    }

    /// Whether retrying the operation may succeed.
    pub fn is_retryable(&self) -> bool {
        self.retryable
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(rendered) = &self.rendered {
            return f.write_str(rendered);
        }
        f.write_str(&self.message)?;
        if !self.context.is_empty() {
            f.write_str(" (")?;
            for (i, (k, v)) in self.context.iter().enumerate() {
                if i > 0 {
                    f.write_str(", ")?;
                }
                write!(f, "{k}: {v}")?;
            }
            f.write_str(")")?;
        }
        if let Some(source) = &self.source {
            write!(f, ": {source}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Error")
            .field("kind", &self.kind)
            .field("message", &self.message)
            .field("context", &self.context)
            .field("retryable", &self.retryable)
            .field("source", &self.source)
            .finish()
    }
}

impl From<iceberg::Error> for Error {
    fn from(err: iceberg::Error) -> Self {
        let kind = match err.kind() {
            iceberg::ErrorKind::CatalogCommitConflicts => ErrorKind::Conflict,
            iceberg::ErrorKind::NamespaceNotFound | iceberg::ErrorKind::TableNotFound => {
                ErrorKind::NotFound
            }
            iceberg::ErrorKind::NamespaceAlreadyExists | iceberg::ErrorKind::TableAlreadyExists => {
                ErrorKind::AlreadyExists
            }
            iceberg::ErrorKind::FeatureUnsupported => ErrorKind::Unsupported,
            iceberg::ErrorKind::DataInvalid => ErrorKind::Catalog,
            _ => ErrorKind::Storage,
        };
        let retryable = err.retryable() || kind.is_retryable_by_default();
        Error::new(kind, "iceberg")
            .with_source(err)
            .with_retryable(retryable)
    }
}

impl From<std::io::Error> for Error {
    fn from(err: std::io::Error) -> Self {
        let kind = match err.kind() {
            std::io::ErrorKind::NotFound => ErrorKind::NotFound,
            _ => ErrorKind::Storage,
        };
        Error::new(kind, "i/o").with_source(err)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conflicts_are_retryable_and_context_keeps_innermost_value() {
        let err = Error::new(ErrorKind::Conflict, "main moved")
            .with_context("table", "default.bronze.a")
            .with_context("table", "outer");
        assert!(err.is_retryable());
        assert_eq!(err.context("table"), Some("default.bronze.a"));
    }

    #[test]
    fn iceberg_conflicts_map_to_retryable_conflict() {
        let err: Error =
            iceberg::Error::new(iceberg::ErrorKind::CatalogCommitConflicts, "ref moved").into();
        assert_eq!(err.kind(), ErrorKind::Conflict);
        assert!(err.is_retryable());
        assert!(err.to_string().contains("ref moved"));
    }
}
