//! Who may do what to a table: the [`Authorizer`] trait, and the model the
//! built-in one decides by — owners, [`Grant`]s of `read` or `write` to a
//! principal or a role on one table or a pattern, and namespace members
//! who discover (list, read code and schemas) but reach data only by
//! ownership or grant. `admin` may do everything.

use std::fmt;
use std::str::FromStr;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::ident::{Identifier, Layer, TableRef};
use crate::principal::Principal;

/// What a caller wants to do to a table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// See that it exists: list it, read its code and schema.
    Discover,
    /// Read its data and its runs' logs.
    Read,
    /// Change its code, run it, cancel its runs, manage its schedules and tests.
    Write,
    /// Share it, or give it to another owner.
    Manage,
}

/// How much a grant gives; `write` includes `read`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "json-schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum Level {
    /// Table data, run logs.
    Read,
    /// Also code, runs, schedules and tests.
    Write,
}

impl Level {
    /// `read` or `write`, as grants are written.
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Read => "read",
            Level::Write => "write",
        }
    }

    /// Whether this level lets `action` happen.
    pub fn allows(self, action: Action) -> bool {
        match action {
            Action::Discover | Action::Read => true,
            Action::Write => self == Level::Write,
            Action::Manage => false,
        }
    }
}

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

/// What the built-in authorizer knows about one table and one caller: the
/// table's owner, the namespace's members and the grants that cover it.
#[derive(Debug, Clone, Default)]
pub struct Standing<'a> {
    /// The table's owner, when it has one.
    pub owner: Option<&'a str>,
    /// Members of the table's namespace.
    pub members: &'a [Grantee],
    /// Grants (any; those not covering the table are ignored).
    pub grants: &'a [Grant],
}

/// The built-in rule: admins and owners may do anything; members
/// discover; a covering grant to the principal or one of its roles allows
/// what its level allows; nobody else anything.
///
/// ```
/// use rat_core::authz::{Action, Standing, decide};
/// use rat_core::principal::Principal;
///
/// let ann = Principal::new("ann").unwrap();
/// let table = "sales.bronze.orders".parse().unwrap();
/// let owned = Standing { owner: Some("ann"), ..Default::default() };
/// assert!(decide(&ann, Action::Manage, &table, &owned));
/// assert!(!decide(&ann, Action::Discover, &table, &Standing::default()));
/// ```
pub fn decide(who: &Principal, action: Action, table: &TableRef, standing: &Standing<'_>) -> bool {
    if who.is_admin() || standing.owner == Some(who.id.as_str()) {
        return true;
    }
    if action == Action::Discover && standing.members.iter().any(|m| m.includes(who)) {
        return true;
    }
    standing
        .grants
        .iter()
        .any(|g| g.object.covers(table) && g.grantee.includes(who) && g.level.allows(action))
}

/// Decides whether a principal may do an action to a table.
///
/// Implementations: [`AllowAll`] (embedded, single-user use), and the
/// built-in grant store of the run store's database.
#[async_trait]
pub trait Authorizer: Send + Sync + fmt::Debug {
    /// Whether `who` may do `action` to `table`.
    async fn allows(&self, who: &Principal, action: Action, table: &TableRef) -> Result<bool>;
}

/// Lets everyone do everything.
#[derive(Debug, Clone, Copy, Default)]
pub struct AllowAll;

#[async_trait]
impl Authorizer for AllowAll {
    async fn allows(&self, _: &Principal, _: Action, _: &TableRef) -> Result<bool> {
        Ok(true)
    }
}

/// The built-in [`Authorizer`]: [`decide`] over what a [`GrantStore`]
/// holds. An admin is allowed without asking the store; otherwise one
/// read of the table's owner and one of the caller's grants (and, to
/// discover, of the namespace's members).
#[derive(Debug, Clone)]
pub struct GrantAuthorizer {
    store: std::sync::Arc<dyn GrantStore>,
}

impl GrantAuthorizer {
    /// Decides by what `store` holds.
    pub fn new(store: std::sync::Arc<dyn GrantStore>) -> Self {
        Self { store }
    }
}

#[async_trait]
impl Authorizer for GrantAuthorizer {
    async fn allows(&self, who: &Principal, action: Action, table: &TableRef) -> Result<bool> {
        if who.is_admin() {
            return Ok(true);
        }
        let owner = self.store.owner(table).await?;
        let members = match action {
            Action::Discover => self.store.members(&table.namespace).await?,
            _ => Vec::new(),
        };
        let grants = self.store.grants_for(who).await?;
        let standing = Standing {
            owner: owner.as_deref(),
            members: &members,
            grants: &grants,
        };
        Ok(decide(who, action, table, &standing))
    }
}

/// Owners, namespace members and grants, kept durably.
///
/// Implementations: `rat_executor::SqliteRunStore` and the PostgreSQL
/// store (same database as the run records).
#[async_trait]
pub trait GrantStore: Send + Sync + fmt::Debug {
    /// Records a grant; [`ErrorKind::AlreadyExists`](crate::ErrorKind::AlreadyExists)
    /// when the same grantee already holds a grant on the same object.
    async fn add_grant(&self, grant: &Grant) -> Result<()>;

    /// The grants naming `who` or one of its roles.
    async fn grants_for(&self, who: &Principal) -> Result<Vec<Grant>>;

    /// The grants `id` made.
    async fn grants_by(&self, id: &str) -> Result<Vec<Grant>>;

    /// One grant; [`ErrorKind::NotFound`](crate::ErrorKind::NotFound) when
    /// there is none of that id.
    async fn grant(&self, id: &str) -> Result<Grant>;

    /// Every grant, oldest first: at most `limit` after skipping `offset`.
    async fn grants(&self, limit: u32, offset: u32) -> Result<Vec<Grant>>;

    /// Removes a grant; [`ErrorKind::NotFound`](crate::ErrorKind::NotFound)
    /// when there is none of that id.
    async fn revoke(&self, id: &str) -> Result<()>;

    /// Makes `owner` the owner of `table`.
    async fn set_owner(&self, table: &TableRef, owner: &str) -> Result<()>;

    /// The owner of `table`, when it has one.
    async fn owner(&self, table: &TableRef) -> Result<Option<String>>;

    /// Adds a member to a namespace (no error if it is one).
    async fn add_member(&self, namespace: &Identifier, member: &Grantee) -> Result<()>;

    /// A namespace's members.
    async fn members(&self, namespace: &Identifier) -> Result<Vec<Grantee>>;

    /// Removes a member (no error if it is none).
    async fn remove_member(&self, namespace: &Identifier, member: &Grantee) -> Result<()>;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grant(object: &str, grantee: &str, level: Level) -> Grant {
        Grant {
            id: format!("{object} {grantee}"),
            object: object.parse().unwrap(),
            grantee: grantee.parse().unwrap(),
            level,
            granted_by: "owner".into(),
            created_at: Utc::now(),
        }
    }

    #[test]
    fn each_kind_of_standing_allows_what_it_should_and_no_more() {
        let who = |id: &str, roles: &[&str]| {
            Principal::new(id)
                .unwrap()
                .with_roles(roles.iter().copied())
                .unwrap()
        };
        let table: TableRef = "sales.bronze.orders".parse().unwrap();
        let members = ["user:mia".parse().unwrap(), "role:staff".parse().unwrap()];
        let grants = [
            grant("sales.bronze.orders", "user:rex", Level::Read),
            grant("sales.bronze.*", "role:engineer", Level::Write),
            grant("other.*", "user:olga", Level::Write),
        ];
        let standing = Standing {
            owner: Some("owen"),
            members: &members,
            grants: &grants,
        };
        use Action::*;
        // (principal, discover, read, write, manage)
        let matrix = [
            (who("ada", &["admin"]), [true, true, true, true]),
            (who("owen", &[]), [true, true, true, true]),
            (who("rex", &[]), [true, true, false, false]),
            (who("wes", &["engineer"]), [true, true, true, false]),
            (who("mia", &[]), [true, false, false, false]),
            (who("sam", &["staff"]), [true, false, false, false]),
            (who("olga", &[]), [false, false, false, false]),
            (who("eve", &["analyst"]), [false, false, false, false]),
        ];
        for (principal, expected) in matrix {
            for (action, allowed) in [Discover, Read, Write, Manage].into_iter().zip(expected) {
                assert_eq!(
                    decide(&principal, action, &table, &standing),
                    allowed,
                    "{} {action:?}",
                    principal.id
                );
            }
        }
        // A layer pattern does not reach another layer.
        let silver: TableRef = "sales.silver.orders".parse().unwrap();
        assert!(!decide(
            &who("wes", &["engineer"]),
            Read,
            &silver,
            &standing
        ));
    }

    #[test]
    fn patterns_and_grantees_read_back_as_written() {
        for text in ["sales.*", "sales.gold.*", "sales.gold.revenue"] {
            assert_eq!(text.parse::<TablePattern>().unwrap().to_string(), text);
        }
        let one: TablePattern = "sales.gold.revenue".parse().unwrap();
        assert_eq!(one.table().unwrap().to_string(), "sales.gold.revenue");
        assert!(
            "sales.gold.*"
                .parse::<TablePattern>()
                .unwrap()
                .table()
                .is_none()
        );
        for bad in [
            "sales",
            "sales.*.x",
            "Sales.*",
            "sales.platinum.*",
            "a.b.c.d",
            "../x.*",
        ] {
            let err = bad.parse::<TablePattern>().unwrap_err();
            assert!(err.to_string().contains("ns.layer.name"), "{bad}: {err}");
        }
        for bad in ["user:", "group:x", "role: x", "user:a\nb"] {
            assert!(bad.parse::<Grantee>().is_err(), "{bad}");
        }
    }
}
