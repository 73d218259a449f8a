//! [`AuditStore`](rat_core::audit::AuditStore) for both SQL backends
//! ([`audit_store!`]): one row per entry, read newest first.

/// Implements [`AuditStore`](rat_core::audit::AuditStore) for `$store`
/// (the struct of [`sql_store!`](super::sql_store)).
macro_rules! audit_store {
    ($store:ident, $db:ty, $row:ty) => {
        #[async_trait::async_trait]
        impl rat_core::audit::AuditStore for $store {
            async fn append(&self, e: &rat_core::audit::AuditEntry) -> rat_core::Result<()> {
                let statement = Self::statement(
                    "INSERT INTO audit_log (id, at, principal, verb, object, outcome, status, \
                     request_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                );
                sqlx::query(&statement)
                    .bind(&e.id)
                    .bind($crate::sql::common::time(e.at))
                    .bind(&e.principal)
                    .bind(&e.verb)
                    .bind(&e.object)
                    .bind(e.outcome.as_str())
                    .bind(i32::from(e.status))
                    .bind(&e.request_id)
                    .execute(&self.pool)
                    .await
                    .map_err(|e| {
                        $crate::sql::common::db_error("cannot append to the audit log", e)
                    })?;
                Ok(())
            }

            async fn entries(
                &self,
                filter: &rat_core::audit::AuditFilter,
            ) -> rat_core::Result<Vec<rat_core::audit::AuditEntry>> {
                let mut q = sqlx::QueryBuilder::<$db>::new(
                    "SELECT id, at, principal, verb, object, outcome, status, request_id \
                     FROM audit_log WHERE 1 = 1",
                );
                if let Some(principal) = &filter.principal {
                    q.push(" AND principal = ").push_bind(principal.clone());
                }
                let prefix = |q: &mut sqlx::QueryBuilder<'_, $db>, column: &str, text: &str| {
                    let chars = i32::try_from(text.chars().count()).unwrap_or(i32::MAX);
                    q.push(format!(" AND substr({column}, 1, "))
                        .push_bind(chars)
                        .push(") = ")
                        .push_bind(text.to_owned());
                };
                if let Some(object) = &filter.object {
                    prefix(&mut q, "object", object);
                }
                match &filter.verb {
                    // A method alone: every verb of it.
                    Some(verb) if !verb.contains(' ') => {
                        prefix(&mut q, "verb", &format!("{verb} "))
                    }
                    Some(verb) => {
                        q.push(" AND verb = ").push_bind(verb.clone());
                    }
                    None => {}
                }
                if let Some(outcome) = filter.outcome {
                    q.push(" AND outcome = ").push_bind(outcome.as_str());
                }
                if let Some(since) = filter.since {
                    q.push(" AND at >= ")
                        .push_bind($crate::sql::common::time(since));
                }
                if let Some(until) = filter.until {
                    q.push(" AND at < ")
                        .push_bind($crate::sql::common::time(until));
                }
                q.push(" ORDER BY at DESC, id DESC LIMIT ")
                    .push_bind(i64::from(filter.limit))
                    .push(" OFFSET ")
                    .push_bind(i64::from(filter.offset));
                let rows =
                    q.build().fetch_all(&self.pool).await.map_err(|e| {
                        $crate::sql::common::db_error("cannot read the audit log", e)
                    })?;
                rows.iter()
                    .map($crate::sql::audit::entry_of::<$row>)
                    .collect()
            }

            async fn prune_audit(
                &self,
                before: chrono::DateTime<chrono::Utc>,
            ) -> rat_core::Result<u64> {
                let statement = Self::statement("DELETE FROM audit_log WHERE at < ?");
                let done = sqlx::query(&statement)
                    .bind($crate::sql::common::time(before))
                    .execute(&self.pool)
                    .await
                    .map_err(|e| $crate::sql::common::db_error("cannot prune the audit log", e))?;
                Ok(done.rows_affected())
            }
        }
    };
}

pub(crate) use audit_store;

use rat_core::Result;
use rat_core::audit::AuditEntry;
use sqlx::Row;

use super::common::{corrupt, parse_time};

/// An entry from its row (`id, at, principal, verb, object, outcome,
/// status, request_id`).
pub(crate) fn entry_of<R: Row>(row: &R) -> Result<AuditEntry>
where
    usize: sqlx::ColumnIndex<R>,
    for<'r> String: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> Option<String>: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> i32: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
{
    let text = |i: usize| {
        row.try_get::<String, _>(i)
            .map_err(|e| corrupt("audit entry", e))
    };
    let status: i32 = row.try_get(6).map_err(|e| corrupt("audit status", e))?;
    Ok(AuditEntry {
        id: text(0)?,
        at: parse_time(text(1)?)?,
        principal: text(2)?,
        verb: text(3)?,
        object: text(4)?,
        outcome: text(5)?.parse().map_err(|e| corrupt("audit outcome", e))?,
        status: u16::try_from(status).map_err(|e| corrupt("audit status", e))?,
        request_id: row.try_get(7).map_err(|e| corrupt("audit entry", e))?,
    })
}
