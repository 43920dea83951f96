//! The conformance cases. Each starts its own workflows, so cases do not depend on
//! each other; assertions say which fixture and what was expected.

use flowgate_core::{
    ActorFilter, CallContext, Completion, EngineError, ErrorKind, NodeState, PageRequest,
    StartWorkflow, Task, TaskQuery, TaskState, WorkflowEngine, WorkflowInstance, WorkflowQuery,
    WorkflowState,
};

use crate::{Fixture, Step};

pub use crate::sorting::lists_follow_the_requested_sort;

/// A well-formed id no engine hands out.
const UNKNOWN_UUID: &str = "00000000-0000-4000-8000-00000000dead";

fn filter_of(cx: &CallContext) -> ActorFilter {
    ActorFilter {
        user: cx.user.clone(),
        groups: cx.groups.clone(),
    }
}

fn expect_kind<T: std::fmt::Debug>(
    f: &Fixture,
    what: &str,
    r: Result<T, EngineError>,
    kind: ErrorKind,
) {
    match r {
        Err(e) => assert_eq!(
            e.kind(),
            kind,
            "[{}] {what}: expected {kind:?}, got {e:?}",
            f.label
        ),
        Ok(v) => panic!("[{}] {what}: expected {kind:?}, got Ok({v:?})", f.label),
    }
}

/// Starts the fixture's model as its initiator.
pub async fn start(e: &dyn WorkflowEngine, f: &Fixture) -> WorkflowInstance {
    let req = StartWorkflow {
        model: f.model.clone(),
        documents: vec![f.document.clone()],
        variables: f.start_variables.clone(),
    };
    match e.start(&f.initiator, req).await {
        Ok(wf) => wf,
        Err(err) => panic!("[{}] start {}: {err:?}", f.label, f.model),
    }
}

/// Open tasks of one workflow, as the administrator sees them.
pub async fn open_tasks(e: &dyn WorkflowEngine, f: &Fixture, wf: &str) -> Vec<Task> {
    match e.tasks(&f.admin, TaskQuery::for_workflow(wf)).await {
        Ok(p) => p.items,
        Err(err) => panic!("[{}] tasks of workflow {wf}: {err:?}", f.label),
    }
}

/// The workflow's open task assigned (or delegated) to `cx`.
pub async fn task_for(e: &dyn WorkflowEngine, f: &Fixture, wf: &str, cx: &CallContext) -> Task {
    let tasks = open_tasks(e, f, wf).await;
    let me = filter_of(cx);
    let found = tasks
        .iter()
        .find(|t| {
            t.actors
                .iter()
                .chain(t.delegated_actors.iter())
                .any(|a| me.matches(a))
        })
        .cloned();
    found.unwrap_or_else(|| {
        panic!(
            "[{}] no open task of {wf} for '{}' among {tasks:#?}",
            f.label, cx.user
        )
    })
}

fn completion(step: &Step) -> Completion {
    Completion {
        action: step.action.clone(),
        comment: step.comment.clone(),
        variables: step.variables.clone(),
    }
}

/// Performs one step and checks the completed task is `ended`.
pub async fn perform(e: &dyn WorkflowEngine, f: &Fixture, wf: &str, i: usize, step: &Step) {
    let cx = f.user(step.who);
    let t = task_for(e, f, wf, cx).await;
    match e.complete(cx, &t.id, completion(step)).await {
        Ok(done) => {
            assert_eq!(
                done.state,
                TaskState::Ended,
                "[{}] step {i} ({}): task not ended",
                f.label,
                step.action
            );
            assert_eq!(
                done.id, t.id,
                "[{}] step {i}: another task came back",
                f.label
            );
        }
        Err(err) => panic!(
            "[{}] step {i}: '{}' completes with '{}': {err:?}",
            f.label, cx.user, step.action
        ),
    }
}

/// Walks a path and checks the workflow ends `done` with no open task.
pub async fn walk_to_done(e: &dyn WorkflowEngine, f: &Fixture, steps: &[Step]) {
    let wf = start(e, f).await;
    for (i, s) in steps.iter().enumerate() {
        let state = e.workflow(&f.admin, &wf.id).await.map(|w| w.state);
        assert_eq!(
            state,
            Ok(WorkflowState::Running),
            "[{}] before step {i}",
            f.label
        );
        perform(e, f, &wf.id, i, s).await;
    }
    let end = e.workflow(&f.admin, &wf.id).await;
    assert_eq!(
        end.map(|w| w.state),
        Ok(WorkflowState::Done),
        "[{}] after the last step",
        f.label
    );
    assert!(
        open_tasks(e, f, &wf.id).await.is_empty(),
        "[{}] open tasks after done",
        f.label
    );
    let running = WorkflowQuery {
        document: Some(f.document.clone()),
        ..Default::default()
    };
    let listed = e
        .workflows(&f.admin, running)
        .await
        .expect("workflows by document");
    assert!(
        !listed.items.iter().any(|w| w.id == wf.id),
        "[{}] a done workflow is still listed as running",
        f.label
    );
}

/// Models are listed and found by name; an unknown name is NotFound.
pub async fn models_include_fixture_model(e: &dyn WorkflowEngine, f: &Fixture) {
    let models = e.models(&f.initiator).await.expect("models");
    assert!(
        models.iter().any(|m| m.name == f.model),
        "[{}] {} not listed",
        f.label,
        f.model
    );
    let names: Vec<&str> = models.iter().map(|m| m.name.as_str()).collect();
    let mut sorted = names.clone();
    sorted.sort();
    assert_eq!(names, sorted, "[{}] models are sorted by name", f.label);
    let m = e
        .model(&f.initiator, &f.model)
        .await
        .expect("model by name");
    assert_eq!(m.name, f.model);
    expect_kind(
        f,
        "unknown model",
        e.model(&f.initiator, "NoSuchModelAnywhere").await,
        ErrorKind::NotFound,
    );
    let req = StartWorkflow {
        model: "NoSuchModelAnywhere".into(),
        ..Default::default()
    };
    expect_kind(
        f,
        "start unknown model",
        e.start(&f.initiator, req).await,
        ErrorKind::NotFound,
    );
}

/// Starting gives a running instance and the expected first task.
pub async fn start_shows_first_task(e: &dyn WorkflowEngine, f: &Fixture) {
    let wf = start(e, f).await;
    assert_eq!(wf.state, WorkflowState::Running, "[{}]", f.label);
    assert_eq!(wf.model_name, f.model, "[{}]", f.label);
    assert_eq!(
        wf.initiator.as_deref(),
        Some(f.initiator.user.as_str()),
        "[{}]",
        f.label
    );
    assert!(
        wf.attached_documents.contains(&f.document),
        "[{}] document attached",
        f.label
    );
    let tasks = open_tasks(e, f, &wf.id).await;
    assert_eq!(tasks.len(), 1, "[{}] one first task: {tasks:#?}", f.label);
    let t = &tasks[0];
    assert_eq!(
        t.actors, f.first_task.actors,
        "[{}] first task actors",
        f.label
    );
    let actions: Vec<&str> = t.info.actions.iter().map(|a| a.name.as_str()).collect();
    assert_eq!(
        actions, f.first_task.actions,
        "[{}] first task actions",
        f.label
    );
    if let Some(allow) = f.first_task.allow_reassignment {
        assert_eq!(
            t.info.allow_reassignment, allow,
            "[{}] allowTaskReassignment",
            f.label
        );
    }
    assert_eq!(t.state, TaskState::Opened);
    assert_eq!(t.workflow_id.as_deref(), Some(wf.id.as_str()));
    assert!(
        t.target_documents.contains(&f.document),
        "[{}] task targets the document",
        f.label
    );
    let again = e
        .workflow(&f.initiator, &wf.id)
        .await
        .expect("initiator reads the workflow");
    assert_eq!(again.id, wf.id);
    let by_id = e
        .task(&f.initiator, &t.id)
        .await
        .expect("initiator reads the task");
    assert_eq!(by_id.id, t.id);
}

/// The approve path ends the workflow `done`.
pub async fn approve_path_ends_done(e: &dyn WorkflowEngine, f: &Fixture) {
    walk_to_done(e, f, &f.approve_path).await;
}

/// The reject path, when the model has one, ends the workflow `done`.
pub async fn reject_path_ends_done(e: &dyn WorkflowEngine, f: &Fixture) {
    if let Some(path) = &f.reject_path {
        walk_to_done(e, f, path).await;
    }
}

async fn reach_reassignable<'f>(
    e: &dyn WorkflowEngine,
    f: &'f Fixture,
) -> (WorkflowInstance, Task, &'f Step) {
    let wf = start(e, f).await;
    for (i, s) in f.approve_path.iter().take(f.reassignable_after).enumerate() {
        perform(e, f, &wf.id, i, s).await;
    }
    let step = f
        .approve_path
        .get(f.reassignable_after)
        .unwrap_or_else(|| panic!("[{}] reassignable_after is past the approve path", f.label));
    let t = task_for(e, f, &wf.id, f.user(step.who)).await;
    (wf, t, step)
}

/// Reassign replaces the actors (prefixes stripped); the new actor can complete.
pub async fn reassign_replaces_actors(e: &dyn WorkflowEngine, f: &Fixture) {
    if !e.info().capabilities.reassign {
        let wf = start(e, f).await;
        let t = &open_tasks(e, f, &wf.id).await[0];
        let r = e
            .reassign(&f.initiator, &t.id, vec![f.spare.user.clone()], None)
            .await;
        expect_kind(f, "reassign without capability", r, ErrorKind::Unsupported);
        return;
    }
    if f.first_task.allow_reassignment == Some(false) {
        let wf = start(e, f).await;
        let t = &open_tasks(e, f, &wf.id).await[0];
        let r = e
            .reassign(&f.admin, &t.id, vec![f.spare.user.clone()], None)
            .await;
        expect_kind(
            f,
            "reassign where the node forbids it",
            r,
            ErrorKind::Conflict,
        );
    }
    let (wf, t, step) = reach_reassignable(e, f).await;
    let r = e
        .reassign(
            &f.outsider,
            &t.id,
            vec![format!("user:{}", f.outsider.user)],
            None,
        )
        .await;
    expect_kind(f, "outsider reassigns", r, ErrorKind::Forbidden);
    let to = format!("user:{}", f.spare.user);
    e.reassign(&f.initiator, &t.id, vec![to], Some("over to you".into()))
        .await
        .unwrap_or_else(|err| panic!("[{}] reassign: {err:?}", f.label));
    let after = e.task(&f.admin, &t.id).await.expect("task after reassign");
    assert_eq!(
        after.actors,
        vec![f.spare.user.clone()],
        "[{}] actors replaced, prefix stripped",
        f.label
    );
    assert_eq!(
        after.delegated_actors, t.delegated_actors,
        "[{}] delegated actors untouched",
        f.label
    );
    let c = after.comments.last().expect("reassign comment");
    assert_eq!(c.text.as_deref(), Some("over to you"));
    assert_eq!(c.author, f.initiator.user);
    let old = f.user(step.who);
    let old_tasks = e
        .tasks(
            old,
            TaskQuery::for_actor(old.user.clone(), old.groups.clone()),
        )
        .await
        .expect("old actor's tasks");
    assert!(
        !old_tasks.items.iter().any(|x| x.id == t.id),
        "[{}] old actor still has the task",
        f.label
    );
    let spare_tasks = e
        .tasks(
            &f.spare,
            TaskQuery::for_actor(f.spare.user.clone(), f.spare.groups.clone()),
        )
        .await
        .expect("new actor's tasks");
    assert!(
        spare_tasks.items.iter().any(|x| x.id == t.id),
        "[{}] new actor lacks the task",
        f.label
    );
    let done = e.complete(&f.spare, &t.id, completion(step)).await;
    assert_eq!(
        done.map(|d| d.state),
        Ok(TaskState::Ended),
        "[{}] new actor completes",
        f.label
    );
    let _ = wf;
}

/// Delegate adds delegated actors; a delegated actor can complete.
pub async fn delegate_lets_delegate_complete(e: &dyn WorkflowEngine, f: &Fixture) {
    if !e.info().capabilities.delegate {
        let wf = start(e, f).await;
        let t = &open_tasks(e, f, &wf.id).await[0];
        let r = e
            .delegate(&f.initiator, &t.id, vec![f.spare.user.clone()], None)
            .await;
        expect_kind(f, "delegate without capability", r, ErrorKind::Unsupported);
        return;
    }
    let (_wf, t, step) = reach_reassignable(e, f).await;
    let r = e
        .delegate(&f.outsider, &t.id, vec![f.outsider.user.clone()], None)
        .await;
    expect_kind(f, "outsider delegates", r, ErrorKind::Forbidden);
    let to = format!("user:{}", f.spare.user);
    e.delegate(&f.initiator, &t.id, vec![to.clone()], None)
        .await
        .unwrap_or_else(|err| panic!("[{}] delegate: {err:?}", f.label));
    e.delegate(&f.initiator, &t.id, vec![to], None)
        .await
        .unwrap_or_else(|err| panic!("[{}] delegate again: {err:?}", f.label));
    let after = e
        .task(&f.spare, &t.id)
        .await
        .expect("delegated actor reads the task");
    assert_eq!(
        after.delegated_actors,
        vec![f.spare.user.clone()],
        "[{}] delegated once, prefix stripped",
        f.label
    );
    assert_eq!(after.actors, t.actors, "[{}] actors untouched", f.label);
    let done = e.complete(&f.spare, &t.id, completion(step)).await;
    assert_eq!(
        done.map(|d| d.state),
        Ok(TaskState::Ended),
        "[{}] delegated actor completes",
        f.label
    );
}

/// Cancel: outsiders refused; tasks cancelled, workflow canceled; a second cancel refused.
pub async fn cancel_cancels_tasks_and_refuses_second_cancel(e: &dyn WorkflowEngine, f: &Fixture) {
    let wf = start(e, f).await;
    let first = open_tasks(e, f, &wf.id).await;
    expect_kind(
        f,
        "outsider cancels",
        e.cancel(&f.outsider, &wf.id).await,
        ErrorKind::Forbidden,
    );
    assert_eq!(
        e.workflow(&f.admin, &wf.id).await.map(|w| w.state),
        Ok(WorkflowState::Running)
    );
    e.cancel(&f.initiator, &wf.id)
        .await
        .unwrap_or_else(|err| panic!("[{}] cancel: {err:?}", f.label));
    let after = e
        .workflow(&f.admin, &wf.id)
        .await
        .expect("canceled workflow stays readable");
    assert_eq!(after.state, WorkflowState::Canceled, "[{}]", f.label);
    assert!(
        open_tasks(e, f, &wf.id).await.is_empty(),
        "[{}] open tasks after cancel",
        f.label
    );
    for t in first {
        let t = e
            .task(&f.admin, &t.id)
            .await
            .expect("cancelled task stays readable");
        assert_eq!(t.state, TaskState::Cancelled, "[{}]", f.label);
    }
    expect_kind(
        f,
        "second cancel",
        e.cancel(&f.initiator, &wf.id).await,
        ErrorKind::BadRequest,
    );
}

/// Queries by user, workflow, document and model find the instance and its task.
pub async fn queries_find_by_user_workflow_document_model(e: &dyn WorkflowEngine, f: &Fixture) {
    let wf = start(e, f).await;
    let first_step = f.approve_path.first().expect("approve path has a step");
    let worker = f.user(first_step.who);
    let t = task_for(e, f, &wf.id, worker).await;
    let has = |p: &[Task]| p.iter().any(|x| x.id == t.id);
    let q = TaskQuery::for_actor(worker.user.clone(), worker.groups.clone());
    assert!(
        has(&e.tasks(worker, q).await.expect("by user").items),
        "[{}] by user",
        f.label
    );
    let q = TaskQuery::for_workflow(&wf.id);
    assert!(
        has(&e.tasks(worker, q).await.expect("by workflow").items),
        "[{}] by workflow",
        f.label
    );
    let q = TaskQuery {
        document: Some(f.document.clone()),
        ..Default::default()
    };
    assert!(
        has(&e.tasks(&f.admin, q).await.expect("by document").items),
        "[{}] by document",
        f.label
    );
    let q = TaskQuery {
        model_name: Some(f.model.clone()),
        ..Default::default()
    };
    assert!(
        has(&e.tasks(&f.admin, q).await.expect("by model").items),
        "[{}] by model",
        f.label
    );
    let q = TaskQuery::for_actor(f.outsider.user.clone(), f.outsider.groups.clone());
    assert!(
        !has(&e.tasks(&f.outsider, q).await.expect("outsider").items),
        "[{}] outsider",
        f.label
    );

    let has_wf = |p: &[WorkflowInstance]| p.iter().any(|x| x.id == wf.id);
    let q = WorkflowQuery {
        initiator: Some(f.initiator.user.clone()),
        ..Default::default()
    };
    assert!(
        has_wf(
            &e.workflows(&f.initiator, q)
                .await
                .expect("by initiator")
                .items
        ),
        "[{}]",
        f.label
    );
    let q = WorkflowQuery {
        document: Some(f.document.clone()),
        ..Default::default()
    };
    assert!(
        has_wf(
            &e.workflows(&f.initiator, q)
                .await
                .expect("by document")
                .items
        ),
        "[{}]",
        f.label
    );
    let q = WorkflowQuery {
        model_name: Some(f.model.clone()),
        ..Default::default()
    };
    assert!(
        has_wf(&e.workflows(&f.admin, q).await.expect("by model").items),
        "[{}]",
        f.label
    );
    let q = WorkflowQuery {
        model_name: Some("NoSuchModelAnywhere".into()),
        ..Default::default()
    };
    assert!(
        e.workflows(&f.admin, q)
            .await
            .expect("no match")
            .items
            .is_empty(),
        "[{}]",
        f.label
    );
}

/// Paging keeps the total and slices the ordered list.
pub async fn paging_reports_totals(e: &dyn WorkflowEngine, f: &Fixture) {
    for _ in 0..3 {
        start(e, f).await;
    }
    let q = |page| TaskQuery {
        model_name: Some(f.model.clone()),
        page,
        ..Default::default()
    };
    let all = e
        .tasks(&f.admin, q(PageRequest::all()))
        .await
        .expect("all tasks");
    let n = all.total;
    assert!(n >= 3, "[{}] at least three open tasks, got {n}", f.label);
    assert_eq!(
        all.items.len(),
        n,
        "[{}] unpaged list holds the total",
        f.label
    );
    let page = e
        .tasks(&f.admin, q(PageRequest::new(1, 2)))
        .await
        .expect("page");
    assert_eq!(page.total, n, "[{}] total unchanged by paging", f.label);
    assert_eq!(page.items.len(), 2.min(n - 1), "[{}]", f.label);
    let ids: Vec<&str> = page.items.iter().map(|t| t.id.as_str()).collect();
    let expected: Vec<&str> = all
        .items
        .iter()
        .skip(1)
        .take(2)
        .map(|t| t.id.as_str())
        .collect();
    assert_eq!(ids, expected, "[{}] page follows the full order", f.label);
    let past = e
        .tasks(&f.admin, q(PageRequest::new(n, 10)))
        .await
        .expect("past the end");
    assert!(past.items.is_empty());
    assert_eq!(past.total, n);

    let wq = |page| WorkflowQuery {
        initiator: Some(f.initiator.user.clone()),
        page,
        ..Default::default()
    };
    let all = e
        .workflows(&f.initiator, wq(PageRequest::all()))
        .await
        .expect("all workflows");
    assert!(
        all.total >= 3 && all.items.len() == all.total,
        "[{}]",
        f.label
    );
    let page = e
        .workflows(&f.initiator, wq(PageRequest::new(0, 1)))
        .await
        .expect("page");
    assert_eq!(
        (page.items.len(), page.total),
        (1, all.total),
        "[{}]",
        f.label
    );
}

/// Every task list comes in the one inbox order of `flowgate_core::order::inbox`: due
/// date ascending (none last), then creation time, then id.
pub async fn task_lists_are_in_inbox_order(e: &dyn WorkflowEngine, f: &Fixture) {
    for _ in 0..3 {
        start(e, f).await;
    }
    let first_step = f.approve_path.first().expect("approve path has a step");
    let worker = f.user(first_step.who);
    let queries = [
        ("all open tasks", &f.admin, TaskQuery::default()),
        (
            "by model",
            &f.admin,
            TaskQuery {
                model_name: Some(f.model.clone()),
                ..Default::default()
            },
        ),
        (
            "by document",
            &f.admin,
            TaskQuery {
                document: Some(f.document.clone()),
                ..Default::default()
            },
        ),
        (
            "by user",
            worker,
            TaskQuery::for_actor(worker.user.clone(), worker.groups.clone()),
        ),
    ];
    for (what, cx, q) in queries {
        let page = e.tasks(cx, q).await.expect(what);
        assert!(!page.items.is_empty(), "[{}] {what}: no tasks", f.label);
        let order: Vec<_> = page
            .items
            .iter()
            .map(|t| (t.due_date, t.created, t.id.as_str()))
            .collect();
        assert!(
            flowgate_core::order::is_inbox_ordered(&page.items),
            "[{}] {what}: not in inbox order: {order:?}",
            f.label
        );
    }
}

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

/// Model and instance graphs when supported, Unsupported otherwise.
pub async fn graphs_follow_capabilities(e: &dyn WorkflowEngine, f: &Fixture) {
    let caps = e.info().capabilities;
    let mg = e.model_graph(&f.initiator, &f.model).await;
    if caps.model_graph {
        let g = mg.unwrap_or_else(|err| panic!("[{}] model graph: {err:?}", f.label));
        assert!(
            g.nodes.iter().any(|n| n.start),
            "[{}] a start node",
            f.label
        );
        assert!(g.nodes.iter().any(|n| n.end), "[{}] an end node", f.label);
        assert!(
            g.nodes.iter().all(|n| n.state == NodeState::Validated),
            "[{}]",
            f.label
        );
        for t in &g.transitions {
            assert!(
                g.nodes.iter().any(|n| n.id == t.source),
                "[{}] dangling source {}",
                f.label,
                t.source
            );
            assert!(
                g.nodes.iter().any(|n| n.id == t.target),
                "[{}] dangling target {}",
                f.label,
                t.target
            );
        }
        expect_kind(
            f,
            "unknown model graph",
            e.model_graph(&f.initiator, "NoSuchModelAnywhere").await,
            ErrorKind::NotFound,
        );
    } else {
        expect_kind(
            f,
            "model graph without capability",
            mg,
            ErrorKind::Unsupported,
        );
    }
    let wf = start(e, f).await;
    let wg = e.workflow_graph(&f.initiator, &wf.id).await;
    if caps.workflow_graph {
        let g = wg.unwrap_or_else(|err| panic!("[{}] workflow graph: {err:?}", f.label));
        let t = &open_tasks(e, f, &wf.id).await[0];
        let node = g.nodes.iter().find(|n| n.id == t.node_id);
        assert_eq!(
            node.map(|n| n.state),
            Some(NodeState::Suspended),
            "[{}] the node holding the open task is suspended",
            f.label
        );
    } else {
        expect_kind(
            f,
            "workflow graph without capability",
            wg,
            ErrorKind::Unsupported,
        );
    }
}

/// Suspend and resume when supported, Unsupported otherwise.
pub async fn suspend_resume_follows_capability(e: &dyn WorkflowEngine, f: &Fixture) {
    let wf = start(e, f).await;
    if e.info().capabilities.suspend_resume {
        e.suspend(&f.admin, &wf.id).await.expect("suspend");
        assert_eq!(
            e.workflow(&f.admin, &wf.id).await.map(|w| w.state),
            Ok(WorkflowState::Suspended)
        );
        e.resume(&f.admin, &wf.id).await.expect("resume");
        assert_eq!(
            e.workflow(&f.admin, &wf.id).await.map(|w| w.state),
            Ok(WorkflowState::Running)
        );
    } else {
        expect_kind(
            f,
            "suspend",
            e.suspend(&f.admin, &wf.id).await,
            ErrorKind::Unsupported,
        );
        expect_kind(
            f,
            "resume",
            e.resume(&f.admin, &wf.id).await,
            ErrorKind::Unsupported,
        );
    }
}
