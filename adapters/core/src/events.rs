//! Workflow events: what happened to workflows and tasks, one record per step outcome.
//!
//! Named after the routing audit events of Nuxeo (category `Routing`), so that the
//! gateway can answer the `@audit` document adapter in Nuxeo's shape and clients that
//! already read Nuxeo's audit find the same event ids and extended info keys.
//!
//! | event | when |
//! |---|---|
//! | `afterWorkflowStarted` | a workflow was started |
//! | `afterWorkflowFinish` | a workflow reached its end |
//! | `beforeWorkflowCanceled` | a workflow was canceled (its open tasks with it) |
//! | `afterWorkflowTaskCreated` | a task was created (one per actor for multi-task nodes) |
//! | `afterWorkflowTaskEnded` | a task was completed with an action |
//! | `afterWorkflowTaskReassigned` | a task's actors were replaced |
//! | `afterWorkflowTaskDelegated` | a task was delegated to more principals |
//!
//! Ids an event carries (workflow, task, documents) are the engine's own; the router
//! makes them gateway-visible the same way it does for workflows and tasks.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::PageRequest;

/// Category of every workflow event (Nuxeo's audit category for routing).
pub const ROUTING_CATEGORY: &str = "Routing";

/// Keys of [`Event::extended`], as Nuxeo's routing audit names them.
pub mod extended {
    /// Name of the workflow model.
    pub const MODEL_NAME: &str = "modelName";
    /// Id of the workflow model (the model name in flowgate).
    pub const MODEL_ID: &str = "modelId";
    /// User who started the workflow.
    pub const WORKFLOW_INITIATOR: &str = "workflowInitiator";
    /// Id of the workflow instance.
    pub const WORKFLOW_INSTANCE_ID: &str = "workflowInstanceId";
    /// User who ended (or reassigned, delegated) the task.
    pub const TASK_ACTOR: &str = "taskActor";
    /// Button the task was completed with.
    pub const ACTION: &str = "action";
    /// Milliseconds between the task's creation and this event.
    pub const TIME_SINCE_TASK_STARTED: &str = "timeSinceTaskStarted";
    /// Milliseconds between the workflow's start and this event.
    pub const TIME_SINCE_WF_STARTED: &str = "timeSinceWfStarted";
    /// Name (title) of the task's node.
    pub const TASK_NAME: &str = "taskName";
    /// Actors of the task after the event.
    pub const ACTORS: &str = "actors";
    /// Principals the task is delegated to after the event.
    pub const DELEGATED_ACTORS: &str = "delegatedActors";
    /// Due date of the task.
    pub const DUE_DATE: &str = "dueDate";
}

/// Which event it is. Serialized with Nuxeo's event ids.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum EventKind {
    /// `afterWorkflowStarted`.
    #[serde(rename = "afterWorkflowStarted")]
    WorkflowStarted,
    /// `afterWorkflowFinish`.
    #[serde(rename = "afterWorkflowFinish")]
    WorkflowFinished,
    /// `beforeWorkflowCanceled`.
    #[serde(rename = "beforeWorkflowCanceled")]
    WorkflowCanceled,
    /// `afterWorkflowTaskCreated`.
    #[serde(rename = "afterWorkflowTaskCreated")]
    TaskCreated,
    /// `afterWorkflowTaskEnded`.
    #[serde(rename = "afterWorkflowTaskEnded")]
    TaskEnded,
    /// `afterWorkflowTaskReassigned`.
    #[serde(rename = "afterWorkflowTaskReassigned")]
    TaskReassigned,
    /// `afterWorkflowTaskDelegated`.
    #[serde(rename = "afterWorkflowTaskDelegated")]
    TaskDelegated,
}

impl EventKind {
    /// Every kind, in life-cycle order.
    pub const ALL: [EventKind; 7] = [
        EventKind::WorkflowStarted,
        EventKind::TaskCreated,
        EventKind::TaskReassigned,
        EventKind::TaskDelegated,
        EventKind::TaskEnded,
        EventKind::WorkflowFinished,
        EventKind::WorkflowCanceled,
    ];

    /// Nuxeo's event id.
    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::WorkflowStarted => "afterWorkflowStarted",
            EventKind::WorkflowFinished => "afterWorkflowFinish",
            EventKind::WorkflowCanceled => "beforeWorkflowCanceled",
            EventKind::TaskCreated => "afterWorkflowTaskCreated",
            EventKind::TaskEnded => "afterWorkflowTaskEnded",
            EventKind::TaskReassigned => "afterWorkflowTaskReassigned",
            EventKind::TaskDelegated => "afterWorkflowTaskDelegated",
        }
    }

    /// The kind with this Nuxeo event id.
    pub fn parse(s: &str) -> Option<EventKind> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }

    /// Whether the event is about one task (it then carries a task id).
    pub fn is_task(self) -> bool {
        matches!(
            self,
            EventKind::TaskCreated
                | EventKind::TaskEnded
                | EventKind::TaskReassigned
                | EventKind::TaskDelegated
        )
    }
}

impl std::fmt::Display for EventKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One workflow event.
///
/// `seq` grows by one per event of an engine, in commit order, and never repeats; with
/// the engine name it makes the stable id `<engine>:<seq>` ([`Event::id`]).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Event {
    /// Position in the engine's event log (from 1; 0 while not yet committed).
    #[serde(default)]
    pub seq: u64,
    /// Name of the engine that emitted it (filled when read).
    #[serde(default)]
    pub engine: String,
    /// Which event.
    pub kind: EventKind,
    /// When the step that caused it ran.
    pub at: DateTime<Utc>,
    /// The workflow instance.
    pub workflow_id: String,
    /// The task, for task events.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task_id: Option<String>,
    /// Title of the task's node, for task events.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task_name: Option<String>,
    /// Model of the workflow.
    pub model: String,
    /// Documents the workflow is attached to.
    #[serde(default)]
    pub documents: Vec<String>,
    /// User whose request caused the event.
    pub principal: String,
    /// User who started the workflow.
    pub initiator: String,
    /// Actors of the task after the event (task events).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub actors: Vec<String>,
    /// Principals the task is delegated to after the event (task events).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub delegated: Vec<String>,
    /// Button a task was completed with.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub action: Option<String>,
    /// Comment given with the step.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
    /// Nuxeo's extended info (keys in [`extended`]).
    #[serde(default)]
    pub extended: BTreeMap<String, serde_json::Value>,
}

impl Event {
    /// The stable id: `<engine>:<seq>`.
    pub fn id(&self) -> String {
        format!("{}:{}", self.engine, self.seq)
    }

    /// Nuxeo's event id.
    pub fn event_id(&self) -> &'static str {
        self.kind.as_str()
    }

    /// Whether the event matches the filters of `q` (paging aside).
    pub fn matches(&self, q: &EventQuery) -> bool {
        q.document
            .as_ref()
            .is_none_or(|d| self.documents.iter().any(|x| x == d))
            && q.workflow_id
                .as_ref()
                .is_none_or(|w| *w == self.workflow_id)
            && (q.kinds.is_empty() || q.kinds.contains(&self.kind))
            && q.principal.as_ref().is_none_or(|p| *p == self.principal)
            && q.after_seq.is_none_or(|s| self.seq > s)
            && q.start.is_none_or(|t| self.at >= t)
            && q.end.is_none_or(|t| self.at <= t)
    }
}

/// Which events a caller wants. Filters combine with AND; results are in `seq` order
/// (oldest first), limited to what the caller may see.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct EventQuery {
    /// Events of workflows attached to this document.
    pub document: Option<String>,
    /// Events of this workflow instance.
    pub workflow_id: Option<String>,
    /// Only these kinds (empty: all).
    pub kinds: Vec<EventKind>,
    /// Only events caused by this user.
    pub principal: Option<String>,
    /// Only events after this sequence number (resuming a feed).
    pub after_seq: Option<u64>,
    /// Only events at or after this time.
    pub start: Option<DateTime<Utc>>,
    /// Only events at or before this time.
    pub end: Option<DateTime<Utc>>,
    /// The slice wanted.
    pub page: PageRequest,
    /// The caller reads a feed and needs no exact `total`: an engine may stop reading
    /// once the page is full, and `total` is then only the events counted up to there
    /// (at least `offset + items`). Feeds far behind the end of a long log would
    /// otherwise pay for counting all of it on every page.
    pub page_only: bool,
}

impl EventQuery {
    /// Events of one document.
    pub fn for_document(doc: impl Into<String>) -> Self {
        Self {
            document: Some(doc.into()),
            ..Self::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(kind: EventKind, seq: u64) -> Event {
        Event {
            seq,
            engine: "local".into(),
            kind,
            at: Utc::now(),
            workflow_id: "w1".into(),
            task_id: None,
            task_name: None,
            model: "SerialDocumentReview".into(),
            documents: vec!["doc1".into()],
            principal: "jdoe".into(),
            initiator: "jdoe".into(),
            actors: vec![],
            delegated: vec![],
            action: None,
            comment: None,
            extended: BTreeMap::new(),
        }
    }

    #[test]
    fn kinds_use_nuxeo_event_ids_both_ways() {
        for k in EventKind::ALL {
            assert_eq!(EventKind::parse(k.as_str()), Some(k));
            let json = serde_json::to_string(&k).unwrap();
            assert_eq!(json, format!("\"{}\"", k.as_str()));
        }
        assert_eq!(EventKind::parse("documentModified"), None);
        assert_eq!(EventKind::WorkflowFinished.as_str(), "afterWorkflowFinish");
        assert_eq!(
            EventKind::WorkflowCanceled.as_str(),
            "beforeWorkflowCanceled"
        );
    }

    #[test]
    fn ids_are_engine_and_sequence_and_filters_combine() {
        let e = event(EventKind::TaskEnded, 7);
        assert_eq!(e.id(), "local:7");
        let mut q = EventQuery::for_document("doc1");
        assert!(e.matches(&q));
        q.kinds = vec![EventKind::WorkflowStarted];
        assert!(!e.matches(&q));
        q.kinds = vec![EventKind::TaskEnded];
        q.after_seq = Some(7);
        assert!(!e.matches(&q));
        q.after_seq = Some(6);
        q.principal = Some("asmith".into());
        assert!(!e.matches(&q));
        q.principal = None;
        q.document = Some("other".into());
        assert!(!e.matches(&q));
    }

    #[test]
    fn events_round_trip_through_serde() {
        let mut e = event(EventKind::TaskCreated, 3);
        e.task_id = Some("t1".into());
        e.actors = vec!["user:jdoe".into()];
        let back: Event = serde_json::from_str(&serde_json::to_string(&e).unwrap()).unwrap();
        assert_eq!(back, e);
    }
}
