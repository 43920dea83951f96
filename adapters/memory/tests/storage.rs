//! Durable storage of the embedded engine: reload, group commit, failed commits,
//! folding, format versions, damaged data.

use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use flowgate_core::{
    CallContext, Completion, DocLocator, ErrorKind, Health, StartWorkflow, Task, TaskQuery,
    WorkflowEngine, WorkflowInstance, WorkflowQuery,
};
use flowgate_memory::state::Change;
use flowgate_memory::storage::{
    Loaded, NoStorage, RedbStorage, SnapshotProgress, DATA_FILE, FORMAT_VERSION,
};
use flowgate_memory::{
    Durability, MemoryEngine, ModelSource, OpenError, Storage, StorageError, StorageOptions,
};
use serde_json::json;

fn admin() -> CallContext {
    CallContext::admin("Administrator")
}

fn options(dir: &Path, threshold: u64) -> StorageOptions {
    StorageOptions {
        data_dir: dir.to_owned(),
        durability: Durability::Fsync,
        snapshot_threshold: threshold,
    }
}

fn open(dir: &Path) -> MemoryEngine {
    MemoryEngine::open("local", ModelSource::Builtin, options(dir, 10_000)).unwrap()
}

async fn start(e: &MemoryEngine, doc: &str) -> String {
    e.start(
        &admin(),
        StartWorkflow {
            model: "SerialDocumentReview".into(),
            documents: vec![doc.into()],
            variables: Default::default(),
        },
    )
    .await
    .unwrap()
    .id
}

async fn open_task(e: &MemoryEngine, wf: &str) -> Task {
    e.tasks(&admin(), TaskQuery::for_workflow(wf))
        .await
        .unwrap()
        .items
        .remove(0)
}

fn start_review() -> Completion {
    Completion {
        action: "start_review".into(),
        comment: Some("go".into()),
        variables: json!({"participants": ["user:jdoe"]})
            .as_object()
            .cloned()
            .unwrap_or_default(),
    }
}

/// Everything the engine shows an administrator.
async fn dump(e: &MemoryEngine) -> (Vec<WorkflowInstance>, Vec<Task>) {
    let wfs = e
        .workflows(
            &admin(),
            WorkflowQuery {
                running_only: false,
                ..Default::default()
            },
        )
        .await
        .unwrap()
        .items;
    let tasks = e
        .tasks(
            &admin(),
            TaskQuery {
                open_only: false,
                ..Default::default()
            },
        )
        .await
        .unwrap()
        .items;
    (wfs, tasks)
}

/// Rewrites one log entry's stored bytes with `f`, straight through redb.
fn tamper_log_entry(dir: &Path, pick: impl Fn(&[u64]) -> u64, f: impl Fn(&mut Vec<u8>)) -> u64 {
    use redb::{ReadableTable, TableDefinition};
    const LOG: TableDefinition<u64, &[u8]> = TableDefinition::new("log");
    let db = redb::Database::open(dir.join(DATA_FILE)).unwrap();
    let txn = db.begin_write().unwrap();
    let seq;
    {
        let mut log = txn.open_table(LOG).unwrap();
        let keys: Vec<u64> = log.iter().unwrap().map(|r| r.unwrap().0.value()).collect();
        seq = pick(&keys);
        let mut bytes = log.get(seq).unwrap().unwrap().value().to_vec();
        f(&mut bytes);
        log.insert(seq, bytes.as_slice()).unwrap();
    }
    txn.commit().unwrap();
    seq
}

#[tokio::test]
async fn durable_engine_reloads_every_step_after_reopening() {
    let dir = tempfile::tempdir().unwrap();
    let before;
    let (wf1, wf2);
    {
        let e = open(dir.path());
        assert!(e.is_durable());
        wf1 = start(&e, "doc-1").await;
        wf2 = start(&e, "doc-2").await;
        let t = open_task(&e, &wf1).await;
        e.complete(&admin(), &t.id, start_review()).await.unwrap();
        let t = open_task(&e, &wf1).await;
        e.reassign(&admin(), &t.id, vec!["user:bob".into()], None)
            .await
            .unwrap();
        e.delegate(
            &admin(),
            &t.id,
            vec!["user:asmith".into()],
            Some("help".into()),
        )
        .await
        .unwrap();
        e.cancel(&admin(), &wf2).await.unwrap();
        e.document(&admin(), &DocLocator::Path("/a/b".into()))
            .await
            .unwrap();
        before = dump(&e).await;
        assert!(e.storage_stats().batches >= 7);
    }
    let e = open(dir.path());
    assert_eq!(dump(&e).await, before);
    let t = open_task(&e, &wf1).await;
    assert_eq!(t.actors, vec!["bob"]);
    assert_eq!(t.delegated_actors, vec!["asmith"]);
    let doc = e
        .document(&admin(), &DocLocator::Path("/a/b".into()))
        .await
        .unwrap();
    let again = e.document(&admin(), &DocLocator::Id(doc.id)).await.unwrap();
    assert_eq!(again.path.as_deref(), Some("/a/b"));
    // Steps go on from the reloaded state, and instance names keep counting.
    e.complete(
        &CallContext::user("bob", ["members"]),
        &t.id,
        Completion {
            action: "validate".into(),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let wf3 = e
        .start(
            &admin(),
            StartWorkflow {
                model: "SerialDocumentReview".into(),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(wf3.name, "SerialDocumentReview.3");
}

#[tokio::test]
async fn memory_mode_keeps_nothing_on_disk() {
    let dir = tempfile::tempdir().unwrap();
    let opts = StorageOptions {
        data_dir: dir.path().join("unused"),
        ..StorageOptions::memory()
    };
    let e = MemoryEngine::open("local", ModelSource::Builtin, opts.clone()).unwrap();
    assert!(!e.is_durable());
    start(&e, "d").await;
    drop(e);
    assert!(!dir.path().join("unused").exists());
    let e = MemoryEngine::open("local", ModelSource::Builtin, opts).unwrap();
    assert!(dump(&e).await.0.is_empty());
}

#[tokio::test]
async fn missing_data_directory_is_created() {
    let dir = tempfile::tempdir().unwrap();
    let nested = dir.path().join("a/b/local");
    let e = open(&nested);
    start(&e, "d").await;
    assert!(nested.join(DATA_FILE).is_file());
}

/// Wraps a storage with a slow commit, so that requests pile up behind the writer.
#[derive(Debug)]
struct Slow(RedbStorage, Duration);

impl Storage for Slow {
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
        std::thread::sleep(self.1);
        self.0.commit(group)
    }
    fn needs_snapshot(&self) -> bool {
        self.0.needs_snapshot()
    }
    fn snapshot(&self, max: usize) -> Result<SnapshotProgress, StorageError> {
        self.0.snapshot(max)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_steps_share_commit_groups() {
    let dir = tempfile::tempdir().unwrap();
    let storage = Slow(
        RedbStorage::open(dir.path(), 10_000).unwrap(),
        Duration::from_millis(20),
    );
    let e = Arc::new(
        MemoryEngine::with_storage("local", ModelSource::Builtin, Box::new(storage)).unwrap(),
    );
    let handles: Vec<_> = (0..40)
        .map(|i| {
            let e = e.clone();
            tokio::spawn(async move { start(&e, &format!("doc-{i}")).await })
        })
        .collect();
    for h in handles {
        h.await.unwrap();
    }
    let stats = e.storage_stats();
    assert_eq!(stats.batches, 40);
    assert!(
        stats.commit_groups < 20,
        "40 concurrent starts took {} commits",
        stats.commit_groups
    );
    drop(e);
    let e = open(dir.path());
    assert_eq!(dump(&e).await.0.len(), 40);
}

/// Fails every commit after the first `ok` ones.
#[derive(Debug)]
struct FailAfter(RedbStorage, usize, AtomicUsize);

impl Storage for FailAfter {
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
        if self.2.fetch_add(1, Ordering::SeqCst) >= self.1 {
            return Err(StorageError::Backend {
                file: "test".into(),
                detail: "disk full".into(),
            });
        }
        self.0.commit(group)
    }
    fn needs_snapshot(&self) -> bool {
        false
    }
    fn snapshot(&self, _max: usize) -> Result<SnapshotProgress, StorageError> {
        Ok(SnapshotProgress::default())
    }
}

#[tokio::test]
async fn failed_commit_changes_nothing_in_memory_and_stops_the_engine() {
    let dir = tempfile::tempdir().unwrap();
    let storage = FailAfter(
        RedbStorage::open(dir.path(), 10_000).unwrap(),
        1,
        AtomicUsize::new(0),
    );
    let e = MemoryEngine::with_storage("local", ModelSource::Builtin, Box::new(storage)).unwrap();
    let wf = start(&e, "d").await;
    let t = open_task(&e, &wf).await;
    let before = dump(&e).await;
    let err = e
        .complete(&admin(), &t.id, start_review())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unavailable);
    assert!(err.to_string().contains("not saved"), "{err}");
    assert_eq!(dump(&e).await, before, "memory must not run ahead of disk");
    assert!(matches!(e.health().await, Health::Down(_)));
    let err = e
        .start(
            &admin(),
            StartWorkflow {
                model: "SerialDocumentReview".into(),
                ..Default::default()
            },
        )
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unavailable);
    drop(e);
    let e = open(dir.path());
    assert_eq!(dump(&e).await, before);
}

#[tokio::test]
async fn dropped_request_is_still_applied_before_the_next_step_of_its_instance() {
    let dir = tempfile::tempdir().unwrap();
    let storage = Slow(
        RedbStorage::open(dir.path(), 10_000).unwrap(),
        Duration::from_millis(150),
    );
    let e = MemoryEngine::with_storage("local", ModelSource::Builtin, Box::new(storage)).unwrap();
    let wf = start(&e, "d").await;
    let t = open_task(&e, &wf).await;
    // The caller gives up while the commit is under way (as a request timeout would).
    let gave_up = tokio::time::timeout(
        Duration::from_millis(30),
        e.complete(&admin(), &t.id, start_review()),
    )
    .await;
    assert!(gave_up.is_err());
    let again = e
        .complete(&admin(), &t.id, start_review())
        .await
        .unwrap_err();
    assert_eq!(again.kind(), ErrorKind::Conflict, "{again}");
    drop(e);
    let e = open(dir.path());
    let next = open_task(&e, &wf).await;
    assert_eq!(next.actors, vec!["user:jdoe"]);
}

#[tokio::test]
async fn folded_log_reloads_the_same_state() {
    let dir = tempfile::tempdir().unwrap();
    let before;
    {
        let e = MemoryEngine::open("local", ModelSource::Builtin, options(dir.path(), 4)).unwrap();
        for i in 0..10 {
            let wf = start(&e, &format!("d{i}")).await;
            let t = open_task(&e, &wf).await;
            e.complete(&admin(), &t.id, start_review()).await.unwrap();
        }
        before = dump(&e).await;
        // The writer folds between commit groups; wait for it to catch up.
        for _ in 0..100 {
            if e.storage_stats().folded_entries >= 16 {
                break;
            }
            e.document(&admin(), &DocLocator::Path("/tick".into()))
                .await
                .unwrap();
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert!(e.storage_stats().folded_entries >= 16);
    }
    let e = MemoryEngine::open("local", ModelSource::Builtin, options(dir.path(), 4)).unwrap();
    assert_eq!(dump(&e).await, before);
}

#[tokio::test]
async fn data_from_a_future_format_version_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    {
        let e = open(dir.path());
        start(&e, "d").await;
    }
    {
        const META: redb::TableDefinition<&str, u64> = redb::TableDefinition::new("meta");
        let db = redb::Database::open(dir.path().join(DATA_FILE)).unwrap();
        let txn = db.begin_write().unwrap();
        txn.open_table(META)
            .unwrap()
            .insert("format_version", FORMAT_VERSION + 1)
            .unwrap();
        txn.commit().unwrap();
    }
    let err =
        MemoryEngine::open("local", ModelSource::Builtin, options(dir.path(), 10)).unwrap_err();
    assert!(
        matches!(err, OpenError::Storage(StorageError::FutureFormat { found, .. }) if found == FORMAT_VERSION + 1)
    );
    let msg = err.to_string();
    let found = format!("format version {}", FORMAT_VERSION + 1);
    assert!(msg.contains(&found), "{msg}");
    assert!(msg.contains(DATA_FILE), "{msg}");
}

#[tokio::test]
async fn damaged_last_log_entry_is_dropped_and_the_prefix_recovered() {
    let dir = tempfile::tempdir().unwrap();
    let (wf, before_last);
    {
        let e = open(dir.path());
        wf = start(&e, "d").await;
        before_last = dump(&e).await;
        let t = open_task(&e, &wf).await;
        e.complete(&admin(), &t.id, start_review()).await.unwrap();
    }
    let seq = tamper_log_entry(
        dir.path(),
        |keys| *keys.last().unwrap(),
        |b| {
            let n = b.len();
            b[n - 3] ^= 0x41;
        },
    );
    assert_eq!(seq, 2);
    let e = open(dir.path());
    assert_eq!(dump(&e).await, before_last);
    // The engine goes on from the recovered state.
    let t = open_task(&e, &wf).await;
    e.complete(&admin(), &t.id, start_review()).await.unwrap();
    drop(e);
    let e = open(dir.path());
    assert_eq!(open_task(&e, &wf).await.actors, vec!["user:jdoe"]);
}

#[tokio::test]
async fn damaged_log_entry_in_the_middle_refuses_to_start() {
    let dir = tempfile::tempdir().unwrap();
    {
        let e = open(dir.path());
        for i in 0..3 {
            start(&e, &format!("d{i}")).await;
        }
    }
    tamper_log_entry(dir.path(), |keys| keys[1], |b| b[10] ^= 0x01);
    let err =
        MemoryEngine::open("local", ModelSource::Builtin, options(dir.path(), 10)).unwrap_err();
    assert!(matches!(
        err,
        OpenError::Storage(StorageError::Corrupted { .. })
    ));
    let msg = err.to_string();
    assert!(msg.contains("log entry 2"), "{msg}");
    assert!(msg.contains("refusing to start"), "{msg}");
}

#[tokio::test]
async fn truncated_or_overwritten_file_recovers_or_refuses_without_panicking() {
    let dir = tempfile::tempdir().unwrap();
    let full;
    {
        let e = open(dir.path());
        for i in 0..20 {
            let wf = start(&e, &format!("d{i}")).await;
            let t = open_task(&e, &wf).await;
            e.complete(&admin(), &t.id, start_review()).await.unwrap();
        }
        full = dump(&e).await;
    }
    let file = dir.path().join(DATA_FILE);
    let pristine = std::fs::read(&file).unwrap();
    let len = pristine.len();
    let mut outcomes = Vec::new();
    let damages: Vec<(String, Vec<u8>)> = vec![
        ("truncated to 0".into(), Vec::new()),
        ("truncated to 100".into(), pristine[..100].to_vec()),
        ("truncated to half".into(), pristine[..len / 2].to_vec()),
        ("last 4 KiB cut".into(), pristine[..len - 4096].to_vec()),
        ("header zeroed".into(), {
            let mut b = pristine.clone();
            b[..512].fill(0);
            b
        }),
        ("middle overwritten".into(), {
            let mut b = pristine.clone();
            b[len / 2..len / 2 + 4096].fill(0xA5);
            b
        }),
    ];
    for (what, bytes) in damages {
        std::fs::write(&file, &bytes).unwrap();
        let r = std::panic::catch_unwind(|| {
            MemoryEngine::open("local", ModelSource::Builtin, options(dir.path(), 10_000))
        });
        let r = r.unwrap_or_else(|_| panic!("{what}: open panicked"));
        match r {
            Ok(e) => {
                // Recovery must give the last committed state, never something else
                // (an empty file is refused: flowgate never leaves one behind).
                let got = dump(&e).await;
                assert!(
                    got == full,
                    "{what}: opened with {} of {} workflows",
                    got.0.len(),
                    full.0.len()
                );
                outcomes.push(format!("{what}: recovered {} workflows", got.0.len()));
            }
            Err(err) => {
                let msg = err.to_string();
                assert!(msg.contains(DATA_FILE), "{what}: {msg}");
                outcomes.push(format!("{what}: refused ({msg})"));
            }
        }
    }
    eprintln!("{}", outcomes.join("\n"));
}

#[tokio::test]
async fn data_file_held_by_another_engine_is_refused_after_a_bounded_wait() {
    let dir = tempfile::tempdir().unwrap();
    let _first = open(dir.path());
    let t0 = std::time::Instant::now();
    let err =
        MemoryEngine::open("local", ModelSource::Builtin, options(dir.path(), 10)).unwrap_err();
    assert!(matches!(
        err,
        OpenError::Storage(StorageError::Locked { .. })
    ));
    assert!(t0.elapsed() < Duration::from_secs(20));
    assert!(err.to_string().contains("in use by another process"));
}

#[tokio::test]
async fn data_file_released_while_waiting_is_opened() {
    let dir = tempfile::tempdir().unwrap();
    let first = open(dir.path());
    start(&first, "d").await;
    let release = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(300));
        drop(first);
    });
    let second = open(dir.path());
    release.join().unwrap();
    assert_eq!(dump(&second).await.0.len(), 1);
}

#[test]
fn no_storage_loads_nothing_and_accepts_commits() {
    let s = NoStorage;
    assert!(!s.is_durable());
    assert!(s.load().unwrap().changes.is_empty());
    s.commit(&[vec![]]).unwrap();
    assert!(!s.needs_snapshot());
}
