//! Quality tests: templated queries returning violating rows.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::annotations::parse_annotations;
use crate::error::{Error, Result};

/// Default per-test time limit.
pub const DEFAULT_TEST_TIMEOUT: Duration = Duration::from_secs(60);

/// What a failing test does to the run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[cfg_attr(feature = "json-schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// A failure blocks publication.
    #[default]
    Error,
    /// A failure is recorded; the run still publishes.
    Warn,
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Severity::Error => "error",
            Severity::Warn => "warn",
        })
    }
}

impl FromStr for Severity {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "error" => Ok(Severity::Error),
            "warn" | "warning" => Ok(Severity::Warn),
            other => Err(Error::invalid(format!(
                "unknown severity '{}': expected error or warn",
                other.escape_default()
            ))),
        }
    }
}

/// One `tests/quality/*.sql` file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "json-schema", derive(schemars::JsonSchema))]
pub struct QualityTest {
    /// The file stem, e.g. `unique_order_id`.
    pub name: String,
    /// The storage key of the file.
    pub file: String,
    /// The whole file (annotations are SQL comments, so it is valid SQL).
    pub sql: String,
    /// `error` (default) or `warn`.
    pub severity: Severity,
    /// What the test checks.
    pub description: Option<String>,
    /// Free tags.
    pub tags: Vec<String>,
    /// What to do when it fails.
    pub remediation: Option<String>,
    /// Time limit (`-- @timeout: 30s`, default 60 s).
    #[serde(with = "duration_secs")]
    #[cfg_attr(feature = "json-schema", schemars(with = "f64"))]
    pub timeout: Duration,
}

impl QualityTest {
    /// Parses a test file. Errors name the file.
    pub fn parse(file: &str, sql: &str) -> Result<(Self, Vec<String>)> {
        let stem = file
            .rsplit('/')
            .next()
            .and_then(|f| f.strip_suffix(".sql"))
            .unwrap_or_default();
        let valid_name = !stem.is_empty()
            && stem
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
        if !valid_name {
            return Err(Error::invalid(format!(
                "invalid quality test name '{}': use letters, digits, '_' and '-'",
                stem.escape_default()
            ))
            .with_context("file", file));
        }
        let mut test = QualityTest {
            name: stem.to_owned(),
            file: file.to_owned(),
            sql: sql.to_owned(),
            severity: Severity::default(),
            description: None,
            tags: Vec::new(),
            remediation: None,
            timeout: DEFAULT_TEST_TIMEOUT,
        };
        let mut warnings = Vec::new();
        for a in parse_annotations(sql, file)? {
            let text = match &a.value {
                serde_yaml_ng::Value::String(s) => s.clone(),
                other => serde_yaml_ng::to_string(other).unwrap_or_default(),
            };
            let located = |e: Error| {
                Error::invalid(e.message().to_owned())
                    .with_context("file", file)
                    .with_context("field", &a.key)
                    .with_context("line", a.line)
            };
            match a.key.as_str() {
                "severity" => test.severity = text.parse().map_err(located)?,
                "description" => test.description = Some(text),
                "remediation" => test.remediation = Some(text),
                "tags" => {
                    test.tags = text
                        .split(',')
                        .map(|t| t.trim().to_owned())
                        .filter(|t| !t.is_empty())
                        .collect();
                }
                "timeout" => test.timeout = parse_timeout(&text).map_err(located)?,
                other => warnings.push(format!("{file}: unknown annotation '@{other}' ignored")),
            }
        }
        Ok((test, warnings))
    }
}

/// `30`, `30s`, `2m` → a duration; zero and garbage are refused.
fn parse_timeout(text: &str) -> Result<Duration> {
    let t = text.trim();
    let (digits, unit) = match t.strip_suffix('m') {
        Some(d) => (d, 60),
        None => (t.strip_suffix('s').unwrap_or(t), 1),
    };
    match digits.trim().parse::<u64>() {
        Ok(n) if n > 0 => Ok(Duration::from_secs(n * unit)),
        _ => Err(Error::invalid(format!(
            "invalid timeout '{}': expected seconds like 30 or 30s, or minutes like 2m",
            t.escape_default()
        ))),
    }
}

mod duration_secs {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    pub(super) fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_f64(d.as_secs_f64())
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        let secs = f64::deserialize(d)?;
        Duration::try_from_secs_f64(secs).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_header() {
        let sql = "-- @severity: warning\n-- @tags: a, b\n-- @timeout: 2m\nSELECT * FROM t WHERE x IS NULL";
        let (t, w) = QualityTest::parse("p/tests/quality/no_nulls.sql", sql).unwrap();
        assert_eq!(t.name, "no_nulls");
        assert_eq!(t.severity, Severity::Warn);
        assert_eq!(t.tags, ["a", "b"]);
        assert_eq!(t.timeout, Duration::from_secs(120));
        assert!(w.is_empty());
    }

    #[test]
    fn bad_values_name_the_file() {
        for sql in ["-- @severity: fatal\nSELECT 1", "-- @timeout: 0\nSELECT 1"] {
            let err = QualityTest::parse("t/x.sql", sql).unwrap_err();
            assert_eq!(err.context("file"), Some("t/x.sql"));
        }
        assert!(QualityTest::parse("t/a b.sql", "SELECT 1").is_err());
    }
}
