//! Records → neutral model entities, and who may see or do what.

use flowgate_core::{CallContext, Task, TaskInfo, TaskState, WorkflowInstance};

use crate::model::Model;
use crate::runner::Txn;
use crate::state::{TaskRecord, WorkflowRecord};
use crate::store::Store;

pub(crate) fn workflow(model: &Model, wf: &WorkflowRecord) -> WorkflowInstance {
    let mut variables = model.default_variables();
    for (k, v) in wf.variables.iter() {
        if variables.contains_key(k) {
            variables.insert(k.to_owned(), v.clone());
        }
    }
    WorkflowInstance {
        id: id_string(&wf.id),
        name: wf.name.clone(),
        title: model.title.clone(),
        state: wf.state,
        model_name: model.name.clone(),
        initiator: Some(wf.initiator.clone()),
        attached_documents: wf.documents.clone(),
        variables,
        created: wf.created,
        ended: wf.ended,
    }
}

pub(crate) fn task(model: &Model, wf: &WorkflowRecord, t: &TaskRecord) -> Task {
    let node = model.node(&t.node_id);
    let variables = match (&t.variables, node) {
        (Some(v), _) if t.state != TaskState::Opened => v.clone(),
        (_, Some(node)) => Txn::task_variables(model, node, wf),
        _ => Default::default(),
    };
    let info = node
        .and_then(|n| n.task.as_ref().map(|d| (n, d)))
        .map(|(n, d)| TaskInfo {
            allow_reassignment: d.allow_reassignment,
            actions: d.buttons.clone(),
            schemas: vec![n.schema().to_owned()],
        })
        .unwrap_or_default();
    Task {
        id: id_string(&t.id),
        name: node
            .map(|n| n.title.clone())
            .unwrap_or_else(|| t.node_id.clone()),
        workflow_id: Some(id_string(&wf.id)),
        workflow_model_name: Some(model.name.clone()),
        workflow_initiator: Some(wf.initiator.clone()),
        workflow_title: Some(model.title.clone()),
        workflow_state: Some(wf.state),
        state: t.state,
        directive: node
            .and_then(|n| n.task.as_ref())
            .and_then(|d| d.directive.clone()),
        created: t.created,
        due_date: t.due,
        node_id: t.node_id.clone(),
        target_documents: wf.documents.clone(),
        actors: t.actors.clone(),
        delegated_actors: t.delegated.clone(),
        comments: t.comments.clone(),
        variables,
        info,
        initiator: Some(t.initiator.clone()),
    }
}

/// Actor or delegated actor, directly or through a group.
pub(crate) fn is_assignee(cx: &CallContext, t: &TaskRecord) -> bool {
    t.principals().any(|p| cx.is_principal(p))
}

/// Read access to a task: admin, assignee, workflow initiator, task initiator.
pub(crate) fn can_see_task(cx: &CallContext, wf: &WorkflowRecord, t: &TaskRecord) -> bool {
    cx.admin || is_assignee(cx, t) || wf.initiator == cx.user || t.initiator == cx.user
}

/// Task listings: admin, assignee, workflow initiator.
pub(crate) fn lists_task(cx: &CallContext, wf: &WorkflowRecord, t: &TaskRecord) -> bool {
    cx.admin || is_assignee(cx, t) || wf.initiator == cx.user
}

/// Who may end a task: admin, task initiator, assignee.
pub(crate) fn can_end_task(cx: &CallContext, t: &TaskRecord) -> bool {
    cx.admin || t.initiator == cx.user || is_assignee(cx, t)
}

/// Who may reassign or delegate: admin, workflow initiator, assignee.
pub(crate) fn can_manage_task(cx: &CallContext, wf: &WorkflowRecord, t: &TaskRecord) -> bool {
    cx.admin || wf.initiator == cx.user || is_assignee(cx, t)
}

/// Read access to an instance: admin, initiator, anyone who is or was an assignee.
pub(crate) fn can_see_workflow(cx: &CallContext, wf: &WorkflowRecord, store: &Store) -> bool {
    cx.admin
        || wf.initiator == cx.user
        || wf
            .tasks
            .iter()
            .filter_map(|id| store.task(id))
            .any(|t| is_assignee(cx, &t))
}

/// Who may cancel: admin, initiator, member of `powerusers`.
pub(crate) fn can_cancel(cx: &CallContext, wf: &WorkflowRecord) -> bool {
    cx.admin || wf.initiator == cx.user || cx.in_group("powerusers")
}

/// The hyphenated lower-case form of `id`, written directly (what `to_string` gives,
/// without the formatting machinery: every task and workflow read writes two or three).
pub(crate) fn id_string(id: &uuid::Uuid) -> String {
    let mut buf = [0u8; uuid::fmt::Hyphenated::LENGTH];
    id.hyphenated().encode_lower(&mut buf).to_owned()
}

#[cfg(test)]
mod tests {
    #[test]
    fn ids_are_written_as_uuid_displays_them() {
        for id in [uuid::Uuid::nil(), uuid::Uuid::max(), uuid::Uuid::now_v7()] {
            assert_eq!(super::id_string(&id), id.to_string());
        }
    }
}
