//! Alfresco JSON as it travels on the wire. The types follow Alfresco's published
//! definition (`contract/alfresco-workflow.yaml`): a field it does not list as
//! `required` is an `Option` (or defaults to empty) here, because the server omits null
//! and empty values and the definition allows it to omit more. What the adapter cannot
//! do without is checked where it is used, with an error naming the field.
//!
//! Date fields stay text (a number of epoch milliseconds is turned into its digits):
//! their presence carries meaning (an `endedAt` says the task ended) even when the
//! value cannot be read, and [`crate::convert::date`] reads them leniently.

use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;

/// A date field: text as sent, or the digits of a number (epoch milliseconds). Any
/// other JSON value (`true`, an object) reads as absent rather than failing the entity.
fn lenient_date<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    Ok(match Value::deserialize(d)? {
        Value::String(s) => Some(s),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    })
}

/// `{"entry": T}`.
#[derive(Debug, Deserialize)]
pub(crate) struct Entry<T> {
    pub entry: T,
}

/// `{"list": {"pagination": .., "entries": [{"entry": T}]}}`.
/// The definition requires nothing in a list answer. Its envelope (`list`, like the
/// `entry` of a single entity) is still required here: an answer without it carries no
/// entity at all and is not one Alfresco sends, so it is refused (502 naming the
/// field) rather than read as an empty list. `pagination` and `entries` are optional.
#[derive(Debug, Deserialize)]
pub(crate) struct List<T> {
    pub list: ListBody<T>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct ListBody<T> {
    #[serde(default)]
    pub pagination: Option<Pagination>,
    #[serde(default = "Vec::new")]
    pub entries: Vec<Entry<T>>,
}

impl<T> ListBody<T> {
    /// The entries, unwrapped.
    pub fn into_entries(self) -> Vec<T> {
        self.entries.into_iter().map(|e| e.entry).collect()
    }

    /// Whether the server says more entries follow after `seen` entries (counting
    /// those of this page): `hasMoreItems`, else `totalItems`; `None` when it says
    /// neither.
    pub fn has_more(&self, seen: usize) -> Option<bool> {
        let p = self.pagination.as_ref()?;
        p.has_more_items.or_else(|| {
            let total = p.total_items.as_ref()?.as_u64()?;
            Some((seen as u64) < total)
        })
    }
}

/// Every field is optional in the definition; only the two that tell whether more
/// entries follow are read (`count`, `skipCount` and `maxItems` are left alone, so that
/// their type never matters).
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Pagination {
    #[serde(default)]
    pub has_more_items: Option<bool>,
    #[serde(default)]
    pub total_items: Option<serde_json::Number>,
}

/// Only `id` is required. The definition has no `version` at all; Alfresco sends it,
/// and process definition ids read `key:version:n`, which gives both when absent.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ProcessDefinition {
    pub id: String,
    #[serde(default)]
    pub key: Option<String>,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub title: Option<String>,
    #[serde(default)]
    pub version: Option<i64>,
}

impl ProcessDefinition {
    /// The key as sent, else the first part of the id.
    pub fn key(&self) -> &str {
        match &self.key {
            Some(k) if !k.is_empty() => k,
            _ => key_of_definition_id(&self.id),
        }
    }

    /// The version as sent, else the second part of the id, else 0.
    pub fn version(&self) -> i64 {
        self.version
            .or_else(|| self.id.split(':').nth(1).and_then(|v| v.parse().ok()))
            .unwrap_or(0)
    }
}

/// The key part of a process definition id (`activitiReview:1:8` → `activitiReview`).
pub(crate) fn key_of_definition_id(id: &str) -> &str {
    id.split(':').next().unwrap_or(id)
}

/// A form model element (`TaskFormModel` in the definition, where nothing is required;
/// an element without a name is ignored by its readers).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct FormElement {
    #[serde(default)]
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
    #[serde(default)]
    pub process_definition_id: Option<String>,
    #[serde(default)]
    pub process_definition_key: Option<String>,
    #[serde(default)]
    pub business_key: Option<String>,
    #[serde(default, deserialize_with = "lenient_date")]
    pub started_at: Option<String>,
    #[serde(default, deserialize_with = "lenient_date")]
    pub ended_at: Option<String>,
    #[serde(default)]
    pub start_user_id: Option<String>,
    #[serde(default)]
    pub delete_reason: Option<String>,
}

/// A package item; the definition requires nothing, an item without `id` is ignored.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct Item {
    #[serde(default)]
    pub id: Option<String>,
}

/// A variable; the definition requires nothing, a variable without a name is ignored.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub(crate) struct Variable {
    #[serde(default)]
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
    #[serde(default)]
    pub activity_definition_id: Option<String>,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default, deserialize_with = "lenient_date")]
    pub started_at: Option<String>,
    #[serde(default, deserialize_with = "lenient_date")]
    pub ended_at: Option<String>,
    #[serde(default, deserialize_with = "lenient_date")]
    pub due_at: Option<String>,
    #[serde(default)]
    pub assignee: Option<String>,
    #[serde(default)]
    pub owner: Option<String>,
    #[serde(default)]
    pub form_resource_key: Option<String>,
    #[serde(default)]
    pub state: Option<String>,
    #[serde(default)]
    pub variables: Option<Vec<Variable>>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Candidate {
    #[serde(default)]
    pub candidate_id: Option<String>,
    #[serde(default)]
    pub candidate_type: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Activity {
    pub activity_definition_id: String,
    #[serde(default)]
    pub activity_definition_name: Option<String>,
    #[serde(default)]
    pub activity_definition_type: Option<String>,
    #[serde(default, deserialize_with = "lenient_date")]
    pub started_at: Option<String>,
    #[serde(default, deserialize_with = "lenient_date")]
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
