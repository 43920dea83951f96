//! Records → neutral model entities, and who may see or do what.

use flowgate_core::access::{self, TaskParties};
use flowgate_core::{CallContext, Task, TaskInfo, TaskState, Variables, WorkflowInstance};
use serde_json::Value;

use crate::model::{Model, Node};
use crate::state::{id_string, TaskRecord, WorkflowRecord};
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
        (Some(v), _) if t.state != TaskState::Opened => (**v).clone(),
        (_, Some(node)) => task_variables(model, node, wf),
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

/// A task record as the shared access rules see it.
pub(crate) fn parties<'a>(wf: &'a WorkflowRecord, t: &'a TaskRecord) -> TaskParties<'a> {
    TaskParties {
        actors: &t.actors,
        delegated: &t.delegated,
        task_initiator: Some(&t.initiator),
        workflow_initiator: Some(&wf.initiator),
    }
}

/// Read access to a task, and its presence in lists.
pub(crate) fn can_see_task(cx: &CallContext, wf: &WorkflowRecord, t: &TaskRecord) -> bool {
    access::may_see_task(cx, &parties(wf, t))
}

/// Who may end a task.
pub(crate) fn can_end_task(cx: &CallContext, wf: &WorkflowRecord, t: &TaskRecord) -> bool {
    access::may_act_on_task(cx, &parties(wf, t))
}

/// Who may reassign or delegate.
pub(crate) fn can_manage_task(cx: &CallContext, wf: &WorkflowRecord, t: &TaskRecord) -> bool {
    access::may_manage_task(cx, &parties(wf, t))
}

/// Read access to an instance.
pub(crate) fn can_see_workflow(cx: &CallContext, wf: &WorkflowRecord, store: &Store) -> bool {
    if cx.admin || cx.poweruser || wf.initiator == cx.user {
        return true;
    }
    let tasks: Vec<TaskRecord> = wf.tasks.iter().filter_map(|id| store.task(id)).collect();
    access::may_see_workflow(
        cx,
        Some(&wf.initiator),
        tasks.iter().map(|t| parties(wf, t)),
    )
}

/// Who may cancel.
pub(crate) fn can_cancel(cx: &CallContext, wf: &WorkflowRecord) -> bool {
    access::may_cancel_workflow(cx, Some(&wf.initiator))
}

/// Variables a task of this node shows: node variables, then the whitelisted
/// workflow variables.
pub(crate) fn task_variables(model: &Model, node: &Node, wf: &WorkflowRecord) -> Variables {
    let mut out = Variables::with_capacity(node.variables.len() + node.workflow_vars.len());
    let rec = wf.nodes.iter().find(|r| r.id == node.id);
    for v in &node.variables {
        let val = rec
            .and_then(|r| r.variables.get(&v.name).cloned())
            .unwrap_or_else(|| v.default.clone());
        out.insert(v.name.clone(), val);
    }
    for name in &node.workflow_vars {
        let val = wf
            .variables
            .get(name)
            .cloned()
            .or_else(|| {
                model
                    .variables
                    .iter()
                    .find(|d| &d.name == name)
                    .map(|d| d.default.clone())
            })
            .unwrap_or(Value::Null);
        out.insert(name.clone(), val);
    }
    out
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
