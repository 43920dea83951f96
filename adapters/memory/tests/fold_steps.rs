//! Folding the durable log into the record tables runs between commit groups and holds
//! up every commit behind it, so its steps follow the size of the commit groups
//! instead of folding thousands of entries at once.

use std::sync::Arc;
use std::time::Duration;

use flowgate_core::{CallContext, PageRequest, StartWorkflow, WorkflowEngine, WorkflowQuery};
use flowgate_memory::state::Change;
use flowgate_memory::storage::{Loaded, RedbStorage, SnapshotProgress};
use flowgate_memory::{MemoryEngine, ModelSource, Storage, StorageError};
use parking_lot::Mutex;

/// What the writer asked of the storage, in order.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Call {
    Commit(usize),
    Fold { asked: usize, remaining: usize },
}

/// A redb storage that records its commit groups and fold steps.
#[derive(Debug)]
struct Recording(RedbStorage, Arc<Mutex<Vec<Call>>>, Duration);

impl Storage for Recording {
    fn describe(&self) -> String {
        self.0.describe()
    }
    fn is_durable(&self) -> bool {
        true
    }
    fn load(&self) -> Result<Loaded, StorageError> {
        self.0.load()
    }
    fn commit(&self, group: &[Vec<Change>]) -> Result<(), StorageError> {
        std::thread::sleep(self.2);
        self.1.lock().push(Call::Commit(group.len()));
        self.0.commit(group)
    }
    fn needs_snapshot(&self) -> bool {
        self.0.needs_snapshot()
    }
    fn snapshot(&self, max: usize) -> Result<SnapshotProgress, StorageError> {
        let p = self.0.snapshot(max)?;
        self.1.lock().push(Call::Fold {
            asked: max,
            remaining: p.remaining as usize,
        });
        Ok(p)
    }
}

const THRESHOLD: u64 = 40;

fn engine(
    dir: &std::path::Path,
    commit_delay: Duration,
) -> (Arc<MemoryEngine>, Arc<Mutex<Vec<Call>>>) {
    let calls = Arc::new(Mutex::new(Vec::new()));
    let storage = Recording(
        RedbStorage::open(dir, THRESHOLD).expect("storage opens"),
        calls.clone(),
        commit_delay,
    );
    let e = MemoryEngine::with_storage("local", ModelSource::Builtin, Box::new(storage))
        .expect("engine opens");
    (Arc::new(e), calls)
}

async fn start(e: &MemoryEngine, doc: String) {
    e.start(
        &CallContext::admin("Administrator"),
        StartWorkflow {
            model: "SerialDocumentReview".into(),
            documents: vec![doc],
            variables: Default::default(),
        },
    )
    .await
    .expect("review starts");
}

/// Every fold step asked for at most twice the entries of the commit group before it,
/// and not less than the floor of 64.
fn check_steps(calls: &[Call]) -> (usize, usize) {
    let mut last_group = 0;
    let mut folds = 0;
    let mut largest_group = 0;
    for c in calls {
        match *c {
            Call::Commit(n) => {
                last_group = n;
                largest_group = largest_group.max(n);
            }
            Call::Fold { asked, .. } => {
                folds += 1;
                assert!(
                    asked <= (2 * last_group).max(64),
                    "a fold step asked for {asked} entries after a group of {last_group}: {calls:?}"
                );
                assert!(asked >= 64, "a fold step of {asked} entries");
            }
        }
    }
    (folds, largest_group)
}

async fn count(e: &MemoryEngine) -> usize {
    let q = WorkflowQuery {
        running_only: true,
        page: PageRequest::new(0, 1_000),
        ..Default::default()
    };
    e.workflows(&CallContext::admin("Administrator"), q)
        .await
        .expect("workflows list")
        .items
        .len()
}

/// Waits until the last fold step reports the log back under the threshold.
async fn folded_back(calls: &Mutex<Vec<Call>>) -> usize {
    for _ in 0..200 {
        let last = calls.lock().iter().rev().find_map(|c| match *c {
            Call::Fold { remaining, .. } => Some(remaining),
            Call::Commit(_) => None,
        });
        if let Some(r) = last.filter(|r| (*r as u64) < THRESHOLD) {
            return r;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!(
        "the log was not folded back under the threshold: {:?}",
        calls.lock()
    );
}

#[tokio::test]
async fn one_change_at_a_time_is_folded_in_small_steps() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (e, calls) = engine(dir.path(), Duration::ZERO);
    for i in 0..300 {
        start(&e, format!("doc-{i}")).await;
    }
    folded_back(&calls).await;
    let (folds, _) = check_steps(&calls.lock());
    assert!(
        folds >= 3,
        "300 starts over a threshold of 40 folded {folds} times"
    );
    drop(e);
    let (e, _) = engine(dir.path(), Duration::ZERO);
    assert_eq!(count(&e).await, 300, "the folded log reloads every review");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn large_commit_groups_are_folded_as_fast_as_they_come() {
    let dir = tempfile::tempdir().expect("temp dir");
    // A slow commit lets concurrent starts pile up into large groups.
    let (e, calls) = engine(dir.path(), Duration::from_millis(15));
    for round in 0..4 {
        let handles: Vec<_> = (0..100)
            .map(|i| {
                let e = e.clone();
                tokio::spawn(async move { start(&e, format!("doc-{round}-{i}")).await })
            })
            .collect();
        for h in handles {
            h.await.expect("start task");
        }
    }
    folded_back(&calls).await;
    let (folds, largest) = check_steps(&calls.lock());
    assert!(
        largest > 32,
        "the starts did not share commits (largest group {largest})"
    );
    assert!(folds >= 2, "400 starts folded {folds} times");
    // The log never grew far past the threshold: each step folds what a group adds.
    let worst = calls.lock().iter().fold(0, |w, c| match *c {
        Call::Fold { remaining, .. } => w.max(remaining),
        Call::Commit(_) => w,
    });
    assert!(
        worst as u64 <= THRESHOLD + 2 * largest as u64,
        "the log held {worst} unfolded entries"
    );
    drop(e);
    let (e, _) = engine(dir.path(), Duration::ZERO);
    assert_eq!(count(&e).await, 400, "the folded log reloads every review");
}
