//! The JSON format of model files (`config/models/*.json`), as written by people.
//!
//! These types only describe the file; [`crate::model`] checks and compiles them.

use flowgate_core::VarType;
use serde::Deserialize;
use serde_json::Value;

/// A whole model file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(crate) struct ModelSpec {
    pub name: String,
    pub title: String,
    /// For readers of the file; the neutral model has no description field.
    #[serde(default)]
    #[allow(dead_code)]
    pub description: Option<String>,
    #[serde(default)]
    pub variables: Vec<VarSpec>,
    /// Parsed one by one (see [`crate::model`]) so that an error names its node.
    pub nodes: Vec<Value>,
}

/// A declared variable (workflow or node).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct VarSpec {
    pub name: String,
    #[serde(rename = "type")]
    pub ty: VarType,
    #[serde(default)]
    pub default: Value,
}

/// One node of the graph.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(crate) struct NodeSpec {
    pub id: String,
    /// Title key (shown on tasks, untranslated).
    pub title: String,
    /// English title shown in graphs.
    #[serde(default)]
    pub title_text: Option<String>,
    #[serde(default)]
    pub x: i64,
    #[serde(default)]
    pub y: i64,
    #[serde(default)]
    pub start: bool,
    #[serde(default)]
    pub stop: bool,
    /// `"all"`: wait for every incoming branch before going on.
    #[serde(default)]
    pub merge: Option<String>,
    #[serde(default)]
    pub task: Option<TaskSpec>,
    #[serde(default)]
    pub variables: Vec<VarSpec>,
    /// Workflow variables the node's tasks show and may write.
    #[serde(default)]
    pub workflow_variables: Vec<String>,
    #[serde(default)]
    pub input: Vec<ActionSpec>,
    #[serde(default)]
    pub output: Vec<ActionSpec>,
    #[serde(default)]
    pub transitions: Vec<TransitionSpec>,
    #[serde(default)]
    pub escalations: Vec<EscalationSpec>,
}

/// What makes a node a task node.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(crate) struct TaskSpec {
    #[serde(default)]
    pub directive: Option<String>,
    /// CEL expression giving a string or a list of strings.
    #[serde(default)]
    pub assignees: Option<String>,
    /// Fixed users or groups, added after the computed ones.
    #[serde(default)]
    pub static_assignees: Vec<String>,
    /// One task per assignee, the node goes on when all are ended.
    #[serde(default)]
    pub multi_task: bool,
    /// CEL expression giving a timestamp (or null).
    #[serde(default)]
    pub due_date: Option<String>,
    #[serde(default)]
    pub allow_task_reassignment: bool,
    #[serde(default)]
    pub buttons: Vec<ButtonSpec>,
}

/// A task button.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ButtonSpec {
    pub name: String,
    pub label: String,
    #[serde(default)]
    pub validate: bool,
}

/// An outgoing transition.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(crate) struct TransitionSpec {
    pub name: String,
    /// Label key.
    #[serde(default)]
    pub label: Option<String>,
    /// English label shown in graphs.
    #[serde(default)]
    pub label_text: Option<String>,
    #[serde(default = "default_condition")]
    pub condition: String,
    pub target: String,
    #[serde(default)]
    pub actions: Vec<ActionSpec>,
    #[serde(default)]
    pub path: Vec<PointSpec>,
}

fn default_condition() -> String {
    "true".to_owned()
}

/// A point of a drawn transition.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct PointSpec {
    pub x: f64,
    pub y: f64,
}

/// One step of a chain: set a variable, run a built-in, or emit an event.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ActionSpec {
    /// Free text for readers of the file.
    #[serde(default)]
    #[allow(dead_code)]
    pub comment: Option<String>,
    /// Guard: the action runs only when this CEL expression is true.
    #[serde(default, rename = "if")]
    pub when: Option<String>,
    /// `WorkflowVariables.<name>` or `NodeVariables.<name>`.
    #[serde(default)]
    pub set: Option<String>,
    /// CEL expression giving the new value.
    #[serde(default)]
    pub value: Option<String>,
    /// A built-in computation giving the new value (`review_summary`).
    #[serde(default)]
    pub builtin: Option<String>,
    /// An event name, logged for observers (document lifecycle, audit, notifications).
    #[serde(default)]
    pub event: Option<String>,
}

/// An escalation rule of a task node.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct EscalationSpec {
    pub name: String,
    /// Free text for readers of the file.
    #[serde(default)]
    #[allow(dead_code)]
    pub comment: Option<String>,
    pub condition: String,
    /// `force_resume`: cancel the node's open tasks and follow its transitions.
    pub action: String,
}
