//! Concurrency, fork/merge, documents, queries and stats of the embedded engine.

use std::sync::Arc;

use flowgate_core::{
    CallContext, Completion, DocLocator, ErrorKind, PageRequest, StartWorkflow, TaskQuery,
    TaskState, WorkflowEngine, WorkflowQuery, WorkflowState,
};
use flowgate_memory::MemoryEngine;
use serde_json::json;

fn admin() -> CallContext {
    CallContext::admin("Administrator")
}

fn start_req(model: &str, doc: &str) -> StartWorkflow {
    StartWorkflow {
        model: model.into(),
        documents: vec![doc.into()],
        variables: Default::default(),
    }
}

#[test]
fn many_threads_completing_one_task_exactly_one_wins() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let engine = Arc::new(MemoryEngine::builtin("local").unwrap());
    let (wf, task) = rt.block_on(async {
        let wf = engine
            .start(&admin(), start_req("SerialDocumentReview", "d"))
            .await
            .unwrap();
        let t = engine
            .tasks(&admin(), TaskQuery::for_workflow(&wf.id))
            .await
            .unwrap()
            .items
            .remove(0);
        (wf.id, t.id)
    });
    let barrier = Arc::new(std::sync::Barrier::new(16));
    let handles: Vec<_> = (0..16)
        .map(|_| {
            let engine = engine.clone();
            let task = task.clone();
            let barrier = barrier.clone();
            std::thread::spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .build()
                    .unwrap();
                barrier.wait();
                rt.block_on(
                    engine.complete(
                        &admin(),
                        &task,
                        Completion {
                            action: "start_review".into(),
                            comment: Some("go".into()),
                            variables: json!({"participants": ["user:jdoe"]})
                                .as_object()
                                .cloned()
                                .unwrap(),
                        },
                    ),
                )
            })
        })
        .collect();
    let results: Vec<_> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    assert_eq!(
        results.iter().filter(|r| r.is_ok()).count(),
        1,
        "{results:?}"
    );
    for r in results.iter().filter_map(|r| r.as_ref().err()) {
        assert_eq!(r.kind(), ErrorKind::Conflict);
        assert_eq!(
            r.message(),
            "The task 'wf.serialDocumentReview.chooseParticipants' is not active"
        );
    }
    rt.block_on(async {
        let open = engine
            .tasks(&admin(), TaskQuery::for_workflow(&wf))
            .await
            .unwrap();
        assert_eq!(open.total, 1, "the workflow advanced exactly once");
        assert_eq!(open.items[0].node_id, "Task6d8");
        let t = engine.task(&admin(), &task).await.unwrap();
        assert_eq!(t.comments.len(), 1, "one comment recorded");
    });
}

#[tokio::test]
async fn fork_runs_branches_and_merge_waits_for_all() {
    let dir = tempfile::tempdir().unwrap();
    let model = json!({
        "name": "ForkJoin",
        "title": "wf.forkJoin",
        "nodes": [
            {"id": "s", "title": "Start", "start": true, "transitions": [
                {"name": "toA", "target": "a"}, {"name": "toB", "target": "b"}]},
            {"id": "a", "title": "A", "task": {"assignees": "'user:alice'", "buttons": [{"name": "done", "label": "d"}]},
             "transitions": [{"name": "aj", "condition": "button == 'done'", "target": "join"}]},
            {"id": "b", "title": "B", "task": {"staticAssignees": ["bob"], "buttons": [{"name": "done", "label": "d"}]},
             "transitions": [{"name": "bj", "condition": "button == 'done'", "target": "join"}]},
            {"id": "join", "title": "Join", "merge": "all", "transitions": [{"name": "end", "target": "e"}]},
            {"id": "e", "title": "Stop", "stop": true}
        ]
    });
    std::fs::write(dir.path().join("fork.json"), model.to_string()).unwrap();
    let e = MemoryEngine::from_dir("local", dir.path()).unwrap();
    let wf = e.start(&admin(), start_req("ForkJoin", "d")).await.unwrap();
    let tasks = e
        .tasks(&admin(), TaskQuery::for_workflow(&wf.id))
        .await
        .unwrap()
        .items;
    assert_eq!(tasks.len(), 2, "both branches hold a task");
    let done = |id: String| {
        let e = &e;
        async move {
            e.complete(
                &admin(),
                &id,
                Completion {
                    action: "done".into(),
                    ..Default::default()
                },
            )
            .await
            .unwrap()
        }
    };
    done(tasks[0].id.clone()).await;
    assert_eq!(
        e.workflow(&admin(), &wf.id).await.unwrap().state,
        WorkflowState::Running
    );
    let g = e.workflow_graph(&admin(), &wf.id).await.unwrap();
    let join = g.nodes.iter().find(|n| n.id == "join").unwrap();
    assert_eq!(join.state, flowgate_core::NodeState::Waiting);
    assert!(join.merge);
    done(tasks[1].id.clone()).await;
    assert_eq!(
        e.workflow(&admin(), &wf.id).await.unwrap().state,
        WorkflowState::Done
    );
}

#[tokio::test]
async fn document_paths_map_to_stable_ids_and_back() {
    let e = MemoryEngine::builtin("local").unwrap();
    let cx = admin();
    let a = e
        .document(&cx, &DocLocator::Path("/default-domain/ws/note".into()))
        .await
        .unwrap();
    let b = e
        .document(&cx, &DocLocator::Path("/default-domain/ws/note".into()))
        .await
        .unwrap();
    assert_eq!(a.id, b.id);
    assert!(uuid::Uuid::parse_str(&a.id).is_ok());
    let by_id = e
        .document(&cx, &DocLocator::Id(a.id.clone()))
        .await
        .unwrap();
    assert_eq!(by_id.path.as_deref(), Some("/default-domain/ws/note"));
    let other = e
        .document(&cx, &DocLocator::Id("opaque".into()))
        .await
        .unwrap();
    assert_eq!((other.id.as_str(), other.path), ("opaque", None));
    let caps = e.info().capabilities;
    assert!(
        caps.reassign
            && caps.delegate
            && caps.model_graph
            && caps.workflow_graph
            && caps.document_paths
    );
    assert!(!caps.suspend_resume && !caps.document_store);
}

#[tokio::test]
async fn model_filter_matches_numbered_instance_names() {
    let e = MemoryEngine::builtin("local").unwrap();
    let w1 = e
        .start(&admin(), start_req("SerialDocumentReview", "d"))
        .await
        .unwrap();
    let w2 = e
        .start(&admin(), start_req("SerialDocumentReview", "d"))
        .await
        .unwrap();
    assert_eq!(w1.name, "SerialDocumentReview");
    assert_eq!(w2.name, "SerialDocumentReview.2");
    assert_eq!(w2.model_name, "SerialDocumentReview");
    let q = TaskQuery {
        model_name: Some("SerialDocumentReview".into()),
        ..Default::default()
    };
    assert_eq!(e.tasks(&admin(), q).await.unwrap().total, 2);
    let q = TaskQuery {
        model_name: Some("Serial".into()),
        ..Default::default()
    };
    assert_eq!(e.tasks(&admin(), q).await.unwrap().total, 0);
}

#[tokio::test]
async fn tasks_are_ordered_by_due_date_then_creation() {
    let e = MemoryEngine::builtin("local").unwrap();
    // Parallel choose-participants is due in one day, Serial's in five.
    let s = e
        .start(&admin(), start_req("SerialDocumentReview", "d"))
        .await
        .unwrap();
    let p = e
        .start(&admin(), start_req("ParallelDocumentReview", "d"))
        .await
        .unwrap();
    let page = e.tasks(&admin(), TaskQuery::default()).await.unwrap();
    let order: Vec<_> = page
        .items
        .iter()
        .map(|t| t.workflow_id.clone().unwrap())
        .collect();
    assert_eq!(order, vec![p.id, s.id]);
}

#[tokio::test]
async fn group_assignees_and_delegation_are_found_by_actor_queries() {
    let e = MemoryEngine::builtin("local").unwrap();
    let wf = e
        .start(&admin(), start_req("SerialDocumentReview", "d"))
        .await
        .unwrap();
    let t1 = e
        .tasks(&admin(), TaskQuery::for_workflow(&wf.id))
        .await
        .unwrap()
        .items
        .remove(0);
    e.complete(
        &admin(),
        &t1.id,
        Completion {
            action: "start_review".into(),
            variables: json!({"participants": ["group:reviewers"]})
                .as_object()
                .cloned()
                .unwrap(),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let carol = CallContext::user("carol", ["reviewers"]);
    let mine = e
        .tasks(&carol, TaskQuery::for_actor("carol", ["reviewers"]))
        .await
        .unwrap();
    assert_eq!(mine.total, 1);
    let t2 = &mine.items[0];
    assert_eq!(t2.actors, vec!["group:reviewers"]);
    e.delegate(
        &carol,
        &t2.id,
        vec!["user:dave".into(), "dave".into()],
        Some("help".into()),
    )
    .await
    .unwrap();
    let dave = CallContext::user("dave", Vec::<String>::new());
    let his = e
        .tasks(&dave, TaskQuery::for_actor("dave", Vec::<String>::new()))
        .await
        .unwrap();
    assert_eq!(his.total, 1);
    assert_eq!(his.items[0].delegated_actors, vec!["dave"]);
    e.complete(
        &dave,
        &t2.id,
        Completion {
            action: "validate".into(),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    assert_eq!(
        e.workflow(&admin(), &wf.id).await.unwrap().state,
        WorkflowState::Done
    );
    assert_eq!(
        e.tasks(&dave, TaskQuery::for_actor("dave", Vec::<String>::new()))
            .await
            .unwrap()
            .total,
        0
    );
}

#[tokio::test]
async fn powerusers_may_cancel_and_done_workflows_can_be_canceled() {
    let e = MemoryEngine::builtin("local").unwrap();
    let wf = e
        .start(
            &CallContext::user("jsmith", ["members"]),
            start_req("SerialDocumentReview", "d"),
        )
        .await
        .unwrap();
    // Membership alone grants nothing: the gateway sets the flag from its settings.
    let mut pu = CallContext::user("paul", ["powerusers"]);
    assert!(e.cancel(&pu, &wf.id).await.is_err());
    pu.poweruser = true;
    e.cancel(&pu, &wf.id).await.unwrap();
    assert_eq!(
        e.workflow(&admin(), &wf.id).await.unwrap().state,
        WorkflowState::Canceled
    );

    let wf = e
        .start(&admin(), start_req("SerialDocumentReview", "d"))
        .await
        .unwrap();
    let t = e
        .tasks(&admin(), TaskQuery::for_workflow(&wf.id))
        .await
        .unwrap()
        .items
        .remove(0);
    e.complete(
        &admin(),
        &t.id,
        Completion {
            action: "cancel".into(),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    assert_eq!(
        e.workflow(&admin(), &wf.id).await.unwrap().state,
        WorkflowState::Done
    );
    e.cancel(&admin(), &wf.id).await.unwrap();
    assert_eq!(
        e.workflow(&admin(), &wf.id).await.unwrap().state,
        WorkflowState::Canceled
    );
    let ended = e.task(&admin(), &t.id).await.unwrap();
    assert_eq!(ended.state, TaskState::Ended, "ended tasks stay ended");
}

#[tokio::test]
async fn task_initiator_may_complete_the_task_they_caused() {
    let e = MemoryEngine::builtin("local").unwrap();
    let jsmith = CallContext::user("jsmith", ["members"]);
    let wf = e
        .start(&jsmith, start_req("SerialDocumentReview", "d"))
        .await
        .unwrap();
    let t1 = e
        .tasks(&jsmith, TaskQuery::for_workflow(&wf.id))
        .await
        .unwrap()
        .items
        .remove(0);
    e.complete(
        &jsmith,
        &t1.id,
        Completion {
            action: "start_review".into(),
            variables: json!({"participants": ["user:jdoe"]})
                .as_object()
                .cloned()
                .unwrap(),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let t2 = e
        .tasks(&jsmith, TaskQuery::for_workflow(&wf.id))
        .await
        .unwrap()
        .items
        .remove(0);
    assert_eq!(t2.initiator.as_deref(), Some("jsmith"));
    let other = CallContext::user("eve", ["members"]);
    let err = e
        .complete(
            &other,
            &t2.id,
            Completion {
                action: "validate".into(),
                ..Default::default()
            },
        )
        .await
        .unwrap_err();
    assert_eq!(err.message(), "User with id 'eve' cannot end this task");
    e.complete(
        &jsmith,
        &t2.id,
        Completion {
            action: "validate".into(),
            ..Default::default()
        },
    )
    .await
    .unwrap();
}

#[tokio::test]
async fn stats_count_running_workflows_and_open_tasks() {
    let e = MemoryEngine::builtin("local").unwrap();
    for _ in 0..3 {
        e.start(&admin(), start_req("ParallelDocumentReview", "d"))
            .await
            .unwrap();
    }
    let wf = e
        .start(&admin(), start_req("SerialDocumentReview", "d"))
        .await
        .unwrap();
    let s = e.stats();
    assert_eq!((s.running_workflows, s.open_tasks), (4, 4));
    e.cancel(&admin(), &wf.id).await.unwrap();
    let s = e.stats();
    assert_eq!((s.running_workflows, s.open_tasks), (3, 3));
    let q = WorkflowQuery {
        page: PageRequest::new(0, 2),
        ..Default::default()
    };
    let p = e.workflows(&admin(), q).await.unwrap();
    assert_eq!((p.items.len(), p.total), (2, 3));
}

#[tokio::test]
async fn runtime_expression_error_is_an_error_and_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let model = json!({
        "name": "Faulty",
        "title": "wf.faulty",
        "variables": [{"name": "count", "type": "integer", "default": 0}],
        "nodes": [
            {"id": "s", "title": "Start", "start": true, "transitions": [{"name": "go", "target": "t"}]},
            {"id": "t", "title": "T", "task": {"assignees": "initiator", "buttons": [{"name": "ok", "label": "o"}]},
             "output": [{"set": "WorkflowVariables.count", "value": "'not a number'"}],
             "transitions": [{"name": "end", "condition": "button == 'ok'", "target": "e"}]},
            {"id": "e", "title": "Stop", "stop": true}
        ]
    });
    std::fs::write(dir.path().join("faulty.json"), model.to_string()).unwrap();
    let e = MemoryEngine::from_dir("local", dir.path()).unwrap();
    let wf = e.start(&admin(), start_req("Faulty", "d")).await.unwrap();
    let t = e
        .tasks(&admin(), TaskQuery::for_workflow(&wf.id))
        .await
        .unwrap()
        .items
        .remove(0);
    let err = e
        .complete(
            &admin(),
            &t.id,
            Completion {
                action: "ok".into(),
                comment: Some("c".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::BadRequest);
    assert!(err.message().contains("count"), "{err}");
    let again = e.task(&admin(), &t.id).await.unwrap();
    assert_eq!(again.state, TaskState::Opened);
    assert!(again.comments.is_empty());
    let w = e.workflow(&admin(), &wf.id).await.unwrap();
    assert_eq!(
        (w.state, w.variables["count"].clone()),
        (WorkflowState::Running, json!(0))
    );
}

#[tokio::test]
async fn escalation_job_runs_in_the_background() {
    let e = Arc::new(MemoryEngine::builtin("local").unwrap());
    let wf = e
        .start(&admin(), start_req("ParallelDocumentReview", "d"))
        .await
        .unwrap();
    let t = e
        .tasks(&admin(), TaskQuery::for_workflow(&wf.id))
        .await
        .unwrap()
        .items
        .remove(0);
    e.complete(
        &admin(),
        &t.id,
        Completion {
            action: "start_review".into(),
            variables: json!({"participants": ["user:jdoe"], "end_date": "2001-01-01"})
                .as_object()
                .cloned()
                .unwrap(),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let job = e.spawn_escalations(std::time::Duration::from_millis(10));
    let mut node = String::new();
    for _ in 0..200 {
        let open = e
            .tasks(&admin(), TaskQuery::for_workflow(&wf.id))
            .await
            .unwrap()
            .items;
        node = open.first().map(|t| t.node_id.clone()).unwrap_or_default();
        if node == "Task2169" {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    job.abort();
    assert_eq!(
        node, "Task2169",
        "the overdue review moved on to consolidation"
    );
}
