//! CQ / AEM JSON renderings, as the adapter reads them. Unknown keys (including the
//! `*_xss` twins) are ignored; everything the adapter does not strictly need is optional.

use serde::{Deserialize, Deserializer};
use serde_json::{Map, Value};

/// A string that some releases send as a JSON number (route ids).
fn string_or_number<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    match Value::deserialize(d)? {
        Value::String(s) => Ok(s),
        Value::Number(n) => Ok(n.to_string()),
        other => Err(serde::de::Error::custom(format!(
            "expected a string or number, got {other}"
        ))),
    }
}

/// `GET /libs/granite/csrf/token.json`.
#[derive(Debug, Deserialize)]
pub(crate) struct CsrfToken {
    pub token: String,
}

/// `GET /etc/workflow.json` (only `state` is used).
#[derive(Debug, Deserialize)]
pub(crate) struct EngineStatus {
    pub state: Option<String>,
}

/// A row of `models.json` or of an instance list: `{"uri": ...}`.
#[derive(Debug, Deserialize)]
pub(crate) struct UriRow {
    pub uri: String,
}

/// A model in either rendering: serialized (arrays) or JCR dump (objects keyed by name).
#[derive(Debug, Deserialize)]
pub(crate) struct ModelDoc {
    pub title: Option<String>,
    #[serde(rename = "metaData", default)]
    pub meta: Map<String, Value>,
    #[serde(default)]
    pub nodes: Value,
    #[serde(default)]
    pub transitions: Value,
}

/// A model node.
#[derive(Debug, Deserialize)]
pub(crate) struct NodeDoc {
    pub id: Option<String>,
    #[serde(rename = "type")]
    pub ty: String,
    pub title: Option<String>,
    pub description: Option<String>,
    #[serde(rename = "metaData", default)]
    pub meta: Map<String, Value>,
}

/// A model transition.
#[derive(Debug, Deserialize)]
pub(crate) struct TransitionDoc {
    pub from: String,
    pub to: String,
    pub rule: Option<String>,
    pub title: Option<String>,
}

/// `GET {I}.json`.
#[derive(Clone, Debug, Deserialize)]
pub(crate) struct InstanceDoc {
    pub id: String,
    pub state: String,
    pub model: String,
    pub initiator: Option<String>,
    pub payload: Option<String>,
    #[serde(rename = "startTime")]
    pub start_time: Option<String>,
    #[serde(rename = "endTime")]
    pub end_time: Option<String>,
    #[serde(rename = "workItems", default)]
    pub work_items: Vec<ItemRef>,
    #[serde(rename = "metaData", default)]
    pub meta: Map<String, Value>,
    pub title: Option<String>,
}

/// An active work item of an instance.
#[derive(Clone, Debug, Deserialize)]
pub(crate) struct ItemRef {
    pub id: String,
    pub node: Option<String>,
}

/// A row of `GET /bin/workflow/inbox.json`.
#[derive(Debug, Deserialize)]
pub(crate) struct InboxRow {
    pub uri: String,
    #[serde(rename = "type")]
    pub ty: Option<String>,
}

/// `GET {W}.json`.
#[derive(Debug, Deserialize)]
pub(crate) struct WorkItemDoc {
    pub id: String,
    pub node: Option<String>,
    #[serde(rename = "currentAssignee")]
    pub current_assignee: Option<String>,
    #[serde(rename = "startTime")]
    pub start_time: Option<String>,
    #[serde(default)]
    pub properties: Vec<Property>,
}

/// A key/value of a work item.
#[derive(Debug, Deserialize)]
pub(crate) struct Property {
    pub key: String,
    #[serde(default)]
    pub value: Value,
}

/// An entry of `routes.json`, `backroutes.json` or `delegatees.json`.
#[derive(Debug, Deserialize)]
pub(crate) struct Choice {
    #[serde(deserialize_with = "string_or_number")]
    pub rid: String,
    pub label: Option<String>,
}

/// `GET {W}.routes.json`.
#[derive(Debug, Deserialize)]
pub(crate) struct Routes {
    #[serde(default)]
    pub routes: Vec<Choice>,
}

/// `GET {W}.backroutes.json`.
#[derive(Debug, Deserialize)]
pub(crate) struct Backroutes {
    #[serde(default)]
    pub backroutes: Vec<Choice>,
}

/// `GET {W}.delegatees.json`.
#[derive(Debug, Deserialize)]
pub(crate) struct Delegatees {
    #[serde(default)]
    pub delegatees: Vec<Choice>,
}

/// `GET /libs/cq/workflow/content/console/history.json?workflow={I}`.
#[derive(Debug, Deserialize)]
pub(crate) struct History {
    #[serde(rename = "historyItems", default)]
    pub items: Vec<HistoryRow>,
}

/// One history entry.
#[derive(Debug, Deserialize)]
pub(crate) struct HistoryRow {
    #[serde(default)]
    pub status: String,
    pub user: Option<String>,
    pub comment: Option<String>,
    #[serde(rename = "workItem")]
    pub work_item: Option<String>,
    #[serde(rename = "endTime")]
    pub end_time: Option<String>,
    #[serde(rename = "startTime")]
    pub start_time: Option<String>,
}
