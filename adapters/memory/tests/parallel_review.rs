//! ParallelDocumentReview observable run (seed 002 scenario, facade spec §9.2).

use flowgate_core::{
    CallContext, Completion, NodeState, StartWorkflow, Task, TaskQuery, TaskState, WorkflowEngine,
    WorkflowState,
};
use flowgate_memory::MemoryEngine;
use serde_json::{json, Value};

fn admin() -> CallContext {
    CallContext::admin("Administrator")
}

fn vars(v: Value) -> flowgate_core::Variables {
    v.as_object().cloned().unwrap_or_default()
}

async fn open(e: &MemoryEngine, wf: &str) -> Vec<Task> {
    e.tasks(&admin(), TaskQuery::for_workflow(wf))
        .await
        .unwrap()
        .items
}

async fn done_with(
    e: &MemoryEngine,
    cx: &CallContext,
    id: &str,
    action: &str,
    comment: Option<&str>,
    v: Value,
) -> Task {
    e.complete(
        cx,
        id,
        Completion {
            action: action.into(),
            comment: comment.map(str::to_owned),
            variables: vars(v),
        },
    )
    .await
    .unwrap()
}

async fn start_and_choose(e: &MemoryEngine, participants: Value) -> (String, Vec<Task>) {
    let wf = e
        .start(
            &admin(),
            StartWorkflow {
                model: "ParallelDocumentReview".into(),
                documents: vec!["doc-d".into()],
                variables: Default::default(),
            },
        )
        .await
        .unwrap();
    let t1 = open(e, &wf.id).await;
    assert_eq!(t1.len(), 1);
    let t1 = &t1[0];
    assert_eq!(t1.node_id, "Task2556");
    assert_eq!(
        t1.name,
        "wf.parallelDocumentReview.chooseParticipants.title"
    );
    assert_eq!(t1.actors, vec!["Administrator"]);
    assert_eq!(
        (t1.due_date.unwrap() - t1.created).num_hours(),
        24,
        "due tomorrow"
    );
    assert_eq!(
        Value::Object(t1.variables.clone()),
        json!({"assignees": [], "comment": null, "end_date": null, "participants": []})
    );
    done_with(
        e,
        &admin(),
        &t1.id,
        "start_review",
        None,
        json!({"comment": "please review", "participants": participants, "end_date": "2030-06-01T12:00:00.00Z"}),
    )
    .await;
    let w = e.workflow(&admin(), &wf.id).await.unwrap();
    assert_eq!(w.variables["initiatorComment"], json!("please review"));
    assert_eq!(w.variables["end_date"], json!("2030-06-01T12:00:00.000Z"));
    let reviews = open(e, &wf.id).await;
    (wf.id, reviews)
}

#[tokio::test]
async fn seed_002_run_one_task_per_participant_then_consolidation() {
    let e = MemoryEngine::builtin("local").unwrap();
    let (wf, reviews) = start_and_choose(&e, json!("[\"user:jdoe\",\"user:asmith\"]")).await;
    assert_eq!(reviews.len(), 2);
    for (t, who) in reviews.iter().zip(["user:jdoe", "user:asmith"]) {
        assert_eq!(t.node_id, "Task328d");
        assert_eq!(t.actors, vec![who]);
        let names: Vec<&str> = t.info.actions.iter().map(|a| a.name.as_str()).collect();
        assert_eq!(names, vec!["NA", "approve", "reject"]);
        assert_eq!(
            t.due_date.map(flowgate_memory::format_date).as_deref(),
            Some("2030-06-01T12:00:00.000Z")
        );
        assert_eq!(
            Value::Object(t.variables.clone()),
            json!({"assignees": [], "comment": null, "initiatorComment": "please review"})
        );
    }
    let jdoe = CallContext::user("jdoe", ["members"]);
    let asmith = CallContext::user("asmith", ["members"]);
    let first = done_with(
        &e,
        &jdoe,
        &reviews[0].id,
        "approve",
        Some("looks good"),
        json!({}),
    )
    .await;
    assert_eq!(first.comments[0].text.as_deref(), Some("looks good"));
    assert_eq!(first.variables["comment"], json!("looks good"));
    let left = open(&e, &wf).await;
    assert_eq!(
        left.len(),
        1,
        "the other reviewer's task stays open, nothing else appears"
    );
    assert_eq!(left[0].id, reviews[1].id);
    assert_eq!(
        left[0].variables["comment"],
        Value::Null,
        "the next reviewer starts clean"
    );

    done_with(
        &e,
        &asmith,
        &reviews[1].id,
        "reject",
        Some("typos"),
        json!({}),
    )
    .await;
    let cons = open(&e, &wf).await;
    assert_eq!(cons.len(), 1);
    let c = &cons[0];
    assert_eq!(c.node_id, "Task2169");
    assert_eq!(c.actors, vec!["Administrator"]);
    let names: Vec<&str> = c.info.actions.iter().map(|a| a.name.as_str()).collect();
    assert_eq!(names, vec!["reject", "validate"]);
    let summary = c.variables["review_result"].as_str().unwrap().to_owned();
    assert!(summary.contains("jdoe: approve - looks good"), "{summary}");
    assert!(summary.contains("asmith: reject - typos"), "{summary}");
    assert!(
        !c.variables.contains_key("participants"),
        "only review_result is visible"
    );

    done_with(&e, &admin(), &c.id, "validate", None, json!({})).await;
    let w = e.workflow(&admin(), &wf).await.unwrap();
    assert_eq!(w.state, WorkflowState::Done);
    assert!(open(&e, &wf).await.is_empty());
}

#[tokio::test]
async fn rest_it_terminate_parallel_review_and_second_start_review_conflicts() {
    let e = MemoryEngine::builtin("local").unwrap();
    let wf = e
        .start(
            &admin(),
            StartWorkflow {
                model: "ParallelDocumentReview".into(),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let t1 = open(&e, &wf.id).await.remove(0);
    done_with(
        &e,
        &admin(),
        &t1.id,
        "start_review",
        None,
        json!({"participants": ["user:Administrator"]}),
    )
    .await;
    let r = open(&e, &wf.id).await.remove(0);
    assert_eq!(r.due_date, None, "no end_date, no due date");
    done_with(&e, &admin(), &r.id, "approve", None, json!({})).await;
    let c = open(&e, &wf.id).await.remove(0);
    done_with(&e, &admin(), &c.id, "validate", None, json!({})).await;
    assert_eq!(
        e.workflow(&admin(), &wf.id).await.unwrap().state,
        WorkflowState::Done
    );
    let again = e
        .complete(
            &admin(),
            &t1.id,
            Completion {
                action: "start_review".into(),
                ..Default::default()
            },
        )
        .await
        .unwrap_err();
    assert_eq!(again.kind(), flowgate_core::ErrorKind::Conflict);
    assert_eq!(
        again.message(),
        "The task 'wf.parallelDocumentReview.chooseParticipants.title' is not active"
    );
}

#[tokio::test]
async fn instance_graph_marks_waiting_reviews_suspended() {
    let e = MemoryEngine::builtin("local").unwrap();
    let (wf, _) = start_and_choose(&e, json!(["user:jdoe"])).await;
    let g = e.workflow_graph(&admin(), &wf).await.unwrap();
    let state = |id: &str| g.nodes.iter().find(|n| n.id == id).map(|n| n.state);
    assert_eq!(state("Task328d"), Some(NodeState::Suspended));
    assert_eq!(state("Task2556"), Some(NodeState::Ready));
    let multi = g.nodes.iter().find(|n| n.id == "Task328d").unwrap();
    assert!(multi.multi_task);
    assert_eq!(g.transitions.len(), 6);
    let label = |s: &str, t: &str| {
        g.transitions
            .iter()
            .find(|x| x.source == s && x.target == t)
            .map(|x| x.label.clone())
    };
    assert_eq!(
        label("Task2556", "Task328d").as_deref(),
        Some("Review start")
    );
    assert_eq!(label("Task328d", "Task2169").as_deref(), Some(""));
    e.cancel(&admin(), &wf).await.unwrap();
    let g = e.workflow_graph(&admin(), &wf).await.unwrap();
    assert!(g.nodes.iter().all(|n| n.state == NodeState::Canceled));
}

#[tokio::test]
async fn model_graph_has_spec_nodes_titles_and_coordinates() {
    let e = MemoryEngine::builtin("local").unwrap();
    let g = e
        .model_graph(&admin(), "SerialDocumentReview")
        .await
        .unwrap();
    let ids: Vec<(&str, &str, i64, i64)> = g
        .nodes
        .iter()
        .map(|n| (n.id.as_str(), n.title.as_str(), n.x, n.y))
        .collect();
    assert_eq!(
        ids,
        vec![
            ("Task375f", "Start", 440, 0),
            ("Task38e", "Choose Participants", 420, 100),
            ("Task6d8", "Validate the Document", 240, 280),
            ("Task542", "Update the Document", 620, 280),
            ("Task5c1", "Stop", 420, 620),
        ]
    );
    assert!(g.nodes[0].start && g.nodes[4].end);
    assert_eq!(g.transitions.len(), 9);
    let m = e.model(&admin(), "SerialDocumentReview").await.unwrap();
    assert_eq!(
        Value::Object(m.default_variables()),
        json!({"index": 0, "initiatorComment": null, "participants": [], "validationOrReview": "validation"})
    );
    let p = e.model(&admin(), "ParallelDocumentReview").await.unwrap();
    assert_eq!(
        Value::Object(p.default_variables()),
        json!({"end_date": null, "initiatorComment": null, "participants": [], "review_result": null, "review_result_file": null, "validationOrReview": null})
    );
}

#[tokio::test]
async fn escalation_forces_overdue_review_to_consolidation() {
    let e = MemoryEngine::builtin("local").unwrap();
    let wf = e
        .start(
            &admin(),
            StartWorkflow {
                model: "ParallelDocumentReview".into(),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let t1 = open(&e, &wf.id).await.remove(0);
    done_with(
        &e,
        &admin(),
        &t1.id,
        "start_review",
        None,
        json!({"participants": ["user:jdoe", "user:asmith"], "end_date": "2020-01-01"}),
    )
    .await;
    let reviews = open(&e, &wf.id).await;
    assert_eq!(reviews.len(), 2);
    assert_eq!(e.run_escalations(), 1);
    assert_eq!(e.run_escalations(), 0, "a rule runs once");
    let now = open(&e, &wf.id).await;
    assert_eq!(now.len(), 1);
    assert_eq!(now[0].node_id, "Task2169");
    for r in reviews {
        assert_eq!(
            e.task(&admin(), &r.id).await.unwrap().state,
            TaskState::Cancelled
        );
    }
}

#[tokio::test]
async fn escalation_leaves_reviews_before_deadline_alone() {
    let e = MemoryEngine::builtin("local").unwrap();
    let (wf, reviews) = start_and_choose(&e, json!(["user:jdoe"])).await;
    assert_eq!(e.run_escalations(), 0);
    assert_eq!(open(&e, &wf).await[0].id, reviews[0].id);
}
