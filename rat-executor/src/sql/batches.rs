//! [`BatchStore`](rat_core::BatchStore) for both SQL backends
//! ([`batch_store!`]): a batch is one JSON document, with its status,
//! owner and cancel request beside it in columns.

/// Implements [`BatchStore`](rat_core::BatchStore) for `$store` (the
/// struct of [`sql_store!`](super::sql_store), whose `statement` writes
/// placeholders in the backend's style).
macro_rules! batch_store {
    ($store:ident) => {
        #[async_trait::async_trait]
        impl rat_core::BatchStore for $store {
            async fn insert_batch(&self, batch: &rat_core::Batch, owner: &str) -> rat_core::Result<()> {
                let statement = Self::statement(
                    "INSERT INTO batches (batch_id, status, submitted_at, owner, cancel_requested, document) \
                     VALUES (?, ?, ?, ?, ?, ?)",
                );
                sqlx::query(&statement)
                    .bind(&batch.id)
                    .bind(batch.status.as_str())
                    .bind($crate::sql::common::time(batch.submitted_at))
                    .bind(owner)
                    .bind(i64::from(batch.cancel_requested))
                    .bind($crate::sql::common::json(batch)?)
                    .execute(&self.pool)
                    .await
                    .map_err(|e| $crate::sql::common::db_error("cannot record the batch", e))?;
                Ok(())
            }

            async fn update_batch(&self, batch: &rat_core::Batch) -> rat_core::Result<()> {
                let statement = Self::statement(
                    "UPDATE batches SET status = ?, document = ? WHERE batch_id = ?",
                );
                sqlx::query(&statement)
                    .bind(batch.status.as_str())
                    .bind($crate::sql::common::json(batch)?)
                    .bind(&batch.id)
                    .execute(&self.pool)
                    .await
                    .map_err(|e| $crate::sql::common::db_error("cannot update the batch", e))?;
                Ok(())
            }

            async fn batch(&self, id: &str) -> rat_core::Result<rat_core::Batch> {
                let statement = Self::statement(
                    "SELECT cancel_requested, document FROM batches WHERE batch_id = ?",
                );
                let row = sqlx::query(&statement)
                    .bind(id)
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(|e| $crate::sql::common::db_error("cannot read the batch", e))?
                    .ok_or_else(|| {
                        rat_core::batch::batch_not_found(id)
                    })?;
                $crate::sql::batches::batch_of(
                    sqlx::Row::get(&row, "cancel_requested"),
                    sqlx::Row::get(&row, "document"),
                )
            }

            async fn request_batch_cancel(&self, id: &str) -> rat_core::Result<()> {
                let statement = Self::statement(
                    "UPDATE batches SET cancel_requested = 1 WHERE batch_id = ? AND status IN ('pending', 'running')",
                );
                let updated = sqlx::query(&statement)
                    .bind(id)
                    .execute(&self.pool)
                    .await
                    .map_err(|e| $crate::sql::common::db_error("cannot cancel the batch", e))?
                    .rows_affected();
                if updated == 0 {
                    let batch = rat_core::BatchStore::batch(self, id).await?;
                    return Err(rat_core::Error::new(
                        rat_core::ErrorKind::Conflict,
                        format!("batch {id} already ended ({})", batch.status),
                    ));
                }
                Ok(())
            }

            async fn unfinished_batches(&self) -> rat_core::Result<Vec<(rat_core::Batch, String)>> {
                let rows = sqlx::query(
                    "SELECT cancel_requested, document, owner FROM batches \
                     WHERE status IN ('pending', 'running') ORDER BY batch_id",
                )
                .fetch_all(&self.pool)
                .await
                .map_err(|e| $crate::sql::common::db_error("cannot list batches", e))?;
                rows.iter()
                    .map(|row| {
                        let batch = $crate::sql::batches::batch_of(
                            sqlx::Row::get(row, "cancel_requested"),
                            sqlx::Row::get(row, "document"),
                        )?;
                        Ok((batch, sqlx::Row::get(row, "owner")))
                    })
                    .collect()
            }
        }
    };
}

pub(crate) use batch_store;

/// A stored batch: its document, with the cancel request of its column.
pub(crate) fn batch_of(
    cancel_requested: i64,
    document: String,
) -> rat_core::Result<rat_core::Batch> {
    let mut batch: rat_core::Batch =
        serde_json::from_str(&document).map_err(|e| super::common::corrupt("batch", e))?;
    batch.cancel_requested = batch.cancel_requested || cancel_requested != 0;
    Ok(batch)
}
