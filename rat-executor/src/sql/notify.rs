//! [`NotificationStore`](rat_core::NotificationStore) for both SQL backends
//! ([`notification_store!`]): a hook and a delivery are each one JSON
//! document, with what is queried (namespace, state, due time, the event's
//! key) in columns beside it.

/// Implements [`NotificationStore`](rat_core::NotificationStore) for
/// `$store` (the struct of [`sql_store!`](super::sql_store)).
macro_rules! notification_store {
    ($store:ident) => {
        #[async_trait::async_trait]
        impl rat_core::NotificationStore for $store {
            async fn insert_hook(
                &self,
                hook: &rat_core::NotificationHook,
                secret: &str,
            ) -> rat_core::Result<()> {
                use $crate::sql::common::{db_error, json, time};
                let mut kept = hook.clone();
                kept.secret = None;
                let statement = Self::statement(
                    "INSERT INTO notification_hooks (id, namespace, document, secret, created_at) \
                     VALUES (?, ?, ?, ?, ?)",
                );
                sqlx::query(&statement)
                    .bind(&hook.id)
                    .bind(hook.namespace.as_str())
                    .bind(json(&kept)?)
                    .bind(secret)
                    .bind(time(hook.created_at))
                    .execute(&self.pool)
                    .await
                    .map_err(|e| db_error("cannot record the hook", e))?;
                Ok(())
            }

            async fn hooks(
                &self,
                namespace: Option<&rat_core::Identifier>,
            ) -> rat_core::Result<Vec<rat_core::NotificationHook>> {
                let statement = Self::statement(
                    "SELECT document FROM notification_hooks \
                     WHERE (? IS NULL OR namespace = ?) ORDER BY id",
                );
                let namespace = namespace.map(|n| n.to_string());
                sqlx::query_scalar::<_, String>(&statement)
                    .bind(&namespace)
                    .bind(&namespace)
                    .fetch_all(&self.pool)
                    .await
                    .map_err(|e| $crate::sql::common::db_error("cannot list hooks", e))?
                    .iter()
                    .map(|d| $crate::sql::notify::document("hook", d))
                    .collect()
            }

            async fn hook(&self, id: &str) -> rat_core::Result<rat_core::NotificationHook> {
                let statement =
                    Self::statement("SELECT document FROM notification_hooks WHERE id = ?");
                let document: String = sqlx::query_scalar(&statement)
                    .bind(id)
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(|e| $crate::sql::common::db_error("cannot read the hook", e))?
                    .ok_or_else(|| $crate::sql::notify::no_hook(id))?;
                $crate::sql::notify::document("hook", &document)
            }

            async fn hook_secret(&self, id: &str) -> rat_core::Result<String> {
                let statement =
                    Self::statement("SELECT secret FROM notification_hooks WHERE id = ?");
                sqlx::query_scalar(&statement)
                    .bind(id)
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(|e| $crate::sql::common::db_error("cannot read the hook", e))?
                    .ok_or_else(|| $crate::sql::notify::no_hook(id))
            }

            async fn delete_hook(&self, id: &str) -> rat_core::Result<()> {
                let failed = |e| $crate::sql::common::db_error("cannot delete the hook", e);
                let mut tx = self.pool.begin().await.map_err(failed)?;
                let statement = Self::statement("DELETE FROM notification_hooks WHERE id = ?");
                let deleted = sqlx::query(&statement)
                    .bind(id)
                    .execute(&mut *tx)
                    .await
                    .map_err(failed)?
                    .rows_affected();
                if deleted == 0 {
                    return Err($crate::sql::notify::no_hook(id));
                }
                let statement =
                    Self::statement("DELETE FROM notification_deliveries WHERE hook_id = ?");
                sqlx::query(&statement)
                    .bind(id)
                    .execute(&mut *tx)
                    .await
                    .map_err(failed)?;
                tx.commit().await.map_err(failed)
            }

            async fn enqueue(&self, deliveries: &[rat_core::Delivery]) -> rat_core::Result<()> {
                use $crate::sql::common::{db_error, json, time};
                let failed = |e| db_error("cannot enqueue the notifications", e);
                let mut tx = self.pool.begin().await.map_err(failed)?;
                let statement = Self::statement(
                    "INSERT INTO notification_deliveries \
                     (id, hook_id, event_key, state, next_attempt_at, document) \
                     VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (hook_id, event_key) DO NOTHING",
                );
                for delivery in deliveries {
                    sqlx::query(&statement)
                        .bind(&delivery.id)
                        .bind(&delivery.hook_id)
                        .bind(delivery.event.key())
                        .bind(delivery.state.as_str())
                        .bind(delivery.next_attempt_at.map(time))
                        .bind(json(delivery)?)
                        .execute(&mut *tx)
                        .await
                        .map_err(failed)?;
                }
                tx.commit().await.map_err(failed)
            }

            async fn due_deliveries(
                &self,
                now: chrono::DateTime<chrono::Utc>,
                limit: u32,
            ) -> rat_core::Result<Vec<rat_core::Delivery>> {
                let statement = Self::statement(
                    "SELECT document FROM notification_deliveries \
                     WHERE state = 'pending' AND next_attempt_at <= ? ORDER BY next_attempt_at, id LIMIT ?",
                );
                sqlx::query_scalar::<_, String>(&statement)
                    .bind($crate::sql::common::time(now))
                    .bind(i64::from(limit))
                    .fetch_all(&self.pool)
                    .await
                    .map_err(|e| $crate::sql::common::db_error("cannot list due deliveries", e))?
                    .iter()
                    .map(|d| $crate::sql::notify::document("delivery", d))
                    .collect()
            }

            async fn update_delivery(&self, delivery: &rat_core::Delivery) -> rat_core::Result<()> {
                use $crate::sql::common::{db_error, json, time};
                let statement = Self::statement(
                    "UPDATE notification_deliveries SET state = ?, next_attempt_at = ?, document = ? \
                     WHERE id = ?",
                );
                sqlx::query(&statement)
                    .bind(delivery.state.as_str())
                    .bind(delivery.next_attempt_at.map(time))
                    .bind(json(delivery)?)
                    .bind(&delivery.id)
                    .execute(&self.pool)
                    .await
                    .map_err(|e| db_error("cannot update the delivery", e))?;
                Ok(())
            }

            async fn deliveries(
                &self,
                hook: &str,
                limit: u32,
                offset: u32,
            ) -> rat_core::Result<Vec<rat_core::Delivery>> {
                let statement = Self::statement(
                    "SELECT document FROM notification_deliveries WHERE hook_id = ? \
                     ORDER BY id DESC LIMIT ? OFFSET ?",
                );
                sqlx::query_scalar::<_, String>(&statement)
                    .bind(hook)
                    .bind(i64::from(limit))
                    .bind(i64::from(offset))
                    .fetch_all(&self.pool)
                    .await
                    .map_err(|e| $crate::sql::common::db_error("cannot list deliveries", e))?
                    .iter()
                    .map(|d| $crate::sql::notify::document("delivery", d))
                    .collect()
            }

            async fn cursor(&self, name: &str) -> rat_core::Result<Option<String>> {
                let statement = Self::statement("SELECT value FROM notifier_cursors WHERE name = ?");
                sqlx::query_scalar(&statement)
                    .bind(name)
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(|e| $crate::sql::common::db_error("cannot read the cursor", e))
            }

            async fn move_cursor(
                &self,
                name: &str,
                expected: Option<&str>,
                value: &str,
            ) -> rat_core::Result<bool> {
                let failed = |e| $crate::sql::common::db_error("cannot move the cursor", e);
                let moved = match expected {
                    None => {
                        let statement = Self::statement(
                            "INSERT INTO notifier_cursors (name, value) VALUES (?, ?) \
                             ON CONFLICT (name) DO NOTHING",
                        );
                        sqlx::query(&statement).bind(name).bind(value).execute(&self.pool).await
                    }
                    Some(expected) => {
                        let statement = Self::statement(
                            "UPDATE notifier_cursors SET value = ? WHERE name = ? AND value = ?",
                        );
                        sqlx::query(&statement)
                            .bind(value)
                            .bind(name)
                            .bind(expected)
                            .execute(&self.pool)
                            .await
                    }
                };
                Ok(moved.map_err(failed)?.rows_affected() == 1)
            }
        }
    };
}

pub(crate) use notification_store;

/// A stored JSON document of `what`.
pub(crate) fn document<T: serde::de::DeserializeOwned>(
    what: &str,
    text: &str,
) -> rat_core::Result<T> {
    serde_json::from_str(text).map_err(|e| super::common::corrupt(what, e))
}

pub(crate) fn no_hook(id: &str) -> rat_core::Error {
    rat_core::Error::not_found(format!("no notification hook '{}'", id.escape_default()))
}
