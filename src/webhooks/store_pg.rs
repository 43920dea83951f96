//! [`WebhookStore`] in the PostgreSQL database of the default embedded engine, so that
//! replicas sharing the database share the delivery state, and one replica at a time
//! delivers to an endpoint: [`PgStore::claim`] holds a session advisory lock named
//! after the endpoint on a connection of its own; when that replica dies, its
//! connection closes, the lock is released and another replica takes over from the
//! stored cursors.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use flowgate_memory::pg::PgEngine;
use parking_lot::Mutex;
use sqlx::pool::PoolConnection;
use sqlx::Postgres;

use super::store::{
    Attempt, DeadLetter, LastOutcomes, Pending, StoreError, Update, WebhookStore, RECENT_KEPT,
};

/// The delivery state in PostgreSQL.
pub struct PgStore {
    engine: Arc<PgEngine>,
    /// Connections holding an endpoint's advisory lock.
    claims: Arc<Mutex<HashMap<String, PoolConnection<Postgres>>>>,
}

impl std::fmt::Debug for PgStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgStore").finish_non_exhaustive()
    }
}

fn db(e: sqlx::Error) -> flowgate_core::EngineError {
    tracing::warn!(error = %e, "webhook store: database error");
    flowgate_core::EngineError::Unavailable("webhook store: the database failed".into())
}

fn json<T: serde::Serialize>(v: &T) -> Result<String, flowgate_core::EngineError> {
    serde_json::to_string(v).map_err(|e| flowgate_core::EngineError::Unavailable(e.to_string()))
}

fn parse<T: serde::de::DeserializeOwned>(s: &str) -> Result<T, flowgate_core::EngineError> {
    serde_json::from_str(s).map_err(|e| {
        flowgate_core::EngineError::Unavailable(format!("webhook store: damaged record ({e})"))
    })
}

impl PgStore {
    /// The store over `engine`'s database.
    pub fn new(engine: Arc<PgEngine>) -> Self {
        Self {
            engine,
            claims: Arc::default(),
        }
    }

    /// Runs `work` with the pool on the engine's runtime, from a blocking thread.
    fn on_db<T, F, Fut>(&self, work: F) -> Result<T, StoreError>
    where
        F: FnOnce(sqlx::PgPool) -> Fut,
        Fut: std::future::Future<Output = flowgate_core::Result<T>> + Send + 'static,
        T: Send + 'static,
    {
        let fut = work(self.engine.pool().clone());
        self.engine
            .block_on(fut)
            .map_err(|e| StoreError(e.to_string()))
    }
}

impl WebhookStore for PgStore {
    fn persistent(&self) -> bool {
        true
    }

    fn claim(&self, endpoint: &str) -> Result<bool, StoreError> {
        let claims = self.claims.clone();
        let key = format!("flowgate:webhook:{endpoint}");
        let endpoint = endpoint.to_owned();
        self.on_db(move |pool| async move {
            let held = claims.lock().remove(&endpoint);
            if let Some(mut conn) = held {
                // Still ours while the connection that took it lives.
                if sqlx::query("SELECT 1").execute(&mut *conn).await.is_ok() {
                    claims.lock().insert(endpoint, conn);
                    return Ok(true);
                }
                // Gone: the lock went with the connection.
                let _ = conn.close().await;
            }
            let mut conn = pool.acquire().await.map_err(db)?;
            let got: bool = sqlx::query_scalar("SELECT pg_try_advisory_lock(hashtext($1))")
                .bind(&key)
                .fetch_one(&mut *conn)
                .await
                .map_err(db)?;
            if got {
                claims.lock().insert(endpoint, conn);
            }
            Ok(got)
        })
    }

    fn apply(&self, endpoint: &str, u: &Update) -> Result<(), StoreError> {
        let endpoint = endpoint.to_owned();
        let u = u.clone();
        self.on_db(move |pool| async move {
            let mut tx = pool.begin().await.map_err(db)?;
            sqlx::query("INSERT INTO fg_webhook_endpoints (endpoint) VALUES ($1) ON CONFLICT DO NOTHING")
                .bind(&endpoint)
                .execute(&mut *tx)
                .await
                .map_err(db)?;
            let last: Option<String> = sqlx::query_scalar(
                "SELECT last::text FROM fg_webhook_endpoints WHERE endpoint = $1 FOR UPDATE",
            )
            .bind(&endpoint)
            .fetch_one(&mut *tx)
            .await
            .map_err(db)?;
            for (engine, seq) in &u.cursors {
                sqlx::query(
                    "INSERT INTO fg_webhook_cursors (endpoint, engine, seq) VALUES ($1, $2, $3) \
                     ON CONFLICT (endpoint, engine) DO UPDATE SET seq = EXCLUDED.seq",
                )
                .bind(&endpoint)
                .bind(engine)
                .bind(i64::try_from(*seq).unwrap_or(i64::MAX))
                .execute(&mut *tx)
                .await
                .map_err(db)?;
            }
            if let Some(p) = &u.pending {
                let text = p.as_ref().map(json).transpose()?;
                sqlx::query("UPDATE fg_webhook_endpoints SET pending = $2::json WHERE endpoint = $1")
                    .bind(&endpoint)
                    .bind(text)
                    .execute(&mut *tx)
                    .await
                    .map_err(db)?;
            }
            if !u.attempts.is_empty() {
                let records = u.attempts.iter().map(json).collect::<Result<Vec<_>, _>>()?;
                sqlx::query(
                    "INSERT INTO fg_webhook_attempts (endpoint, record) \
                     SELECT $1, r::json FROM unnest($2::text[]) WITH ORDINALITY AS t(r, i) ORDER BY i",
                )
                .bind(&endpoint)
                .bind(&records)
                .execute(&mut *tx)
                .await
                .map_err(db)?;
                sqlx::query(
                    "DELETE FROM fg_webhook_attempts WHERE endpoint = $1 AND n < ( \
                     SELECT min(n) FROM (SELECT n FROM fg_webhook_attempts WHERE endpoint = $1 \
                     ORDER BY n DESC LIMIT $2) kept)",
                )
                .bind(&endpoint)
                .bind(i64::try_from(RECENT_KEPT).unwrap_or(i64::MAX))
                .execute(&mut *tx)
                .await
                .map_err(db)?;
                let mut l: LastOutcomes = match &last {
                    Some(t) => parse(t)?,
                    None => LastOutcomes::default(),
                };
                l.fold(&u.attempts);
                sqlx::query("UPDATE fg_webhook_endpoints SET last = $2::json WHERE endpoint = $1")
                    .bind(&endpoint)
                    .bind(json(&l)?)
                    .execute(&mut *tx)
                    .await
                    .map_err(db)?;
            }
            if let Some(id) = &u.remove_letter {
                sqlx::query("DELETE FROM fg_webhook_letters WHERE endpoint = $1 AND id = $2")
                    .bind(&endpoint)
                    .bind(id)
                    .execute(&mut *tx)
                    .await
                    .map_err(db)?;
            }
            if let Some(l) = &u.put_letter {
                sqlx::query(
                    "INSERT INTO fg_webhook_letters (endpoint, id, record) VALUES ($1, $2, $3::json) \
                     ON CONFLICT (endpoint, id) DO UPDATE SET record = EXCLUDED.record",
                )
                .bind(&endpoint)
                .bind(&l.id)
                .bind(json(l)?)
                .execute(&mut *tx)
                .await
                .map_err(db)?;
            }
            tx.commit().await.map_err(db)
        })
    }

    fn cursors(&self, endpoint: &str) -> Result<BTreeMap<String, u64>, StoreError> {
        let endpoint = endpoint.to_owned();
        self.on_db(move |pool| async move {
            let rows: Vec<(String, i64)> =
                sqlx::query_as("SELECT engine, seq FROM fg_webhook_cursors WHERE endpoint = $1")
                    .bind(&endpoint)
                    .fetch_all(&pool)
                    .await
                    .map_err(db)?;
            Ok(rows
                .into_iter()
                .map(|(e, s)| (e, u64::try_from(s).unwrap_or(0)))
                .collect())
        })
    }

    fn pending(&self, endpoint: &str) -> Result<Option<Pending>, StoreError> {
        let endpoint = endpoint.to_owned();
        self.on_db(move |pool| async move {
            let row: Option<Option<String>> = sqlx::query_scalar(
                "SELECT pending::text FROM fg_webhook_endpoints WHERE endpoint = $1",
            )
            .bind(&endpoint)
            .fetch_optional(&pool)
            .await
            .map_err(db)?;
            row.flatten().as_deref().map(parse).transpose()
        })
    }

    fn recent(&self, endpoint: &str, limit: usize) -> Result<Vec<Attempt>, StoreError> {
        let endpoint = endpoint.to_owned();
        self.on_db(move |pool| async move {
            let rows: Vec<String> = sqlx::query_scalar(
                "SELECT record::text FROM fg_webhook_attempts WHERE endpoint = $1 ORDER BY n DESC LIMIT $2",
            )
            .bind(&endpoint)
            .bind(i64::try_from(limit).unwrap_or(i64::MAX))
            .fetch_all(&pool)
            .await
            .map_err(db)?;
            rows.iter().map(|r| parse(r)).collect()
        })
    }

    fn last(&self, endpoint: &str) -> Result<LastOutcomes, StoreError> {
        let endpoint = endpoint.to_owned();
        self.on_db(move |pool| async move {
            let row: Option<Option<String>> = sqlx::query_scalar(
                "SELECT last::text FROM fg_webhook_endpoints WHERE endpoint = $1",
            )
            .bind(&endpoint)
            .fetch_optional(&pool)
            .await
            .map_err(db)?;
            Ok(row
                .flatten()
                .as_deref()
                .map(parse)
                .transpose()?
                .unwrap_or_default())
        })
    }

    fn letters(&self, endpoint: &str) -> Result<Vec<DeadLetter>, StoreError> {
        let endpoint = endpoint.to_owned();
        self.on_db(move |pool| async move {
            let rows: Vec<String> = sqlx::query_scalar(
                "SELECT record::text FROM fg_webhook_letters WHERE endpoint = $1",
            )
            .bind(&endpoint)
            .fetch_all(&pool)
            .await
            .map_err(db)?;
            let mut out: Vec<DeadLetter> =
                rows.iter().map(|r| parse(r)).collect::<Result<_, _>>()?;
            out.sort_by(|a, b| (a.event_at, &a.event_id).cmp(&(b.event_at, &b.event_id)));
            Ok(out)
        })
    }
}
