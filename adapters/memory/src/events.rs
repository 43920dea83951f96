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

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use chrono::{DateTime, Utc};
use flowgate_core::events::extended as ext;
use flowgate_core::{
    CallContext, EngineError, Event, EventKind, EventQuery, Page, TaskState, WorkflowState,
};
use parking_lot::RwLock;
use serde_json::Value;
use tokio::sync::broadcast;
use uuid::Uuid;

use crate::model::Model;
use crate::state::{Change, TaskRecord, WorkflowRecord};
use crate::store::Store;
use crate::view;

/// Events buffered for live subscribers before a slow one starts losing them.
pub const LIVE_BUFFER: usize = 1024;

/// The event log in memory: every event by sequence number, with indexes by
/// document and workflow, and a broadcast of newly applied events.
#[derive(Debug)]
pub(crate) struct EventLog {
    inner: RwLock<Inner>,
    live: broadcast::Sender<Arc<Event>>,
}

#[derive(Debug, Default)]
struct Inner {
    by_seq: BTreeMap<u64, Arc<Event>>,
    by_document: HashMap<String, Vec<u64>>,
    by_workflow: HashMap<String, Vec<u64>>,
    last: u64,
}

impl Default for EventLog {
    fn default() -> Self {
        Self {
            inner: RwLock::default(),
            live: broadcast::channel(LIVE_BUFFER).0,
        }
    }
}

impl EventLog {
    /// Adds an event, giving it the next sequence number unless it has one already
    /// (read back from storage).
    pub fn push(&self, mut e: Event) {
        let e = {
            let mut inner = self.inner.write();
            if e.seq == 0 {
                e.seq = inner.last + 1;
            }
            inner.last = inner.last.max(e.seq);
            let seq = e.seq;
            for d in &e.documents {
                inner.by_document.entry(d.clone()).or_default().push(seq);
            }
            inner
                .by_workflow
                .entry(e.workflow_id.clone())
                .or_default()
                .push(seq);
            let e = Arc::new(e);
            inner.by_seq.insert(seq, e.clone());
            e
        };
        // Nobody listening is not an error.
        let _ = self.live.send(e);
    }

    /// Events matching the filters of `q` that `visible` accepts, in sequence order,
    /// as a page.
    pub fn query(&self, q: &EventQuery, mut visible: impl FnMut(&Event) -> bool) -> Page<Event> {
        let inner = self.inner.read();
        let seqs: Box<dyn Iterator<Item = u64> + '_> = match (&q.document, &q.workflow_id) {
            (Some(d), _) => Box::new(sorted(inner.by_document.get(d))),
            (None, Some(w)) => Box::new(sorted(inner.by_workflow.get(w))),
            (None, None) => {
                let from = q.after_seq.map_or(0, |s| s + 1);
                Box::new(inner.by_seq.range(from..).map(|(k, _)| *k))
            }
        };
        let mut total = 0usize;
        let mut items = Vec::new();
        for seq in seqs {
            let Some(e) = inner.by_seq.get(&seq) else {
                continue;
            };
            if !e.matches(q) || !visible(e) {
                continue;
            }
            if total >= q.page.offset && items.len() < q.page.limit {
                items.push((**e).clone());
            }
            total += 1;
        }
        Page { items, total }
    }

    /// A receiver of events applied from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<Arc<Event>> {
        self.live.subscribe()
    }

    /// Sequence number of the last event (0: none).
    #[allow(dead_code)]
    pub fn last_seq(&self) -> u64 {
        self.inner.read().last
    }
}

/// Index entries are appended in apply order, which is sequence order.
fn sorted(v: Option<&Vec<u64>>) -> impl Iterator<Item = u64> + '_ {
    v.into_iter().flatten().copied()
}

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
            workflow_id: view::id_string(&wf.id),
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
            Value::String(view::id_string(&wf.id)),
        );
        e
    };
    let millis = |since: DateTime<Utc>| Value::from((now - since).num_milliseconds().max(0));
    let task_event = |kind: EventKind, t: &TaskRecord| {
        let mut e = base(kind);
        e.task_id = Some(view::id_string(&t.id));
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
    let mut hidden = 0usize;
    let mut page = store.events().query(q, |e| {
        let ok = may_see(cx, store, e);
        hidden += usize::from(!ok);
        ok
    });
    if q.document.is_some() && page.total == 0 && hidden > 0 {
        return Err(EngineError::forbidden(format!(
            "Privilege 'READ' is not granted to '{}'",
            cx.user
        )));
    }
    for e in &mut page.items {
        e.engine = engine.to_owned();
    }
    Ok(page)
}
