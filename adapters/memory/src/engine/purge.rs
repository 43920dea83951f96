//! Retention in the embedded engine: deleting ended workflows by a periodic sweep
//! ([`MemoryEngine::spawn_retention`], [`MemoryEngine::run_retention`]) or on demand
//! ([`MemoryEngine::purge_ended_before`], the gateway's admin purge); the policy is in
//! [`crate::retention`].
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
use std::time::Instant;

use chrono::{DateTime, Utc};
use flowgate_core::{CallContext, EngineError, Result};
use uuid::Uuid;

use super::MemoryEngine;
use crate::retention::{RetentionPolicy, DEFAULT_BATCH};
use crate::state::Change;
use crate::store::Guard;
use crate::store::StoreCounts;

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
                events: self.store.event_seqs(&id),
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
