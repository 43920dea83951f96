//! Alfresco JSON as it travels on the wire (hand-written after the server, not the
//! published contract: see the adapter's README). Every optional field is `Option`
//! because the server omits null and empty values.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// `{"entry": T}`.
#[derive(Debug, Deserialize)]
pub(crate) struct Entry<T> {
    pub entry: T,
}

/// `{"list": {"pagination": .., "entries": [{"entry": T}]}}`.
#[derive(Debug, Deserialize)]
pub(crate) struct List<T> {
    pub list: ListBody<T>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct ListBody<T> {
    pub pagination: Pagination,
    pub entries: Vec<Entry<T>>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Pagination {
    pub count: u64,
    pub has_more_items: bool,
    #[serde(default)]
    pub total_items: Option<u64>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ProcessDefinition {
    pub id: String,
    pub key: String,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub title: Option<String>,
    pub version: i64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct FormElement {
    pub name: String,
    #[serde(default)]
    pub data_type: Option<String>,
    #[serde(default)]
    pub required: bool,
    #[serde(default)]
    pub default_value: Option<String>,
    #[serde(default)]
    pub allowed_values: Vec<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Process {
    pub id: String,
    pub process_definition_id: String,
    #[serde(default)]
    pub process_definition_key: Option<String>,
    #[serde(default)]
    pub business_key: Option<String>,
    pub started_at: String,
    #[serde(default)]
    pub ended_at: Option<String>,
    #[serde(default)]
    pub start_user_id: Option<String>,
    #[serde(default)]
    pub delete_reason: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub(crate) struct Item {
    pub id: String,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
pub(crate) struct Variable {
    pub name: String,
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    pub ty: Option<String>,
    #[serde(default)]
    pub value: Value,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Task {
    pub id: String,
    #[serde(default)]
    pub process_id: Option<String>,
    #[serde(default)]
    pub process_definition_id: Option<String>,
    pub activity_definition_id: String,
    #[serde(default)]
    pub name: Option<String>,
    pub started_at: String,
    #[serde(default)]
    pub ended_at: Option<String>,
    #[serde(default)]
    pub due_at: Option<String>,
    #[serde(default)]
    pub assignee: Option<String>,
    #[serde(default)]
    pub owner: Option<String>,
    #[serde(default)]
    pub form_resource_key: Option<String>,
    pub state: String,
    #[serde(default)]
    pub variables: Option<Vec<Variable>>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Candidate {
    pub candidate_id: String,
    pub candidate_type: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Activity {
    pub activity_definition_id: String,
    #[serde(default)]
    pub activity_definition_name: Option<String>,
    #[serde(default)]
    pub activity_definition_type: Option<String>,
    pub started_at: String,
    #[serde(default)]
    pub ended_at: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Node {
    pub id: String,
    pub name: String,
    #[serde(default)]
    pub node_type: Option<String>,
    #[serde(default)]
    pub is_folder: bool,
    #[serde(default)]
    pub path: Option<NodePath>,
}

#[derive(Debug, Clone, Deserialize)]
pub(crate) struct NodePath {
    pub name: String,
}

#[derive(Debug, Clone, Deserialize)]
pub(crate) struct Ticket {
    pub id: String,
}

/// The legacy `workflow-instances` of a node: `{"data": [...]}`.
#[derive(Debug, Deserialize)]
pub(crate) struct LegacyInstances {
    pub data: Vec<LegacyInstance>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct LegacyInstance {
    pub id: String,
}

/// Body of `POST /processes`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ProcessBody {
    pub process_definition_key: String,
    pub business_key: String,
    pub variables: serde_json::Map<String, Value>,
    pub items: Vec<String>,
}

/// A task variable written with `PUT /tasks/{id}`.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct VariableBody {
    pub name: String,
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    pub ty: Option<&'static str>,
    pub value: Value,
    pub scope: &'static str,
}

impl VariableBody {
    /// A task-local variable of the type Alfresco infers from the value.
    pub(crate) fn local(name: impl Into<String>, value: Value) -> Self {
        Self {
            name: name.into(),
            ty: None,
            value,
            scope: "local",
        }
    }
}

/// Body of `PUT /tasks/{id}`; the request's `select` names the fields it sets.
#[derive(Debug, Default, Serialize)]
pub(crate) struct TaskUpdate {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub state: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub assignee: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub variables: Option<Vec<VariableBody>>,
}
