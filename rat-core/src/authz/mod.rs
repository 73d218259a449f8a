//! Who may do what to a table: the [`Authorizer`] trait, and the model the
//! built-in one decides by — owners, [`Grant`]s of `read` or `write` to a
//! principal or a role on one table or a pattern, and namespace members
//! who discover (list, read code and schemas) but reach data only by
//! ownership or grant. `admin` may do everything.

mod grants;
mod objects;

pub use grants::{GrantAuthorizer, GrantStore, Reach};
pub use objects::{Grant, Grantee, TablePattern};

use std::fmt;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::error::Result;
use crate::ident::{Identifier, TableRef};
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

/// Decides whether a principal may do an action to a table, or to what
/// belongs to a whole namespace (its landing zones, its notification
/// hooks, the namespace itself).
///
/// Two questions make an authorizer; the lists ask them of many objects
/// at once ([`Authorizer::filter`], [`Authorizer::filter_namespaces`]),
/// which an implementation answers with one read instead of one per
/// object. Implementations: [`AllowAll`] (embedded, single-user use) and
/// [`GrantAuthorizer`] over the run store's database.
///
/// ```
/// # futures::executor::block_on(async {
/// use rat_core::authz::{Action, AllowAll, Authorizer};
/// use rat_core::principal::Principal;
///
/// let ann = Principal::new("ann").unwrap();
/// let tables = vec!["sales.bronze.orders".parse().unwrap()];
/// let seen = AllowAll.filter(&ann, Action::Discover, tables.clone()).await.unwrap();
/// assert_eq!(seen, tables);
/// # });
/// ```
#[async_trait]
pub trait Authorizer: Send + Sync + fmt::Debug {
    /// Whether `who` may do `action` to `table`.
    async fn allows(&self, who: &Principal, action: Action, table: &TableRef) -> Result<bool>;

    /// Whether `who` may do `action` to what belongs to `namespace` as a
    /// whole: discover it and its zones and hooks, read or write its
    /// landing zones and hooks, manage (describe, delete) it.
    async fn allows_namespace(
        &self,
        who: &Principal,
        action: Action,
        namespace: &Identifier,
    ) -> Result<bool>;

    /// The `tables` `who` may do `action` to, in their order.
    async fn filter(
        &self,
        who: &Principal,
        action: Action,
        tables: Vec<TableRef>,
    ) -> Result<Vec<TableRef>> {
        let mut allowed = Vec::with_capacity(tables.len());
        for table in tables {
            if self.allows(who, action, &table).await? {
                allowed.push(table);
            }
        }
        Ok(allowed)
    }

    /// The `namespaces` `who` may do `action` to, in their order.
    async fn filter_namespaces(
        &self,
        who: &Principal,
        action: Action,
        namespaces: Vec<Identifier>,
    ) -> Result<Vec<Identifier>> {
        let mut allowed = Vec::with_capacity(namespaces.len());
        for namespace in namespaces {
            if self.allows_namespace(who, action, &namespace).await? {
                allowed.push(namespace);
            }
        }
        Ok(allowed)
    }
}

/// Lets everyone do everything.
#[derive(Debug, Clone, Copy, Default)]
pub struct AllowAll;

#[async_trait]
impl Authorizer for AllowAll {
    async fn allows(&self, _: &Principal, _: Action, _: &TableRef) -> Result<bool> {
        Ok(true)
    }

    async fn allows_namespace(&self, _: &Principal, _: Action, _: &Identifier) -> Result<bool> {
        Ok(true)
    }

    async fn filter(&self, _: &Principal, _: Action, t: Vec<TableRef>) -> Result<Vec<TableRef>> {
        Ok(t)
    }

    async fn filter_namespaces(
        &self,
        _: &Principal,
        _: Action,
        namespaces: Vec<Identifier>,
    ) -> Result<Vec<Identifier>> {
        Ok(namespaces)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Utc;

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
