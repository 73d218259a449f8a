//! [`ScheduleStore`](rat_core::ScheduleStore) for both SQL backends
//! ([`schedule_store!`]): schedules as rows, each firing recorded by a
//! compare-and-swap on the schedule's firing state together with its
//! [`FiringRecord`](rat_core::FiringRecord), in one transaction; the
//! scheduler lease through the backend's `take_lead`/`give_up_lead`.

/// Implements [`ScheduleStore`](rat_core::ScheduleStore) for `$store`
/// (the struct of [`sql_store!`](super::sql_store), in whose expansion
/// this is invoked: its imports are in scope), rows of `$row`.
macro_rules! schedule_store {
    ($store:ident, $row:ty) => {
        fn schedule(row: &$row) -> Result<Schedule> {
            let opt_time = |name: &str| {
                row.get::<Option<String>, _>(name)
                    .map(parse_time)
                    .transpose()
            };
            let opt_run = |name: &str| {
                row.get::<Option<String>, _>(name)
                    .map(|s| s.parse::<RunId>())
                    .transpose()
            };
            Ok(Schedule {
                id: row.get("id"),
                pipeline: row.get::<String, _>("pipeline").parse::<TableRef>()?,
                trigger: serde_json::from_str(&row.get::<String, _>("trigger"))
                    .map_err(|e| corrupt("schedule trigger", e))?,
                enabled: row.get::<i64, _>("enabled") != 0,
                next_fire_at: opt_time("next_fire_at")?,
                last_fired_at: opt_time("last_fired_at")?,
                last_run_id: opt_run("last_run_id")?,
                last_upstream_run: opt_run("last_upstream_run")?,
                landing_cursor: from_json(row.get("landing_cursor"))?,
                created_at: parse_time(row.get("created_at"))?,
                webhook_token: None,
                owner: from_json(row.get("owner"))?,
            })
        }

        fn firing_record(row: &$row) -> Result<rat_core::FiringRecord> {
            Ok(rat_core::FiringRecord {
                id: row.get("id"),
                schedule_id: row.get("schedule_id"),
                kind: serde_json::from_value(serde_json::Value::String(row.get("kind")))
                    .map_err(|e| corrupt("firing kind", e))?,
                at: parse_time(row.get("at"))?,
                run_id: row
                    .get::<Option<String>, _>("run_id")
                    .map(|s| s.parse::<RunId>())
                    .transpose()?,
                skipped: row.get("skipped"),
                detail: row.get("detail"),
            })
        }

        fn no_schedule(id: &str) -> Error {
            rat_core::schedule::schedule_not_found(id)
        }

        #[async_trait]
        impl ScheduleStore for $store {
            async fn insert_schedule(&self, s: &Schedule) -> Result<()> {
                let statement = Self::statement(
                    "INSERT INTO schedules (id, pipeline, trigger, enabled, next_fire_at, \
                     last_fired_at, last_run_id, last_upstream_run, landing_cursor, created_at, \
                     owner) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                );
                sqlx::query(&statement)
                    .bind(&s.id)
                    .bind(s.pipeline.to_string())
                    .bind(json(&s.trigger)?)
                    .bind(i64::from(s.enabled))
                    .bind(s.next_fire_at.map(time))
                    .bind(s.last_fired_at.map(time))
                    .bind(opt_text(&s.last_run_id))
                    .bind(opt_text(&s.last_upstream_run))
                    .bind(s.landing_cursor.as_ref().map(json).transpose()?)
                    .bind(time(s.created_at))
                    .bind(s.owner.as_ref().map(json).transpose()?)
                    .execute(&self.pool)
                    .await
                    .map_err(|e| db_error("cannot insert the schedule", e))?;
                Ok(())
            }

            async fn schedule(&self, id: &str) -> Result<Schedule> {
                let statement = Self::statement("SELECT * FROM schedules WHERE id = ?");
                let row = sqlx::query(&statement)
                    .bind(id)
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(|e| db_error("cannot read the schedule", e))?;
                schedule(&row.ok_or_else(|| no_schedule(id))?)
            }

            async fn schedules(&self) -> Result<Vec<Schedule>> {
                sqlx::query("SELECT * FROM schedules ORDER BY created_at, id")
                    .fetch_all(&self.pool)
                    .await
                    .map_err(|e| db_error("cannot list schedules", e))?
                    .iter()
                    .map(schedule)
                    .collect()
            }

            async fn replace_schedule(&self, s: &Schedule) -> Result<()> {
                let statement = Self::statement(
                    "UPDATE schedules SET pipeline = ?, trigger = ?, enabled = ?, next_fire_at = ?, \
                     last_fired_at = ?, last_run_id = ?, last_upstream_run = ?, landing_cursor = ?, \
                     owner = ? WHERE id = ?",
                );
                let updated = sqlx::query(&statement)
                    .bind(s.pipeline.to_string())
                    .bind(json(&s.trigger)?)
                    .bind(i64::from(s.enabled))
                    .bind(s.next_fire_at.map(time))
                    .bind(s.last_fired_at.map(time))
                    .bind(opt_text(&s.last_run_id))
                    .bind(opt_text(&s.last_upstream_run))
                    .bind(s.landing_cursor.as_ref().map(json).transpose()?)
                    .bind(s.owner.as_ref().map(json).transpose()?)
                    .bind(&s.id)
                    .execute(&self.pool)
                    .await
                    .map_err(|e| db_error("cannot update the schedule", e))?
                    .rows_affected();
                if updated == 0 {
                    return Err(no_schedule(&s.id));
                }
                Ok(())
            }

            async fn delete_schedule(&self, id: &str) -> Result<()> {
                let mut tx = self
                    .pool
                    .begin()
                    .await
                    .map_err(|e| db_error("cannot delete the schedule", e))?;
                let statement = Self::statement("DELETE FROM schedules WHERE id = ?");
                let deleted = sqlx::query(&statement)
                    .bind(id)
                    .execute(&mut *tx)
                    .await
                    .map_err(|e| db_error("cannot delete the schedule", e))?
                    .rows_affected();
                if deleted == 0 {
                    return Err(no_schedule(id));
                }
                let statement = Self::statement("DELETE FROM schedule_firings WHERE schedule_id = ?");
                sqlx::query(&statement)
                    .bind(id)
                    .execute(&mut *tx)
                    .await
                    .map_err(|e| db_error("cannot delete the schedule's firings", e))?;
                tx.commit()
                    .await
                    .map_err(|e| db_error("cannot delete the schedule", e))
            }

            async fn record_firing(&self, f: &Firing) -> Result<bool> {
                let failed = |e| db_error("cannot record the firing", e);
                let mut tx = self.pool.begin().await.map_err(failed)?;
                let statement = Self::statement(
                    "UPDATE schedules SET next_fire_at = ?, last_fired_at = ?, \
                     last_run_id = COALESCE(?, last_run_id), \
                     last_upstream_run = COALESCE(?, last_upstream_run), \
                     landing_cursor = COALESCE(?, landing_cursor) \
                     WHERE id = ? AND next_fire_at IS NOT DISTINCT FROM ? \
                     AND last_upstream_run IS NOT DISTINCT FROM ? \
                     AND landing_cursor IS NOT DISTINCT FROM ?",
                );
                let updated = sqlx::query(&statement)
                    .bind(f.next_fire_at.map(time))
                    .bind(time(f.at))
                    .bind(opt_text(&f.run_id))
                    .bind(opt_text(&f.upstream_run))
                    .bind(f.landing_cursor.as_ref().map(json).transpose()?)
                    .bind(&f.id)
                    .bind(f.expected_next.map(time))
                    .bind(opt_text(&f.expected_upstream))
                    .bind(f.expected_cursor.as_ref().map(json).transpose()?)
                    .execute(&mut *tx)
                    .await
                    .map_err(failed)?
                    .rows_affected();
                if updated != 1 {
                    return Ok(false);
                }
                let record = f.record();
                let statement = Self::statement(
                    "INSERT INTO schedule_firings (id, schedule_id, kind, at, run_id, skipped, detail) \
                     VALUES (?, ?, ?, ?, ?, ?, ?)",
                );
                sqlx::query(&statement)
                    .bind(&record.id)
                    .bind(&record.schedule_id)
                    .bind(record.kind.as_str())
                    .bind(time(record.at))
                    .bind(opt_text(&record.run_id))
                    .bind(&record.skipped)
                    .bind(&record.detail)
                    .execute(&mut *tx)
                    .await
                    .map_err(failed)?;
                tx.commit().await.map_err(failed)?;
                Ok(true)
            }

            async fn firings(
                &self,
                schedule: &str,
                limit: u32,
                offset: u32,
            ) -> Result<Vec<rat_core::FiringRecord>> {
                let statement = Self::statement(
                    "SELECT * FROM schedule_firings WHERE schedule_id = ? \
                     ORDER BY id DESC LIMIT ? OFFSET ?",
                );
                sqlx::query(&statement)
                    .bind(schedule)
                    .bind(i64::from(limit))
                    .bind(i64::from(offset))
                    .fetch_all(&self.pool)
                    .await
                    .map_err(|e| db_error("cannot list the firings", e))?
                    .iter()
                    .map(firing_record)
                    .collect()
            }

            async fn prune_firings(&self, keep: u32) -> Result<u64> {
                let statement = Self::statement(
                    "DELETE FROM schedule_firings WHERE id IN (SELECT id FROM \
                     (SELECT id, ROW_NUMBER() OVER (PARTITION BY schedule_id ORDER BY id DESC) AS n \
                      FROM schedule_firings) AS ranked WHERE n > ?)",
                );
                Ok(sqlx::query(&statement)
                    .bind(i64::from(keep))
                    .execute(&self.pool)
                    .await
                    .map_err(|e| db_error("cannot prune the firings", e))?
                    .rows_affected())
            }

            async fn lead(&self, owner: &str, ttl: Duration) -> Result<bool> {
                self.take_lead(owner, ttl).await
            }

            async fn resign(&self, owner: &str) -> Result<()> {
                self.give_up_lead(owner).await
            }
        }
    };
}

pub(crate) use schedule_store;
