//! The objects of the access model: [`Grantee`]s (a principal or a role),
//! [`TablePattern`]s (one table, a layer or a namespace) and the
//! [`Grant`]s that join them at a [`Level`].

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::Level;
use crate::error::{Error, Result};
use crate::ident::{Identifier, Layer, TableRef};
use crate::principal::Principal;

/// Whom a grant or a membership names: one principal, or everyone holding
/// a role.
///
/// ```
/// use rat_core::authz::Grantee;
///
/// let role: Grantee = "role:analyst".parse().unwrap();
/// assert_eq!(role, Grantee::Role("analyst".into()));
/// assert_eq!("user:ann".parse::<Grantee>().unwrap().to_string(), "user:ann");
/// assert!("ann".parse::<Grantee>().is_err());
/// ```
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum Grantee {
    /// `user:ID`.
    Principal(String),
    /// `role:NAME`.
    Role(String),
}

impl Grantee {
    /// Whether `principal` is, or holds, this grantee.
    pub fn includes(&self, principal: &Principal) -> bool {
        match self {
            Grantee::Principal(id) => *id == principal.id,
            Grantee::Role(role) => principal.roles.contains(role),
        }
    }
}

impl FromStr for Grantee {
    type Err = Error;

    fn from_str(text: &str) -> Result<Self> {
        let named = |what, rest: &str| crate::principal::name(what, rest.to_owned());
        match text.split_once(':') {
            Some(("user", id)) => Ok(Grantee::Principal(named("principal", id)?)),
            Some(("role", role)) => Ok(Grantee::Role(named("role", role)?)),
            _ => Err(Error::invalid(format!(
                "'{}' is not `user:ID` or `role:NAME`",
                text.escape_default()
            ))
            .with_context("field", "grantee")),
        }
    }
}

impl fmt::Display for Grantee {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Grantee::Principal(id) => write!(f, "user:{id}"),
            Grantee::Role(role) => write!(f, "role:{role}"),
        }
    }
}

impl TryFrom<String> for Grantee {
    type Error = Error;
    fn try_from(value: String) -> Result<Self> {
        value.parse()
    }
}

impl From<Grantee> for String {
    fn from(value: Grantee) -> Self {
        value.to_string()
    }
}

/// The tables a grant covers: one (`ns.layer.name`), a layer of a
/// namespace (`ns.layer.*`), or a namespace (`ns.*`).
///
/// ```
/// use rat_core::authz::TablePattern;
///
/// let bronze: TablePattern = "sales.bronze.*".parse().unwrap();
/// assert!(bronze.covers(&"sales.bronze.orders".parse().unwrap()));
/// assert!(!bronze.covers(&"sales.silver.orders".parse().unwrap()));
/// assert!("sales.*.orders".parse::<TablePattern>().is_err());
/// ```
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct TablePattern {
    namespace: Identifier,
    layer: Option<Layer>,
    name: Option<Identifier>,
}

impl TablePattern {
    /// Whether `table` is one of the tables it names.
    pub fn covers(&self, table: &TableRef) -> bool {
        self.namespace == table.namespace
            && self.layer.is_none_or(|l| l == table.layer)
            && self.name.as_ref().is_none_or(|n| *n == table.name)
    }

    /// The one table it names, when it names one (no `*`).
    pub fn table(&self) -> Option<TableRef> {
        Some(TableRef::new(
            self.namespace.clone(),
            self.layer?,
            self.name.clone()?,
        ))
    }

    /// The namespace it lies in.
    pub fn namespace(&self) -> &Identifier {
        &self.namespace
    }

    /// Whether it names a whole namespace (`ns.*`).
    pub fn is_namespace(&self) -> bool {
        self.layer.is_none()
    }
}

impl From<&TableRef> for TablePattern {
    fn from(table: &TableRef) -> Self {
        Self {
            namespace: table.namespace.clone(),
            layer: Some(table.layer),
            name: Some(table.name.clone()),
        }
    }
}

impl FromStr for TablePattern {
    type Err = Error;

    fn from_str(text: &str) -> Result<Self> {
        let invalid = || {
            Error::invalid(format!(
                "'{}' is not `ns.layer.name`, `ns.layer.*` or `ns.*`",
                text.escape_default()
            ))
            .with_context("field", "object")
        };
        let parts: Vec<&str> = text.split('.').collect();
        let namespace = |n: &str| crate::ident::namespace(n).map_err(|_| invalid());
        match parts.as_slice() {
            [ns, "*"] => Ok(Self {
                namespace: namespace(ns)?,
                layer: None,
                name: None,
            }),
            [ns, layer, "*"] => Ok(Self {
                namespace: namespace(ns)?,
                layer: Some(layer.parse().map_err(|_| invalid())?),
                name: None,
            }),
            [_, _, _] => text
                .parse::<TableRef>()
                .map(|t| Self::from(&t))
                .map_err(|_| invalid()),
            _ => Err(invalid()),
        }
    }
}

impl fmt::Display for TablePattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.layer, &self.name) {
            (None, _) => write!(f, "{}.*", self.namespace),
            (Some(layer), None) => write!(f, "{}.{layer}.*", self.namespace),
            (Some(layer), Some(name)) => write!(f, "{}.{layer}.{name}", self.namespace),
        }
    }
}

impl TryFrom<String> for TablePattern {
    type Error = Error;
    fn try_from(value: String) -> Result<Self> {
        value.parse()
    }
}

impl From<TablePattern> for String {
    fn from(value: TablePattern) -> Self {
        value.to_string()
    }
}

/// A share: `grantee` may do what `level` allows to the tables `object`
/// covers, until it is revoked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "json-schema", derive(schemars::JsonSchema))]
pub struct Grant {
    /// Its id.
    pub id: String,
    /// The tables.
    pub object: TablePattern,
    /// Who.
    pub grantee: Grantee,
    /// How much.
    pub level: Level,
    /// Who shared it.
    pub granted_by: String,
    /// When.
    pub created_at: DateTime<Utc>,
}
