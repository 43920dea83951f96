//! Retention of ended workflows: the background sweep, the purge by date, what stays
//! (running workflows), what a reopened data file holds afterwards, and that the
//! engine's entries stay bounded over many start → cancel cycles.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Utc;
use flowgate_core::{
    CallContext, ErrorKind, StartWorkflow, TaskQuery, WorkflowEngine, WorkflowState,
};
use flowgate_memory::storage::{BASE_FORMAT_VERSION, DATA_FILE, PURGE_FORMAT_VERSION};
use flowgate_memory::{
    Durability, MemoryEngine, ModelSource, RetentionPolicy, StorageOptions, StoreCounts,
};
use redb::{ReadableDatabase, ReadableTableMetadata, TableDefinition};

const WORKFLOWS: TableDefinition<u128, &[u8]> = TableDefinition::new("workflows");
const TASKS: TableDefinition<u128, &[u8]> = TableDefinition::new("tasks");
const META: TableDefinition<&str, u64> = TableDefinition::new("meta");

fn admin() -> CallContext {
    CallContext::admin("Administrator")
}

fn durable(dir: &Path) -> MemoryEngine {
    MemoryEngine::open(
        "local",
        ModelSource::Builtin,
        StorageOptions {
            data_dir: dir.to_owned(),
            durability: Durability::Fsync,
            // Fold after every commit: purges must reach the record tables too.
            snapshot_threshold: 1,
        },
    )
    .unwrap()
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

async fn task_ids(e: &MemoryEngine, wf: &str) -> Vec<String> {
    e.tasks(&admin(), TaskQuery::for_workflow(wf))
        .await
        .unwrap()
        .items
        .into_iter()
        .map(|t| t.id)
        .collect()
}

async fn gone(e: &MemoryEngine, wf: &str, tasks: &[String]) {
    let err = e.workflow(&admin(), wf).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound, "{wf} still there");
    for t in tasks {
        let err = e.task(&admin(), t).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::NotFound, "task {t} still there");
    }
}

/// Waits (bounded) until the engine holds `workflows` instances.
async fn until_count(e: &MemoryEngine, workflows: usize) -> StoreCounts {
    let t0 = Instant::now();
    loop {
        let c = e.store_counts();
        if c.workflows == workflows {
            return c;
        }
        assert!(
            t0.elapsed() < Duration::from_secs(15),
            "retention did not run: {c:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn short_policy(batch: usize) -> RetentionPolicy {
    RetentionPolicy {
        keep: Duration::from_millis(300),
        sweep_every: Duration::from_millis(100),
        batch,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sweep_deletes_ended_workflows_in_batches_and_keeps_running_ones() {
    let e = Arc::new(MemoryEngine::builtin("local").unwrap());
    let mut ended = Vec::new();
    for i in 0..11 {
        let id = start(&e, &format!("d{i}")).await;
        let tasks = task_ids(&e, &id).await;
        e.cancel(&admin(), &id).await.unwrap();
        ended.push((id, tasks));
    }
    let running = start(&e, "keep").await;
    let running_tasks = task_ids(&e, &running).await;
    // Batches of 3: four batches for eleven workflows.
    let job = e.spawn_retention(short_policy(3));
    let c = until_count(&e, 1).await;
    job.abort();
    for (id, tasks) in &ended {
        let err = e.workflow(&admin(), id).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::NotFound);
        for t in tasks {
            assert_eq!(
                e.task(&admin(), t).await.unwrap_err().kind(),
                ErrorKind::NotFound
            );
        }
    }
    let wf = e.workflow(&admin(), &running).await.unwrap();
    assert_eq!(wf.state, WorkflowState::Running);
    assert_eq!(task_ids(&e, &running).await, running_tasks);
    // Nothing dangles: one instance, its task, and only its index entries.
    assert_eq!(c.tasks, running_tasks.len());
    assert_eq!(c.ended, 0);
    let mine = e
        .tasks(
            &admin(),
            TaskQuery {
                actor: Some(flowgate_core::ActorFilter {
                    user: "Administrator".into(),
                    groups: vec![],
                }),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(mine.items.len(), running_tasks.len());
    for i in 0..11 {
        let by_doc = e
            .workflows(
                &admin(),
                flowgate_core::WorkflowQuery {
                    document: Some(format!("d{i}")),
                    ..Default::default()
                },
            )
            .await
            .unwrap();
        assert!(by_doc.items.is_empty());
    }
}

#[tokio::test]
async fn a_purge_by_date_takes_only_what_ended_before_it() {
    let e = MemoryEngine::builtin("local").unwrap();
    let old = start(&e, "old").await;
    let old_tasks = task_ids(&e, &old).await;
    e.cancel(&admin(), &old).await.unwrap();
    let before_second = Utc::now();
    tokio::time::sleep(Duration::from_millis(5)).await;
    let recent = start(&e, "recent").await;
    e.cancel(&admin(), &recent).await.unwrap();
    let running = start(&e, "running").await;

    assert_eq!(e.purge_ended_before(before_second, 10).await.unwrap(), 1);
    gone(&e, &old, &old_tasks).await;
    assert!(e.workflow(&admin(), &recent).await.is_ok());
    // Running workflows are never purged, whatever the date.
    let far = Utc::now() + chrono::Duration::days(3650);
    assert_eq!(e.purge_ended_before(far, 10).await.unwrap(), 1);
    assert!(e.workflow(&admin(), &running).await.is_ok());
    assert_eq!(e.purge_ended_before(far, 10).await.unwrap(), 0);
    // Only administrators purge through the engine interface.
    let jdoe = CallContext::user("jdoe", ["members"]);
    let err = e.purge_ended(&jdoe, far).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Forbidden);
    assert_eq!(e.purge_ended(&admin(), far).await.unwrap(), 0);
}

fn table_len(file: &Path, table: TableDefinition<u128, &[u8]>) -> u64 {
    let db = redb::Database::open(file).unwrap();
    let txn = db.begin_read().unwrap();
    txn.open_table(table).unwrap().len().unwrap()
}

fn stored_version(file: &Path) -> u64 {
    let db = redb::Database::open(file).unwrap();
    let txn = db.begin_read().unwrap();
    let meta = txn.open_table(META).unwrap();
    meta.get("format_version").unwrap().unwrap().value()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redb_purged_workflows_stay_gone_after_a_reopen_and_the_others_are_intact() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join(DATA_FILE);
    let (ended, kept) = {
        let e = Arc::new(durable(dir.path()));
        let mut ended = Vec::new();
        for i in 0..5 {
            let id = start(&e, &format!("e{i}")).await;
            let tasks = task_ids(&e, &id).await;
            e.cancel(&admin(), &id).await.unwrap();
            ended.push((id, tasks));
        }
        let mut kept = Vec::new();
        for i in 0..3 {
            let id = start(&e, &format!("k{i}")).await;
            let wf = e.workflow(&admin(), &id).await.unwrap();
            let tasks = e
                .tasks(&admin(), TaskQuery::for_workflow(&id))
                .await
                .unwrap()
                .items;
            kept.push((wf, tasks));
        }
        let job = e.spawn_retention(short_policy(2));
        until_count(&e, 3).await;
        job.abort();
        let _ = job.await;
        // A sweep in flight on a blocking thread holds the engine until it returns.
        let t0 = Instant::now();
        while Arc::strong_count(&e) > 1 {
            assert!(t0.elapsed() < Duration::from_secs(10));
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        (ended, kept)
    };
    // The engine is gone and its writer has folded the log: the records are deleted
    // from the file itself, and the file says it holds purges.
    assert_eq!(table_len(&file, WORKFLOWS), 3);
    let kept_tasks: usize = kept.iter().map(|(_, t)| t.len()).sum();
    assert_eq!(table_len(&file, TASKS), kept_tasks as u64);
    assert_eq!(stored_version(&file), PURGE_FORMAT_VERSION);

    let e = durable(dir.path());
    for (id, tasks) in &ended {
        gone(&e, id, tasks).await;
    }
    for (wf, tasks) in &kept {
        assert_eq!(&e.workflow(&admin(), &wf.id).await.unwrap(), wf);
        let now = e
            .tasks(&admin(), TaskQuery::for_workflow(&wf.id))
            .await
            .unwrap()
            .items;
        assert_eq!(&now, tasks);
    }
    let c = e.store_counts();
    assert_eq!((c.workflows, c.ended), (3, 0));
}

#[tokio::test]
async fn a_purge_still_in_the_log_is_replayed_on_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let opts = StorageOptions {
        data_dir: dir.path().to_owned(),
        durability: Durability::Fsync,
        // Never folds during the test: the purge is only in the log.
        snapshot_threshold: 10_000,
    };
    let (ended, kept) = {
        let e = MemoryEngine::open("local", ModelSource::Builtin, opts.clone()).unwrap();
        let ended = start(&e, "a").await;
        let tasks = task_ids(&e, &ended).await;
        e.cancel(&admin(), &ended).await.unwrap();
        let kept = start(&e, "b").await;
        let far = Utc::now() + chrono::Duration::days(1);
        assert_eq!(e.purge_ended_before(far, 10).await.unwrap(), 1);
        ((ended, tasks), kept)
    };
    let e = MemoryEngine::open("local", ModelSource::Builtin, opts).unwrap();
    gone(&e, &ended.0, &ended.1).await;
    assert!(e.workflow(&admin(), &kept).await.is_ok());
}

#[tokio::test]
async fn a_data_file_without_purges_keeps_the_base_format_version() {
    let dir = tempfile::tempdir().unwrap();
    {
        let e = durable(dir.path());
        let id = start(&e, "a").await;
        e.cancel(&admin(), &id).await.unwrap();
    }
    assert_eq!(
        stored_version(&dir.path().join(DATA_FILE)),
        BASE_FORMAT_VERSION
    );
}

#[tokio::test]
async fn entries_stay_flat_over_many_start_cancel_cycles_with_retention_on() {
    let e = MemoryEngine::builtin("local").unwrap();
    let policy = RetentionPolicy {
        keep: Duration::ZERO,
        sweep_every: Duration::from_secs(60),
        batch: 64,
    };
    let baseline = e.store_counts();
    let mut peak = StoreCounts::default();
    for round in 0..40 {
        for i in 0..50 {
            // A new document and a new participant each time: every index sees new keys.
            let id = e
                .start(
                    &admin(),
                    StartWorkflow {
                        model: "SerialDocumentReview".into(),
                        documents: vec![format!("doc-{round}-{i}")],
                        variables: [(
                            "participants".to_owned(),
                            serde_json::json!([format!("user{round}-{i}")]),
                        )]
                        .into_iter()
                        .collect(),
                    },
                )
                .await
                .unwrap()
                .id;
            e.cancel(&admin(), &id).await.unwrap();
        }
        let c = e.store_counts();
        peak.workflows = peak.workflows.max(c.workflows);
        peak.tasks = peak.tasks.max(c.tasks);
        peak.index_keys = peak.index_keys.max(c.index_keys);
        peak.index_ids = peak.index_ids.max(c.index_ids);
        let purged = e
            .purge_ended_before(
                Utc::now() - chrono::Duration::from_std(policy.keep).unwrap(),
                policy.batch,
            )
            .await
            .unwrap();
        assert_eq!(purged, 50, "round {round}");
        assert_eq!(e.store_counts(), baseline, "round {round}");
    }
    // 2,000 cycles never held more than one round's worth.
    assert!(peak.workflows <= 50 && peak.tasks <= 100, "{peak:?}");
    assert!(peak.index_keys <= 200, "{peak:?}");
}

const EVENTS: TableDefinition<u64, &[u8]> = TableDefinition::new("events");

/// The rows of the data file's `events` table: number and stored bytes.
fn event_rows(file: &Path) -> Vec<(u64, Vec<u8>)> {
    let db = redb::Database::open(file).unwrap();
    let txn = db.begin_read().unwrap();
    let t = txn.open_table(EVENTS).unwrap();
    let rows = t
        .range(0..)
        .unwrap()
        .map(|r| {
            let (k, v) = r.unwrap();
            (k.value(), v.value().to_vec())
        })
        .collect();
    rows
}

/// Sequence numbers of the events `e` holds for workflow `wf`.
async fn event_seqs(e: &MemoryEngine, wf: &str) -> Vec<u64> {
    let q = flowgate_core::EventQuery {
        workflow_id: Some(wf.to_owned()),
        ..Default::default()
    };
    let page = e.events(&admin(), q).await.unwrap();
    page.items.iter().map(|ev| ev.seq).collect()
}

#[tokio::test]
async fn redb_a_purge_deletes_the_workflows_events_from_the_file_and_numbers_go_on() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join(DATA_FILE);
    let far = Utc::now() + chrono::Duration::days(1);
    let (purged, kept) = {
        let e = durable(dir.path());
        let mut purged = Vec::new();
        for i in 0..3 {
            let id = start(&e, &format!("p{i}")).await;
            e.cancel(&admin(), &id).await.unwrap();
            purged.extend(event_seqs(&e, &id).await);
        }
        let kept = start(&e, "kept").await;
        let kept = event_seqs(&e, &kept).await;
        assert_eq!(e.purge_ended_before(far, 10).await.unwrap(), 3);
        (purged, kept)
    };
    assert!(!purged.is_empty());
    let rows: Vec<u64> = event_rows(&file).iter().map(|(k, _)| *k).collect();
    assert_eq!(
        rows, kept,
        "only the events of the workflow kept stay in the file"
    );

    // The last workflow purged holds the highest number: that one row stays, so that
    // numbering after a reopen goes on above it instead of giving it again.
    let last = {
        let e = durable(dir.path());
        let id = start(&e, "last").await;
        e.cancel(&admin(), &id).await.unwrap();
        let last = event_seqs(&e, &id).await;
        assert_eq!(e.purge_ended_before(far, 10).await.unwrap(), 1);
        last
    };
    let highest = *last.last().unwrap();
    let rows: Vec<u64> = event_rows(&file).iter().map(|(k, _)| *k).collect();
    assert_eq!(rows, [kept.clone(), vec![highest]].concat());
    let e = durable(dir.path());
    let id = start(&e, "after").await;
    let after = event_seqs(&e, &id).await;
    assert_eq!(after[0], highest + 1, "no number is given twice");
    drop(e);
    let rows: Vec<u64> = event_rows(&file).iter().map(|(k, _)| *k).collect();
    assert_eq!(rows, [kept.clone(), vec![highest], after.clone()].concat());
    // No longer the highest, the row goes at the next start.
    drop(durable(dir.path()));
    let rows: Vec<u64> = event_rows(&file).iter().map(|(k, _)| *k).collect();
    assert_eq!(rows, [kept, after].concat());
}

#[tokio::test]
async fn redb_events_left_by_earlier_purges_are_deleted_at_the_next_start() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join(DATA_FILE);
    let far = Utc::now() + chrono::Duration::days(1);
    let purged = {
        let e = durable(dir.path());
        let id = start(&e, "old").await;
        e.cancel(&admin(), &id).await.unwrap();
        start(&e, "kept").await;
        id
    };
    // The rows as an earlier version leaves them: its purges kept the events.
    let before = event_rows(&file);
    {
        let e = durable(dir.path());
        assert_eq!(e.purge_ended_before(far, 10).await.unwrap(), 1);
        assert!(event_seqs(&e, &purged).await.is_empty());
    }
    let survivors = event_rows(&file);
    assert!(survivors.len() < before.len());
    {
        let db = redb::Database::create(&file).unwrap();
        let txn = db.begin_write().unwrap();
        {
            let mut t = txn.open_table(EVENTS).unwrap();
            for (k, v) in &before {
                t.insert(*k, v.as_slice()).unwrap();
            }
        }
        txn.commit().unwrap();
    }
    assert_eq!(event_rows(&file).len(), before.len());
    let e = durable(dir.path());
    assert!(event_seqs(&e, &purged).await.is_empty());
    drop(e);
    assert_eq!(
        event_rows(&file),
        survivors,
        "deleted when the file was opened"
    );
}
