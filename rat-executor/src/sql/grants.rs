//! [`GrantStore`](rat_core::authz::GrantStore) for both SQL backends
//! ([`grant_store!`]): owners, members and grants as rows, a grant's
//! object and grantee as their text forms (`ns.layer.*`, `role:analyst`).

/// Implements [`GrantStore`](rat_core::authz::GrantStore) for `$store`
/// (the struct of [`sql_store!`](super::sql_store)).
macro_rules! grant_store {
    ($store:ident, $row:ty) => {
        #[async_trait::async_trait]
        impl rat_core::authz::GrantStore for $store {
            async fn add_grant(&self, grant: &rat_core::authz::Grant) -> rat_core::Result<()> {
                use $crate::sql::common::{db_error, time};
                let statement = Self::statement(
                    "INSERT INTO grants (id, object, grantee, level, granted_by, created_at) \
                     VALUES (?, ?, ?, ?, ?, ?)",
                );
                let level = grant.level.as_str();
                match sqlx::query(&statement)
                    .bind(&grant.id)
                    .bind(grant.object.to_string())
                    .bind(grant.grantee.to_string())
                    .bind(level)
                    .bind(&grant.granted_by)
                    .bind(time(grant.created_at))
                    .execute(&self.pool)
                    .await
                {
                    Ok(_) => Ok(()),
                    Err(sqlx::Error::Database(e)) if e.is_unique_violation() => {
                        Err(rat_core::Error::new(
                            rat_core::ErrorKind::AlreadyExists,
                            format!("{} already has a grant on {}", grant.grantee, grant.object),
                        ))
                    }
                    Err(e) => Err(db_error("cannot record the grant", e)),
                }
            }

            async fn grants_for(
                &self,
                who: &rat_core::principal::Principal,
            ) -> rat_core::Result<Vec<rat_core::authz::Grant>> {
                let names = $crate::sql::grants::grantee_names(who);
                let mut query = sqlx::QueryBuilder::new(
                    "SELECT id, object, grantee, level, granted_by, created_at FROM grants \
                     WHERE grantee IN (",
                );
                let mut list = query.separated(", ");
                for name in &names {
                    list.push_bind(name);
                }
                query.push(") ORDER BY created_at, id");
                $crate::sql::grants::grants_of::<$row>(query.build().fetch_all(&self.pool).await)
            }

            async fn grants_by(&self, id: &str) -> rat_core::Result<Vec<rat_core::authz::Grant>> {
                let statement = Self::statement(
                    "SELECT id, object, grantee, level, granted_by, created_at FROM grants \
                     WHERE granted_by = ? ORDER BY created_at, id",
                );
                $crate::sql::grants::grants_of::<$row>(
                    sqlx::query(&statement).bind(id).fetch_all(&self.pool).await,
                )
            }

            async fn grant(&self, id: &str) -> rat_core::Result<rat_core::authz::Grant> {
                let statement = Self::statement(
                    "SELECT id, object, grantee, level, granted_by, created_at FROM grants \
                     WHERE id = ?",
                );
                let row = sqlx::query(&statement)
                    .bind(id)
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(|e| $crate::sql::common::db_error("cannot read the grant", e))?
                    .ok_or_else(|| {
                        rat_core::Error::not_found(format!("no grant '{id}'"))
                            .with_context("field", "id")
                    })?;
                $crate::sql::grants::grant_of::<$row>(&row)
            }

            async fn grants(
                &self,
                limit: u32,
                offset: u32,
            ) -> rat_core::Result<Vec<rat_core::authz::Grant>> {
                let statement = Self::statement(
                    "SELECT id, object, grantee, level, granted_by, created_at FROM grants \
                     ORDER BY created_at, id LIMIT ? OFFSET ?",
                );
                let rows = sqlx::query(&statement)
                    .bind(i64::from(limit))
                    .bind(i64::from(offset))
                    .fetch_all(&self.pool)
                    .await;
                $crate::sql::grants::grants_of::<$row>(rows)
            }

            async fn revoke(&self, id: &str) -> rat_core::Result<()> {
                let statement = Self::statement("DELETE FROM grants WHERE id = ?");
                let done = sqlx::query(&statement)
                    .bind(id)
                    .execute(&self.pool)
                    .await
                    .map_err(|e| $crate::sql::common::db_error("cannot revoke the grant", e))?;
                match done.rows_affected() {
                    0 => Err(rat_core::Error::not_found(format!("no grant '{id}'"))
                        .with_context("field", "id")),
                    _ => Ok(()),
                }
            }

            async fn owned_by(&self, id: &str) -> rat_core::Result<Vec<rat_core::TableRef>> {
                let statement = Self::statement(
                    "SELECT table_ref FROM table_owners WHERE owner = ? ORDER BY table_ref",
                );
                sqlx::query_scalar::<_, String>(&statement)
                    .bind(id)
                    .fetch_all(&self.pool)
                    .await
                    .map_err(|e| $crate::sql::common::db_error("cannot read owned tables", e))?
                    .into_iter()
                    .map(|t| {
                        t.parse()
                            .map_err(|e| $crate::sql::common::corrupt("table", e))
                    })
                    .collect()
            }

            async fn memberships(
                &self,
                who: &rat_core::principal::Principal,
            ) -> rat_core::Result<Vec<rat_core::Identifier>> {
                let mut query = sqlx::QueryBuilder::new(
                    "SELECT DISTINCT namespace FROM namespace_members WHERE member IN (",
                );
                let mut list = query.separated(", ");
                for name in $crate::sql::grants::grantee_names(who) {
                    list.push_bind(name);
                }
                query.push(") ORDER BY namespace");
                query
                    .build_query_scalar::<String>()
                    .fetch_all(&self.pool)
                    .await
                    .map_err(|e| $crate::sql::common::db_error("cannot read memberships", e))?
                    .into_iter()
                    .map(|n| {
                        rat_core::Identifier::new(n)
                            .map_err(|e| $crate::sql::common::corrupt("namespace", e))
                    })
                    .collect()
            }

            async fn set_owner(
                &self,
                table: &rat_core::TableRef,
                owner: &str,
            ) -> rat_core::Result<()> {
                let statement = Self::statement(
                    "INSERT INTO table_owners (table_ref, owner) VALUES (?, ?) \
                     ON CONFLICT (table_ref) DO UPDATE SET owner = excluded.owner",
                );
                sqlx::query(&statement)
                    .bind(table.to_string())
                    .bind(owner)
                    .execute(&self.pool)
                    .await
                    .map_err(|e| $crate::sql::common::db_error("cannot record the owner", e))?;
                Ok(())
            }

            async fn owner(&self, table: &rat_core::TableRef) -> rat_core::Result<Option<String>> {
                let statement =
                    Self::statement("SELECT owner FROM table_owners WHERE table_ref = ?");
                sqlx::query_scalar(&statement)
                    .bind(table.to_string())
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(|e| $crate::sql::common::db_error("cannot read the owner", e))
            }

            async fn add_member(
                &self,
                namespace: &rat_core::Identifier,
                member: &rat_core::authz::Grantee,
            ) -> rat_core::Result<()> {
                let statement = Self::statement(
                    "INSERT INTO namespace_members (namespace, member) VALUES (?, ?) \
                     ON CONFLICT (namespace, member) DO NOTHING",
                );
                sqlx::query(&statement)
                    .bind(namespace.as_str())
                    .bind(member.to_string())
                    .execute(&self.pool)
                    .await
                    .map_err(|e| $crate::sql::common::db_error("cannot add the member", e))?;
                Ok(())
            }

            async fn members(
                &self,
                namespace: &rat_core::Identifier,
            ) -> rat_core::Result<Vec<rat_core::authz::Grantee>> {
                let statement = Self::statement(
                    "SELECT member FROM namespace_members WHERE namespace = ? ORDER BY member",
                );
                sqlx::query_scalar::<_, String>(&statement)
                    .bind(namespace.as_str())
                    .fetch_all(&self.pool)
                    .await
                    .map_err(|e| $crate::sql::common::db_error("cannot read members", e))?
                    .into_iter()
                    .map(|m| {
                        m.parse()
                            .map_err(|e| $crate::sql::common::corrupt("member", e))
                    })
                    .collect()
            }

            async fn remove_member(
                &self,
                namespace: &rat_core::Identifier,
                member: &rat_core::authz::Grantee,
            ) -> rat_core::Result<()> {
                let statement = Self::statement(
                    "DELETE FROM namespace_members WHERE namespace = ? AND member = ?",
                );
                sqlx::query(&statement)
                    .bind(namespace.as_str())
                    .bind(member.to_string())
                    .execute(&self.pool)
                    .await
                    .map_err(|e| $crate::sql::common::db_error("cannot remove the member", e))?;
                Ok(())
            }
        }
    };
}

pub(crate) use grant_store;

use rat_core::Result;
use rat_core::authz::{Grant, Level};
use sqlx::Row;

use super::common::{corrupt, parse_time};

/// How grants and memberships name `who` and its roles (`user:ID`,
/// `role:NAME`).
pub(crate) fn grantee_names(who: &rat_core::principal::Principal) -> Vec<String> {
    std::iter::once(format!("user:{}", who.id))
        .chain(who.roles.iter().map(|r| format!("role:{r}")))
        .collect()
}

/// The grants of a query's rows.
pub(crate) fn grants_of<R: Row>(
    rows: std::result::Result<Vec<R>, sqlx::Error>,
) -> Result<Vec<Grant>>
where
    usize: sqlx::ColumnIndex<R>,
    for<'r> String: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
{
    rows.map_err(|e| super::common::db_error("cannot read grants", e))?
        .iter()
        .map(grant_of)
        .collect()
}

/// A grant from its row (`id, object, grantee, level, granted_by, created_at`).
pub(crate) fn grant_of<R: Row>(row: &R) -> Result<Grant>
where
    usize: sqlx::ColumnIndex<R>,
    for<'r> String: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
{
    let text = |i: usize| row.try_get::<String, _>(i).map_err(|e| corrupt("grant", e));
    let level = match text(3)?.as_str() {
        "read" => Level::Read,
        "write" => Level::Write,
        other => return Err(corrupt("grant level", other)),
    };
    Ok(Grant {
        id: text(0)?,
        object: text(1)?.parse().map_err(|e| corrupt("grant object", e))?,
        grantee: text(2)?.parse().map_err(|e| corrupt("grantee", e))?,
        level,
        granted_by: text(4)?,
        created_at: parse_time(text(5)?)?,
    })
}
