//! [`ScheduleStore`] for [`SqliteRunStore`]: schedules beside the run
//! records, and a lease row electing the one scheduler that fires them.

use std::time::Duration;

use async_trait::async_trait;
use chrono::Utc;
use rat_core::{Error, ErrorKind, Firing, Result, RunId, Schedule, ScheduleStore, TableRef};
use sqlx::Row;
use sqlx::sqlite::SqliteRow;

use crate::store::{SqliteRunStore, corrupt, db_error, json, parse_time, time};

fn schedule(row: &SqliteRow) -> Result<Schedule> {
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
        created_at: parse_time(row.get("created_at"))?,
    })
}

fn no_schedule(id: &str) -> Error {
    Error::new(ErrorKind::NotFound, format!("no schedule '{id}'"))
}

#[async_trait]
impl ScheduleStore for SqliteRunStore {
    async fn insert_schedule(&self, s: &Schedule) -> Result<()> {
        sqlx::query(
            "INSERT INTO schedules (id, pipeline, trigger, enabled, next_fire_at, last_fired_at, \
             last_run_id, last_upstream_run, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(&s.id)
        .bind(s.pipeline.to_string())
        .bind(json(&s.trigger)?)
        .bind(i64::from(s.enabled))
        .bind(s.next_fire_at.map(time))
        .bind(s.last_fired_at.map(time))
        .bind(s.last_run_id.as_ref().map(|r| r.to_string()))
        .bind(s.last_upstream_run.as_ref().map(|r| r.to_string()))
        .bind(time(s.created_at))
        .execute(&self.pool)
        .await
        .map_err(|e| db_error("cannot insert the schedule", e))?;
        Ok(())
    }

    async fn schedule(&self, id: &str) -> Result<Schedule> {
        let row = sqlx::query("SELECT * FROM schedules WHERE id = ?")
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
        let updated = sqlx::query(
            "UPDATE schedules SET pipeline = ?, trigger = ?, enabled = ?, next_fire_at = ?, \
             last_fired_at = ?, last_run_id = ?, last_upstream_run = ? WHERE id = ?",
        )
        .bind(s.pipeline.to_string())
        .bind(json(&s.trigger)?)
        .bind(i64::from(s.enabled))
        .bind(s.next_fire_at.map(time))
        .bind(s.last_fired_at.map(time))
        .bind(s.last_run_id.as_ref().map(|r| r.to_string()))
        .bind(s.last_upstream_run.as_ref().map(|r| r.to_string()))
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
        let deleted = sqlx::query("DELETE FROM schedules WHERE id = ?")
            .bind(id)
            .execute(&self.pool)
            .await
            .map_err(|e| db_error("cannot delete the schedule", e))?
            .rows_affected();
        if deleted == 0 {
            return Err(no_schedule(id));
        }
        Ok(())
    }

    async fn record_firing(&self, f: &Firing) -> Result<bool> {
        let updated = sqlx::query(
            "UPDATE schedules SET next_fire_at = ?, last_fired_at = ?, last_run_id = COALESCE(?, last_run_id), \
             last_upstream_run = COALESCE(?, last_upstream_run) \
             WHERE id = ? AND next_fire_at IS ? AND last_upstream_run IS ?",
        )
        .bind(f.next_fire_at.map(time))
        .bind(time(f.at))
        .bind(f.run_id.as_ref().map(|r| r.to_string()))
        .bind(f.upstream_run.as_ref().map(|r| r.to_string()))
        .bind(&f.id)
        .bind(f.expected_next.map(time))
        .bind(f.expected_upstream.as_ref().map(|r| r.to_string()))
        .execute(&self.pool)
        .await
        .map_err(|e| db_error("cannot record the firing", e))?
        .rows_affected();
        Ok(updated == 1)
    }

    async fn lead(&self, owner: &str, ttl: Duration) -> Result<bool> {
        let now = Utc::now();
        let expires = now + chrono::Duration::from_std(ttl).unwrap_or_default();
        // Take the lease if it is free, expired or already ours.
        sqlx::query(
            "INSERT INTO scheduler_lease (name, owner, expires_at) VALUES ('scheduler', ?, ?) \
             ON CONFLICT (name) DO UPDATE SET owner = excluded.owner, expires_at = excluded.expires_at \
             WHERE scheduler_lease.owner = excluded.owner OR scheduler_lease.expires_at < ?",
        )
        .bind(owner)
        .bind(time(expires))
        .bind(time(now))
        .execute(&self.pool)
        .await
        .map_err(|e| db_error("cannot take the scheduler lease", e))?;
        let holder: String =
            sqlx::query("SELECT owner FROM scheduler_lease WHERE name = 'scheduler'")
                .fetch_one(&self.pool)
                .await
                .map_err(|e| db_error("cannot read the scheduler lease", e))?
                .get("owner");
        Ok(holder == owner)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use rat_core::Trigger;

    use super::*;

    async fn store() -> (tempfile::TempDir, SqliteRunStore) {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteRunStore::open(dir.path().join("runs.db"))
            .await
            .unwrap();
        (dir, store)
    }

    fn daily() -> Schedule {
        Schedule {
            id: "s1".into(),
            pipeline: "bronze.orders".parse().unwrap(),
            trigger: Trigger::Cron {
                expression: "0 6 * * *".into(),
            },
            enabled: true,
            next_fire_at: Some(Utc::now()),
            last_fired_at: None,
            last_run_id: None,
            last_upstream_run: None,
            created_at: Utc::now(),
        }
    }

    #[tokio::test]
    async fn a_firing_is_recorded_once_however_many_schedulers_try() {
        let (_dir, s) = store().await;
        let schedule = daily();
        s.insert_schedule(&schedule).await.unwrap();
        let firing = |run: RunId| Firing {
            id: "s1".into(),
            expected_next: schedule.next_fire_at,
            expected_upstream: None,
            next_fire_at: Some(Utc::now() + chrono::Duration::days(1)),
            upstream_run: None,
            run_id: Some(run),
            at: Utc::now(),
        };
        assert!(s.record_firing(&firing(RunId::generate())).await.unwrap());
        assert!(!s.record_firing(&firing(RunId::generate())).await.unwrap());
        let stored = s.schedule("s1").await.unwrap();
        assert!(stored.last_fired_at.is_some() && stored.last_run_id.is_some());
        assert!(stored.next_fire_at > schedule.next_fire_at);

        let mut paused = stored.clone();
        paused.enabled = false;
        s.replace_schedule(&paused).await.unwrap();
        assert_eq!(s.schedules().await.unwrap(), [paused]);
        s.delete_schedule("s1").await.unwrap();
        assert_eq!(
            s.delete_schedule("s1").await.unwrap_err().kind(),
            ErrorKind::NotFound
        );
    }

    #[tokio::test]
    async fn one_owner_holds_the_lease_until_it_expires() {
        let (_dir, s) = store().await;
        let ttl = Duration::from_millis(300);
        assert!(s.lead("a", ttl).await.unwrap());
        assert!(!s.lead("b", ttl).await.unwrap());
        assert!(s.lead("a", ttl).await.unwrap(), "renewed by its holder");
        tokio::time::sleep(Duration::from_millis(400)).await;
        assert!(s.lead("b", ttl).await.unwrap(), "taken over once expired");
        assert!(!s.lead("a", ttl).await.unwrap());
    }
}
