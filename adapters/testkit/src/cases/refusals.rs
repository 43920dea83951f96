//! Cases of what an engine refuses: unknown ids, wrong actors, ended tasks, unknown
//! actions, races, and what an outsider may not see.

use super::*;

/// Unknown ids are NotFound everywhere.
pub async fn unknown_ids_are_not_found(e: &dyn WorkflowEngine, f: &Fixture) {
    for id in [UNKNOWN_UUID, "no-such-id"] {
        let cx = &f.admin;
        expect_kind(f, "workflow", e.workflow(cx, id).await, ErrorKind::NotFound);
        expect_kind(f, "task", e.task(cx, id).await, ErrorKind::NotFound);
        expect_kind(f, "cancel", e.cancel(cx, id).await, ErrorKind::NotFound);
        let c = Completion {
            action: f.first_task.actions.first().cloned().unwrap_or_default(),
            ..Default::default()
        };
        expect_kind(
            f,
            "complete",
            e.complete(cx, id, c).await,
            ErrorKind::NotFound,
        );
        if e.info().capabilities.reassign {
            let r = e.reassign(cx, id, vec![f.spare.user.clone()], None).await;
            expect_kind(f, "reassign", r, ErrorKind::NotFound);
        }
        if e.info().capabilities.delegate {
            let r = e.delegate(cx, id, vec![f.spare.user.clone()], None).await;
            expect_kind(f, "delegate", r, ErrorKind::NotFound);
        }
        if e.info().capabilities.workflow_graph {
            expect_kind(
                f,
                "workflow graph",
                e.workflow_graph(cx, id).await,
                ErrorKind::NotFound,
            );
        }
        let q = TaskQuery::for_workflow(id);
        assert!(e
            .tasks(cx, q)
            .await
            .expect("tasks of unknown workflow")
            .items
            .is_empty());
    }
}

/// Someone neither assignee, initiator nor admin cannot complete.
pub async fn wrong_actor_is_forbidden(e: &dyn WorkflowEngine, f: &Fixture) {
    let wf = start(e, f).await;
    let step = f.approve_path.first().expect("approve path has a step");
    let t = task_for(e, f, &wf.id, f.user(step.who)).await;
    let r = e.complete(&f.outsider, &t.id, completion(step)).await;
    expect_kind(f, "outsider completes", r, ErrorKind::Forbidden);
    let again = e.task(&f.admin, &t.id).await.expect("task");
    assert_eq!(
        again.state,
        TaskState::Opened,
        "[{}] refused completion changed the task",
        f.label
    );
}

/// Completing an ended task is a Conflict.
pub async fn double_completion_is_conflict(e: &dyn WorkflowEngine, f: &Fixture) {
    let wf = start(e, f).await;
    let step = f.approve_path.first().expect("approve path has a step");
    let cx = f.user(step.who);
    let t = task_for(e, f, &wf.id, cx).await;
    e.complete(cx, &t.id, completion(step))
        .await
        .expect("first completion");
    let r = e.complete(cx, &t.id, completion(step)).await;
    expect_kind(f, "second completion", r, ErrorKind::Conflict);
}

/// An action that is not a button is a BadRequest and changes nothing.
pub async fn unknown_action_is_bad_request(e: &dyn WorkflowEngine, f: &Fixture) {
    let wf = start(e, f).await;
    let step = f.approve_path.first().expect("approve path has a step");
    let cx = f.user(step.who);
    let t = task_for(e, f, &wf.id, cx).await;
    let mut bad = completion(step);
    bad.action = f.invalid_action.clone();
    expect_kind(
        f,
        "unknown action",
        e.complete(cx, &t.id, bad).await,
        ErrorKind::BadRequest,
    );
    let again = e.task(&f.admin, &t.id).await.expect("task");
    assert_eq!(again.state, TaskState::Opened, "[{}]", f.label);
    assert_eq!(
        e.workflow(&f.admin, &wf.id).await.map(|w| w.state),
        Ok(WorkflowState::Running)
    );
    assert_eq!(
        open_tasks(e, f, &wf.id).await.len(),
        1,
        "[{}] no new task",
        f.label
    );
}

/// Of concurrent completions of one task exactly one wins; the others are Conflicts.
pub async fn concurrent_completions_one_wins(e: &dyn WorkflowEngine, f: &Fixture) {
    let wf = start(e, f).await;
    let step = f.approve_path.first().expect("approve path has a step");
    let cx = f.user(step.who);
    let t = task_for(e, f, &wf.id, cx).await;
    let attempts = (0..8).map(|_| e.complete(cx, &t.id, completion(step)));
    let results = futures::future::join_all(attempts).await;
    let ok = results.iter().filter(|r| r.is_ok()).count();
    assert_eq!(
        ok, 1,
        "[{}] exactly one completion wins: {results:?}",
        f.label
    );
    for r in results.iter().filter_map(|r| r.as_ref().err()) {
        assert_eq!(
            r.kind(),
            ErrorKind::Conflict,
            "[{}] losers get Conflict: {r:?}",
            f.label
        );
    }
}

/// An outsider sees neither the workflow nor its tasks.
pub async fn outsider_sees_nothing(e: &dyn WorkflowEngine, f: &Fixture) {
    let wf = start(e, f).await;
    let tasks = open_tasks(e, f, &wf.id).await;
    let o = &f.outsider;
    let mine = e
        .tasks(o, TaskQuery::default())
        .await
        .expect("outsider's visible tasks");
    assert!(
        !mine
            .items
            .iter()
            .any(|t| t.workflow_id.as_deref() == Some(wf.id.as_str())),
        "[{}]",
        f.label
    );
    let q = TaskQuery::for_workflow(&wf.id);
    assert!(
        e.tasks(o, q).await.expect("by workflow").items.is_empty(),
        "[{}]",
        f.label
    );
    let q = TaskQuery::for_actor(f.initiator.user.clone(), f.initiator.groups.clone());
    let theirs = e.tasks(o, q).await.expect("someone else's tasks");
    assert!(
        !theirs
            .items
            .iter()
            .any(|t| t.workflow_id.as_deref() == Some(wf.id.as_str())),
        "[{}]",
        f.label
    );
    for t in &tasks {
        let r = e.task(o, &t.id).await.map(|t| t.id);
        assert!(
            matches!(&r, Err(err) if matches!(err.kind(), ErrorKind::Forbidden | ErrorKind::NotFound)),
            "[{}] outsider reads a task: {r:?}",
            f.label
        );
    }
    let r = e.workflow(o, &wf.id).await.map(|w| w.id);
    assert!(
        matches!(&r, Err(err) if matches!(err.kind(), ErrorKind::Forbidden | ErrorKind::NotFound)),
        "[{}] outsider reads the workflow: {r:?}",
        f.label
    );
    let all = e
        .workflows(o, WorkflowQuery::default())
        .await
        .expect("outsider's workflows");
    assert!(!all.items.iter().any(|w| w.id == wf.id), "[{}]", f.label);
}
