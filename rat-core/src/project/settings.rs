//! Pipeline settings: `config.yaml` overridden per field by annotations.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use serde_yaml_ng::Value;

use super::annotations::Annotation;
use super::columns::ColumnDescriptions;
use crate::MaintenanceOverrides;
use crate::error::{Error, Result};

/// How a run's result is merged into the table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[cfg_attr(feature = "json-schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum MergeStrategy {
    /// The table holds exactly the new result.
    #[default]
    FullRefresh,
    /// Rows whose `unique_key` appears in the (deduplicated) result are replaced.
    Incremental,
    /// Existing rows plus all new rows.
    AppendOnly,
    /// Rows whose `unique_key` appears in the result are deleted, then all new rows inserted.
    DeleteInsert,
    /// Slowly changing dimension, type 2: history with validity columns.
    Scd2,
    /// Partitions present in the new result are replaced wholesale.
    Snapshot,
}

impl MergeStrategy {
    /// All strategies, in documentation order.
    pub const ALL: [MergeStrategy; 6] = [
        MergeStrategy::FullRefresh,
        MergeStrategy::Incremental,
        MergeStrategy::AppendOnly,
        MergeStrategy::DeleteInsert,
        MergeStrategy::Scd2,
        MergeStrategy::Snapshot,
    ];

    /// The name used in settings.
    pub fn as_str(self) -> &'static str {
        match self {
            MergeStrategy::FullRefresh => "full_refresh",
            MergeStrategy::Incremental => "incremental",
            MergeStrategy::AppendOnly => "append_only",
            MergeStrategy::DeleteInsert => "delete_insert",
            MergeStrategy::Scd2 => "scd2",
            MergeStrategy::Snapshot => "snapshot",
        }
    }
}

impl fmt::Display for MergeStrategy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for MergeStrategy {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        MergeStrategy::ALL
            .into_iter()
            .find(|m| m.as_str() == s)
            .ok_or_else(|| {
                let known: Vec<&str> = MergeStrategy::ALL.iter().map(|m| m.as_str()).collect();
                Error::invalid(format!(
                    "unknown merge_strategy '{}': expected one of {}",
                    s.escape_default(),
                    known.join(", ")
                ))
            })
    }
}

/// An Iceberg partition transform, as written in `partition_by`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum PartitionTransform {
    /// The value itself.
    Identity,
    /// Years since 1970.
    Year,
    /// Months since 1970-01.
    Month,
    /// Days since 1970-01-01.
    Day,
    /// Hours since 1970-01-01T00:00.
    Hour,
    /// Murmur3 hash modulo N.
    Bucket(u32),
    /// Truncation to width W.
    Truncate(u32),
}

impl fmt::Display for PartitionTransform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PartitionTransform::Identity => f.write_str("identity"),
            PartitionTransform::Year => f.write_str("year"),
            PartitionTransform::Month => f.write_str("month"),
            PartitionTransform::Day => f.write_str("day"),
            PartitionTransform::Hour => f.write_str("hour"),
            PartitionTransform::Bucket(n) => write!(f, "bucket[{n}]"),
            PartitionTransform::Truncate(w) => write!(f, "truncate[{w}]"),
        }
    }
}

impl FromStr for PartitionTransform {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        let bad = || {
            Error::invalid(format!(
                "unknown partition transform '{}': expected identity, year, month, day, hour, bucket[N] or truncate[N]",
                s.escape_default()
            ))
        };
        let sized = |prefix: &str| -> Option<Result<u32>> {
            let inner = s
                .strip_prefix(prefix)?
                .strip_prefix('[')?
                .strip_suffix(']')?;
            Some(
                inner
                    .trim()
                    .parse::<u32>()
                    .ok()
                    .filter(|n| *n > 0)
                    .ok_or_else(bad),
            )
        };
        match s {
            "identity" => Ok(Self::Identity),
            "year" => Ok(Self::Year),
            "month" => Ok(Self::Month),
            "day" => Ok(Self::Day),
            "hour" => Ok(Self::Hour),
            _ => {
                if let Some(n) = sized("bucket") {
                    Ok(Self::Bucket(n?))
                } else if let Some(w) = sized("truncate") {
                    Ok(Self::Truncate(w?))
                } else {
                    Err(bad())
                }
            }
        }
    }
}

impl TryFrom<String> for PartitionTransform {
    type Error = Error;
    fn try_from(value: String) -> Result<Self> {
        value.parse()
    }
}

impl From<PartitionTransform> for String {
    fn from(value: PartitionTransform) -> Self {
        value.to_string()
    }
}

/// One entry of `partition_by`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "json-schema", derive(schemars::JsonSchema))]
pub struct PartitionField {
    /// The source column.
    pub column: String,
    /// The transform applied to it.
    pub transform: PartitionTransform,
}

/// The effective settings of a pipeline.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "json-schema", derive(schemars::JsonSchema))]
pub struct PipelineSettings {
    /// How results merge into the table.
    pub merge_strategy: MergeStrategy,
    /// Key columns (`incremental`, `delete_insert`, `scd2`).
    pub unique_key: Vec<String>,
    /// Column whose max on `main` becomes `watermark_value`.
    pub watermark_column: Option<String>,
    /// Column whose values define the partitions `snapshot` replaces.
    pub partition_column: Option<String>,
    /// Iceberg partition spec of the table.
    pub partition_by: Vec<PartitionField>,
    /// scd2 validity start column.
    pub scd_valid_from: String,
    /// scd2 validity end column.
    pub scd_valid_to: String,
    /// Free text, stored as the table property `comment`.
    pub description: Option<String>,
    /// Descriptions of columns, stored as the table schema's field docs.
    #[serde(default, skip_serializing_if = "ColumnDescriptions::is_empty")]
    pub columns: ColumnDescriptions,
    /// Maintenance settings of this pipeline's table, over the project's.
    #[serde(default, skip_serializing_if = "MaintenanceOverrides::is_empty")]
    pub maintenance: MaintenanceOverrides,
}

impl Default for PipelineSettings {
    fn default() -> Self {
        Self {
            merge_strategy: MergeStrategy::default(),
            unique_key: Vec::new(),
            watermark_column: None,
            partition_column: None,
            partition_by: Vec::new(),
            scd_valid_from: "valid_from".into(),
            scd_valid_to: "valid_to".into(),
            description: None,
            columns: ColumnDescriptions::default(),
            maintenance: MaintenanceOverrides::default(),
        }
    }
}

const KNOWN_KEYS: [&str; 10] = [
    "merge_strategy",
    "unique_key",
    "watermark_column",
    "partition_column",
    "partition_by",
    "scd_valid_from",
    "scd_valid_to",
    "description",
    "columns",
    "maintenance",
];

/// Where a setting's value came from, for error messages.
#[derive(Debug, Clone)]
struct Origin {
    file: String,
    line: Option<usize>,
}

impl Origin {
    fn error(&self, field: &str, message: String) -> Error {
        let err = Error::invalid(message)
            .with_context("file", &self.file)
            .with_context("field", field);
        match self.line {
            Some(line) => err.with_context("line", line),
            None => err,
        }
    }
}

/// Settings resolved from their sources, plus warnings for unknown keys.
#[derive(Debug, Clone)]
pub struct ResolvedSettings {
    /// The effective settings.
    pub settings: PipelineSettings,
    /// Non-fatal findings (unknown keys).
    pub warnings: Vec<String>,
}

/// Resolves settings from `config.yaml` text (if any) and the annotations of
/// `pipeline.sql`. Annotations win per field. Every error names the file and
/// the field.
pub fn resolve_settings(
    config_yaml: Option<(&str, &str)>,
    annotations: &[Annotation],
    sql_file: &str,
) -> Result<ResolvedSettings> {
    let mut fields: BTreeMap<String, (Value, Origin)> = BTreeMap::new();
    if let Some((file, text)) = config_yaml {
        let origin = Origin {
            file: file.to_owned(),
            line: None,
        };
        let doc: Value = serde_yaml_ng::from_str(text).map_err(|e| {
            let err = Error::invalid(format!("invalid YAML: {e}")).with_context("file", file);
            match e.location() {
                Some(loc) => err.with_context("line", loc.line()),
                None => err,
            }
        })?;
        match doc {
            Value::Null => {}
            Value::Mapping(map) => {
                for (k, v) in map {
                    let Some(key) = k.as_str() else {
                        return Err(Error::invalid("setting names must be strings")
                            .with_context("file", file));
                    };
                    fields.insert(key.to_owned(), (v, origin.clone()));
                }
            }
            _ => {
                return Err(Error::invalid("config.yaml must be a mapping of settings")
                    .with_context("file", file));
            }
        }
    }
    for a in annotations {
        let origin = Origin {
            file: sql_file.to_owned(),
            line: Some(a.line),
        };
        fields.insert(a.key.clone(), (a.value.clone(), origin));
    }

    let mut settings = PipelineSettings::default();
    let mut warnings = Vec::new();
    for (key, (value, origin)) in &fields {
        let field = key.as_str();
        match field {
            "merge_strategy" => {
                let text = string_value(value, field, origin)?;
                settings.merge_strategy = text
                    .parse()
                    .map_err(|e: Error| origin.error(field, e.message().to_owned()))?;
            }
            "unique_key" => settings.unique_key = column_list(value, field, origin)?,
            "watermark_column" => settings.watermark_column = Some(column(value, field, origin)?),
            "partition_column" => settings.partition_column = Some(column(value, field, origin)?),
            "partition_by" => settings.partition_by = partition_by(value, field, origin)?,
            "scd_valid_from" => settings.scd_valid_from = column(value, field, origin)?,
            "scd_valid_to" => settings.scd_valid_to = column(value, field, origin)?,
            "description" => settings.description = Some(string_value(value, field, origin)?),
            "columns" => {
                settings.columns = ColumnDescriptions::from_yaml(value)
                    .map_err(|message| origin.error(field, message))?;
            }
            "maintenance" => {
                settings.maintenance = MaintenanceOverrides::from_yaml(value)
                    .map_err(|message| origin.error(field, message))?;
            }
            _ => warnings.push(format!(
                "{}: unknown setting '{key}' ignored (known: {})",
                origin.file,
                KNOWN_KEYS.join(", ")
            )),
        }
    }
    check_required(&settings, &fields, sql_file)?;
    Ok(ResolvedSettings { settings, warnings })
}

/// A strategy that needs a key it lacks is an error before any work.
fn check_required(
    s: &PipelineSettings,
    fields: &BTreeMap<String, (Value, Origin)>,
    sql_file: &str,
) -> Result<()> {
    let origin = fields
        .get("merge_strategy")
        .map(|(_, o)| o.clone())
        .unwrap_or(Origin {
            file: sql_file.to_owned(),
            line: None,
        });
    let strategy = s.merge_strategy;
    let needs_key = matches!(
        strategy,
        MergeStrategy::Incremental | MergeStrategy::DeleteInsert | MergeStrategy::Scd2
    );
    if needs_key && s.unique_key.is_empty() {
        return Err(origin.error(
            "unique_key",
            format!("merge_strategy '{strategy}' needs unique_key"),
        ));
    }
    if strategy == MergeStrategy::Snapshot
        && s.partition_column.is_none()
        && s.partition_by.is_empty()
    {
        return Err(origin.error(
            "partition_column",
            "merge_strategy 'snapshot' needs partition_column or partition_by".into(),
        ));
    }
    if strategy == MergeStrategy::Scd2 && s.scd_valid_from == s.scd_valid_to {
        return Err(origin.error(
            "scd_valid_to",
            "scd_valid_from and scd_valid_to must be different columns".into(),
        ));
    }
    Ok(())
}

fn string_value(value: &Value, field: &str, origin: &Origin) -> Result<String> {
    match value {
        Value::String(s) if !s.trim().is_empty() => Ok(s.trim().to_owned()),
        Value::String(_) | Value::Null => Err(origin.error(field, format!("'{field}' is empty"))),
        Value::Number(n) => Ok(n.to_string()),
        Value::Bool(b) => Ok(b.to_string()),
        _ => Err(origin.error(field, format!("'{field}' must be a string"))),
    }
}

/// A column name as given by the user. It is always quoted when it reaches
/// SQL, so any printable name is allowed.
fn column(value: &Value, field: &str, origin: &Origin) -> Result<String> {
    let name = string_value(value, field, origin)?;
    if name.chars().any(char::is_control) || name.len() > 255 {
        return Err(origin.error(
            field,
            format!("invalid column name '{}'", name.escape_default()),
        ));
    }
    Ok(name)
}

fn column_list(value: &Value, field: &str, origin: &Origin) -> Result<Vec<String>> {
    let items: Vec<Value> = match value {
        Value::Sequence(items) => items.clone(),
        Value::String(s) => s.split(',').map(|p| Value::String(p.into())).collect(),
        other => vec![other.clone()],
    };
    let mut columns = Vec::with_capacity(items.len());
    for item in &items {
        let col = column(item, field, origin)?;
        if columns.contains(&col) {
            return Err(origin.error(field, format!("column '{col}' is listed twice")));
        }
        columns.push(col);
    }
    if columns.is_empty() {
        return Err(origin.error(field, format!("'{field}' is empty")));
    }
    Ok(columns)
}

fn partition_by(value: &Value, field: &str, origin: &Origin) -> Result<Vec<PartitionField>> {
    let Value::Sequence(items) = value else {
        return Err(origin.error(
            field,
            "partition_by must be a list of {column, transform}".into(),
        ));
    };
    let mut out = Vec::with_capacity(items.len());
    for item in items {
        let Value::Mapping(map) = item else {
            return Err(origin.error(
                field,
                "each partition_by entry must be {column: ..., transform: ...}".into(),
            ));
        };
        let mut column_name = None;
        let mut transform = PartitionTransform::Identity;
        for (k, v) in map {
            match k.as_str() {
                Some("column") => column_name = Some(column(v, field, origin)?),
                Some("transform") => {
                    transform = string_value(v, field, origin)?
                        .parse()
                        .map_err(|e: Error| origin.error(field, e.message().to_owned()))?;
                }
                _ => {
                    return Err(origin.error(
                        field,
                        format!("unknown key {k:?} in partition_by (expected column, transform)"),
                    ));
                }
            }
        }
        let column_name = column_name
            .ok_or_else(|| origin.error(field, "a partition_by entry lacks 'column'".into()))?;
        out.push(PartitionField {
            column: column_name,
            transform,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::project::parse_annotations;

    fn resolve(yaml: Option<&str>, sql: &str) -> Result<ResolvedSettings> {
        let ann = parse_annotations(sql, "pipeline.sql")?;
        resolve_settings(yaml.map(|y| ("config.yaml", y)), &ann, "pipeline.sql")
    }

    #[test]
    fn maintenance_settings_of_a_pipeline() {
        let r = resolve(
            Some("maintenance:\n  keep_last: 3\n  snapshot_retention: 2d\n"),
            "SELECT 1",
        )
        .unwrap();
        let effective = r.settings.maintenance.apply(&Default::default());
        assert_eq!(effective.keep_last, 3);
        assert_eq!(effective.snapshot_retention.as_secs(), 2 * 86_400);
        let r = resolve(
            None,
            "-- @maintenance: {target_file_size: 1048576}\nSELECT 1",
        )
        .unwrap();
        assert_eq!(
            r.settings
                .maintenance
                .apply(&Default::default())
                .target_file_size,
            1 << 20
        );
        let err = resolve(None, "-- @maintenance: {keep_last: 0}\nSELECT 1").unwrap_err();
        assert!(err.to_string().contains("at least 1"), "{err}");
        assert_eq!(err.context("field"), Some("maintenance"));
        assert_eq!(err.context("line"), Some("1"));
    }

    #[test]
    fn annotations_win_per_field() {
        let yaml = "merge_strategy: incremental\nunique_key: [id]\nwatermark_column: ts\n";
        let r = resolve(Some(yaml), "-- @unique_key: a, b\nSELECT 1").unwrap();
        assert_eq!(r.settings.merge_strategy, MergeStrategy::Incremental);
        assert_eq!(r.settings.unique_key, vec!["a", "b"]);
        assert_eq!(r.settings.watermark_column.as_deref(), Some("ts"));
    }

    #[test]
    fn errors_name_file_and_field() {
        let err = resolve(Some("merge_strategy: upsert\n"), "SELECT 1").unwrap_err();
        assert_eq!(err.context("file"), Some("config.yaml"));
        assert_eq!(err.context("field"), Some("merge_strategy"));
        assert!(err.message().contains("upsert"));

        let err = resolve(None, "-- @merge_strategy: upsert\nSELECT 1").unwrap_err();
        assert_eq!(err.context("file"), Some("pipeline.sql"));
        assert_eq!(err.context("line"), Some("1"));

        let err = resolve(Some("a: [\n"), "SELECT 1").unwrap_err();
        assert!(err.message().starts_with("invalid YAML"));
    }

    #[test]
    fn required_keys_are_checked_before_work() {
        let err = resolve(None, "-- @merge_strategy: incremental\nSELECT 1").unwrap_err();
        assert_eq!(err.context("field"), Some("unique_key"));
        let err = resolve(None, "-- @merge_strategy: snapshot\nSELECT 1").unwrap_err();
        assert_eq!(err.context("field"), Some("partition_column"));
        assert!(
            resolve(
                None,
                "-- @merge_strategy: snapshot\n-- @partition_column: d\nSELECT 1"
            )
            .is_ok()
        );
    }

    #[test]
    fn unknown_keys_warn() {
        let r = resolve(Some("materialized: table\n"), "SELECT 1").unwrap();
        assert_eq!(r.warnings.len(), 1);
        assert!(r.warnings[0].contains("materialized"));
    }

    #[test]
    fn partition_by_parses_all_transforms() {
        let yaml = "partition_by:\n  - {column: ts, transform: day}\n  - {column: id, transform: 'bucket[16]'}\n  - {column: s, transform: 'truncate[4]'}\n  - column: c\n";
        let r = resolve(Some(yaml), "SELECT 1").unwrap();
        let t: Vec<_> = r
            .settings
            .partition_by
            .iter()
            .map(|p| p.transform)
            .collect();
        assert_eq!(
            t,
            [
                PartitionTransform::Day,
                PartitionTransform::Bucket(16),
                PartitionTransform::Truncate(4),
                PartitionTransform::Identity
            ]
        );
        for bad in ["bucket[0]", "bucket", "week", "truncate[x]"] {
            let yaml = format!("partition_by: [{{column: a, transform: '{bad}'}}]");
            assert!(resolve(Some(&yaml), "SELECT 1").is_err(), "{bad}");
        }
    }
}
