//! SerialDocumentReview observable runs (facade spec §9.1, runs A–D).

use flowgate_core::{
    CallContext, Completion, ErrorKind, StartWorkflow, Task, TaskQuery, TaskState, WorkflowEngine,
    WorkflowQuery, WorkflowState,
};
use flowgate_memory::MemoryEngine;
use serde_json::{json, Value};

fn admin() -> CallContext {
    CallContext::admin("Administrator")
}

fn user(name: &str) -> CallContext {
    CallContext::user(name, ["members"])
}

fn vars(v: Value) -> flowgate_core::Variables {
    v.as_object().cloned().unwrap_or_default()
}

async fn start(engine: &MemoryEngine) -> String {
    let wf = engine
        .start(
            &admin(),
            StartWorkflow {
                model: "SerialDocumentReview".into(),
                documents: vec!["doc-d".into()],
                variables: Default::default(),
            },
        )
        .await
        .unwrap();
    assert_eq!(wf.state, WorkflowState::Running);
    wf.id
}

async fn open_tasks(engine: &MemoryEngine, wf: &str) -> Vec<Task> {
    engine
        .tasks(&admin(), TaskQuery::for_workflow(wf))
        .await
        .unwrap()
        .items
}

async fn only_task(engine: &MemoryEngine, wf: &str) -> Task {
    let mut t = open_tasks(engine, wf).await;
    assert_eq!(t.len(), 1, "{t:#?}");
    t.remove(0)
}

async fn complete(
    engine: &MemoryEngine,
    cx: &CallContext,
    task: &str,
    action: &str,
    v: Value,
) -> Task {
    engine
        .complete(
            cx,
            task,
            Completion {
                action: action.into(),
                comment: None,
                variables: vars(v),
            },
        )
        .await
        .unwrap()
}

async fn index(engine: &MemoryEngine, wf: &str) -> Value {
    engine.workflow(&admin(), wf).await.unwrap().variables["index"].clone()
}

fn actions(t: &Task) -> Vec<&str> {
    t.info.actions.iter().map(|a| a.name.as_str()).collect()
}

#[tokio::test]
async fn run_a_two_validators_end_done() {
    let e = MemoryEngine::builtin("local").unwrap();
    let wf = start(&e).await;
    let t1 = only_task(&e, &wf).await;
    assert_eq!(t1.name, "wf.serialDocumentReview.chooseParticipants");
    assert_eq!(t1.node_id, "Task38e");
    assert_eq!(t1.actors, vec!["Administrator"]);
    assert_eq!(actions(&t1), vec!["cancel", "start_review"]);
    assert_eq!(
        t1.directive.as_deref(),
        Some("wf.serialDocumentReview.pleaseSelect")
    );
    assert!(!t1.info.allow_reassignment);
    assert_eq!(t1.target_documents, vec!["doc-d"]);
    assert_eq!(
        Value::Object(t1.variables.clone()),
        json!({"comment": null, "participants": [], "validationOrReview": "validation"})
    );
    let due = t1.due_date.unwrap() - t1.created;
    assert_eq!(due.num_days(), 5);

    let ended = complete(
        &e,
        &admin(),
        &t1.id,
        "start_review",
        json!({"participants": ["user:jdoe", "user:asmith"], "comment": "please review"}),
    )
    .await;
    assert_eq!(ended.state, TaskState::Ended);
    assert_eq!(ended.comments.len(), 1);
    let w = e.workflow(&admin(), &wf).await.unwrap();
    assert_eq!(w.variables["initiatorComment"], json!("please review"));

    let t2 = only_task(&e, &wf).await;
    assert_eq!(t2.node_id, "Task6d8");
    assert_eq!(t2.actors, vec!["user:jdoe"]);
    assert_eq!(actions(&t2), vec!["reject", "validate"]);
    assert!(t2.info.allow_reassignment);
    assert_eq!(index(&e, &wf).await, json!(0));
    assert_eq!(
        Value::Object(t2.variables.clone()),
        json!({"comment": null, "initiatorComment": "please review", "participants": ["user:jdoe", "user:asmith"]})
    );

    complete(&e, &user("jdoe"), &t2.id, "validate", json!({})).await;
    assert_eq!(index(&e, &wf).await, json!(1));
    let t3 = only_task(&e, &wf).await;
    assert_eq!(t3.actors, vec!["user:asmith"]);

    complete(&e, &user("asmith"), &t3.id, "validate", json!({})).await;
    let w = e.workflow(&admin(), &wf).await.unwrap();
    assert_eq!(w.state, WorkflowState::Done);
    assert_eq!(w.variables["index"], json!(2));
    assert!(open_tasks(&e, &wf).await.is_empty());
    let by_doc = WorkflowQuery {
        document: Some("doc-d".into()),
        ..Default::default()
    };
    assert_eq!(e.workflows(&admin(), by_doc).await.unwrap().total, 0);
    assert_eq!(e.stats().running_workflows, 0);
}

#[tokio::test]
async fn run_b_rejection_loop_goes_back_then_to_initiator() {
    let e = MemoryEngine::builtin("local").unwrap();
    let wf = start(&e).await;
    let t1 = only_task(&e, &wf).await;
    complete(
        &e,
        &admin(),
        &t1.id,
        "start_review",
        json!({"participants": ["user:jdoe", "user:asmith"]}),
    )
    .await;
    let t2 = only_task(&e, &wf).await;
    complete(&e, &user("jdoe"), &t2.id, "validate", json!({})).await;
    let t3 = only_task(&e, &wf).await;
    assert_eq!(t3.actors, vec!["user:asmith"]);

    complete(&e, &user("asmith"), &t3.id, "reject", json!({})).await;
    assert_eq!(index(&e, &wf).await, json!(0));
    let t4 = only_task(&e, &wf).await;
    assert_eq!(
        (t4.node_id.as_str(), t4.actors.clone()),
        ("Task6d8", vec!["user:jdoe".to_owned()])
    );

    complete(&e, &user("jdoe"), &t4.id, "reject", json!({})).await;
    assert_eq!(index(&e, &wf).await, json!(-1));
    let t5 = only_task(&e, &wf).await;
    assert_eq!(t5.node_id, "Task542");
    assert_eq!(t5.name, "wf.serialDocumentReview.updateRequest");
    assert_eq!(t5.actors, vec!["Administrator"]);
    assert_eq!(actions(&t5), vec!["cancel", "submit"]);

    complete(&e, &admin(), &t5.id, "submit", json!({})).await;
    assert_eq!(index(&e, &wf).await, json!(0));
    let t6 = only_task(&e, &wf).await;
    assert_eq!(
        (t6.node_id.as_str(), t6.actors.clone()),
        ("Task6d8", vec!["user:jdoe".to_owned()])
    );

    complete(&e, &user("jdoe"), &t6.id, "reject", json!({})).await;
    let t7 = only_task(&e, &wf).await;
    assert_eq!(t7.node_id, "Task542");
    complete(&e, &admin(), &t7.id, "cancel", json!({})).await;
    let w = e.workflow(&admin(), &wf).await.unwrap();
    assert_eq!(
        w.state,
        WorkflowState::Done,
        "the cancel button ends the workflow done, not canceled"
    );
    assert!(open_tasks(&e, &wf).await.is_empty());
}

#[tokio::test]
async fn run_c_single_participant_with_legacy_string_list() {
    let e = MemoryEngine::builtin("local").unwrap();
    let wf = start(&e).await;
    let t1 = only_task(&e, &wf).await;
    complete(
        &e,
        &admin(),
        &t1.id,
        "start_review",
        json!({"participants": "[\"user:Administrator\"]"}),
    )
    .await;
    let t2 = only_task(&e, &wf).await;
    assert_eq!(t2.actors, vec!["user:Administrator"]);
    complete(&e, &admin(), &t2.id, "validate", json!({})).await;
    assert_eq!(
        e.workflow(&admin(), &wf).await.unwrap().state,
        WorkflowState::Done
    );
}

#[tokio::test]
async fn run_d_cancel_button_ends_done_without_task() {
    let e = MemoryEngine::builtin("local").unwrap();
    let wf = start(&e).await;
    let t1 = only_task(&e, &wf).await;
    complete(&e, &admin(), &t1.id, "cancel", json!({})).await;
    assert_eq!(
        e.workflow(&admin(), &wf).await.unwrap().state,
        WorkflowState::Done
    );
    assert!(open_tasks(&e, &wf).await.is_empty());
}

#[tokio::test]
async fn start_review_without_participants_is_400_and_changes_nothing() {
    let e = MemoryEngine::builtin("local").unwrap();
    let wf = start(&e).await;
    let t1 = only_task(&e, &wf).await;
    let err = e
        .complete(
            &admin(),
            &t1.id,
            Completion {
                action: "start_review".into(),
                comment: Some("go".into()),
                variables: vars(json!({"participants": []})),
            },
        )
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::BadRequest, "{err}");
    let again = e.task(&admin(), &t1.id).await.unwrap();
    assert_eq!(again.state, TaskState::Opened);
    assert!(again.comments.is_empty());
    assert_eq!(again.variables["participants"], json!([]));
}

#[tokio::test]
async fn wrong_variable_type_is_400_naming_schema_and_field() {
    let e = MemoryEngine::builtin("local").unwrap();
    let wf = start(&e).await;
    let t1 = only_task(&e, &wf).await;
    let err = e
        .complete(
            &admin(),
            &t1.id,
            Completion {
                action: "start_review".into(),
                comment: None,
                variables: vars(json!({"participants": {"a": 1}})),
            },
        )
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::BadRequest);
    assert_eq!(
        err.message(),
        "Unable to deserialize property: var_SerialDocumentReview:participants"
    );
    let err = e
        .complete(
            &admin(),
            &t1.id,
            Completion {
                action: "start_review".into(),
                comment: None,
                variables: vars(json!({"comment": ["x"]})),
            },
        )
        .await
        .unwrap_err();
    assert_eq!(
        err.message(),
        "Unable to deserialize property: var_Task38e:comment"
    );
}

#[tokio::test]
async fn unknown_and_non_whitelisted_variables_are_ignored() {
    let e = MemoryEngine::builtin("local").unwrap();
    let wf = start(&e).await;
    let t1 = only_task(&e, &wf).await;
    // `initiatorComment` is a workflow variable Task38e may not write; `assignees` is unknown.
    complete(
        &e,
        &admin(),
        &t1.id,
        "start_review",
        json!({"participants": ["user:jdoe"], "initiatorComment": "sneaky", "assignees": ["x"], "end_date": "2024-01-01"}),
    )
    .await;
    let w = e.workflow(&admin(), &wf).await.unwrap();
    assert_eq!(w.variables["initiatorComment"], Value::Null);
    assert_eq!(w.variables["participants"], json!(["user:jdoe"]));
}

#[tokio::test]
async fn reassign_on_choose_participants_is_conflict() {
    let e = MemoryEngine::builtin("local").unwrap();
    let wf = start(&e).await;
    let t1 = only_task(&e, &wf).await;
    let err = e
        .reassign(&admin(), &t1.id, vec!["user:jdoe".into()], None)
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Conflict);
    assert!(
        err.message().contains("doesn't allow reassignment"),
        "{err}"
    );
}
