//! The checks every verb makes: may the acting principal do an action to
//! a table, or to what belongs to a namespace; and the lists cut to what
//! it may see. A refusal is `forbidden` when the caller may see the
//! object, and exactly the object's own `not_found` when it may not, so
//! nothing hidden can be told from nothing there.

use rat_core::authz::Action;
use rat_core::{Error, ErrorKind, Identifier, Result, TableRef};

use super::Platform;

impl Platform {
    /// Whether the acting principal may do `action` to `table`.
    pub(super) async fn allows(&self, action: Action, table: &TableRef) -> Result<bool> {
        match &self.inner.options.authorizer {
            Some(authorizer) => authorizer.allows(&self.acting(), action, table).await,
            None => Ok(true),
        }
    }

    /// Whether the acting principal may do `action` to what belongs to
    /// `namespace` as a whole.
    pub(super) async fn allows_namespace(
        &self,
        action: Action,
        namespace: &Identifier,
    ) -> Result<bool> {
        match &self.inner.options.authorizer {
            Some(authorizer) => {
                authorizer
                    .allows_namespace(&self.acting(), action, namespace)
                    .await
            }
            None => Ok(true),
        }
    }

    /// Refuses `action` on `table` unless the acting principal may: as
    /// `hidden()` (the error a missing object gives) when it may not even
    /// discover the table, else `forbidden`.
    pub(super) async fn check(
        &self,
        action: Action,
        table: &TableRef,
        hidden: impl FnOnce() -> Error,
    ) -> Result<()> {
        if self.allows(action, table).await? {
            return Ok(());
        }
        let seen = action != Action::Discover && self.allows(Action::Discover, table).await?;
        Err(self.refusal(action, &table.to_string(), seen, hidden))
    }

    /// [`Platform::check`] for what belongs to `namespace` as a whole.
    pub(super) async fn check_namespace(
        &self,
        action: Action,
        namespace: &Identifier,
        hidden: impl FnOnce() -> Error,
    ) -> Result<()> {
        if self.allows_namespace(action, namespace).await? {
            return Ok(());
        }
        let seen = action != Action::Discover
            && self.allows_namespace(Action::Discover, namespace).await?;
        Err(self.refusal(action, &format!("namespace '{namespace}'"), seen, hidden))
    }

    /// Whether the acting principal is an admin or a member of
    /// `namespace` (itself or by a role); everyone is without an
    /// authorizer.
    pub(super) async fn is_member(&self, namespace: &Identifier) -> Result<bool> {
        let me = self.acting();
        if self.inner.options.authorizer.is_none() || me.is_admin() {
            return Ok(true);
        }
        let namespaces = self.grant_store().memberships(&me).await?;
        Ok(namespaces.contains(namespace))
    }

    /// Refuses what only an admin may do.
    pub(super) fn check_admin(&self, what: &str) -> Result<()> {
        match self.acting().is_admin() {
            true => Ok(()),
            false => Err(self.denied(Error::new(
                ErrorKind::Forbidden,
                format!("only an admin may {what}"),
            ))),
        }
    }

    /// The `tables` the acting principal may do `action` to, in order.
    pub(super) async fn visible(
        &self,
        action: Action,
        tables: Vec<TableRef>,
    ) -> Result<Vec<TableRef>> {
        match &self.inner.options.authorizer {
            Some(authorizer) => authorizer.filter(&self.acting(), action, tables).await,
            None => Ok(tables),
        }
    }

    /// The `namespaces` the acting principal may discover, in order.
    pub(super) async fn visible_namespaces(
        &self,
        namespaces: Vec<Identifier>,
    ) -> Result<Vec<Identifier>> {
        match &self.inner.options.authorizer {
            Some(authorizer) => {
                authorizer
                    .filter_namespaces(&self.acting(), Action::Discover, namespaces)
                    .await
            }
            None => Ok(namespaces),
        }
    }

    fn refusal(
        &self,
        action: Action,
        object: &str,
        seen: bool,
        hidden: impl FnOnce() -> Error,
    ) -> Error {
        let error = match seen {
            true => Error::new(
                ErrorKind::Forbidden,
                format!(
                    "{} may not {} {object}",
                    self.acting().id,
                    action_verb(action)
                ),
            ),
            false => hidden(),
        };
        self.denied(error)
    }

    /// Marks a refusal, so the audit log records the request as denied
    /// (even one answered as a missing object's `not_found`).
    pub(super) fn denied(&self, error: Error) -> Error {
        error.denied()
    }
}

/// How a refusal names what was refused.
fn action_verb(action: Action) -> &'static str {
    match action {
        Action::Discover => "see",
        Action::Read => "read",
        Action::Write => "change or run",
        Action::Manage => "share, give away or delete",
    }
}
