//! Column descriptions: the `columns:` setting of a pipeline, written to
//! the table's Iceberg schema as field docs.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_yaml_ng::Value;

/// Longest column description accepted, in bytes.
pub const MAX_DESCRIPTION_LEN: usize = 4096;

/// The description of each described column, by column name.
///
/// In `config.yaml` a column maps to its text, or (as dbt writes it) to a
/// mapping with `description`:
///
/// ```
/// use rat_core::project::ColumnDescriptions;
///
/// let yaml: serde_yaml_ng::Value = serde_yaml_ng::from_str(
///     "order_id: the shop's order number\namount: {description: in cents}",
/// )
/// .unwrap();
/// let columns = ColumnDescriptions::from_yaml(&yaml).unwrap();
/// assert_eq!(columns.get("amount"), Some("in cents"));
/// let bad: serde_yaml_ng::Value = serde_yaml_ng::from_str("[order_id]").unwrap();
/// assert!(ColumnDescriptions::from_yaml(&bad).is_err());
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "json-schema", derive(schemars::JsonSchema))]
#[serde(transparent)]
pub struct ColumnDescriptions(BTreeMap<String, String>);

impl ColumnDescriptions {
    /// The descriptions a YAML mapping holds; an error names the column
    /// whose entry is not a description.
    pub fn from_yaml(value: &Value) -> Result<Self, String> {
        let Value::Mapping(map) = value else {
            return Err(
                "'columns' must map column names to descriptions, e.g. {order_id: the order's number}"
                    .to_owned(),
            );
        };
        let mut out = BTreeMap::new();
        for (key, entry) in map {
            let name = match key {
                Value::String(s) => s.trim().to_owned(),
                other => return Err(format!("column name {other:?} is not a string")),
            };
            if name.is_empty() || name.len() > 255 || name.chars().any(char::is_control) {
                return Err(format!(
                    "invalid column name '{}' in 'columns'",
                    name.escape_default()
                ));
            }
            let text =
                description_of(entry).map_err(|problem| format!("column '{name}': {problem}"))?;
            out.insert(name, text);
        }
        Ok(Self(out))
    }

    /// The description of `column`, if it has one.
    pub fn get(&self, column: &str) -> Option<&str> {
        self.0.get(column).map(String::as_str)
    }

    /// Whether no column is described.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The described columns, by name.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.0.keys().map(String::as_str)
    }
}

/// The text of one column's entry: a string, or `{description: ...}`.
fn description_of(entry: &Value) -> Result<String, String> {
    let text = match entry {
        Value::String(s) => s.trim(),
        Value::Mapping(map) => {
            let mut text = None;
            for (k, v) in map {
                match (k.as_str(), v) {
                    (Some("description"), Value::String(s)) => text = Some(s.trim()),
                    (Some("description"), _) => return Err("'description' must be text".into()),
                    _ => {
                        return Err(format!(
                            "unknown key {k:?} (a column takes only 'description')"
                        ));
                    }
                }
            }
            text.ok_or("the entry lacks 'description'")?
        }
        _ => return Err("the description must be text or {description: ...}".into()),
    };
    if text.is_empty() {
        return Err("the description is empty".into());
    }
    if text.len() > MAX_DESCRIPTION_LEN {
        return Err(format!(
            "the description is longer than {MAX_DESCRIPTION_LEN} bytes"
        ));
    }
    Ok(text.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(yaml: &str) -> Result<ColumnDescriptions, String> {
        ColumnDescriptions::from_yaml(&serde_yaml_ng::from_str(yaml).unwrap())
    }

    #[test]
    fn both_forms_are_read_and_bad_entries_name_their_column() {
        let c = parse("id: key\nName: {description: ' shown '}").unwrap();
        assert_eq!((c.get("id"), c.get("Name")), (Some("key"), Some("shown")));
        assert_eq!(c.names().collect::<Vec<_>>(), ["Name", "id"]);
        for (yaml, needle) in [
            ("id: ''", "column 'id': the description is empty"),
            ("id: {doc: x}", "column 'id': unknown key"),
            ("id: {}", "column 'id': the entry lacks"),
            ("id: [a]", "column 'id': the description must be text"),
            ("1: x", "is not a string"),
            ("'': x", "invalid column name"),
            ("x", "must map column names"),
        ] {
            let err = parse(yaml).unwrap_err();
            assert!(err.contains(needle), "{yaml}: {err}");
        }
        let long = format!("id: {}", "x".repeat(MAX_DESCRIPTION_LEN + 1));
        assert!(parse(&long).unwrap_err().contains("longer than"));
    }
}
