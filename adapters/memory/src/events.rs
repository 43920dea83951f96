//! Workflow events of the embedded engine: derived inside the step that causes them,
//! committed in the same batch as its state changes, kept in memory with indexes.
//!
//! A step ([`crate::runner::Txn`]) compares its working copies with the records the
//! store holds (which cannot change under it: the step holds the instance's lock) and
//! adds one [`Change::Event`] per event to its batch. So an event reaches the disk in
//! the same transaction as the change it describes, and a step that fails or is
//! refused produces neither.
//!
//! Sequence numbers are given when a batch is applied, in apply order: the writer
//! applies batches in commit order and start-up replays them in the same order, so an
//! event keeps its number across restarts. Events read from the folded table keep the
//! number they were folded with.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use flowgate_core::events::extended as ext;
use flowgate_core::{
    CallContext, EngineError, Event, EventKind, EventQuery, Page, TaskState, WorkflowState,
};
use serde_json::Value;
use uuid::Uuid;

use crate::model::Model;
use crate::state::{Change, TaskRecord, WorkflowRecord};
use crate::store::Store;
use crate::view;

/// Whether `cx` may see the events of workflow `id`: the rules of `@workflow` while the
/// workflow exists; once purged, administrators, power users and its initiator.
pub(crate) fn may_see(cx: &CallContext, store: &Store, e: &Event) -> bool {
    if cx.admin || cx.poweruser {
        return true;
    }
    match Uuid::parse_str(&e.workflow_id)
        .ok()
        .and_then(|id| store.workflow(&id))
    {
        Some(wf) => view::can_see_workflow(cx, &wf, store),
        None => e.initiator == cx.user,
    }
}

/// The events of one step: `before` is the stored instance (none when the step starts
/// it), `wf` and `tasks` the working copies about to be committed, `actor` the user
/// whose request drives the step. Order: start, ended tasks, reassignments and
/// delegations, created tasks, then the workflow's end (a cancellation comes first,
/// as Nuxeo sends it before canceling).
pub(crate) fn derive(
    store: &Store,
    model: &Model,
    wf: &WorkflowRecord,
    tasks: &[TaskRecord],
    actor: &str,
    now: DateTime<Utc>,
) -> Vec<Change> {
    let before = store.with_workflow(&wf.id, |w| w.state);
    let mut out = Vec::new();
    let base = |kind: EventKind| {
        let mut e = Event {
            seq: 0,
            engine: String::new(),
            kind,
            at: now,
            workflow_id: crate::state::id_string(&wf.id),
            task_id: None,
            task_name: None,
            model: wf.model.to_string(),
            documents: wf.documents.clone(),
            principal: actor.to_owned(),
            initiator: wf.initiator.clone(),
            actors: Vec::new(),
            delegated: Vec::new(),
            action: None,
            comment: None,
            extended: BTreeMap::new(),
        };
        e.extended
            .insert(ext::MODEL_NAME.into(), Value::String(wf.model.to_string()));
        e.extended
            .insert(ext::MODEL_ID.into(), Value::String(wf.model.to_string()));
        e.extended.insert(
            ext::WORKFLOW_INITIATOR.into(),
            Value::String(wf.initiator.clone()),
        );
        e.extended.insert(
            ext::WORKFLOW_INSTANCE_ID.into(),
            Value::String(crate::state::id_string(&wf.id)),
        );
        e
    };
    let millis = |since: DateTime<Utc>| Value::from((now - since).num_milliseconds().max(0));
    let task_event = |kind: EventKind, t: &TaskRecord| {
        let mut e = base(kind);
        e.task_id = Some(crate::state::id_string(&t.id));
        e.task_name = Some(
            model
                .node(&t.node_id)
                .map_or_else(|| t.node_id.clone(), |n| n.title.clone()),
        );
        e.actors = t.actors.clone();
        e.delegated = t.delegated.clone();
        if let Some(name) = &e.task_name {
            e.extended
                .insert(ext::TASK_NAME.into(), Value::String(name.clone()));
        }
        e.extended
            .insert(ext::ACTORS.into(), Value::from(t.actors.clone()));
        if !t.delegated.is_empty() {
            e.extended.insert(
                ext::DELEGATED_ACTORS.into(),
                Value::from(t.delegated.clone()),
            );
        }
        if let Some(due) = t.due {
            e.extended
                .insert(ext::DUE_DATE.into(), Value::String(crate::format_date(due)));
        }
        e
    };
    let canceled = wf.state == WorkflowState::Canceled && before != Some(WorkflowState::Canceled);
    if canceled {
        let mut e = base(EventKind::WorkflowCanceled);
        e.extended
            .insert(ext::TIME_SINCE_WF_STARTED.into(), millis(wf.created));
        out.push(e);
    }
    if before.is_none() {
        out.push(base(EventKind::WorkflowStarted));
    }
    let mut created = Vec::new();
    for t in tasks {
        let old = store.with_task(&t.id, |o| {
            (
                o.state,
                o.actors.clone(),
                o.delegated.clone(),
                o.comments.len(),
            )
        });
        let Some((state, actors, delegated, comments)) = old else {
            created.push(task_event(EventKind::TaskCreated, t));
            continue;
        };
        if state != TaskState::Opened {
            continue;
        }
        let new_comment = || {
            t.comments
                .get(comments..)
                .and_then(|c| c.iter().rev().find_map(|c| c.text.clone()))
        };
        if t.state == TaskState::Ended {
            let mut e = task_event(EventKind::TaskEnded, t);
            e.action = t.action.clone();
            e.comment = new_comment();
            e.extended
                .insert(ext::TASK_ACTOR.into(), Value::String(actor.to_owned()));
            if let Some(a) = &t.action {
                e.extended
                    .insert(ext::ACTION.into(), Value::String(a.clone()));
            }
            e.extended
                .insert(ext::TIME_SINCE_TASK_STARTED.into(), millis(t.created));
            e.extended
                .insert(ext::TIME_SINCE_WF_STARTED.into(), millis(wf.created));
            out.push(e);
        } else if t.state == TaskState::Opened {
            let kind = if t.actors != actors {
                Some(EventKind::TaskReassigned)
            } else if t.delegated != delegated {
                Some(EventKind::TaskDelegated)
            } else {
                None
            };
            if let Some(kind) = kind {
                let mut e = task_event(kind, t);
                e.comment = new_comment();
                e.extended
                    .insert(ext::TASK_ACTOR.into(), Value::String(actor.to_owned()));
                out.push(e);
            }
        }
    }
    out.extend(created);
    if wf.state == WorkflowState::Done && before.is_some_and(|s| s != WorkflowState::Done) {
        let mut e = base(EventKind::WorkflowFinished);
        e.extended
            .insert(ext::TIME_SINCE_WF_STARTED.into(), millis(wf.created));
        out.push(e);
    } else if wf.state == WorkflowState::Done && before.is_none() {
        // Started and finished in one step (a model without wait states).
        out.push(base(EventKind::WorkflowFinished));
    }
    out.into_iter().map(Change::event).collect()
}

/// [`flowgate_core::WorkflowEngine::events`] of the embedded engine named `engine`.
/// For a document whose events the caller may see none of (while some exist), the
/// answer is `Forbidden`, as reading the document's workflows would be.
pub(crate) fn query(
    store: &Store,
    engine: &str,
    cx: &CallContext,
    q: &EventQuery,
) -> Result<Page<Event>, EngineError> {
    store
        .events()
        .query_for(engine, cx, q, |e| may_see(cx, store, e))
}
