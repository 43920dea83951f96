//! Retention: ended workflows (done or canceled) and their tasks are deleted for good
//! once they have been ended for longer than a configured time, by a periodic sweep
//! ([`MemoryEngine::spawn_retention`], [`MemoryEngine::run_retention`]) or on demand
//! ([`MemoryEngine::purge_ended_before`], the gateway's admin purge).
//!
//! A sweep walks the ended instances oldest first (the store keeps them ordered by end
//! time, so the cost follows what is purged, not the store's size) and deletes them in
//! batches of at most [`RetentionPolicy::batch`] instances. Each batch is one
//! [`Change::Purge`] per instance, committed like any engine step: with durable
//! storage it is on disk (one transaction, all or nothing) before memory forgets the
//! instances, and folding the log deletes their records from the data file. Each
//! instance of a batch is locked for the batch; an instance busy with a request is left
//! for the next sweep. Running instances are never candidates.

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use flowgate_core::{CallContext, EngineError, Result};
use uuid::Uuid;

use crate::engine::MemoryEngine;
use crate::journal::Guard;
use crate::state::Change;
pub use crate::store::StoreCounts;

/// Default time between two sweeps.
pub const DEFAULT_SWEEP_SECS: u64 = 60;

/// Default number of instances deleted per batch (one commit each).
pub const DEFAULT_BATCH: usize = 500;

/// Longest retention accepted: 100 years.
const MAX_RETENTION: Duration = Duration::from_secs(100 * 366 * 86_400);

/// How long ended workflows are kept and how they are swept.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RetentionPolicy {
    /// Time after its end during which an instance is kept.
    pub keep: Duration,
    /// Time between two sweeps.
    pub sweep_every: Duration,
    /// Most instances deleted per batch; the sweep yields between batches.
    pub batch: usize,
}

impl RetentionPolicy {
    /// Keeps ended instances for `keep`, with the default sweep period and batch size.
    pub fn keep(keep: Duration) -> Self {
        Self {
            keep,
            sweep_every: Duration::from_secs(DEFAULT_SWEEP_SECS),
            batch: DEFAULT_BATCH,
        }
    }
}

/// Parses a retention time: a whole number followed by `s`, `m`, `h` or `d`
/// (`"90m"`, `"12h"`, `"30d"`), at least one second and at most 100 years.
pub fn parse_retention(text: &str) -> std::result::Result<Duration, String> {
    let bad = || {
        format!(
            "'{text}' is not a retention time; expected a whole number followed by s, m, h or d (e.g. \"30d\", \"12h\", \"90m\")"
        )
    };
    let t = text.trim();
    let unit = t.chars().last().ok_or_else(bad)?;
    let secs_per = match unit {
        's' => 1,
        'm' => 60,
        'h' => 3_600,
        'd' => 86_400,
        _ => return Err(bad()),
    };
    let digits = &t[..t.len() - unit.len_utf8()];
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    let n: u64 = digits.parse().map_err(|_| bad())?;
    let d = n
        .checked_mul(secs_per)
        .map(Duration::from_secs)
        .ok_or_else(bad)?;
    if d.is_zero() {
        return Err(format!("'{text}': the retention time must be at least 1s"));
    }
    if d > MAX_RETENTION {
        return Err(format!(
            "'{text}': the retention time must be at most 100 years; omit it to keep ended workflows forever"
        ));
    }
    Ok(d)
}

/// One batch ready to commit.
struct Batch {
    changes: Vec<Change>,
    guards: Vec<Guard>,
    /// Last candidate looked at: the next batch starts after it.
    cursor: Option<(DateTime<Utc>, Uuid)>,
    /// Whether candidates may remain after the cursor.
    more: bool,
}

impl MemoryEngine {
    /// Up to `limit` instances that ended before `cutoff`, after `after`, locked.
    fn purge_batch(
        &self,
        cutoff: DateTime<Utc>,
        after: Option<(DateTime<Utc>, Uuid)>,
        limit: usize,
    ) -> Batch {
        let candidates = self.store.ended_before(cutoff, after, limit);
        let mut b = Batch {
            changes: Vec::with_capacity(candidates.len()),
            guards: Vec::with_capacity(candidates.len()),
            cursor: candidates.last().copied(),
            more: candidates.len() == limit,
        };
        for (at, id) in candidates {
            let Some(slot) = self.store.slot(&id) else {
                self.store.forget_ended(at, id);
                continue;
            };
            // Never wait: a busy instance (a late request on it) waits for the next sweep.
            let Some(guard) = slot.try_lock() else {
                continue;
            };
            let wf = slot.get();
            if wf.state.is_active() || wf.ended.is_none_or(|e| e >= cutoff) {
                continue;
            }
            b.changes.push(Change::Purge {
                workflow: id,
                tasks: wf.tasks.clone(),
            });
            b.guards.push(guard);
        }
        b
    }

    /// Commits a batch touching several instances, releasing their locks once applied.
    async fn commit_locked(&self, changes: Vec<Change>, guards: Vec<Guard>) -> Result<()> {
        match &self.journal {
            Some(j) => j.write_locked(changes, guards).await,
            None => {
                self.store.apply(changes);
                drop(guards);
                Ok(())
            }
        }
    }

    /// [`MemoryEngine::commit_locked`] outside async code.
    fn commit_locked_blocking(&self, changes: Vec<Change>, guards: Vec<Guard>) -> Result<()> {
        match &self.journal {
            Some(j) => j.write_blocking(changes, guards),
            None => {
                self.store.apply(changes);
                drop(guards);
                Ok(())
            }
        }
    }

    /// Deletes every instance that ended before `cutoff` (and its tasks), in batches of
    /// at most `batch` instances, yielding between batches. Returns how many were
    /// deleted. On a storage failure the batches committed so far stay deleted and
    /// the failing one is kept whole.
    pub async fn purge_ended_before(&self, cutoff: DateTime<Utc>, batch: usize) -> Result<usize> {
        let mut after = None;
        let mut total = 0;
        loop {
            let b = self.purge_batch(cutoff, after, batch.max(1));
            if !b.changes.is_empty() {
                let n = b.changes.len();
                self.commit_locked(b.changes, b.guards).await?;
                total += n;
            }
            if !b.more {
                return Ok(total);
            }
            after = b.cursor;
            tokio::task::yield_now().await;
        }
    }

    /// [`MemoryEngine::purge_ended_before`] for a blocking thread (it waits for each
    /// commit).
    pub fn purge_ended_before_blocking(
        &self,
        cutoff: DateTime<Utc>,
        batch: usize,
    ) -> Result<usize> {
        let mut after = None;
        let mut total = 0;
        loop {
            let b = self.purge_batch(cutoff, after, batch.max(1));
            if !b.changes.is_empty() {
                let n = b.changes.len();
                self.commit_locked_blocking(b.changes, b.guards)?;
                total += n;
            }
            if !b.more {
                return Ok(total);
            }
            after = b.cursor;
            std::thread::yield_now();
        }
    }

    /// One retention sweep: deletes the instances ended more than `policy.keep` ago.
    /// Returns how many were deleted; failures are logged (the next sweep retries).
    /// With durable storage this waits for each commit: call it from a blocking thread.
    pub fn run_retention(&self, policy: &RetentionPolicy) -> usize {
        let t0 = Instant::now();
        let Some(cutoff) = chrono::Duration::from_std(policy.keep)
            .ok()
            .and_then(|keep| Utc::now().checked_sub_signed(keep))
        else {
            return 0;
        };
        match self.purge_ended_before_blocking(cutoff, policy.batch) {
            Ok(0) => 0,
            Ok(n) => {
                tracing::info!(engine = %self.info.name, purged = n, elapsed_ms = t0.elapsed().as_millis() as u64, "ended workflows past retention deleted");
                n
            }
            Err(e) => {
                tracing::warn!(engine = %self.info.name, error = %e, "retention sweep failed; the next sweep retries");
                0
            }
        }
    }

    /// Starts a background job running [`MemoryEngine::run_retention`] every
    /// `policy.sweep_every` (the first sweep at once); abort the returned handle to
    /// stop it. It stops by itself once the engine is dropped. Needs a Tokio runtime.
    pub fn spawn_retention(
        self: &Arc<Self>,
        policy: RetentionPolicy,
    ) -> tokio::task::JoinHandle<()> {
        let engine = Arc::downgrade(self);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(policy.sweep_every);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                let Some(engine) = engine.upgrade() else {
                    break;
                };
                let name = engine.info.name.clone();
                if let Err(e) =
                    tokio::task::spawn_blocking(move || engine.run_retention(&policy)).await
                {
                    tracing::error!(engine = %name, error = %e, "retention sweep failed");
                }
            }
        })
    }

    /// Entries the engine holds in memory (instances, tasks, index entries): what
    /// retention keeps bounded.
    pub fn store_counts(&self) -> StoreCounts {
        self.store.counts()
    }
}

/// The admin purge: administrators only.
pub(crate) async fn purge_for(
    engine: &MemoryEngine,
    cx: &CallContext,
    before: DateTime<Utc>,
) -> Result<usize> {
    if !cx.admin {
        return Err(EngineError::forbidden(
            "Only administrators may purge ended workflows",
        ));
    }
    engine.purge_ended_before(before, DEFAULT_BATCH).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retention_times_parse_with_their_unit() {
        assert_eq!(parse_retention("30d"), Ok(Duration::from_secs(30 * 86_400)));
        assert_eq!(parse_retention("12h"), Ok(Duration::from_secs(12 * 3_600)));
        assert_eq!(parse_retention(" 90m "), Ok(Duration::from_secs(90 * 60)));
        assert_eq!(parse_retention("5s"), Ok(Duration::from_secs(5)));
        for bad in [
            "",
            "d",
            "30",
            "30x",
            "-1d",
            "1.5h",
            "0d",
            "1 d",
            "99999999999999d",
            "40000d",
        ] {
            assert!(parse_retention(bad).is_err(), "{bad} accepted");
        }
    }
}
