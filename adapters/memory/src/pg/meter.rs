//! The counters of the engine's database work: the pool and the queries, for metrics.

use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use flowgate_core::Result;
use sqlx::PgPool;

use super::error::engine_error;
use super::{Core, PgStats};

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
