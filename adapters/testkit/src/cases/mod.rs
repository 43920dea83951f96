//! The conformance cases. Each starts its own workflows, so cases do not depend on
//! each other; assertions say which fixture and what was expected.

use flowgate_core::{
    ActorFilter, CallContext, Completion, EngineError, ErrorKind, NodeState, PageRequest,
    StartWorkflow, Task, TaskQuery, TaskState, WorkflowEngine, WorkflowInstance, WorkflowQuery,
    WorkflowState,
};

use crate::{Fixture, Step};

mod graphs;
mod lifecycle;
mod queries;
mod refusals;

pub use crate::sorting::lists_follow_the_requested_sort;
pub use graphs::{graphs_follow_capabilities, suspend_resume_follows_capability};
pub use lifecycle::{
    approve_path_ends_done, cancel_cancels_tasks_and_refuses_second_cancel,
    delegate_lets_delegate_complete, models_include_fixture_model, reassign_replaces_actors,
    reject_path_ends_done, start_shows_first_task,
};
pub use queries::{
    paging_reports_totals, queries_find_by_user_workflow_document_model,
    task_lists_are_in_inbox_order,
};
pub use refusals::{
    concurrent_completions_one_wins, double_completion_is_conflict, outsider_sees_nothing,
    unknown_action_is_bad_request, unknown_ids_are_not_found, wrong_actor_is_forbidden,
};

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
