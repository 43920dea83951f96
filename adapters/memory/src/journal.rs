//! The single writer in front of a durable [`Storage`]: group commit.
//!
//! Engine steps send their batch of changes over a channel and wait. The writer
//! thread takes every batch waiting at that moment (up to [`MAX_GROUP`]), commits
//! them in one transaction — one `fsync` for the whole group — then applies each
//! batch to memory and answers its sender. So memory is never ahead of disk, memory
//! sees batches in disk order, and concurrent requests share the cost of a sync.
//!
//! Order: a step's batch carries the owned guard of its instance's lock, released by
//! the writer only after the batch is applied. Two batches of one instance are never
//! in flight together, even when the request that made one is dropped while waiting
//! (a client that hangs up, a request timeout): its batch is still committed and
//! applied before anyone else may step that instance.
//!
//! After a failed commit the writer stops accepting work: redb discards the
//! transaction, but after an I/O error the operating system's view of the file may
//! no longer match the disk, and only a restart (which reloads from disk) brings
//! memory and disk back in line. Health reports the engine down until then.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, TryRecvError};
use std::sync::Arc;
use std::thread::JoinHandle;

use flowgate_core::EngineError;
use parking_lot::Mutex;
use tokio::sync::oneshot;

use crate::state::Change;
use crate::storage::{Storage, StorageError};
use crate::store::{Guard, Store};

/// Most batches committed in one transaction: bounds the latency a big group adds.
const MAX_GROUP: usize = 1024;

/// Log entries folded per snapshot step at most, between commit groups.
const SNAPSHOT_CHUNK: usize = 2_000;

/// Log entries folded per snapshot step at least.
///
/// A step is a write transaction that holds up every commit behind it, so steps are
/// kept short: twice the size of the last commit group (what it added to the log, so
/// the log still shrinks under steady load), at least this many. Folding 2,000
/// entries at a time held commits up for 40 to 50 ms, often enough to set the p99 of
/// every acknowledged change and of its live event.
const SNAPSHOT_MIN_CHUNK: usize = 64;

/// How many log entries the next snapshot step folds, after a commit group of
/// `last_group` batches.
fn snapshot_chunk(last_group: usize) -> usize {
    last_group
        .saturating_mul(2)
        .clamp(SNAPSHOT_MIN_CHUNK, SNAPSHOT_CHUNK)
}

type AckResult = Result<(), StorageError>;
type Ack = oneshot::Sender<AckResult>;

struct Pending {
    changes: Vec<Change>,
    /// Instance locks released once the batch is applied (several for a purge).
    guards: Vec<Guard>,
    ack: Ack,
}

/// Counters of the writer, for benchmarks and metrics.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct StorageStats {
    /// Transactions committed (each one `fsync`).
    pub commit_groups: u64,
    /// Engine steps committed; `batches / commit_groups` is the mean group size.
    pub batches: u64,
    /// Log entries folded into the record tables.
    pub folded_entries: u64,
}

#[derive(Debug, Default)]
struct Shared {
    failed: Mutex<Option<String>>,
    groups: AtomicU64,
    batches: AtomicU64,
    folded: AtomicU64,
}

/// Handle to the writer thread; dropping it finishes pending commits and stops it.
#[derive(Debug)]
pub(crate) struct Journal {
    tx: Option<mpsc::Sender<Pending>>,
    thread: Option<JoinHandle<()>>,
    shared: Arc<Shared>,
    describe: String,
}

impl Journal {
    /// Starts the writer thread over `storage`, applying committed batches to `store`.
    pub fn start(
        storage: Box<dyn Storage>,
        store: Arc<Store>,
        engine: &str,
    ) -> Result<Self, StorageError> {
        let (tx, rx) = mpsc::channel::<Pending>();
        let shared = Arc::new(Shared::default());
        let describe = storage.describe();
        let thread_shared = shared.clone();
        let thread = std::thread::Builder::new()
            .name(format!("flowgate-{engine}-writer"))
            .spawn(move || writer(storage, store, rx, thread_shared))
            .map_err(|e| StorageError::Backend {
                file: describe.clone().into(),
                detail: format!("cannot start the writer thread: {e}"),
            })?;
        Ok(Self {
            tx: Some(tx),
            thread: Some(thread),
            shared,
            describe,
        })
    }

    /// Why the storage stopped, if it did.
    pub fn failure(&self) -> Option<String> {
        self.shared.failed.lock().clone()
    }

    /// Counters so far.
    pub fn stats(&self) -> StorageStats {
        StorageStats {
            commit_groups: self.shared.groups.load(Ordering::Relaxed),
            batches: self.shared.batches.load(Ordering::Relaxed),
            folded_entries: self.shared.folded.load(Ordering::Relaxed),
        }
    }

    fn send(
        &self,
        changes: Vec<Change>,
        guards: Vec<Guard>,
    ) -> Result<oneshot::Receiver<AckResult>, EngineError> {
        if let Some(why) = self.failure() {
            return Err(unavailable(&StorageError::Failed(why)));
        }
        let (ack, rx) = oneshot::channel();
        self.tx
            .as_ref()
            .and_then(|tx| {
                tx.send(Pending {
                    changes,
                    guards,
                    ack,
                })
                .ok()
            })
            .ok_or_else(|| EngineError::Unavailable("the storage writer has stopped".into()))?;
        Ok(rx)
    }

    /// Makes `changes` durable, then applies them to memory and releases `guard`.
    pub async fn write(
        &self,
        changes: Vec<Change>,
        guard: Option<Guard>,
    ) -> Result<(), EngineError> {
        let rx = self.send(changes, guard.into_iter().collect())?;
        finish(rx.await)
    }

    /// [`Journal::write`] of a batch touching several instances, holding all their
    /// locks until it is applied.
    pub async fn write_locked(
        &self,
        changes: Vec<Change>,
        guards: Vec<Guard>,
    ) -> Result<(), EngineError> {
        let rx = self.send(changes, guards)?;
        finish(rx.await)
    }

    /// [`Journal::write_locked`] for callers outside async code (it parks the thread).
    pub fn write_blocking(
        &self,
        changes: Vec<Change>,
        guards: Vec<Guard>,
    ) -> Result<(), EngineError> {
        let rx = self.send(changes, guards)?;
        finish(futures::executor::block_on(rx))
    }
}

fn finish(r: Result<AckResult, oneshot::error::RecvError>) -> Result<(), EngineError> {
    match r {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) => Err(unavailable(&e)),
        Err(_) => Err(EngineError::Unavailable(
            "the storage writer stopped before answering".into(),
        )),
    }
}

fn unavailable(e: &StorageError) -> EngineError {
    EngineError::Unavailable(format!("the change was not saved: {e}"))
}

impl Drop for Journal {
    fn drop(&mut self) {
        // Closing the channel lets the writer finish what is queued and exit; joining
        // releases the data file before anyone reopens it.
        self.tx.take();
        if let Some(t) = self.thread.take() {
            if t.join().is_err() {
                tracing::error!(storage = %self.describe, "the storage writer thread panicked");
            }
        }
    }
}

fn writer(
    storage: Box<dyn Storage>,
    store: Arc<Store>,
    rx: mpsc::Receiver<Pending>,
    shared: Arc<Shared>,
) {
    let mut last_group = 0;
    loop {
        let failed = shared.failed.lock().is_some();
        let first = if !failed && storage.needs_snapshot() {
            // Commits come first; fold one chunk whenever the queue is empty, and at
            // least one chunk per commit group so the log cannot outgrow the threshold
            // under steady load.
            match storage.snapshot(snapshot_chunk(last_group)) {
                Ok(p) => {
                    shared.folded.fetch_add(p.folded as u64, Ordering::Relaxed);
                    tracing::debug!(storage = %storage.describe(), folded = p.folded, remaining = p.remaining, "log folded into the snapshot");
                }
                Err(e) => fail(&shared, storage.as_ref(), &e),
            }
            match rx.try_recv() {
                Ok(p) => p,
                Err(TryRecvError::Empty) => continue,
                Err(TryRecvError::Disconnected) => break,
            }
        } else {
            match rx.recv() {
                Ok(p) => p,
                Err(_) => break,
            }
        };
        let mut group = vec![first];
        while group.len() < MAX_GROUP {
            match rx.try_recv() {
                Ok(p) => group.push(p),
                Err(_) => break,
            }
        }
        if let Some(why) = shared.failed.lock().clone() {
            for p in group {
                let _ = p.ack.send(Err(StorageError::Failed(why.clone())));
            }
            continue;
        }
        last_group = group.len();
        let mut batches = Vec::with_capacity(group.len());
        let mut waiters = Vec::with_capacity(group.len());
        for p in group {
            batches.push(p.changes);
            waiters.push((p.guards, p.ack));
        }
        match storage.commit(&batches) {
            Ok(()) => {
                shared.groups.fetch_add(1, Ordering::Relaxed);
                shared
                    .batches
                    .fetch_add(batches.len() as u64, Ordering::Relaxed);
                for (b, (guard, ack)) in batches.into_iter().zip(waiters) {
                    store.apply(b);
                    drop(guard);
                    // A waiter that went away (request dropped) no longer listens;
                    // its change is durable and applied all the same.
                    let _ = ack.send(Ok(()));
                }
            }
            Err(e) => {
                fail(&shared, storage.as_ref(), &e);
                for (_guard, ack) in waiters {
                    let _ = ack.send(Err(e.clone()));
                }
            }
        }
    }
}

fn fail(shared: &Shared, storage: &dyn Storage, e: &StorageError) {
    tracing::error!(storage = %storage.describe(), error = %e, "storage write failed; the engine stops accepting changes until restarted");
    shared.failed.lock().get_or_insert_with(|| e.to_string());
}
