//! The diff of two upstream snapshots into workflow events, as a pure function.
//!
//! A snapshot holds the running instances and open tasks a poll saw. Comparing the last
//! one with the current one gives the events: a new instance was started, a new task
//! was created, a task's actors or delegates changed, a task or an instance is gone.
//! What a gone task or instance became (ended with an action, canceled, still there but
//! missed by the list) is read from the upstream by the poller and handed in as
//! [`TaskEnd`] and [`WorkflowEnd`].

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, SecondsFormat, Utc};
use flowgate_core::events::extended as ext;
use flowgate_core::{Event, EventKind, Task, WorkflowInstance};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// A running instance as a poll saw it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SeenWorkflow {
    /// Native id.
    pub id: String,
    /// Model name.
    pub model: String,
    /// Attached documents.
    pub documents: Vec<String>,
    /// User who started it.
    pub initiator: String,
    /// When it started.
    pub created: DateTime<Utc>,
}

impl From<&WorkflowInstance> for SeenWorkflow {
    fn from(w: &WorkflowInstance) -> Self {
        Self {
            id: w.id.clone(),
            model: w.model_name.clone(),
            documents: w.attached_documents.clone(),
            initiator: w.initiator.clone().unwrap_or_default(),
            created: w.created,
        }
    }
}

/// An open task as a poll saw it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SeenTask {
    /// Native id.
    pub id: String,
    /// Native id of its instance (empty for a standalone task).
    pub workflow_id: String,
    /// Name of its node.
    pub name: String,
    /// Model of its instance.
    pub model: String,
    /// Documents it is about.
    pub documents: Vec<String>,
    /// User who started its instance.
    pub initiator: String,
    /// Assignees.
    pub actors: Vec<String>,
    /// Principals it is delegated to.
    pub delegated: Vec<String>,
    /// Due date.
    pub due: Option<DateTime<Utc>>,
    /// Creation time.
    pub created: DateTime<Utc>,
}

impl From<&Task> for SeenTask {
    fn from(t: &Task) -> Self {
        Self {
            id: t.id.clone(),
            workflow_id: t.workflow_id.clone().unwrap_or_default(),
            name: t.name.clone(),
            model: t.workflow_model_name.clone().unwrap_or_default(),
            documents: t.target_documents.clone(),
            initiator: t.workflow_initiator.clone().unwrap_or_default(),
            actors: t.actors.clone(),
            delegated: t.delegated_actors.clone(),
            due: t.due_date,
            created: t.created,
        }
    }
}

/// What a poll saw: running instances and open tasks by native id.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Snapshot {
    /// Running instances.
    pub workflows: BTreeMap<String, SeenWorkflow>,
    /// Open tasks.
    pub tasks: BTreeMap<String, SeenTask>,
}

impl Snapshot {
    /// The snapshot of these lists.
    pub fn of(workflows: &[WorkflowInstance], tasks: &[Task]) -> Self {
        Self {
            workflows: workflows
                .iter()
                .map(|w| (w.id.clone(), SeenWorkflow::from(w)))
                .collect(),
            tasks: tasks
                .iter()
                .map(|t| (t.id.clone(), SeenTask::from(t)))
                .collect(),
        }
    }

    /// Tasks of `self` that `now` no longer lists.
    pub fn gone_tasks<'a>(&'a self, now: &'a Snapshot) -> impl Iterator<Item = &'a SeenTask> {
        self.tasks
            .values()
            .filter(|t| !now.tasks.contains_key(&t.id))
    }

    /// Instances of `self` that `now` no longer lists.
    pub fn gone_workflows<'a>(
        &'a self,
        now: &'a Snapshot,
    ) -> impl Iterator<Item = &'a SeenWorkflow> {
        self.workflows
            .values()
            .filter(|w| !now.workflows.contains_key(&w.id))
    }
}

/// What became of a task that is no longer listed open.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TaskEnd {
    /// Completed; with the action and the user who completed it when the upstream says.
    Ended {
        /// Action (button, outcome) it was completed with.
        action: Option<String>,
        /// User who completed it.
        actor: Option<String>,
        /// Comment given with the completion.
        comment: Option<String>,
    },
    /// Ended without an actor (its instance was canceled, or the engine closed it).
    Cancelled,
    /// Still open: the list missed it (it is kept for the next poll).
    StillOpen,
}

/// What became of an instance that is no longer listed running.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum WorkflowEnd {
    /// Reached its end, at this time when known.
    Finished(Option<DateTime<Utc>>),
    /// Canceled (or deleted upstream), at this time when known.
    Canceled(Option<DateTime<Utc>>),
    /// Still running: the list missed it (it is kept for the next poll).
    StillRunning,
}

/// The events between `before` and `now`, and the snapshot to keep (`now` plus what
/// the lists missed). Order: started instances, ended tasks, reassigned and delegated
/// tasks, created tasks, finished and canceled instances; by id within each group.
pub fn derive(
    before: &Snapshot,
    now: &Snapshot,
    task_ends: &HashMap<String, TaskEnd>,
    workflow_ends: &HashMap<String, WorkflowEnd>,
    at: DateTime<Utc>,
) -> (Vec<Event>, Snapshot) {
    let mut keep = now.clone();
    let mut out = Vec::new();
    for w in now.workflows.values() {
        if !before.workflows.contains_key(&w.id) {
            let mut e = workflow_event(EventKind::WorkflowStarted, w, w.created.min(at));
            e.principal = w.initiator.clone();
            out.push(e);
        }
    }
    // Who moved each instance on during this poll, for the events that follow.
    let mut movers: HashMap<&str, String> = HashMap::new();
    for t in before.gone_tasks(now) {
        match task_ends.get(&t.id) {
            Some(TaskEnd::Ended {
                action,
                actor,
                comment,
            }) => {
                let mut e = task_event(EventKind::TaskEnded, t, at);
                if let Some(a) = actor {
                    e.principal = a.clone();
                    e.extended
                        .insert(ext::TASK_ACTOR.into(), Value::String(a.clone()));
                    movers.insert(&t.workflow_id, a.clone());
                }
                if let Some(a) = action {
                    e.action = Some(a.clone());
                    e.extended
                        .insert(ext::ACTION.into(), Value::String(a.clone()));
                }
                e.comment = comment.clone();
                e.extended
                    .insert(ext::TIME_SINCE_TASK_STARTED.into(), millis(t.created, at));
                if let Some(w) = before.workflows.get(&t.workflow_id) {
                    e.extended
                        .insert(ext::TIME_SINCE_WF_STARTED.into(), millis(w.created, at));
                }
                out.push(e);
            }
            Some(TaskEnd::StillOpen) => {
                keep.tasks.insert(t.id.clone(), t.clone());
            }
            Some(TaskEnd::Cancelled) | None => {}
        }
    }
    for t in now.tasks.values() {
        let Some(old) = before.tasks.get(&t.id) else {
            continue;
        };
        let kind = if t.actors != old.actors {
            EventKind::TaskReassigned
        } else if t.delegated != old.delegated {
            EventKind::TaskDelegated
        } else {
            continue;
        };
        out.push(task_event(kind, t, at));
    }
    for t in now.tasks.values() {
        if !before.tasks.contains_key(&t.id) {
            let mut e = task_event(EventKind::TaskCreated, t, t.created.min(at));
            if let Some(m) = movers.get(t.workflow_id.as_str()) {
                e.principal = m.clone();
            }
            out.push(e);
        }
    }
    for w in before.gone_workflows(now) {
        let (kind, when) = match workflow_ends.get(&w.id) {
            Some(WorkflowEnd::Finished(t)) => (EventKind::WorkflowFinished, *t),
            Some(WorkflowEnd::Canceled(t)) => (EventKind::WorkflowCanceled, *t),
            Some(WorkflowEnd::StillRunning) | None => {
                keep.workflows.insert(w.id.clone(), w.clone());
                continue;
            }
        };
        let mut e = workflow_event(kind, w, when.unwrap_or(at).min(at));
        if let Some(m) = movers.get(w.id.as_str()) {
            e.principal = m.clone();
        }
        e.extended
            .insert(ext::TIME_SINCE_WF_STARTED.into(), millis(w.created, at));
        out.push(e);
    }
    (out, keep)
}

fn millis(since: DateTime<Utc>, at: DateTime<Utc>) -> Value {
    Value::from((at - since).num_milliseconds().max(0))
}

fn base(
    kind: EventKind,
    workflow_id: &str,
    model: &str,
    documents: &[String],
    initiator: &str,
    at: DateTime<Utc>,
) -> Event {
    let mut extended = BTreeMap::new();
    extended.insert(ext::MODEL_NAME.into(), Value::String(model.to_owned()));
    extended.insert(ext::MODEL_ID.into(), Value::String(model.to_owned()));
    extended.insert(
        ext::WORKFLOW_INITIATOR.into(),
        Value::String(initiator.to_owned()),
    );
    extended.insert(
        ext::WORKFLOW_INSTANCE_ID.into(),
        Value::String(workflow_id.to_owned()),
    );
    Event {
        seq: 0,
        engine: String::new(),
        kind,
        at,
        workflow_id: workflow_id.to_owned(),
        task_id: None,
        task_name: None,
        model: model.to_owned(),
        documents: documents.to_vec(),
        principal: initiator.to_owned(),
        initiator: initiator.to_owned(),
        actors: Vec::new(),
        delegated: Vec::new(),
        action: None,
        comment: None,
        extended,
    }
}

fn workflow_event(kind: EventKind, w: &SeenWorkflow, at: DateTime<Utc>) -> Event {
    base(kind, &w.id, &w.model, &w.documents, &w.initiator, at)
}

fn task_event(kind: EventKind, t: &SeenTask, at: DateTime<Utc>) -> Event {
    let mut e = base(
        kind,
        &t.workflow_id,
        &t.model,
        &t.documents,
        &t.initiator,
        at,
    );
    e.task_id = Some(t.id.clone());
    e.task_name = Some(t.name.clone());
    e.actors = t.actors.clone();
    e.delegated = t.delegated.clone();
    e.extended
        .insert(ext::TASK_NAME.into(), Value::String(t.name.clone()));
    e.extended
        .insert(ext::ACTORS.into(), Value::from(t.actors.clone()));
    if !t.delegated.is_empty() {
        e.extended.insert(
            ext::DELEGATED_ACTORS.into(),
            Value::from(t.delegated.clone()),
        );
    }
    if let Some(due) = t.due {
        e.extended.insert(
            ext::DUE_DATE.into(),
            Value::String(due.to_rfc3339_opts(SecondsFormat::Millis, true)),
        );
    }
    e
}

#[cfg(test)]
mod tests;
