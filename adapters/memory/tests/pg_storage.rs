//! The embedded engine on PostgreSQL beyond the conformance suite: retention purges
//! ended workflows with their tasks and events and nothing else, escalation runs once
//! when two engines (replicas) share the database, and a redb store copied into
//! PostgreSQL comes back with the same workflows, tasks, events and document paths.

use std::sync::Arc;

use chrono::{Duration as Days, Utc};
use flowgate_core::{
    CallContext, Completion, DocLocator, EngineError, EventQuery, Limits, StartWorkflow, TaskQuery,
    TaskState, WorkflowEngine, WorkflowQuery, WorkflowState,
};
use flowgate_memory::pg::{copy_redb, PgEngine, PgOptions};
use flowgate_memory::{MemoryEngine, ModelSource, StorageOptions};
use flowgate_testkit::pg::TestSchema;
use serde_json::json;

fn admin() -> CallContext {
    CallContext::admin("Administrator")
}

fn options(schema: &TestSchema) -> PgOptions {
    let mut o = PgOptions::new(schema.url.clone());
    o.schema = Some(schema.name.clone());
    o.pool_size = 4;
    o
}

fn open_pg(schema: &TestSchema) -> PgEngine {
    PgEngine::open(
        "local",
        ModelSource::Builtin,
        &options(schema),
        Limits::default(),
    )
    .expect("the test database is reachable")
}

fn start(model: &str, doc: &str) -> StartWorkflow {
    StartWorkflow {
        model: model.into(),
        documents: vec![doc.into()],
        ..Default::default()
    }
}

async fn all_workflows(e: &dyn WorkflowEngine) -> Vec<(String, WorkflowState)> {
    let q = WorkflowQuery {
        running_only: false,
        ..WorkflowQuery::default()
    };
    let mut v: Vec<_> = e
        .workflows(&admin(), q)
        .await
        .unwrap()
        .items
        .into_iter()
        .map(|w| (w.id, w.state))
        .collect();
    v.sort_by(|x, y| x.0.cmp(&y.0));
    v
}

async fn all_tasks(e: &dyn WorkflowEngine) -> Vec<(String, TaskState, Vec<String>)> {
    let q = TaskQuery {
        open_only: false,
        ..TaskQuery::default()
    };
    let mut v: Vec<_> = e
        .tasks(&admin(), q)
        .await
        .unwrap()
        .items
        .into_iter()
        .map(|t| (t.id, t.state, t.actors))
        .collect();
    v.sort_by(|x, y| x.0.cmp(&y.0));
    v
}

async fn event_ids(e: &dyn WorkflowEngine) -> Vec<(u64, String, String)> {
    e.events(&admin(), EventQuery::default())
        .await
        .unwrap()
        .items
        .into_iter()
        .map(|e| (e.seq, e.kind.as_str().to_owned(), e.workflow_id))
        .collect()
}

/// [`event_ids`] once at least `n` events are numbered: events are numbered once no older
/// transaction of the server is running, and other tests may hold one for a moment.
/// Bounded: after 20 s, whatever is there.
async fn event_ids_at_least(e: &dyn WorkflowEngine, n: usize) -> Vec<(u64, String, String)> {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let ids = event_ids(e).await;
        if ids.len() >= n || std::time::Instant::now() > deadline {
            return ids;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retention_purges_ended_workflows_with_their_tasks_and_events_only() {
    let Some(schema) = TestSchema::new() else {
        return;
    };
    let e = open_pg(&schema);
    let keep = e
        .start(&admin(), start("SerialDocumentReview", "d-keep"))
        .await
        .unwrap();
    let mut gone = Vec::new();
    for i in 0..3 {
        let wf = e
            .start(
                &admin(),
                start("SerialDocumentReview", &format!("d-gone-{i}")),
            )
            .await
            .unwrap();
        e.cancel(&admin(), &wf.id).await.unwrap();
        gone.push(wf.id);
    }
    let user = CallContext::user("jdoe", ["members"]);
    assert!(matches!(
        e.purge_ended(&user, Utc::now()).await,
        Err(EngineError::Forbidden(_))
    ));
    // Ended after the cutoff: kept.
    let before = Utc::now() - Days::hours(1);
    assert_eq!(e.purge_ended(&admin(), before).await.unwrap(), 0);
    assert_eq!(
        e.purge_ended(&admin(), Utc::now() + Days::seconds(1))
            .await
            .unwrap(),
        3
    );
    assert_eq!(
        all_workflows(&e).await,
        vec![(keep.id.clone(), WorkflowState::Running)]
    );
    for id in &gone {
        assert!(matches!(
            e.workflow(&admin(), id).await,
            Err(EngineError::NotFound(_))
        ));
    }
    let tasks = all_tasks(&e).await;
    assert_eq!(tasks.len(), 1, "{tasks:?}");
    let events = event_ids_at_least(&e, 2).await;
    assert!(!events.is_empty());
    assert!(events.iter().all(|(_, _, w)| *w == keep.id), "{events:?}");
    // Nothing more to purge; the running workflow is never a candidate.
    assert_eq!(
        e.purge_ended(&admin(), Utc::now() + Days::days(1))
            .await
            .unwrap(),
        0
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn escalation_runs_once_across_two_replicas() {
    let Some(schema) = TestSchema::new() else {
        return;
    };
    let (a, b) = (open_pg(&schema), open_pg(&schema));
    let wf = a
        .start(&admin(), start("ParallelDocumentReview", "d-esc"))
        .await
        .unwrap();
    let first = a
        .tasks(&admin(), TaskQuery::for_workflow(&wf.id))
        .await
        .unwrap()
        .items
        .remove(0);
    let c = Completion {
        action: "start_review".into(),
        variables: json!({"participants": ["user:jdoe", "user:asmith"], "end_date": "2020-01-01"})
            .as_object()
            .cloned()
            .unwrap_or_default(),
        ..Completion::default()
    };
    a.complete(&admin(), &first.id, c).await.unwrap();
    let (ra, rb) = tokio::join!(a.run_escalations(), b.run_escalations());
    let (ra, rb) = (ra.unwrap(), rb.unwrap());
    let (ra2, rb2) = tokio::join!(a.run_escalations(), b.run_escalations());
    assert_eq!(
        ra + rb + ra2.unwrap() + rb2.unwrap(),
        1,
        "moved once in all"
    );
    let open = b
        .tasks(&admin(), TaskQuery::for_workflow(&wf.id))
        .await
        .unwrap()
        .items;
    assert_eq!(open.len(), 1, "{open:?}");
    assert_eq!(open[0].node_id, "Task2169");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redb_store_copied_into_postgres_comes_back_the_same() {
    let Some(schema) = TestSchema::new() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let (workflows, tasks, events, doc) = {
        let m = MemoryEngine::open(
            "local",
            ModelSource::Builtin,
            StorageOptions::durable(dir.path()),
        )
        .unwrap();
        let doc = m
            .document(
                &admin(),
                &DocLocator::Path("/default-domain/workspaces/report".into()),
            )
            .await
            .unwrap();
        let one = m
            .start(&admin(), start("SerialDocumentReview", &doc.id))
            .await
            .unwrap();
        let two = m
            .start(&admin(), start("ParallelDocumentReview", "d-2"))
            .await
            .unwrap();
        let t = m
            .tasks(&admin(), TaskQuery::for_workflow(&one.id))
            .await
            .unwrap()
            .items
            .remove(0);
        let c = Completion {
            action: "start_review".into(),
            variables: json!({"participants": ["user:jdoe"]})
                .as_object()
                .cloned()
                .unwrap_or_default(),
            comment: Some("please".into()),
        };
        m.complete(&admin(), &t.id, c).await.unwrap();
        m.cancel(&admin(), &two.id).await.unwrap();
        (
            all_workflows(&m).await,
            all_tasks(&m).await,
            event_ids(&m).await,
            doc,
        )
    };
    let report = copy_redb(dir.path(), &options(&schema), "local")
        .await
        .unwrap();
    assert_eq!(
        (
            report.workflows,
            report.tasks,
            report.events,
            report.document_paths
        ),
        (workflows.len(), tasks.len(), events.len(), 1)
    );
    let pg = Arc::new(open_pg(&schema));
    assert_eq!(all_workflows(&*pg).await, workflows);
    assert_eq!(all_tasks(&*pg).await, tasks);
    assert_eq!(event_ids(&*pg).await, events);
    let back = pg
        .document(&admin(), &DocLocator::Id(doc.id.clone()))
        .await
        .unwrap();
    assert_eq!(back.path, doc.path);
    // The copied state goes on: the reviewer's task completes on PostgreSQL, and new
    // events number after the copied ones.
    let open = pg
        .tasks(&admin(), TaskQuery::for_actor("jdoe", Vec::<String>::new()))
        .await
        .unwrap()
        .items;
    assert_eq!(open.len(), 1);
    let c = Completion {
        action: "validate".into(),
        ..Completion::default()
    };
    pg.complete(&admin(), &open[0].id, c).await.unwrap();
    let after = event_ids_at_least(&*pg, events.len() + 1).await;
    let last = events.last().map(|e| e.0).unwrap_or(0);
    assert!(after.len() > events.len());
    assert!(
        after[events.len()..].iter().all(|e| e.0 > last),
        "{after:?}"
    );
    // A second copy into the same database is refused.
    let again = copy_redb(dir.path(), &options(&schema), "local").await;
    assert!(again.is_err(), "{again:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_feed_page_reads_the_same_events_without_counting_the_log() {
    let Some(schema) = TestSchema::new() else {
        return;
    };
    let e = open_pg(&schema);
    for n in 0..6 {
        e.start(
            &admin(),
            start("SerialDocumentReview", &format!("d-feed-{n}")),
        )
        .await
        .unwrap();
    }
    let mut q = EventQuery {
        after_seq: Some(2),
        page: flowgate_core::PageRequest::new(0, 3),
        ..EventQuery::default()
    };
    // Events are numbered once no older transaction of the server is running (other
    // tests may hold one for a moment): wait, bounded, for all twelve.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    let counted = loop {
        let page = e.events(&admin(), q.clone()).await.unwrap();
        if page.total == 10 || std::time::Instant::now() > deadline {
            break page;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    };
    assert_eq!(
        counted.total, 10,
        "12 events (a start and a task each), 10 after 2"
    );
    q.page_only = true;
    let feed = e.events(&admin(), q).await.unwrap();
    let seqs = |p: &flowgate_core::Page<flowgate_core::Event>| {
        p.items.iter().map(|ev| ev.seq).collect::<Vec<_>>()
    };
    assert_eq!(seqs(&feed), seqs(&counted));
    assert_eq!(seqs(&feed), [3, 4, 5]);
    assert_eq!(feed.total, 3, "the rest of the log is not counted");
}
