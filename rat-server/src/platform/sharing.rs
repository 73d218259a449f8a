//! Sharing: grants of `read` or `write` on a table or a pattern of tables,
//! made and revoked by the table's owner or an admin, and transfers of
//! ownership.

use chrono::Utc;
use rat_core::authz::{Action, Grant, TablePattern};
use rat_core::{Error, ErrorKind, Result, TableRef};

use super::Platform;
use rat_core::audit::{AuditEntry, AuditFilter};

use crate::api::{AuditQuery, NewGrant, Ownership, Page, Transfer};

impl Platform {
    /// Shares `new.object` with `new.grantee`: the table's owner or an
    /// admin may share a table; only an admin a pattern.
    pub(super) async fn add_grant(&self, new: &NewGrant) -> Result<Grant> {
        let object: TablePattern = new.object.parse()?;
        let grantee = new.grantee.parse()?;
        match object.table() {
            Some(table) => {
                self.check(Action::Manage, &table, || no_table(&table))
                    .await?
            }
            None if self.acting().is_admin() => {}
            None => {
                return Err(Error::new(
                    ErrorKind::Forbidden,
                    format!("only an admin may share a pattern such as '{object}'"),
                ));
            }
        }
        let grant = Grant {
            id: format!("grant-{}", uuid::Uuid::now_v7().simple()),
            object,
            grantee,
            level: new.level,
            granted_by: self.acting().id,
            created_at: Utc::now(),
        };
        self.grant_store().add_grant(&grant).await?;
        Ok(grant)
    }

    /// The grants the caller may see: every one for an admin, else those
    /// naming it (or a role of its) and those it made.
    pub(super) async fn list_grants(&self, limit: u32, offset: u32) -> Result<Page<Grant>> {
        let me = self.acting();
        if me.is_admin() {
            let items = self.grant_store().grants(limit + 1, offset).await?;
            return Ok(Page::of(items, limit, offset));
        }
        let mut mine = self.grant_store().grants_for(&me).await?;
        mine.extend(self.grant_store().grants_by(&me.id).await?);
        mine.sort_by(|a, b| (a.created_at, &a.id).cmp(&(b.created_at, &b.id)));
        mine.dedup_by(|a, b| a.id == b.id);
        let items = mine
            .into_iter()
            .skip(offset as usize)
            .take(limit as usize + 1)
            .collect();
        Ok(Page::of(items, limit, offset))
    }

    /// Revokes a grant: whoever made it, the owner of its table, or an admin.
    pub(super) async fn revoke_grant(&self, id: &str) -> Result<()> {
        let me = self.acting();
        let grant = self.grant_store().grant(id).await?;
        let allowed = me.is_admin()
            || grant.granted_by == me.id
            || match grant.object.table() {
                Some(table) => self.allows(Action::Manage, &table).await?,
                None => false,
            };
        if !allowed {
            return Err(self.denied(no_grant(id)));
        }
        self.grant_store().revoke(id).await
    }

    /// Gives `transfer.table` to `transfer.owner`: its owner or an admin.
    pub(super) async fn transfer_table(&self, transfer: &Transfer) -> Result<Ownership> {
        let table: TableRef = transfer
            .table
            .parse()
            .map_err(|e: Error| e.with_context("field", "table"))?;
        let owner = rat_core::principal::name("owner", transfer.owner.clone())?;
        self.check(Action::Manage, &table, || no_table(&table))
            .await?;
        self.grant_store().set_owner(&table, &owner).await?;
        Ok(Ownership {
            table: table.to_string(),
            owner,
        })
    }
}

impl Platform {
    /// One page of the audit log: an admin's verb.
    pub(super) async fn read_audit(
        &self,
        query: &AuditQuery,
        limit: u32,
        offset: u32,
    ) -> Result<Page<AuditEntry>> {
        self.check_admin("read the audit log")?;
        let filter = AuditFilter {
            principal: query.principal.clone(),
            object: query.object.clone(),
            verb: query.verb.clone(),
            outcome: query.outcome,
            since: query.since,
            until: query.until,
            limit: limit.saturating_add(1),
            offset,
        };
        let entries = self.inner.stores.audit.entries(&filter).await?;
        Ok(Page::of(entries, limit, offset))
    }

    /// Appends one entry to the audit log.
    pub async fn record_audit(&self, entry: &AuditEntry) -> Result<()> {
        self.inner.stores.audit.append(entry).await
    }

    /// Deletes the audit entries older than `retention`; how many went.
    pub(super) async fn prune_audit(&self, retention: std::time::Duration) -> Result<u64> {
        let age = chrono::Duration::from_std(retention).unwrap_or(chrono::Duration::MAX);
        let before = Utc::now()
            .checked_sub_signed(age)
            .unwrap_or(chrono::DateTime::<Utc>::MIN_UTC);
        self.inner.stores.audit.prune_audit(before).await
    }
}

fn no_table(table: &TableRef) -> Error {
    Error::not_found(format!("no table '{table}'")).with_context("field", "object")
}

fn no_grant(id: &str) -> Error {
    Error::not_found(format!("no grant '{id}'")).with_context("field", "id")
}
