//! `-- @key: value` header annotations of pipeline and test SQL files, and
//! `# @key: value` ones of `pipeline.py`.

use serde_yaml_ng::Value;

use crate::error::{Error, Result};

/// One annotation: its key, its value (parsed as YAML when it parses, else a
/// plain string) and the 1-based line it came from.
#[derive(Debug, Clone, PartialEq)]
pub struct Annotation {
    /// The key after `@`.
    pub key: String,
    /// The value.
    pub value: Value,
    /// 1-based line number in the file.
    pub line: usize,
}

/// Reads the annotations from the header of `source`: the leading run of
/// blank and comment lines (`#` in a `.py` file, `--` otherwise). The first
/// other line ends the header.
///
/// ```
/// use rat_core::project::parse_annotations;
///
/// let sql = "-- @merge_strategy: incremental\n-- @unique_key: a, b\nSELECT 1\n-- @ignored: x";
/// let found = parse_annotations(sql, "pipeline.sql").unwrap();
/// assert_eq!(found.len(), 2);
/// assert_eq!(found[1].value.as_str(), Some("a, b"));
/// let py = "#!/usr/bin/env python3\n# @merge_strategy: full_refresh\nresult = None";
/// assert_eq!(parse_annotations(py, "pipeline.py").unwrap()[0].line, 2);
/// ```
pub fn parse_annotations(source: &str, file: &str) -> Result<Vec<Annotation>> {
    let marker = if file.ends_with(".py") { "#" } else { "--" };
    let mut found = Vec::new();
    for (idx, line) in source.lines().enumerate() {
        let trimmed = line.trim();
        if trimmed.is_empty() {
            continue;
        }
        let Some(comment) = trimmed.strip_prefix(marker) else {
            break;
        };
        let Some(body) = comment.trim_start().strip_prefix('@') else {
            continue;
        };
        let line_no = idx + 1;
        let located = |msg: String| {
            Error::invalid(msg)
                .with_context("file", file)
                .with_context("line", line_no)
        };
        let (key, raw) = body.split_once(':').ok_or_else(|| {
            located(format!(
                "annotation '@{}' has no value: write '{marker} @key: value'",
                body.trim()
            ))
        })?;
        let key = key.trim();
        if key.is_empty() || !key.chars().all(|c| c.is_ascii_lowercase() || c == '_') {
            return Err(located(format!(
                "invalid annotation key '{}'",
                key.escape_default()
            )));
        }
        if found.iter().any(|a: &Annotation| a.key == key) {
            return Err(located(format!("annotation '@{key}' is given twice")));
        }
        let raw = raw.trim();
        if raw.is_empty() {
            return Err(located(format!("annotation '@{key}' has an empty value")));
        }
        found.push(Annotation {
            key: key.to_owned(),
            value: parse_value(raw),
            line: line_no,
        });
    }
    Ok(found)
}

/// YAML when the text is a list or mapping in flow style (`[...]`, `{...}`),
/// a plain string otherwise, so `a, b` and `Orders: cleaned` stay text.
fn parse_value(raw: &str) -> Value {
    let structured = raw.starts_with('[') || raw.starts_with('{');
    match serde_yaml_ng::from_str::<Value>(raw) {
        Ok(value) if structured => value,
        _ => Value::String(raw.to_owned()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_stops_at_first_statement_line() {
        let sql = "\n-- a plain comment\n-- @severity: warn\n\nSELECT 1\n-- @description: late";
        let found = parse_annotations(sql, "t.sql").unwrap();
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].line, 3);
    }

    #[test]
    fn python_headers_use_hash_comments() {
        let py =
            "# a comment\n# @merge_strategy: incremental\n-- @not: this\nimport os\n# @late: x";
        let found = parse_annotations(py, "pipelines/b/x/pipeline.py").unwrap();
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].key, "merge_strategy");
        let err = parse_annotations("# @merge_strategy\n", "pipeline.py").unwrap_err();
        assert!(err.to_string().contains("'# @key: value'"), "{err}");
    }

    #[test]
    fn flow_yaml_values_are_structured() {
        let sql = "-- @partition_by: [{column: d, transform: day}]\nSELECT 1";
        let found = parse_annotations(sql, "p.sql").unwrap();
        assert!(found[0].value.is_sequence());
    }

    #[test]
    fn malformed_annotations_name_file_and_line() {
        for sql in [
            "-- @merge_strategy\n",
            "-- @Bad: x\n",
            "-- @a: 1\n-- @a: 2\n",
            "-- @a:\n",
        ] {
            let err = parse_annotations(sql, "pipelines/x/pipeline.sql").unwrap_err();
            assert_eq!(
                err.context("file"),
                Some("pipelines/x/pipeline.sql"),
                "{err}"
            );
            assert!(err.context("line").is_some());
        }
    }
}
