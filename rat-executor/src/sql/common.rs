//! Encoding shared by the SQL backends: times as RFC 3339 text, JSON
//! columns, and errors that name what failed.

use chrono::{DateTime, Utc};
use rat_core::{Error, ErrorKind, Result};

pub(crate) const NOT_TERMINAL: &str = "status IN ('pending', 'running')";

pub(crate) fn from_json<T: serde::de::DeserializeOwned>(text: Option<String>) -> Result<Option<T>> {
    text.map(|t| serde_json::from_str(&t).map_err(|e| corrupt("json", e)))
        .transpose()
}

pub(crate) fn json<T: serde::Serialize + ?Sized>(value: &T) -> Result<String> {
    serde_json::to_string(value).map_err(|e| Error::internal(format!("cannot encode: {e}")))
}

/// Times sort as text: UTC, fixed precision.
pub(crate) fn time(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
}

pub(crate) fn parse_time(text: String) -> Result<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(&text)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| corrupt("time", e))
}

pub(crate) fn opt_text(value: &Option<impl ToString>) -> Option<String> {
    value.as_ref().map(ToString::to_string)
}

pub(crate) fn level_name(level: rat_core::LogLevel) -> String {
    serde_json::to_value(level)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_else(|| "info".into())
}

pub(crate) fn corrupt(what: &str, err: impl std::fmt::Display) -> Error {
    Error::internal(format!("the run store holds an invalid {what}: {err}"))
}

pub(crate) fn db_error(
    message: &str,
    err: impl std::error::Error + Send + Sync + 'static,
) -> Error {
    Error::new(ErrorKind::Storage, message).with_source(err)
}
