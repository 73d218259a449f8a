//! Validated names: [`Identifier`], [`Layer`], [`TableRef`] and [`RunId`].
//!
//! Every name that reaches a path, a policy or SQL passes through here first.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// The namespace of an embedded project.
pub const DEFAULT_NAMESPACE: &str = "default";

/// Maximum length of an [`Identifier`].
pub const MAX_IDENTIFIER_LEN: usize = 63;

/// Names the engine's SQL session uses for itself; a namespace may not take them.
const RESERVED: &[&str] = &["memory", "system", "temp", "main"];

/// A namespace, pipeline or landing-zone name: lowercase ASCII letters,
/// digits and `_`, starting with a letter, at most 63 characters.
///
/// ```
/// use rat_core::Identifier;
///
/// assert!(Identifier::new("orders_2024").is_ok());
/// for bad in ["../x", "A b", "*", "", "1st", "Orders"] {
///     let err = Identifier::new(bad).unwrap_err();
///     assert!(err.to_string().contains(&format!("'{bad}'")));
/// }
/// ```
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Identifier(String);

impl Identifier {
    /// Validates `value` as an identifier.
    pub fn new(value: impl Into<String>) -> Result<Self> {
        let value = value.into();
        if let Some(problem) = identifier_problem(&value) {
            return Err(Error::invalid(format!(
                "invalid identifier '{}': {problem}",
                value.escape_default()
            )));
        }
        Ok(Self(value))
    }

    /// The identifier as a string slice.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

fn identifier_problem(value: &str) -> Option<&'static str> {
    let mut chars = value.chars();
    match chars.next() {
        None => return Some("it is empty"),
        Some(c) if !c.is_ascii_lowercase() => {
            return Some("it must start with a lowercase letter (a-z)");
        }
        Some(_) => {}
    }
    if value.len() > MAX_IDENTIFIER_LEN {
        return Some("it is longer than 63 characters");
    }
    if !chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_') {
        return Some("only lowercase letters, digits and '_' are allowed");
    }
    None
}

impl fmt::Display for Identifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for Identifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.0)
    }
}

impl FromStr for Identifier {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        Self::new(s)
    }
}

impl TryFrom<String> for Identifier {
    type Error = Error;
    fn try_from(value: String) -> Result<Self> {
        Self::new(value)
    }
}

impl From<Identifier> for String {
    fn from(value: Identifier) -> Self {
        value.0
    }
}

impl AsRef<str> for Identifier {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

/// Validates a namespace: an [`Identifier`] that is not one of the few names
/// the engine reserves for its SQL session (`memory`, `system`, `temp`, `main`).
pub fn namespace(value: &str) -> Result<Identifier> {
    let ident = Identifier::new(value)?;
    if RESERVED.contains(&value) {
        return Err(Error::invalid(format!(
            "invalid namespace '{value}': the name is reserved"
        )));
    }
    Ok(ident)
}

/// A medallion layer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "json-schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "lowercase")]
pub enum Layer {
    /// Raw data as it lands.
    Bronze,
    /// Cleaned, joined, conformed.
    Silver,
    /// Aggregates and data products.
    Gold,
}

impl Layer {
    /// All layers in pipeline order.
    pub const ALL: [Layer; 3] = [Layer::Bronze, Layer::Silver, Layer::Gold];

    /// The layer name as written in paths and table names.
    pub fn as_str(self) -> &'static str {
        match self {
            Layer::Bronze => "bronze",
            Layer::Silver => "silver",
            Layer::Gold => "gold",
        }
    }
}

impl fmt::Display for Layer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Layer {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "bronze" => Ok(Layer::Bronze),
            "silver" => Ok(Layer::Silver),
            "gold" => Ok(Layer::Gold),
            other => Err(Error::invalid(format!(
                "invalid layer '{}': expected bronze, silver or gold",
                other.escape_default()
            ))),
        }
    }
}

/// A table: `namespace.layer.name`. The table of a pipeline has the same name.
///
/// ```
/// use rat_core::{Layer, TableRef};
///
/// let t = TableRef::parse("silver.orders", "default").unwrap();
/// assert_eq!(t.to_string(), "default.silver.orders");
/// assert_eq!(t.layer, Layer::Silver);
/// assert!(TableRef::parse("silver.../x", "default").is_err());
/// ```
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct TableRef {
    /// The namespace (a project, a team, a domain).
    pub namespace: Identifier,
    /// The medallion layer.
    pub layer: Layer,
    /// The pipeline / table name.
    pub name: Identifier,
}

impl TableRef {
    /// Builds a table reference from parts.
    pub fn new(namespace: Identifier, layer: Layer, name: Identifier) -> Self {
        Self {
            namespace,
            layer,
            name,
        }
    }

    /// Parses `layer.name` (in `default_namespace`) or `ns.layer.name`.
    pub fn parse(value: &str, default_namespace: &str) -> Result<Self> {
        let parts: Vec<&str> = value.split('.').collect();
        let (ns, layer, name) = match parts.as_slice() {
            [layer, name] => (default_namespace, *layer, *name),
            [ns, layer, name] => (*ns, *layer, *name),
            _ => {
                return Err(Error::invalid(format!(
                    "invalid table reference '{}': expected 'layer.name' or 'namespace.layer.name'",
                    value.escape_default()
                )));
            }
        };
        let wrap = |e: Error| {
            Error::invalid(format!(
                "invalid table reference '{}': {}",
                value.escape_default(),
                e.message()
            ))
        };
        Ok(Self {
            namespace: namespace(ns).map_err(wrap)?,
            layer: layer.parse().map_err(wrap)?,
            name: Identifier::new(name).map_err(wrap)?,
        })
    }

    /// The Iceberg namespace levels of this table: `[namespace, layer]`.
    pub fn iceberg_namespace(&self) -> [&str; 2] {
        [self.namespace.as_str(), self.layer.as_str()]
    }

    /// `layer.name`, the short form inside the table's own namespace.
    pub fn short(&self) -> String {
        format!("{}.{}", self.layer, self.name)
    }
}

impl fmt::Display for TableRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.{}", self.namespace, self.layer, self.name)
    }
}

impl fmt::Debug for TableRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TableRef({self})")
    }
}

impl FromStr for TableRef {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        Self::parse(s, DEFAULT_NAMESPACE)
    }
}

impl TryFrom<String> for TableRef {
    type Error = Error;
    fn try_from(value: String) -> Result<Self> {
        value.parse()
    }
}

impl From<TableRef> for String {
    fn from(value: TableRef) -> Self {
        value.to_string()
    }
}

/// The id of one run: a UUIDv7 in simple form (time-ordered, 32 hex digits).
///
/// ```
/// use rat_core::RunId;
///
/// let a = RunId::generate();
/// assert_eq!(a.as_str().len(), 32);
/// assert_eq!(a.branch(), format!("run-{a}"));
/// assert!("not-a-run".parse::<RunId>().is_err());
/// ```
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct RunId(String);

/// Prefix of the Iceberg branch a run writes to before publication.
pub const RUN_BRANCH_PREFIX: &str = "run-";

impl RunId {
    /// A new, time-ordered run id.
    pub fn generate() -> Self {
        Self(uuid::Uuid::now_v7().simple().to_string())
    }

    /// The id as a string slice.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The name of the Iceberg branch this run writes to: `run-<id>`.
    pub fn branch(&self) -> String {
        format!("{RUN_BRANCH_PREFIX}{}", self.0)
    }

    /// The smallest id a run created at `at` or later can have. Ids order
    /// as their creation times do, so a store lists the runs created in a
    /// time range as an id range, on the index it already has.
    ///
    /// ```
    /// use rat_core::RunId;
    ///
    /// let before = chrono::Utc::now() - chrono::Duration::seconds(1);
    /// let run = RunId::generate();
    /// assert!(RunId::first_at(before) <= run);
    /// assert!(run < RunId::first_at(before + chrono::Duration::hours(1)));
    /// ```
    pub fn first_at(at: chrono::DateTime<chrono::Utc>) -> Self {
        // A v7 id starts with 48 bits of Unix milliseconds.
        let ms = at.timestamp_millis().clamp(0, (1 << 48) - 1);
        Self(format!("{ms:012x}{:020}", 0))
    }

    /// The creation time encoded in a v7 id, in milliseconds since the epoch.
    pub fn timestamp_ms(&self) -> Option<u64> {
        let uuid = uuid::Uuid::parse_str(&self.0).ok()?;
        let (secs, nanos) = uuid.get_timestamp()?.to_unix();
        Some(secs * 1000 + u64::from(nanos) / 1_000_000)
    }
}

impl fmt::Display for RunId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for RunId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RunId({})", self.0)
    }
}

impl FromStr for RunId {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        let ok = s.len() == 32
            && s.chars()
                .all(|c| c.is_ascii_hexdigit() && !c.is_uppercase());
        if !ok {
            return Err(Error::invalid(format!(
                "invalid run id '{}': expected 32 lowercase hex digits",
                s.escape_default()
            )));
        }
        Ok(Self(s.to_owned()))
    }
}

impl TryFrom<String> for RunId {
    type Error = Error;
    fn try_from(value: String) -> Result<Self> {
        value.parse()
    }
}

impl From<RunId> for String {
    fn from(value: RunId) -> Self {
        value.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers_reject_everything_outside_the_alphabet() {
        for bad in ["..", "/", "a/b", "a.b", "a-b", "é", "a\0", " a", "_a", "A"] {
            assert!(Identifier::new(bad).is_err(), "{bad:?} accepted");
        }
        assert!(Identifier::new("a".repeat(63)).is_ok());
        assert!(Identifier::new("a".repeat(64)).is_err());
    }

    #[test]
    fn reserved_namespaces_are_refused() {
        assert!(namespace("memory").is_err());
        assert!(TableRef::parse("main.bronze.x", "default").is_err());
    }

    #[test]
    fn table_refs_parse_both_forms() {
        let t = TableRef::parse("sales.gold.revenue", "default").unwrap();
        assert_eq!(t.iceberg_namespace(), ["sales", "gold"]);
        assert_eq!(t.short(), "gold.revenue");
        for bad in [
            "orders",
            "platinum.orders",
            "a.b.c.d",
            "bronze.",
            "bronze.A",
        ] {
            let err = TableRef::parse(bad, "default").unwrap_err();
            assert!(err.to_string().contains(bad), "{err}");
        }
    }

    #[test]
    fn run_ids_are_time_ordered() {
        let a = RunId::generate();
        std::thread::sleep(std::time::Duration::from_millis(2));
        let b = RunId::generate();
        assert!(a < b);
        assert!(a.timestamp_ms().unwrap() <= b.timestamp_ms().unwrap());
        assert_eq!(a.as_str().parse::<RunId>().unwrap(), a);
    }
}
