//! Background jobs on PostgreSQL, run once across replicas: escalation rules and
//! retention. Each run first takes a session-level advisory lock named after the job
//! and the engine (`pg_try_advisory_lock`); a replica that does not get it skips the
//! run, and a replica that dies releases it with its connection. Within a run, each
//! instance is locked with `FOR UPDATE SKIP LOCKED`, so one busy with a request is
//! left for the next run.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use flowgate_core::Result;
use sqlx::pool::PoolConnection;
use sqlx::Postgres;
use uuid::Uuid;

use super::error::engine_error;
use super::Core;
use crate::retention::RetentionPolicy;

/// Instances read per query while looking for escalations.
const SCAN_BATCH: i64 = 500;

/// A held advisory lock; released when the job ends (or with the connection).
struct JobLock {
    conn: PoolConnection<Postgres>,
    key: String,
}

impl JobLock {
    async fn release(mut self) {
        let _ = sqlx::query("SELECT pg_advisory_unlock(hashtext($1))")
            .bind(&self.key)
            .execute(&mut *self.conn)
            .await;
    }
}

impl Core {
    async fn job_lock(&self, job: &str) -> Result<Option<JobLock>> {
        let mut conn = self.pool.acquire().await.map_err(engine_error)?;
        let key = format!("flowgate:{job}:{}", self.info.name);
        let got: bool = sqlx::query_scalar("SELECT pg_try_advisory_lock(hashtext($1))")
            .bind(&key)
            .fetch_one(&mut *conn)
            .await
            .map_err(engine_error)?;
        Ok(got.then_some(JobLock { conn, key }))
    }

    /// Runs due escalation rules on every running instance sitting on a node that has
    /// some; returns how many moved on (0 when another replica is running them).
    pub async fn run_escalations(&self) -> Result<usize> {
        let models: Vec<String> = self
            .models
            .values()
            .filter(|m| m.nodes.iter().any(|n| !n.escalations.is_empty()))
            .map(|m| m.name.clone())
            .collect();
        if models.is_empty() {
            return Ok(0);
        }
        let Some(lock) = self.job_lock("escalations").await? else {
            return Ok(0);
        };
        let mut moved = 0;
        let mut after = Uuid::nil();
        let out = loop {
            let ids: Vec<Uuid> = match self
                .metered(
                    sqlx::query_scalar(
                        "SELECT id FROM fg_workflows WHERE engine = $1 AND state = 'running' \
                         AND model = ANY($2) AND id > $3 ORDER BY id LIMIT $4",
                    )
                    .bind(&self.info.name)
                    .bind(&models)
                    .bind(after)
                    .bind(SCAN_BATCH)
                    .fetch_all(&self.pool),
                )
                .await
            {
                Ok(ids) => ids,
                Err(e) => break Err(e),
            };
            let Some(last) = ids.last() else {
                break Ok(moved);
            };
            after = *last;
            for id in ids {
                match self.job_step(id, |txn| txn.escalate()).await {
                    Ok(true) => moved += 1,
                    Ok(false) => {}
                    Err(e) => {
                        tracing::warn!(workflow = %id, error = %e, "escalation failed; nothing changed")
                    }
                }
            }
        };
        lock.release().await;
        out
    }

    /// Deletes for good the ended instances (and their tasks) that ended before
    /// `cutoff`, `batch` per statement; returns how many.
    pub async fn purge_before(&self, cutoff: DateTime<Utc>, batch: usize) -> Result<usize> {
        let batch = i64::try_from(batch.max(1)).unwrap_or(i64::MAX);
        let mut total = 0usize;
        loop {
            // The instances, their tasks (by cascade) and their events, in one statement,
            // under the engine row's lock: the sequencer takes it too, so no event of these
            // instances moves from the inbox to the log while they are deleted.
            let n: i64 = self
                .metered(purge_batch(&self.pool, &self.info.name, cutoff, batch))
                .await?;
            let n = u64::try_from(n).unwrap_or(0);
            total += usize::try_from(n).unwrap_or(0);
            if n < u64::try_from(batch).unwrap_or(u64::MAX) {
                return Ok(total);
            }
            tokio::task::yield_now().await;
        }
    }

    /// One retention sweep under the job lock; returns how many instances went.
    pub async fn run_retention(&self, policy: &RetentionPolicy) -> Result<usize> {
        let Some(lock) = self.job_lock("retention").await? else {
            return Ok(0);
        };
        let keep = chrono::Duration::from_std(policy.keep).unwrap_or(chrono::Duration::MAX);
        let cutoff = Utc::now()
            .checked_sub_signed(keep)
            .unwrap_or(DateTime::<Utc>::MIN_UTC);
        let out = self.purge_before(cutoff, policy.batch).await;
        lock.release().await;
        out
    }

    /// Starts the periodic jobs: the live event feed, escalations every `escalate_every`
    /// (none when `None`) and retention (none when `None`). They stop once the engine
    /// is dropped.
    pub fn spawn_jobs(
        self: &Arc<Self>,
        escalate_every: Option<Duration>,
        retention: Option<RetentionPolicy>,
    ) -> Vec<tokio::task::JoinHandle<()>> {
        let mut out = vec![self.spawn_feed()];
        if let Some(period) = escalate_every {
            out.push(self.every(period, |e| async move {
                match e.run_escalations().await {
                    Ok(n) if n > 0 => {
                        tracing::info!(engine = %e.info.name, moved = n, "escalations ran")
                    }
                    Ok(_) => {}
                    Err(err) => {
                        tracing::warn!(engine = %e.info.name, error = %err, "escalation run failed")
                    }
                }
            }));
        }
        if let Some(policy) = retention {
            out.push(self.every(policy.sweep_every, move |e| async move {
                match e.run_retention(&policy).await {
                    Ok(n) if n > 0 => tracing::info!(engine = %e.info.name, purged = n, "retention sweep"),
                    Ok(_) => {}
                    Err(err) => tracing::warn!(engine = %e.info.name, error = %err, "retention sweep failed"),
                }
            }));
        }
        out
    }

    fn every<F, Fut>(self: &Arc<Self>, period: Duration, job: F) -> tokio::task::JoinHandle<()>
    where
        F: Fn(Arc<Core>) -> Fut + Send + 'static,
        Fut: std::future::Future<Output = ()> + Send,
    {
        let engine = Arc::downgrade(self);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(period);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            tick.tick().await;
            loop {
                tick.tick().await;
                let Some(engine) = engine.upgrade() else {
                    break;
                };
                job(engine).await;
            }
        })
    }
}

/// One batch of [`Core::purge_before`] in its own transaction.
async fn purge_batch(
    pool: &sqlx::PgPool,
    engine: &str,
    cutoff: DateTime<Utc>,
    batch: i64,
) -> std::result::Result<i64, sqlx::Error> {
    let mut tx = pool.begin().await?;
    sqlx::query("SELECT 1 FROM fg_engines WHERE engine = $1 FOR UPDATE")
        .bind(engine)
        .execute(&mut *tx)
        .await?;
    let n: i64 = sqlx::query_scalar(
        "WITH gone AS ( \
           DELETE FROM fg_workflows WHERE engine = $1 AND id IN ( \
             SELECT id FROM fg_workflows WHERE engine = $1 AND ended < $2 \
             AND state IN ('done', 'canceled') ORDER BY ended LIMIT $3 \
             FOR UPDATE SKIP LOCKED) \
           RETURNING id), \
         events AS ( \
           DELETE FROM fg_events WHERE engine = $1 \
           AND workflow_id IN (SELECT id::text FROM gone)), \
         unnumbered AS ( \
           DELETE FROM fg_event_inbox WHERE engine = $1 \
           AND workflow_id IN (SELECT id::text FROM gone)) \
         SELECT count(*) FROM gone",
    )
    .bind(engine)
    .bind(cutoff)
    .bind(batch)
    .fetch_one(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(n)
}
