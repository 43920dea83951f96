//! Lasting tokens in PostgreSQL: the table `fg_tokens` of the default embedded
//! engine's database, so every replica sharing it accepts the tokens any of them
//! issued. The hashing key lives in `fg_meta` (drawn by the first replica, read by the
//! others); rows hold the hex form of a token's keyed hash, never the token.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use flowgate_core::{EngineError, Result as EngineResult};
use flowgate_memory::pg::PgEngine;
use sqlx::PgPool;

use super::grants::{Grant, TokenInfo};

/// The PostgreSQL side of a token store.
pub(crate) struct PgTokens {
    engine: Arc<PgEngine>,
}

fn db_err(e: sqlx::Error) -> EngineError {
    tracing::error!(error = %e, "token store: database error");
    EngineError::Unavailable("token store: the database failed".into())
}

fn decode(text: &str) -> EngineResult<Grant> {
    serde_json::from_str(text).map_err(|e| {
        EngineError::Unavailable(format!("token store: a stored token is damaged ({e})"))
    })
}

fn encode(g: &Grant) -> EngineResult<String> {
    serde_json::to_string(g)
        .map_err(|e| EngineError::Unavailable(format!("token store: cannot write a token ({e})")))
}

impl PgTokens {
    /// The store over `engine`'s database and the hashing key shared by every replica.
    pub fn open(engine: Arc<PgEngine>) -> Result<(Self, (u64, u64)), String> {
        let pool = engine.pool().clone();
        let candidate = format!(
            "{:016x}{:016x}",
            rand::random::<u64>(),
            rand::random::<u64>()
        );
        let key: String = std::thread::scope(|s| {
            s.spawn(|| {
                engine.block_on(async move {
                    sqlx::query(
                        "INSERT INTO fg_meta (key, value) VALUES ('token_hash_key', $1) ON CONFLICT DO NOTHING",
                    )
                    .bind(&candidate)
                    .execute(&pool)
                    .await
                    .map_err(db_err)?;
                    sqlx::query_scalar("SELECT value FROM fg_meta WHERE key = 'token_hash_key'")
                        .fetch_one(&pool)
                        .await
                        .map_err(db_err)
                })
            })
            .join()
        })
        .map_err(|_| "token store: start-up failed".to_owned())?
        .map_err(|e| e.to_string())?;
        let part = |r: std::ops::Range<usize>| {
            key.get(r)
                .and_then(|h| u64::from_str_radix(h, 16).ok())
                .ok_or_else(|| "token store: the stored hashing key is damaged".to_owned())
        };
        let keys = (part(0..16)?, part(16..32)?);
        Ok((Self { engine }, keys))
    }

    fn pool(&self) -> PgPool {
        self.engine.pool().clone()
    }

    fn wait<T: Send + 'static>(
        &self,
        work: impl std::future::Future<Output = EngineResult<T>> + Send + 'static,
    ) -> Result<T, String> {
        self.engine.block_on(work).map_err(|e| e.to_string())
    }

    /// Stores `grant` under `hash`, replacing the token of the same device.
    pub fn issue(&self, hash: String, grant: Grant) -> Result<(), String> {
        let pool = self.pool();
        self.wait(async move {
            let record = encode(&grant)?;
            let mut tx = pool.begin().await.map_err(db_err)?;
            sqlx::query(
                "DELETE FROM fg_tokens WHERE username = $1 AND application = $2 AND device_id = $3",
            )
            .bind(&grant.user)
            .bind(&grant.application)
            .bind(&grant.device_id)
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
            sqlx::query(
                "INSERT INTO fg_tokens (hash, username, application, device_id, expires, record) \
                 VALUES ($1, $2, $3, $4, $5, $6::json)",
            )
            .bind(&hash)
            .bind(&grant.user)
            .bind(&grant.application)
            .bind(&grant.device_id)
            .bind(grant.expires)
            .bind(record)
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
            tx.commit().await.map_err(db_err)
        })
    }

    /// The grant stored under `hash` unless expired (an expired one is deleted).
    pub async fn lookup(&self, hash: String) -> Result<Option<Grant>, String> {
        let pool = self.pool();
        self.engine
            .run(async move {
                let row: Option<String> =
                    sqlx::query_scalar("SELECT record::text FROM fg_tokens WHERE hash = $1")
                        .bind(&hash)
                        .fetch_optional(&pool)
                        .await
                        .map_err(db_err)?;
                let Some(text) = row else {
                    return Ok(None);
                };
                let grant = decode(&text)?;
                if grant.expires.is_some_and(|e| e <= Utc::now()) {
                    sqlx::query("DELETE FROM fg_tokens WHERE hash = $1")
                        .bind(&hash)
                        .execute(&pool)
                        .await
                        .map_err(db_err)?;
                    return Ok(None);
                }
                Ok(Some(grant))
            })
            .await
            .map_err(|e| e.to_string())
    }

    /// Deletes the token of (user, application, device); whether one existed.
    pub fn revoke(&self, user: &str, application: &str, device_id: &str) -> Result<bool, String> {
        let pool = self.pool();
        let (u, a, d) = (
            user.to_owned(),
            application.to_owned(),
            device_id.to_owned(),
        );
        self.wait(async move {
            let n = sqlx::query(
                "DELETE FROM fg_tokens WHERE username = $1 AND application = $2 AND device_id = $3",
            )
            .bind(&u)
            .bind(&a)
            .bind(&d)
            .execute(&pool)
            .await
            .map_err(db_err)?
            .rows_affected();
            Ok(n > 0)
        })
    }

    /// Deletes `user`'s token stored under one of `hashes`; what it granted.
    pub fn revoke_one(&self, user: &str, hashes: Vec<String>) -> Result<Option<Grant>, String> {
        let pool = self.pool();
        let user = user.to_owned();
        self.wait(async move {
            let row: Option<String> = sqlx::query_scalar(
                "DELETE FROM fg_tokens WHERE username = $1 AND hash = ANY($2) RETURNING record::text",
            )
            .bind(&user)
            .bind(&hashes)
            .fetch_optional(&pool)
            .await
            .map_err(db_err)?;
            row.as_deref().map(decode).transpose()
        })
    }

    /// `user`'s tokens that have not expired (of `application` when given), oldest
    /// first; expired ones of the user are deleted.
    pub fn list(&self, user: &str, application: Option<&str>) -> Result<Vec<TokenInfo>, String> {
        let pool = self.pool();
        let user = user.to_owned();
        let application = application.map(str::to_owned);
        self.wait(async move {
            let now: DateTime<Utc> = Utc::now();
            sqlx::query("DELETE FROM fg_tokens WHERE username = $1 AND expires <= $2")
                .bind(&user)
                .bind(now)
                .execute(&pool)
                .await
                .map_err(db_err)?;
            let rows: Vec<(String, String)> = sqlx::query_as(
                "SELECT hash, record::text FROM fg_tokens WHERE username = $1 \
                 AND ($2::text IS NULL OR application = $2)",
            )
            .bind(&user)
            .bind(application.as_deref())
            .fetch_all(&pool)
            .await
            .map_err(db_err)?;
            let mut out = Vec::with_capacity(rows.len());
            for (id, text) in rows {
                out.push(TokenInfo {
                    id,
                    grant: decode(&text)?,
                });
            }
            out.sort_by_key(|t| t.grant.created);
            Ok(out)
        })
    }
}
