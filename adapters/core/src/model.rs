//! The neutral model: what every engine produces and consumes.
//!
//! Field meanings follow Nuxeo's route model (the facade's wire format is a direct
//! rendering of these types), but nothing here is tied to a wire format.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Workflow or node variables: an ordered JSON object (declaration order is kept).
pub type Variables = serde_json::Map<String, Value>;

/// Life-cycle state of a workflow instance or model. Note the single "l" of `canceled`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum WorkflowState {
    /// Model being edited.
    Draft,
    /// A usable model.
    Validated,
    /// Instance created but not started.
    Ready,
    /// Instance waiting on tasks or running.
    Running,
    /// Instance paused by an operator (engines with the `suspend_resume` capability).
    Suspended,
    /// Instance reached an end node.
    Done,
    /// Instance cancelled.
    Canceled,
}

impl WorkflowState {
    /// The wire spelling (`running`, `canceled`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            WorkflowState::Draft => "draft",
            WorkflowState::Validated => "validated",
            WorkflowState::Ready => "ready",
            WorkflowState::Running => "running",
            WorkflowState::Suspended => "suspended",
            WorkflowState::Done => "done",
            WorkflowState::Canceled => "canceled",
        }
    }

    /// Whether the instance can still make progress.
    pub fn is_active(self) -> bool {
        matches!(
            self,
            WorkflowState::Running | WorkflowState::Suspended | WorkflowState::Ready
        )
    }
}

/// State of a task. Note the double "l" of `cancelled`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TaskState {
    /// Waiting for one of its actors.
    Opened,
    /// Completed with an action.
    Ended,
    /// Cancelled with its workflow (or by escalation).
    Cancelled,
}

impl TaskState {
    /// The wire spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            TaskState::Opened => "opened",
            TaskState::Ended => "ended",
            TaskState::Cancelled => "cancelled",
        }
    }
}

/// State of a node in a graph.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum NodeState {
    /// Node of a model graph.
    Validated,
    /// Node of an instance, not (or no longer) active.
    Ready,
    /// Node waiting for something other than a task (e.g. a merge).
    Waiting,
    /// Node holding open tasks.
    Suspended,
    /// Node of a cancelled instance.
    Canceled,
}

impl NodeState {
    /// The wire spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            NodeState::Validated => "validated",
            NodeState::Ready => "ready",
            NodeState::Waiting => "waiting",
            NodeState::Suspended => "suspended",
            NodeState::Canceled => "canceled",
        }
    }
}

/// Declared type of a variable; incoming values are checked and normalised against it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum VarType {
    /// A string (Nuxeo `string` / `bigString`).
    String,
    /// A 64-bit integer.
    Integer,
    /// A boolean.
    Boolean,
    /// A date, carried as a W3C UTC string with milliseconds.
    Date,
    /// A list of strings.
    StringList,
    /// A binary; only `null` is accepted from clients.
    Blob,
}

/// One declared variable of a model or node.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct VariableDef {
    /// Variable name.
    pub name: String,
    /// Declared type.
    #[serde(rename = "type")]
    pub ty: VarType,
    /// Value before anyone sets it (`null`, or `[]` for lists, unless the model says otherwise).
    #[serde(default)]
    pub default: Value,
}

/// A workflow model (a definition that instances are started from).
#[derive(Clone, Debug, PartialEq)]
pub struct WorkflowModel {
    /// Stable id of the model (path-safe).
    pub id: String,
    /// Name used to address the model (`SerialDocumentReview`).
    pub name: String,
    /// Title, an i18n key for Nuxeo-style models.
    pub title: String,
    /// The workflow variables with their defaults, in declaration order.
    pub variables: Vec<VariableDef>,
}

impl WorkflowModel {
    /// The default value of every workflow variable, in declaration order.
    pub fn default_variables(&self) -> Variables {
        self.variables
            .iter()
            .map(|v| (v.name.clone(), v.default.clone()))
            .collect()
    }
}

/// A running or finished workflow instance.
#[derive(Clone, Debug, PartialEq)]
pub struct WorkflowInstance {
    /// Instance id (path-safe, as seen by clients once the gateway prefixed it).
    pub id: String,
    /// Instance name: the model name, possibly with a `.<digits>` suffix.
    pub name: String,
    /// Title (the model's title key).
    pub title: String,
    /// Current state.
    pub state: WorkflowState,
    /// Name of the model it was started from.
    pub model_name: String,
    /// User who started it.
    pub initiator: Option<String>,
    /// Ids of the attached documents, in attachment order.
    pub attached_documents: Vec<String>,
    /// Every workflow variable, in declaration order.
    pub variables: Variables,
    /// When it started.
    pub created: DateTime<Utc>,
    /// When it ended (done or canceled).
    pub ended: Option<DateTime<Utc>>,
}

/// One comment on a task.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Comment {
    /// User name of the author.
    pub author: String,
    /// The text; `None` when an operation (reassign, delegate) was done without comment.
    pub text: Option<String>,
    /// When it was written.
    pub date: DateTime<Utc>,
}

/// A button of a task node: completing the task with it is an "action".
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskAction {
    /// Action name, as used in `PUT /task/{id}/{action}`.
    pub name: String,
    /// Label (an i18n key for Nuxeo-style models).
    pub label: String,
    /// Whether a UI must validate the task form before submitting.
    pub validate: bool,
}

/// Node-level information shown with a task.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct TaskInfo {
    /// Whether the node allows reassigning its tasks.
    pub allow_reassignment: bool,
    /// The node's buttons, in model order.
    pub actions: Vec<TaskAction>,
    /// Names of the schemas describing the task form (at least `var_<nodeId>`).
    pub schemas: Vec<String>,
}

/// A task (work item) of a workflow instance.
#[derive(Clone, Debug, PartialEq)]
pub struct Task {
    /// Task id.
    pub id: String,
    /// Task name (the node's title key).
    pub name: String,
    /// Owning instance, `None` for standalone tasks.
    pub workflow_id: Option<String>,
    /// Owning instance's model name.
    pub workflow_model_name: Option<String>,
    /// Owning instance's initiator.
    pub workflow_initiator: Option<String>,
    /// Owning instance's title.
    pub workflow_title: Option<String>,
    /// Owning instance's state.
    pub workflow_state: Option<WorkflowState>,
    /// Task state.
    pub state: TaskState,
    /// Directive (an i18n key for Nuxeo-style models).
    pub directive: Option<String>,
    /// Creation time.
    pub created: DateTime<Utc>,
    /// Due date, if any.
    pub due_date: Option<DateTime<Utc>>,
    /// Id of the node that created the task.
    pub node_id: String,
    /// Ids of the documents the task is about.
    pub target_documents: Vec<String>,
    /// Assignees, spelled exactly as computed or given (`user:jdoe`, `members`, ...).
    pub actors: Vec<String>,
    /// Principals the task was delegated to.
    pub delegated_actors: Vec<String>,
    /// Comments, oldest first.
    pub comments: Vec<Comment>,
    /// Node variables followed by the workflow variables this node may see.
    pub variables: Variables,
    /// Node-level information: buttons, reassignment flag, schemas.
    pub info: TaskInfo,
    /// User whose request created the task (may also complete it).
    pub initiator: Option<String>,
}

/// A point of a transition's drawn path.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct GraphPoint {
    /// Horizontal coordinate.
    pub x: f64,
    /// Vertical coordinate.
    pub y: f64,
}

/// A node of a model or instance graph.
#[derive(Clone, Debug, PartialEq)]
pub struct GraphNode {
    /// Node id.
    pub id: String,
    /// Display title (translated where the engine can).
    pub title: String,
    /// Canvas x.
    pub x: i64,
    /// Canvas y.
    pub y: i64,
    /// Start node.
    pub start: bool,
    /// End (stop) node.
    pub end: bool,
    /// State (`validated` in model graphs).
    pub state: NodeState,
    /// The node waits for all incoming branches.
    pub merge: bool,
    /// The node creates one task per participant.
    pub multi_task: bool,
    /// The node starts a sub-workflow.
    pub sub_workflow: bool,
}

/// A transition of a graph.
#[derive(Clone, Debug, PartialEq)]
pub struct GraphTransition {
    /// Source node id.
    pub source: String,
    /// Target node id.
    pub target: String,
    /// Display label (may be empty).
    pub label: String,
    /// Drawn path, possibly empty.
    pub path: Vec<GraphPoint>,
}

/// A workflow graph: nodes in model order, one transition per outgoing edge.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct Graph {
    /// Nodes.
    pub nodes: Vec<GraphNode>,
    /// Transitions.
    pub transitions: Vec<GraphTransition>,
}

/// How a client designates a document.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum DocLocator {
    /// By id (`/id/{docId}`).
    Id(String),
    /// By absolute repository path, with its leading slash (`/path/{docPath}`).
    Path(String),
}

/// What an engine knows about a document. Engines without a document store return
/// stubs with only `id` (and `path` when the document was addressed by path).
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Document {
    /// Document id (path-safe).
    pub id: String,
    /// Absolute repository path, when known.
    pub path: Option<String>,
    /// Title, when known.
    pub title: Option<String>,
    /// Document type, when known.
    pub doc_type: Option<String>,
    /// Life-cycle state, when known.
    pub state: Option<String>,
}

/// A principal reference as shown on tasks (kept as given).
pub type ActorRef = String;

/// A request to start a workflow.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct StartWorkflow {
    /// Model name.
    pub model: String,
    /// Ids of the documents to attach.
    pub documents: Vec<String>,
    /// Initial workflow variables (unknown names are ignored by the engine).
    pub variables: Variables,
}

/// A request to complete a task.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct Completion {
    /// The action (button) pressed.
    pub action: String,
    /// Comment to record, if any.
    pub comment: Option<String>,
    /// Node and workflow variables to store (unknown names are ignored).
    pub variables: Variables,
}
