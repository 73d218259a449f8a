//! The built-in access model kept durably: the [`GrantStore`] (owners,
//! members, grants) and the [`GrantAuthorizer`] deciding by it, one
//! caller's [`Reach`] read at once for lists.

use std::collections::BTreeSet;
use std::fmt;

use async_trait::async_trait;

use super::{Action, Authorizer, Grant, Grantee, Standing, decide};
use crate::error::Result;
use crate::ident::{Identifier, TableRef};
use crate::principal::Principal;

/// What one caller holds, read at once: the tables it owns, the
/// namespaces it is a member of (itself or by a role), the grants naming
/// it or its roles. Lists decide by it without asking the store per
/// object.
#[derive(Debug, Clone, Default)]
pub struct Reach {
    /// Tables it owns.
    pub owned: BTreeSet<TableRef>,
    /// Namespaces it is a member of.
    pub member_of: BTreeSet<Identifier>,
    /// Grants to it or one of its roles.
    pub grants: Vec<Grant>,
}

impl Reach {
    /// What `store` holds for `who` (three reads).
    pub async fn of(store: &dyn GrantStore, who: &Principal) -> Result<Self> {
        Ok(Self {
            owned: store.owned_by(&who.id).await?.into_iter().collect(),
            member_of: store.memberships(who).await?.into_iter().collect(),
            grants: store.grants_for(who).await?,
        })
    }

    /// Whether `who` (whose reach this is) may do `action` to `table`, by
    /// [`decide`].
    pub fn allows(&self, who: &Principal, action: Action, table: &TableRef) -> bool {
        let member = [Grantee::Principal(who.id.clone())];
        let standing = Standing {
            owner: self.owned.contains(table).then_some(who.id.as_str()),
            members: match self.member_of.contains(&table.namespace) {
                true => &member,
                false => &[],
            },
            grants: &self.grants,
        };
        decide(who, action, table, &standing)
    }

    /// Whether `who` may do `action` to `namespace` as a whole: an admin
    /// anything; a member, an owner of one of its tables or a grantee on
    /// any of them discovers it; a grant on the whole namespace (`ns.*`)
    /// reads or writes what belongs to it; only an admin manages it.
    pub fn allows_namespace(
        &self,
        who: &Principal,
        action: Action,
        namespace: &Identifier,
    ) -> bool {
        if who.is_admin() {
            return true;
        }
        match action {
            Action::Discover => {
                self.member_of.contains(namespace)
                    || self.owned.iter().any(|t| t.namespace == *namespace)
                    || self
                        .grants
                        .iter()
                        .any(|g| g.object.namespace() == namespace)
            }
            Action::Read | Action::Write => self.grants.iter().any(|g| {
                g.object.namespace() == namespace
                    && g.object.is_namespace()
                    && g.level.allows(action)
            }),
            Action::Manage => false,
        }
    }
}

/// The built-in [`Authorizer`]: [`decide`] over what a [`GrantStore`]
/// holds. An admin is allowed without asking the store; otherwise one
/// read of the table's owner and one of the caller's grants (and, to
/// discover, of the namespace's members); a list reads the caller's
/// [`Reach`] once.
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

    async fn allows_namespace(
        &self,
        who: &Principal,
        action: Action,
        namespace: &Identifier,
    ) -> Result<bool> {
        if who.is_admin() {
            return Ok(true);
        }
        let reach = Reach::of(self.store.as_ref(), who).await?;
        Ok(reach.allows_namespace(who, action, namespace))
    }

    async fn filter(
        &self,
        who: &Principal,
        action: Action,
        tables: Vec<TableRef>,
    ) -> Result<Vec<TableRef>> {
        if who.is_admin() {
            return Ok(tables);
        }
        let reach = Reach::of(self.store.as_ref(), who).await?;
        Ok(tables
            .into_iter()
            .filter(|t| reach.allows(who, action, t))
            .collect())
    }

    async fn filter_namespaces(
        &self,
        who: &Principal,
        action: Action,
        namespaces: Vec<Identifier>,
    ) -> Result<Vec<Identifier>> {
        if who.is_admin() {
            return Ok(namespaces);
        }
        let reach = Reach::of(self.store.as_ref(), who).await?;
        Ok(namespaces
            .into_iter()
            .filter(|n| reach.allows_namespace(who, action, n))
            .collect())
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

    /// The tables `id` owns.
    async fn owned_by(&self, id: &str) -> Result<Vec<TableRef>>;

    /// The namespaces `who` is a member of, itself or by one of its roles.
    async fn memberships(&self, who: &Principal) -> Result<Vec<Identifier>>;

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
