//! Plain, serializable state records and the changes made to them.
//!
//! Every state change of the engine is expressed as a [`Change`] and goes through
//! [`crate::store::Store::apply`]. A durable store only has to write each batch of
//! changes to a log before applying it, and replay the log at start-up.

use chrono::{DateTime, Utc};
use flowgate_core::{Comment, TaskState, Variables, WorkflowState};
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use uuid::Uuid;

/// One workflow instance.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct WorkflowRecord {
    /// Instance id.
    pub id: Uuid,
    /// Instance name: the model name, with `.<n>` for all but the first instance.
    pub name: String,
    /// Model name (shared string: many instances, few models).
    pub model: Arc<str>,
    /// User who started it.
    pub initiator: String,
    /// Attached document ids.
    pub documents: Vec<String>,
    /// Life-cycle state.
    pub state: WorkflowState,
    /// Workflow variables, in model declaration order.
    pub variables: VarValues,
    /// Start time.
    pub created: DateTime<Utc>,
    /// End time (done or canceled).
    pub ended: Option<DateTime<Utc>>,
    /// Nodes entered so far, with their run state.
    pub nodes: Vec<NodeRecord>,
    /// Every task the instance created, in creation order.
    pub tasks: Vec<Uuid>,
    /// Whether a stop node was reached.
    pub reached_stop: bool,
}

/// Where a node of an instance stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NodeRun {
    /// Entered and left (or never holding anything now).
    Ready,
    /// A merge waiting for more incoming branches.
    Waiting,
    /// Holding open tasks.
    Suspended,
}

/// A node an instance entered.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct NodeRecord {
    /// Node id in the model.
    pub id: String,
    /// Run state.
    pub run: NodeRun,
    /// Node variables.
    pub variables: VarValues,
    /// Button pressed on the node's last completed task.
    pub button: Option<String>,
    /// User who completed the node's last task.
    pub last_actor: Option<String>,
    /// Ended tasks of the current visit (what `tasks` shows to expressions).
    pub tasks_info: Vec<TaskInfoRecord>,
    /// Source nodes already arrived at this merge during the current visit.
    pub arrived: Vec<String>,
    /// Escalation rules already executed during the current visit.
    pub escalations_done: Vec<String>,
}

/// Bookkeeping of one ended task of a node.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TaskInfoRecord {
    /// The task.
    pub task_id: Uuid,
    /// User who ended it.
    pub actor: String,
    /// Button pressed.
    pub status: String,
    /// Comment given, if any.
    pub comment: Option<String>,
    /// When.
    pub ended: DateTime<Utc>,
}

/// One task.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TaskRecord {
    /// Task id.
    pub id: Uuid,
    /// Owning instance.
    pub workflow_id: Uuid,
    /// Node that created it.
    pub node_id: String,
    /// State.
    pub state: TaskState,
    /// Assignees, as computed or given.
    pub actors: Vec<String>,
    /// Principals it was delegated to.
    pub delegated: Vec<String>,
    /// Comments, oldest first.
    pub comments: Vec<Comment>,
    /// Creation time.
    pub created: DateTime<Utc>,
    /// Due date.
    pub due: Option<DateTime<Utc>>,
    /// User whose request created it (may also complete it).
    pub initiator: String,
    /// Button it was completed with.
    pub action: Option<String>,
    /// When it ended or was cancelled.
    pub ended: Option<DateTime<Utc>>,
    /// Variables as they were when the task ended (open tasks show live values).
    /// Boxed: open tasks have none, and a map's header would make every task record
    /// 64 bytes larger (serialized as the map itself).
    pub variables: Option<Box<Variables>>,
}

impl WorkflowRecord {
    /// Gives back the spare capacity of every vector and string, once the record is
    /// final: a step grows them as it goes (a vector's first push reserves room for
    /// four nodes), and the store keeps the record as long as the instance lives.
    pub fn shrink(&mut self) {
        self.name.shrink_to_fit();
        self.initiator.shrink_to_fit();
        shrink_strings(&mut self.documents);
        self.variables.shrink();
        for n in &mut self.nodes {
            n.shrink();
        }
        self.nodes.shrink_to_fit();
        self.tasks.shrink_to_fit();
    }
}

impl NodeRecord {
    fn shrink(&mut self) {
        self.id.shrink_to_fit();
        self.variables.shrink();
        for s in [&mut self.button, &mut self.last_actor]
            .into_iter()
            .flatten()
        {
            s.shrink_to_fit();
        }
        for t in &mut self.tasks_info {
            t.actor.shrink_to_fit();
            t.status.shrink_to_fit();
            if let Some(c) = &mut t.comment {
                c.shrink_to_fit();
            }
        }
        self.tasks_info.shrink_to_fit();
        shrink_strings(&mut self.arrived);
        shrink_strings(&mut self.escalations_done);
    }
}

fn shrink_strings(v: &mut Vec<String>) {
    for s in v.iter_mut() {
        s.shrink_to_fit();
    }
    v.shrink_to_fit();
}

/// Gives back the spare capacity of a JSON value's strings and arrays.
fn shrink_value(v: &mut serde_json::Value) {
    use serde_json::Value;
    match v {
        Value::String(s) => s.shrink_to_fit(),
        Value::Array(a) => {
            a.iter_mut().for_each(shrink_value);
            a.shrink_to_fit();
        }
        Value::Object(m) => m.values_mut().for_each(shrink_value),
        _ => {}
    }
}

impl TaskRecord {
    /// See [`WorkflowRecord::shrink`].
    pub fn shrink(&mut self) {
        self.node_id.shrink_to_fit();
        shrink_strings(&mut self.actors);
        shrink_strings(&mut self.delegated);
        self.comments.shrink_to_fit();
        self.initiator.shrink_to_fit();
    }

    /// Actors and delegated actors.
    pub fn principals(&self) -> impl Iterator<Item = &String> {
        self.actors.iter().chain(self.delegated.iter())
    }
}

/// One state change. Applied in batches; a batch is all-or-nothing for the caller.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Change {
    /// Creates or replaces an instance.
    Workflow(WorkflowRecord),
    /// Creates or replaces a task.
    Task(TaskRecord),
    /// Remembers the path a document id was derived from.
    DocumentPath {
        /// Document id.
        id: String,
        /// Absolute repository path.
        path: String,
    },
    /// Records a workflow event (see `docs/events.md`).
    Event(Box<flowgate_core::Event>),
    /// Removes an ended instance and its tasks for good (retention, admin purge).
    Purge {
        /// The instance.
        workflow: Uuid,
        /// Every task it created.
        tasks: Vec<Uuid>,
        /// Sequence numbers of its stored events, deleted from the storage's event
        /// table in the same commit. Not written to the log (the deletion is done by
        /// the commit that writes it).
        #[serde(skip)]
        events: Vec<u64>,
    },
}

impl Change {
    /// A workflow event, committed with the changes of the step that caused it.
    pub fn event(e: flowgate_core::Event) -> Self {
        Change::Event(Box::new(e))
    }
}

/// Variable values of an instance or node, in declaration order. A plain vector of
/// (name, value): instances start from the model's defaults, whose names are shared
/// `Arc<str>`s, so a running instance pays only for its values. Serialized as a JSON
/// object.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct VarValues(Vec<(Arc<str>, serde_json::Value)>);

impl VarValues {
    /// The value of a variable.
    pub fn get(&self, name: &str) -> Option<&serde_json::Value> {
        self.0.iter().find(|(k, _)| &**k == name).map(|(_, v)| v)
    }

    /// Sets a variable, keeping its position (appended when new).
    pub fn insert(&mut self, name: &str, value: serde_json::Value) {
        match self.0.iter_mut().find(|(k, _)| &**k == name) {
            Some((_, v)) => *v = value,
            None => self.0.push((Arc::from(name), value)),
        }
    }

    /// Name/value pairs in order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &serde_json::Value)> {
        self.0.iter().map(|(k, v)| (&**k, v))
    }

    /// Gives back spare capacity (see [`WorkflowRecord::shrink`]).
    pub fn shrink(&mut self) {
        self.0.iter_mut().for_each(|(_, v)| shrink_value(v));
        self.0.shrink_to_fit();
    }

    /// Whether there is no variable.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// As an ordered JSON object.
    pub fn to_map(&self) -> Variables {
        self.iter()
            .map(|(k, v)| (k.to_owned(), v.clone()))
            .collect()
    }
}

impl FromIterator<(Arc<str>, serde_json::Value)> for VarValues {
    fn from_iter<I: IntoIterator<Item = (Arc<str>, serde_json::Value)>>(iter: I) -> Self {
        let mut v: Vec<_> = iter.into_iter().collect();
        v.shrink_to_fit();
        VarValues(v)
    }
}

impl From<&Variables> for VarValues {
    fn from(m: &Variables) -> Self {
        m.iter()
            .map(|(k, v)| (Arc::from(k.as_str()), v.clone()))
            .collect()
    }
}

impl Serialize for VarValues {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_map(self.iter())
    }
}

impl<'de> Deserialize<'de> for VarValues {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Variables::deserialize(d).map(|m| VarValues::from(&m))
    }
}

/// The hyphenated lower-case form of `id`, written directly (what `to_string` gives,
/// without the formatting machinery: every task and workflow read writes two or three).
pub(crate) fn id_string(id: &uuid::Uuid) -> String {
    let mut buf = [0u8; uuid::fmt::Hyphenated::LENGTH];
    id.hyphenated().encode_lower(&mut buf).to_owned()
}
