//! Who the caller is (the principal its credentials establish, with its
//! roles and the namespaces it may see), and sharing: grants of `read` or
//! `write` on tables, and transfers of ownership.

use async_trait::async_trait;
use rat_core::Result;
pub use rat_core::audit::{AuditEntry, AuditOutcome};
pub use rat_core::authz::{Grant, Grantee, Level, TablePattern};
use serde::{Deserialize, Serialize};

use super::Page;
use crate::auth::Principal;

/// `POST /api/v1/sharing`: share `object` with `grantee` at `level`.
///
/// ```
/// use rat_server::api::{Level, NewGrant};
///
/// let share: NewGrant = serde_json::from_str(
///     r#"{"object": "sales.gold.revenue", "grantee": "role:analyst", "level": "read"}"#,
/// ).unwrap();
/// assert_eq!(share.level, Level::Read);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NewGrant {
    /// A table (`ns.layer.name`), or a pattern (`ns.layer.*`, `ns.*`;
    /// admins only).
    pub object: String,
    /// `user:ID` or `role:NAME`.
    pub grantee: String,
    /// `read` (data, run logs) or `write` (also code, runs, schedules, tests).
    pub level: Level,
}

/// `POST /api/v1/sharing/transfer`: give `table` to `owner`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Transfer {
    /// The table, `ns.layer.name`.
    pub table: String,
    /// The new owner's principal id.
    pub owner: String,
}

/// Who owns a table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Ownership {
    /// The table.
    pub table: String,
    /// Its owner's principal id.
    pub owner: String,
}

/// `GET /api/v1/me`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Me {
    /// The principal: id, name, email, roles.
    #[serde(flatten)]
    pub principal: Principal,
    /// Whether it may do everything (`admin` role, or no authentication).
    pub admin: bool,
    /// The namespaces it may see.
    pub namespaces: Vec<String>,
}

/// `GET /api/v1/audit`: which entries, newest first (every filter given
/// must match).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuditQuery {
    /// Only this principal's.
    #[serde(default)]
    pub principal: Option<String>,
    /// Only objects under this path (`/api/v1/pipelines/sales/`).
    #[serde(default)]
    pub object: Option<String>,
    /// Only this verb (`DELETE /api/v1/sharing/{id}`), or a method's.
    #[serde(default)]
    pub verb: Option<String>,
    /// Only `ok`, `denied` or `failed`.
    #[serde(default)]
    pub outcome: Option<AuditOutcome>,
    /// Only at or after (RFC 3339).
    #[serde(default)]
    pub since: Option<chrono::DateTime<chrono::Utc>>,
    /// Only before (RFC 3339).
    #[serde(default)]
    pub until: Option<chrono::DateTime<chrono::Utc>>,
}

/// The caller itself, and sharing.
///
/// ```no_run
/// # async fn demo(api: &dyn rat_server::api::PlatformApi) -> rat_core::Result<()> {
/// let me = api.me().await?;
/// println!("{} {:?}", me.principal.id, me.principal.roles);
/// # Ok(()) }
/// ```
#[async_trait]
pub trait AccessApi: Send + Sync {
    /// Who the caller is.
    async fn me(&self) -> Result<Me>;

    /// Shares a table (its owner or an admin) or a pattern (an admin).
    async fn share(&self, grant: &NewGrant) -> Result<Grant>;

    /// The grants the caller may see: all for an admin, else those naming
    /// it or its roles and those it made.
    async fn grants(&self, limit: u32, offset: u32) -> Result<Page<Grant>>;

    /// Revokes a grant (whoever made it, its table's owner, an admin); one
    /// the caller may not revoke is `not_found`.
    async fn unshare(&self, id: &str) -> Result<()>;

    /// Gives a table to another owner (its owner or an admin).
    async fn transfer(&self, transfer: &Transfer) -> Result<Ownership>;

    /// One page of the audit log matching `query`, newest first (an
    /// admin's verb).
    async fn audit_log(
        &self,
        query: &AuditQuery,
        limit: u32,
        offset: u32,
    ) -> Result<Page<AuditEntry>>;
}
