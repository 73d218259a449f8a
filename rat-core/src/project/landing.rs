//! Landing zones: folders of raw files a namespace's pipelines read with
//! `landing_zone('zone')`.
//!
//! ```text
//! {prefix}landing/{zone}/_zone.yaml              optional: description, format, archive
//! {prefix}landing/{zone}/{file}                  what `landing_zone()` reads
//! {prefix}landing/{zone}/_processed/{run}/{file} files a successful run consumed
//! ```
//!
//! Names starting with `_` or `.` belong to rat (the zone file, the
//! archive, temporary uploads): `landing_zone()` never reads them and an
//! upload may not take them.

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::ident::Identifier;
use crate::storage::ObjectKey;

use super::ProjectSource;

/// The zone's own settings file, beside its data.
pub const ZONE_FILE: &str = "_zone.yaml";
/// The folder of a zone where consumed files are archived, by run.
pub const PROCESSED_DIR: &str = "_processed";
/// Longest landing file name, in bytes (what file systems allow).
pub const MAX_FILE_NAME: usize = 255;

/// A file format `landing_zone()` reads, known by the file's extension.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "json-schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "lowercase")]
pub enum FileFormat {
    /// `.csv`, `.tsv`, `.csv.gz`.
    Csv,
    /// `.json`, `.jsonl`, `.ndjson`.
    Json,
    /// `.parquet`.
    Parquet,
}

impl FileFormat {
    /// The format of a file by its name, if rat reads it.
    ///
    /// ```
    /// use rat_core::project::FileFormat;
    ///
    /// assert_eq!(FileFormat::of("Orders.CSV"), Some(FileFormat::Csv));
    /// assert_eq!(FileFormat::of("events.ndjson"), Some(FileFormat::Json));
    /// assert_eq!(FileFormat::of("notes.txt"), None);
    /// ```
    pub fn of(name: &str) -> Option<Self> {
        let name = name.to_ascii_lowercase();
        let ends = |suffixes: &[&str]| suffixes.iter().any(|s| name.ends_with(s));
        if ends(&[".parquet"]) {
            Some(Self::Parquet)
        } else if ends(&[".csv", ".tsv", ".csv.gz"]) {
            Some(Self::Csv)
        } else if ends(&[".json", ".jsonl", ".ndjson"]) {
            Some(Self::Json)
        } else {
            None
        }
    }

    /// The lowercase name (`csv`, `json`, `parquet`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Csv => "csv",
            Self::Json => "json",
            Self::Parquet => "parquet",
        }
    }
}

impl std::fmt::Display for FileFormat {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What `_zone.yaml` says about a zone; every field is optional.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "json-schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct ZoneSettings {
    /// What the zone receives, for people.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// The format files must have; uploads of another are refused.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expected_format: Option<FileFormat>,
    /// Whether files a successful run read move to `_processed/{run}/`.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub archive: bool,
}

impl ZoneSettings {
    /// Parses a zone file; errors name it.
    pub fn parse(text: &str, file: &str) -> Result<Self> {
        serde_yaml_ng::from_str::<Option<Self>>(text)
            .map(Option::unwrap_or_default)
            .map_err(|e| {
                let mut err = Error::invalid(format!("invalid zone settings: {e}"))
                    .with_context("file", file);
                if let Some(at) = e.location() {
                    err = err.with_context("line", at.line().to_string());
                }
                err
            })
    }

    /// The zone file's text.
    pub fn to_yaml(&self) -> String {
        serde_yaml_ng::to_string(self).unwrap_or_default()
    }
}

/// `{prefix}landing/{zone}/`: where a zone's objects are.
pub fn zone_prefix(project: &ProjectSource, zone: &Identifier) -> String {
    format!("{}landing/{zone}/", project.prefix)
}

/// The key of `name` in the zone.
pub fn zone_key(project: &ProjectSource, zone: &Identifier, name: &str) -> Result<ObjectKey> {
    ObjectKey::new(format!("{}{name}", zone_prefix(project, zone)))
}

/// Whether an object at `relative` (its key after the zone's prefix) is
/// data `landing_zone()` reads: no part of it belongs to rat.
///
/// ```
/// use rat_core::project::landing::is_zone_data;
///
/// assert!(is_zone_data("orders.csv"));
/// assert!(is_zone_data("2024/orders.csv"));
/// assert!(!is_zone_data("_zone.yaml"));
/// assert!(!is_zone_data("_processed/0195/orders.csv"));
/// assert!(!is_zone_data(".orders.csv.123.tmp"));
/// ```
pub fn is_zone_data(relative: &str) -> bool {
    relative
        .split('/')
        .all(|part| !part.starts_with('_') && !part.starts_with('.'))
}

/// Checks a landing file name given by a user: one path part of letters,
/// digits, `.`, `-` and `_`, not starting with `.` or `_` (those are
/// rat's), at most [`MAX_FILE_NAME`] bytes. The error names the value.
///
/// ```
/// use rat_core::project::landing::file_name;
///
/// assert!(file_name("orders-2024_01.csv").is_ok());
/// for bad in ["", "../x", "a/b", "_zone.yaml", ".hidden", "a b.csv"] {
///     assert!(file_name(bad).is_err(), "{bad}");
/// }
/// ```
pub fn file_name(name: &str) -> Result<&str> {
    let allowed = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_');
    let problem = if name.is_empty() {
        Some("is empty".to_owned())
    } else if name.len() > MAX_FILE_NAME {
        Some(format!("is longer than {MAX_FILE_NAME} bytes"))
    } else if name.starts_with('.') || name.starts_with('_') {
        Some("starts with '.' or '_', which rat keeps for itself".to_owned())
    } else {
        name.chars().find(|c| !allowed(*c)).map(|c| {
            format!(
                "holds '{}'; use letters, digits, '.', '-' and '_'",
                c.escape_default()
            )
        })
    };
    match problem {
        None => Ok(name),
        Some(problem) => Err(Error::invalid(format!(
            "file name '{}' {problem}",
            truncated(name).escape_default()
        ))
        .with_context("field", "file")),
    }
}

/// The first 80 characters of a name, for messages.
fn truncated(name: &str) -> String {
    match name.char_indices().nth(80) {
        Some((at, _)) => format!("{}...", &name[..at]),
        None => name.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zone_settings_round_trip_and_errors_name_the_file() {
        let settings = ZoneSettings {
            description: Some("orders from the shop".into()),
            expected_format: Some(FileFormat::Csv),
            archive: true,
        };
        let text = settings.to_yaml();
        assert_eq!(ZoneSettings::parse(&text, "z").unwrap(), settings);
        assert_eq!(
            ZoneSettings::parse("", "z").unwrap(),
            ZoneSettings::default()
        );
        let err = ZoneSettings::parse("archive: maybe\n", "landing/o/_zone.yaml").unwrap_err();
        assert_eq!(err.context("file"), Some("landing/o/_zone.yaml"));
        let err = ZoneSettings::parse("expected_format: xml\n", "f").unwrap_err();
        assert!(err.to_string().contains("xml"), "{err}");
    }

    #[test]
    fn long_file_names_are_refused_and_cut_in_the_message() {
        let long = "a".repeat(MAX_FILE_NAME + 1);
        let err = file_name(&long).unwrap_err();
        assert!(err.to_string().len() < 200, "{err}");
        assert!(file_name(&"a".repeat(MAX_FILE_NAME)).is_ok());
    }
}
