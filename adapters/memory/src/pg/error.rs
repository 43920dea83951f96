//! What the database's failures become, and the counters of the pool and the queries.
//!
//! A request never sees a driver message that could carry connection details: an
//! unreachable database or an exhausted pool is a 503 saying so, a cancelled statement
//! a 504, anything else a 503 naming the SQLSTATE.

use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use flowgate_core::{EngineError, Result};
use sqlx::PgPool;

use super::{Core, PgStats};

/// Why the PostgreSQL storage cannot start.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PgError {
    /// The database cannot be reached or refused the connection.
    #[error("PostgreSQL storage: cannot connect to the database ({0})")]
    Connect(String),
    /// The database's schema was written by a newer flowgate.
    #[error(
        "PostgreSQL storage: the database schema is at version {found}, newer than this flowgate (it knows versions up to {known}); \
         run the flowgate version that migrated it, or a newer one"
    )]
    FutureSchema {
        /// Highest version applied in the database.
        found: i64,
        /// Highest version this build knows.
        known: i64,
    },
    /// The schema is older than this build and migrations are off.
    #[error(
        "PostgreSQL storage: the database schema is at version {found}, this flowgate needs {known}; \
         run `flowgate migrate` (or turn migrate_on_start on)"
    )]
    OldSchema {
        /// Highest version applied in the database.
        found: i64,
        /// Version this build needs.
        known: i64,
    },
    /// A migration or a start-up statement failed.
    #[error("PostgreSQL storage: {0}")]
    Statement(String),
}

/// The engine error for a database failure (no connection details in it).
pub(crate) fn engine_error(e: sqlx::Error) -> EngineError {
    match &e {
        sqlx::Error::PoolTimedOut => EngineError::Unavailable(
            "The workflow database is unavailable: no connection could be obtained in time".into(),
        ),
        sqlx::Error::Io(_) | sqlx::Error::Tls(_) | sqlx::Error::PoolClosed => {
            EngineError::Unavailable("The workflow database is unavailable".into())
        }
        sqlx::Error::Database(db) => match db.code().as_deref() {
            // query_canceled: the statement timeout fired.
            Some("57014") => {
                EngineError::Timeout("The workflow database did not answer in time".into())
            }
            // Serialization failure or deadlock: the other step won.
            Some("40001") | Some("40P01") => EngineError::conflict(
                "The workflow was changed by another request at the same time; try again",
            ),
            // admin_shutdown, crash_shutdown, cannot_connect_now.
            Some(c) if c.starts_with("57P") || c.starts_with("08") => {
                EngineError::Unavailable("The workflow database is unavailable".into())
            }
            Some(c) => {
                tracing::error!(sqlstate = %c, error = %db.message(), "workflow database error");
                EngineError::Unavailable(format!("The workflow database failed (SQLSTATE {c})"))
            }
            None => EngineError::Unavailable("The workflow database failed".into()),
        },
        other => {
            tracing::error!(error = %other, "workflow database error");
            EngineError::Unavailable("The workflow database failed".into())
        }
    }
}

/// A stored record that does not decode: the row is damaged or from an unknown format.
pub(crate) fn damaged(what: &str, e: impl std::fmt::Display) -> EngineError {
    tracing::error!(record = what, error = %e, "stored record does not decode");
    EngineError::Unavailable(format!("A stored {what} could not be read"))
}

/// Counters of the engine's database work.
#[derive(Debug, Default)]
pub(crate) struct Meter {
    waiting: AtomicU64,
    operations: AtomicU64,
    micros: AtomicU64,
    failures: AtomicU64,
}

impl Meter {
    pub fn snapshot(&self, pool: &PgPool) -> PgStats {
        let size = pool.size();
        let idle = u32::try_from(pool.num_idle()).unwrap_or(u32::MAX);
        PgStats {
            connections: size,
            in_use: size.saturating_sub(idle),
            waiting: self.waiting.load(Ordering::Relaxed),
            operations: self.operations.load(Ordering::Relaxed),
            seconds: self.micros.load(Ordering::Relaxed) as f64 / 1e6,
            failures: self.failures.load(Ordering::Relaxed),
        }
    }
}

/// Decrements the waiting count when the wait ends, however it ends.
pub(crate) struct Waiting<'a>(&'a AtomicU64);

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

impl Core {
    /// Runs one database operation, counting its time and failures.
    pub(crate) async fn metered<T>(
        &self,
        op: impl Future<Output = std::result::Result<T, sqlx::Error>>,
    ) -> Result<T> {
        let t0 = Instant::now();
        let out = op.await;
        self.stats.operations.fetch_add(1, Ordering::Relaxed);
        self.stats
            .micros
            .fetch_add(t0.elapsed().as_micros() as u64, Ordering::Relaxed);
        out.map_err(|e| {
            self.stats.failures.fetch_add(1, Ordering::Relaxed);
            engine_error(e)
        })
    }

    /// Marks the caller as waiting for a connection until the guard drops.
    pub(crate) fn waiting(&self) -> Waiting<'_> {
        self.stats.waiting.fetch_add(1, Ordering::Relaxed);
        Waiting(&self.stats.waiting)
    }

    /// Counts a finished step (its time and whether it failed on the database).
    pub(crate) fn count(&self, t0: Instant, failed: bool) {
        self.stats.operations.fetch_add(1, Ordering::Relaxed);
        self.stats
            .micros
            .fetch_add(t0.elapsed().as_micros() as u64, Ordering::Relaxed);
        if failed {
            self.stats.failures.fetch_add(1, Ordering::Relaxed);
        }
    }
}
