//! The rules of each engine operation, whatever keeps the state: what a start builds,
//! what a completion, reassignment or delegation checks before it runs and what it
//! changes. Both storage paths of the embedded engine (the in-memory store and
//! PostgreSQL) call these, so a rule is written once.

use std::collections::HashSet;
use std::sync::Arc;

use chrono::Utc;
use flowgate_core::{
    CallContext, Comment, Completion, EngineError, Graph, Limits, NodeState, Result, StartWorkflow,
    Task, TaskState, Variables, WorkflowState,
};
use serde_json::Value;
use uuid::Uuid;

use crate::model::Model;
use crate::runner::Txn;
use crate::state::{Change, NodeRun, TaskRecord, WorkflowRecord};
use crate::vars::coerce;
use crate::view;

/// Parses an engine id; anything else is unknown.
pub(crate) fn parse_id(id: &str) -> Option<Uuid> {
    // Only the canonical spelling the engine hands out is accepted.
    let mut buf = Uuid::encode_buffer();
    Uuid::parse_str(id)
        .ok()
        .filter(|u| u.hyphenated().encode_lower(&mut buf) == id)
}

pub(crate) fn not_found(id: &str) -> EngineError {
    EngineError::not_found(flowgate_core::shown(id))
}

pub(crate) fn not_active(name: &str) -> EngineError {
    EngineError::conflict(format!("The task '{name}' is not active"))
}

pub(crate) fn read_denied(cx: &CallContext) -> EngineError {
    EngineError::forbidden(format!("Privilege 'READ' is not granted to '{}'", cx.user))
}

/// The record of a new instance of `model` started by `cx` (name left empty: the
/// storage hands out names). Variables are typed by the model; documents deduplicated.
pub(crate) fn new_instance(
    model: &Model,
    cx: &CallContext,
    req: StartWorkflow,
) -> Result<WorkflowRecord> {
    let mut variables = model.defaults.clone();
    for (k, v) in &req.variables {
        if let Some(ty) = model.var_types.get(k) {
            let val = coerce(*ty, v).map_err(|()| {
                EngineError::bad_request(format!(
                    "Unable to deserialize property: {}:{k}",
                    model.schema()
                ))
            })?;
            variables.insert(k, val);
        }
    }
    let mut documents: Vec<String> = Vec::with_capacity(req.documents.len());
    for d in req.documents {
        if !d.is_empty() && !documents.contains(&d) {
            documents.push(d);
        }
    }
    Ok(WorkflowRecord {
        id: Uuid::now_v7(),
        name: String::new(),
        model: Arc::from(model.name.as_str()),
        initiator: cx.user.clone(),
        documents,
        state: WorkflowState::Running,
        variables,
        created: Utc::now(),
        ended: None,
        nodes: Vec::new(),
        tasks: Vec::new(),
        reached_stop: false,
    })
}

/// The instance name for the `n`th instance of `model`.
pub(crate) fn instance_name(model: &str, n: u64) -> String {
    if n <= 1 {
        model.to_owned()
    } else {
        format!("{model}.{n}")
    }
}

/// The number in an instance name (`Model` → 1, `Model.7` → 7), 0 when it has none.
pub(crate) fn instance_number(name: &str, model: &str) -> u64 {
    match name.strip_prefix(model) {
        Some("") => 1,
        Some(rest) => rest
            .strip_prefix('.')
            .and_then(|d| d.parse::<u64>().ok())
            .unwrap_or(0),
        None => 0,
    }
}

/// Whether an instance named `instance_name` was started from `model`.
pub(crate) fn model_matches(instance_name: &str, model: &str) -> bool {
    match instance_name.strip_prefix(model) {
        Some("") => true,
        Some(rest) => rest
            .strip_prefix('.')
            .is_some_and(|d| !d.is_empty() && d.bytes().all(|b| b.is_ascii_digit())),
        None => false,
    }
}

/// The comment a completion records: its own, else a `comment` variable.
pub(crate) fn completion_comment(c: &Completion) -> Option<String> {
    c.comment
        .clone()
        .filter(|s| !s.trim().is_empty())
        .or_else(|| match c.variables.get("comment") {
            Some(Value::String(s)) if !s.trim().is_empty() => Some(s.clone()),
            _ => None,
        })
}

/// Checks a completion of `t` by `cx`; returns its node and workflow variables, typed.
pub(crate) fn check_completion(
    cx: &CallContext,
    t: &TaskRecord,
    wf: &WorkflowRecord,
    model: &Model,
    c: &Completion,
) -> Result<(Variables, Variables)> {
    if !view::can_end_task(cx, wf, t) {
        return Err(EngineError::forbidden(format!(
            "User with id '{}' cannot end this task",
            cx.user
        )));
    }
    let node = model.node(&t.node_id);
    let name = node.map(|n| n.title.as_str()).unwrap_or(t.node_id.as_str());
    if t.state != TaskState::Opened {
        return Err(not_active(name));
    }
    let buttons = node
        .and_then(|n| n.task.as_ref())
        .map(|d| d.buttons.as_slice())
        .unwrap_or(&[]);
    if !buttons.iter().any(|b| b.name == c.action) {
        let names: Vec<&str> = buttons.iter().map(|b| b.name.as_str()).collect();
        return Err(EngineError::bad_request(format!(
            "Unknown action '{}' for task '{name}'; expected one of: {}",
            c.action,
            names.join(", ")
        )));
    }
    type_completion_vars(model, &t.node_id, &c.variables)
}

/// Types completion variables: node variables first, then workflow variables the
/// node may write. Unknown names are ignored; wrong types are a 400.
fn type_completion_vars(
    model: &Model,
    node_id: &str,
    vars: &Variables,
) -> Result<(Variables, Variables)> {
    let node = model.node(node_id).ok_or_else(|| {
        EngineError::bad_request(format!("Node '{node_id}' is not part of the model"))
    })?;
    let mut nv = Variables::new();
    let mut wv = Variables::new();
    for (k, v) in vars {
        if let Some(ty) = node.var_types.get(k) {
            let val = coerce(*ty, v).map_err(|()| {
                EngineError::bad_request(format!(
                    "Unable to deserialize property: {}:{k}",
                    node.schema()
                ))
            })?;
            nv.insert(k.clone(), val);
        } else if let Some(ty) = model.var_types.get(k) {
            let val = coerce(*ty, v).map_err(|()| {
                EngineError::bad_request(format!(
                    "Unable to deserialize property: {}:{k}",
                    model.schema()
                ))
            })?;
            if node.workflow_vars.contains(k) {
                wv.insert(k.clone(), val);
            } else {
                tracing::warn!(node = %node_id, variable = %k, "node may not write this workflow variable; dropped");
            }
        }
    }
    Ok((nv, wv))
}

/// Checks a reassignment of task `id` (`t`) to `actors` by `cx`.
pub(crate) fn check_reassign(
    cx: &CallContext,
    id: &str,
    t: &TaskRecord,
    wf: &WorkflowRecord,
    model: &Model,
    no_actors: bool,
) -> Result<()> {
    if !view::can_manage_task(cx, wf, t) {
        return Err(EngineError::forbidden(format!(
            "User with id '{}' cannot reassign this task",
            cx.user
        )));
    }
    let node = model.node(&t.node_id);
    let name = node.map(|n| n.title.as_str()).unwrap_or(t.node_id.as_str());
    if t.state != TaskState::Opened {
        return Err(not_active(name));
    }
    if !node
        .and_then(|n| n.task.as_ref())
        .is_some_and(|d| d.allow_reassignment)
    {
        return Err(EngineError::conflict(format!(
            "Task {id} can not be reassigned. Node {} doesn't allow reassignment.",
            t.node_id
        )));
    }
    if no_actors {
        return Err(EngineError::bad_request(
            "No actors to reassign the task to",
        ));
    }
    Ok(())
}

/// Replaces the actors of task `tid` in the step; earlier delegations end.
pub(crate) fn apply_reassign(
    txn: &mut Txn<'_>,
    tid: Uuid,
    actors: Vec<String>,
    comment: Option<String>,
) {
    let now = txn.now;
    let author = txn.actor.clone();
    if let Some(t) = txn.task(tid) {
        t.actors = actors;
        t.delegated.clear();
        t.comments.push(Comment {
            author,
            text: comment,
            date: now,
        });
    }
}

/// Checks a delegation of `t` to `actors` by `cx`, within the engine's limits.
pub(crate) fn check_delegate(
    cx: &CallContext,
    t: &TaskRecord,
    wf: &WorkflowRecord,
    model: &Model,
    actors: &[String],
    limits: &Limits,
) -> Result<()> {
    if !view::can_manage_task(cx, wf, t) {
        return Err(EngineError::forbidden(format!(
            "User with id '{}' cannot delegate this task",
            cx.user
        )));
    }
    if t.state != TaskState::Opened {
        let name = model
            .node(&t.node_id)
            .map(|n| n.title.as_str())
            .unwrap_or(t.node_id.as_str());
        return Err(not_active(name));
    }
    if actors.is_empty() {
        return Err(EngineError::bad_request(
            "No actors to delegate the task to",
        ));
    }
    let added = actors.iter().filter(|a| !t.delegated.contains(a)).count();
    limits.check_task_actors(t.actors.len() + t.delegated.len() + added)
}

/// Adds delegated actors to task `tid` in the step (no duplicates).
pub(crate) fn apply_delegate(
    txn: &mut Txn<'_>,
    tid: Uuid,
    actors: Vec<String>,
    comment: Option<String>,
) {
    let now = txn.now;
    let author = txn.actor.clone();
    if let Some(t) = txn.task(tid) {
        for a in actors {
            if !t.delegated.contains(&a) {
                t.delegated.push(a);
            }
        }
        t.comments.push(Comment {
            author,
            text: comment,
            date: now,
        });
    }
}

/// The checks of a cancellation; `Ok` when it may go ahead.
pub(crate) fn check_cancel(cx: &CallContext, id: &str, wf: &WorkflowRecord) -> Result<()> {
    if !view::can_cancel(cx, wf) {
        return Err(EngineError::forbidden(
            "You don't have the permission to cancel this workflow",
        ));
    }
    if wf.state == WorkflowState::Canceled {
        return Err(EngineError::bad_request(format!(
            "The workflow '{id}' is already canceled"
        )));
    }
    Ok(())
}

/// The graph of an instance: nodes holding open tasks `suspended`, waiting merges
/// `waiting`, everything `canceled` once the instance is.
pub(crate) fn instance_graph(
    model: &Model,
    wf: &WorkflowRecord,
    open_nodes: &HashSet<String>,
) -> Graph {
    model.graph(|n| {
        if wf.state == WorkflowState::Canceled {
            NodeState::Canceled
        } else if open_nodes.contains(&n.id) {
            NodeState::Suspended
        } else if wf
            .nodes
            .iter()
            .any(|r| r.id == n.id && r.run == NodeRun::Waiting)
        {
            NodeState::Waiting
        } else {
            NodeState::Ready
        }
    })
}

/// Whether an instance sits on a node with escalation rules.
pub(crate) fn may_escalate(wf: &WorkflowRecord, model: &Model) -> bool {
    wf.state.is_active()
        && wf.nodes.iter().any(|n| {
            n.run == NodeRun::Suspended
                && model.node(&n.id).is_some_and(|d| !d.escalations.is_empty())
        })
}

/// Task `id` as a step's `changes` leave it.
pub(crate) fn task_after(changes: &[Change], model: &Model, id: Uuid) -> Option<Task> {
    let mut task = None;
    let mut wf = None;
    for c in changes {
        match c {
            Change::Task(t) if t.id == id => task = Some(t),
            Change::Workflow(w) => wf = Some(w),
            _ => {}
        }
    }
    Some(view::task(model, wf?, task?))
}

/// Actors given to reassign/delegate: prefixes stripped, blanks dropped, no duplicates.
pub(crate) fn principals_of(actors: &[String]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for a in actors.iter().map(|a| strip_prefix(a)) {
        if !a.is_empty() && !out.contains(&a) {
            out.push(a);
        }
    }
    out
}

fn strip_prefix(actor: &str) -> String {
    actor
        .strip_prefix("user:")
        .or_else(|| actor.strip_prefix("group:"))
        .unwrap_or(actor)
        .trim()
        .to_owned()
}
