//! Workflow events of the embedded engine: one per step outcome, in order, written in
//! the same commit as the change, none for a refused step, the same after a reopen.

use flowgate_core::{
    CallContext, Completion, ErrorKind, Event, EventKind, EventQuery, StartWorkflow, TaskQuery,
    WorkflowEngine,
};
use flowgate_memory::{MemoryEngine, ModelSource, StorageOptions};
use serde_json::{json, Value};

fn admin() -> CallContext {
    CallContext::admin("Administrator")
}

fn user(name: &str) -> CallContext {
    CallContext::user(name, ["members"])
}

fn done(action: &str, comment: Option<&str>, v: Value) -> Completion {
    Completion {
        action: action.into(),
        comment: comment.map(str::to_owned),
        variables: v.as_object().cloned().unwrap_or_default(),
    }
}

async fn start(e: &MemoryEngine, model: &str, doc: &str) -> String {
    e.start(
        &admin(),
        StartWorkflow {
            model: model.into(),
            documents: vec![doc.into()],
            variables: Default::default(),
        },
    )
    .await
    .unwrap()
    .id
}

async fn open_task(e: &MemoryEngine, wf: &str) -> Vec<String> {
    e.tasks(&admin(), TaskQuery::for_workflow(wf))
        .await
        .unwrap()
        .items
        .into_iter()
        .map(|t| t.id)
        .collect()
}

async fn events_of(e: &MemoryEngine, cx: &CallContext, doc: &str) -> Vec<Event> {
    e.events(cx, EventQuery::for_document(doc))
        .await
        .unwrap()
        .items
}

fn kinds(ev: &[Event]) -> Vec<&'static str> {
    ev.iter().map(|e| e.kind.as_str()).collect()
}

/// A serial review with two validators, both validating.
async fn serial_review(e: &MemoryEngine, doc: &str) -> String {
    let wf = start(e, "SerialDocumentReview", doc).await;
    let t = open_task(e, &wf).await;
    e.complete(
        &admin(),
        &t[0],
        done(
            "start_review",
            Some("please review"),
            json!({"participants": ["user:jdoe", "user:asmith"]}),
        ),
    )
    .await
    .unwrap();
    let t = open_task(e, &wf).await;
    e.complete(
        &user("jdoe"),
        &t[0],
        done("validate", Some("fine"), json!({})),
    )
    .await
    .unwrap();
    let t = open_task(e, &wf).await;
    e.complete(&user("asmith"), &t[0], done("validate", None, json!({})))
        .await
        .unwrap();
    wf
}

#[tokio::test]
async fn serial_review_emits_every_routing_event_once_in_order() {
    let e = MemoryEngine::builtin("local").unwrap();
    let wf = serial_review(&e, "doc-s").await;
    let ev = events_of(&e, &admin(), "doc-s").await;
    assert_eq!(
        kinds(&ev),
        vec![
            "afterWorkflowStarted",
            "afterWorkflowTaskCreated",
            "afterWorkflowTaskEnded",
            "afterWorkflowTaskCreated",
            "afterWorkflowTaskEnded",
            "afterWorkflowTaskCreated",
            "afterWorkflowTaskEnded",
            "afterWorkflowFinish",
        ]
    );
    let seqs: Vec<u64> = ev.iter().map(|e| e.seq).collect();
    assert_eq!(seqs, (1..=8).collect::<Vec<_>>());
    assert!(ev.iter().all(|x| x.workflow_id == wf
        && x.engine == "local"
        && x.model == "SerialDocumentReview"
        && x.documents == vec!["doc-s"]
        && x.initiator == "Administrator"
        && x.extended["modelName"] == json!("SerialDocumentReview")
        && x.extended["workflowInitiator"] == json!("Administrator")));
    assert_eq!(ev[0].id(), "local:1");
    let first_end = &ev[2];
    assert_eq!(first_end.principal, "Administrator");
    assert_eq!(first_end.action.as_deref(), Some("start_review"));
    assert_eq!(first_end.comment.as_deref(), Some("please review"));
    assert_eq!(first_end.extended["action"], json!("start_review"));
    assert_eq!(first_end.extended["taskActor"], json!("Administrator"));
    assert!(first_end.extended["timeSinceTaskStarted"].is_u64());
    let created = &ev[3];
    assert_eq!(created.actors, vec!["user:jdoe"]);
    assert!(created.task_id.is_some());
    assert_eq!(ev[4].principal, "jdoe");
    assert_eq!(ev[4].task_id, created.task_id);
    assert_eq!(ev[4].comment.as_deref(), Some("fine"));
    assert_eq!(ev[6].principal, "asmith");
    assert!(ev[7].extended["timeSinceWfStarted"].is_i64());
}

#[tokio::test]
async fn parallel_review_emits_one_created_and_ended_per_reviewer() {
    let e = MemoryEngine::builtin("local").unwrap();
    let wf = start(&e, "ParallelDocumentReview", "doc-p").await;
    let t = open_task(&e, &wf).await;
    e.complete(
        &admin(),
        &t[0],
        done(
            "start_review",
            None,
            json!({"participants": ["user:jdoe", "user:asmith"], "end_date": "2030-06-01T12:00:00.00Z"}),
        ),
    )
    .await
    .unwrap();
    let reviews = open_task(&e, &wf).await;
    assert_eq!(reviews.len(), 2);
    let ev = events_of(&e, &admin(), "doc-p").await;
    assert_eq!(
        kinds(&ev),
        vec![
            "afterWorkflowStarted",
            "afterWorkflowTaskCreated",
            "afterWorkflowTaskEnded",
            "afterWorkflowTaskCreated",
            "afterWorkflowTaskCreated",
        ]
    );
    let mut assignees: Vec<_> = ev[3..].iter().map(|x| x.actors.clone()).collect();
    assignees.sort();
    assert_eq!(
        assignees,
        vec![vec!["user:asmith".to_owned()], vec!["user:jdoe".to_owned()]]
    );
    for (id, who, action) in [
        (&reviews[0], "jdoe", "approve"),
        (&reviews[1], "asmith", "reject"),
    ] {
        e.complete(&user(who), id, done(action, Some("ok"), json!({})))
            .await
            .unwrap();
    }
    let cons = open_task(&e, &wf).await;
    e.complete(&admin(), &cons[0], done("validate", None, json!({})))
        .await
        .unwrap();
    let ev = events_of(&e, &admin(), "doc-p").await;
    assert_eq!(
        kinds(&ev)[5..],
        [
            "afterWorkflowTaskEnded",
            "afterWorkflowTaskEnded",
            "afterWorkflowTaskCreated",
            "afterWorkflowTaskEnded",
            "afterWorkflowFinish",
        ]
    );
    let ended: Vec<_> = ev
        .iter()
        .filter(|x| x.kind == EventKind::TaskEnded)
        .map(|x| (x.principal.as_str(), x.action.as_deref()))
        .collect();
    assert_eq!(
        ended,
        vec![
            ("Administrator", Some("start_review")),
            ("jdoe", Some("approve")),
            ("asmith", Some("reject")),
            ("Administrator", Some("validate")),
        ]
    );
    // Every event once: sequence numbers are distinct and increasing.
    assert!(ev.windows(2).all(|w| w[0].seq < w[1].seq));
}

#[tokio::test]
async fn refused_steps_emit_nothing_and_cancel_reassign_delegate_do() {
    let e = MemoryEngine::builtin("local").unwrap();
    let wf = start(&e, "SerialDocumentReview", "doc-r").await;
    let t = open_task(&e, &wf).await;
    let before = events_of(&e, &admin(), "doc-r").await.len();
    let bad = e
        .complete(&admin(), &t[0], done("no_such_button", None, json!({})))
        .await
        .unwrap_err();
    assert_eq!(bad.kind(), ErrorKind::BadRequest);
    let forbidden = e
        .complete(&user("mallory"), &t[0], done("cancel", None, json!({})))
        .await
        .unwrap_err();
    assert_eq!(forbidden.kind(), ErrorKind::Forbidden);
    assert_eq!(events_of(&e, &admin(), "doc-r").await.len(), before);

    e.complete(
        &admin(),
        &t[0],
        done("start_review", None, json!({"participants": ["user:jdoe"]})),
    )
    .await
    .unwrap();
    let conflict = e
        .complete(&admin(), &t[0], done("start_review", None, json!({})))
        .await
        .unwrap_err();
    assert_eq!(conflict.kind(), ErrorKind::Conflict);
    let t = open_task(&e, &wf).await;
    e.reassign(
        &admin(),
        &t[0],
        vec!["user:asmith".into()],
        Some("away".into()),
    )
    .await
    .unwrap();
    e.delegate(&user("asmith"), &t[0], vec!["user:bob".into()], None)
        .await
        .unwrap();
    e.cancel(&admin(), &wf).await.unwrap();
    let ev = events_of(&e, &admin(), "doc-r").await;
    assert_eq!(
        kinds(&ev)[before..],
        [
            "afterWorkflowTaskEnded",
            "afterWorkflowTaskCreated",
            "afterWorkflowTaskReassigned",
            "afterWorkflowTaskDelegated",
            "beforeWorkflowCanceled",
        ]
    );
    let reassigned = &ev[before + 2];
    assert_eq!(reassigned.actors, vec!["asmith"]);
    assert_eq!(reassigned.comment.as_deref(), Some("away"));
    assert_eq!(ev[before + 3].delegated, vec!["bob"]);
    assert_eq!(ev[before + 3].principal, "asmith");
}

#[tokio::test]
async fn callers_see_only_events_of_workflows_they_may_see_and_filters_apply() {
    let e = MemoryEngine::builtin("local").unwrap();
    serial_review(&e, "doc-v").await;
    let refused = e
        .events(&user("mallory"), EventQuery::for_document("doc-v"))
        .await
        .unwrap_err();
    assert_eq!(refused.kind(), ErrorKind::Forbidden);
    assert!(e
        .events(&user("mallory"), EventQuery::default())
        .await
        .unwrap()
        .items
        .is_empty());
    assert_eq!(events_of(&e, &user("jdoe"), "doc-v").await.len(), 8);
    let q = EventQuery {
        kinds: vec![EventKind::TaskEnded],
        principal: Some("jdoe".into()),
        ..EventQuery::for_document("doc-v")
    };
    let page = e.events(&admin(), q).await.unwrap();
    assert_eq!(page.total, 1);
    let q = EventQuery {
        page: flowgate_core::PageRequest::new(2, 3),
        ..EventQuery::for_document("doc-v")
    };
    let page = e.events(&admin(), q).await.unwrap();
    assert_eq!((page.total, page.items.len(), page.items[0].seq), (8, 3, 3));
    let q = EventQuery {
        after_seq: Some(6),
        ..EventQuery::default()
    };
    let page = e.events(&admin(), q).await.unwrap();
    assert_eq!(page.items.iter().map(|x| x.seq).collect::<Vec<_>>(), [7, 8]);
}

async fn durable_events_survive_reopen(threshold: u64) {
    let dir = tempfile::tempdir().unwrap();
    let mut opts = StorageOptions::durable(dir.path());
    opts.snapshot_threshold = threshold;
    let before = {
        let e = MemoryEngine::open("local", ModelSource::Builtin, opts.clone()).unwrap();
        serial_review(&e, "doc-d").await;
        let wf = start(&e, "SerialDocumentReview", "doc-d").await;
        let t = open_task(&e, &wf).await;
        // A refused completion writes nothing.
        let refused = e
            .complete(&admin(), &t[0], done("nope", None, json!({})))
            .await
            .unwrap_err();
        assert_eq!(refused.kind(), ErrorKind::BadRequest);
        events_of(&e, &admin(), "doc-d").await
    };
    assert_eq!(before.len(), 10);
    let e = MemoryEngine::open("local", ModelSource::Builtin, opts).unwrap();
    let after = events_of(&e, &admin(), "doc-d").await;
    assert_eq!(after, before);
    // Numbering goes on where it stopped.
    let wf = start(&e, "SerialDocumentReview", "doc-d2").await;
    let next = events_of(&e, &admin(), "doc-d2").await;
    assert_eq!(next[0].seq, 11, "{wf}");
}

#[tokio::test]
async fn durable_events_survive_a_reopen_from_the_log() {
    durable_events_survive_reopen(1_000_000).await;
}

#[tokio::test]
async fn durable_events_survive_a_reopen_after_folding() {
    // Threshold 1: the writer folds the log into the tables between commits.
    durable_events_survive_reopen(1).await;
}
