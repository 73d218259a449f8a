//! Namespace properties and drops of the [`SqlCatalog`]: one row per
//! property in `iceberg_namespace_properties`, beside the `exists` row the
//! JDBC layout keeps for every namespace.

use rat_core::{Error, ErrorKind, Identifier, NamespaceProperties, Result};
use sqlx::Row;

use super::{SqlCatalog, catalog_error};

/// The marker row of the JDBC layout; not a property of the caller's.
const EXISTS_KEY: &str = "exists";

impl SqlCatalog {
    pub(super) async fn properties_of(
        &self,
        namespace: &Identifier,
    ) -> Result<NamespaceProperties> {
        let rows = sqlx::query(
            "SELECT property_key, property_value FROM iceberg_namespace_properties \
             WHERE catalog_name = ? AND namespace = ?",
        )
        .bind(&self.name)
        .bind(namespace.as_str())
        .fetch_all(&self.pool)
        .await
        .map_err(|e| catalog_error("cannot read namespace properties", e))?;
        if rows.is_empty() && self.table_count(namespace).await? == 0 {
            return Err(no_namespace(namespace));
        }
        Ok(rows
            .iter()
            .map(|r| (r.get::<String, _>(0), r.get::<Option<String>, _>(1)))
            .filter(|(key, _)| key != EXISTS_KEY)
            .map(|(key, value)| (key, value.unwrap_or_default()))
            .collect())
    }

    pub(super) async fn update_properties(
        &self,
        namespace: &Identifier,
        updates: NamespaceProperties,
        removals: Vec<String>,
    ) -> Result<()> {
        self.properties_of(namespace).await?;
        let failed = |e| catalog_error("cannot update namespace properties", e);
        let mut tx = self.pool.begin().await.map_err(failed)?;
        for key in removals.iter().filter(|k| *k != EXISTS_KEY) {
            sqlx::query(
                "DELETE FROM iceberg_namespace_properties \
                 WHERE catalog_name = ? AND namespace = ? AND property_key = ?",
            )
            .bind(&self.name)
            .bind(namespace.as_str())
            .bind(key)
            .execute(&mut *tx)
            .await
            .map_err(failed)?;
        }
        for (key, value) in updates.iter().filter(|(k, _)| *k != EXISTS_KEY) {
            sqlx::query(
                "INSERT INTO iceberg_namespace_properties \
                 (catalog_name, namespace, property_key, property_value) VALUES (?, ?, ?, ?) \
                 ON CONFLICT (catalog_name, namespace, property_key) \
                 DO UPDATE SET property_value = excluded.property_value",
            )
            .bind(&self.name)
            .bind(namespace.as_str())
            .bind(key)
            .bind(value)
            .execute(&mut *tx)
            .await
            .map_err(failed)?;
        }
        tx.commit().await.map_err(failed)
    }

    pub(super) async fn drop_levels(&self, namespace: &Identifier) -> Result<()> {
        self.properties_of(namespace).await?;
        let failed = |e| catalog_error("cannot drop namespace", e);
        let mut tx = self.pool.begin().await.map_err(failed)?;
        // Checked in the transaction that drops: a table created meanwhile
        // either commits first (and is counted) or fails on its own.
        let tables: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM iceberg_tables WHERE catalog_name = ? \
             AND (table_namespace = ? OR table_namespace LIKE ? ESCAPE '!')",
        )
        .bind(&self.name)
        .bind(namespace.as_str())
        .bind(children_pattern(namespace))
        .fetch_one(&mut *tx)
        .await
        .map_err(failed)?;
        if tables > 0 {
            return Err(Error::new(
                ErrorKind::Conflict,
                format!("namespace '{namespace}' still holds {tables} table(s)"),
            )
            .with_context("namespace", namespace));
        }
        sqlx::query(
            "DELETE FROM iceberg_namespace_properties WHERE catalog_name = ? \
             AND (namespace = ? OR namespace LIKE ? ESCAPE '!')",
        )
        .bind(&self.name)
        .bind(namespace.as_str())
        .bind(children_pattern(namespace))
        .execute(&mut *tx)
        .await
        .map_err(failed)?;
        tx.commit().await.map_err(failed)
    }

    async fn table_count(&self, namespace: &Identifier) -> Result<i64> {
        sqlx::query_scalar(
            "SELECT COUNT(*) FROM iceberg_tables WHERE catalog_name = ? \
             AND table_namespace LIKE ? ESCAPE '!'",
        )
        .bind(&self.name)
        .bind(children_pattern(namespace))
        .fetch_one(&self.pool)
        .await
        .map_err(|e| catalog_error("cannot count tables", e))
    }
}

/// `LIKE` pattern of the levels under `namespace` (`_` is a wildcard there).
pub(super) fn children_pattern(namespace: &Identifier) -> String {
    format!("{}.%", namespace.as_str().replace('_', "!_"))
}

fn no_namespace(namespace: &Identifier) -> Error {
    Error::not_found(format!("no namespace '{namespace}'")).with_context("namespace", namespace)
}
