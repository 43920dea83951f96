//! CQ / AEM JSON renderings, as the adapter reads them. Unknown keys (including the
//! `*_xss` twins) are ignored; everything the adapter does not strictly need is optional.

use serde::{Deserialize, Deserializer};
use serde_json::{Map, Value};

use crate::dates::WireDate;

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
    #[serde(rename = "startTime", default)]
    pub start_time: WireDate,
    #[serde(rename = "endTime", default)]
    pub end_time: WireDate,
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

/// A row of `GET /bin/workflow/inbox.json` (documented with `currentAssignee`).
#[derive(Debug, Deserialize)]
pub(crate) struct InboxRow {
    pub uri: String,
    #[serde(rename = "type")]
    pub ty: Option<String>,
    #[serde(rename = "currentAssignee")]
    pub current_assignee: Option<String>,
}

/// `GET {W}.json`. Adobe's published client reads `id`, `instance`, `model`, `node`,
/// `startTime`, `payloadType`, `payload` and `properties`; `currentAssignee` is not
/// among them and is used only when present.
#[derive(Debug, Deserialize)]
pub(crate) struct WorkItemDoc {
    pub id: String,
    pub node: Option<String>,
    #[serde(rename = "currentAssignee")]
    pub current_assignee: Option<String>,
    #[serde(rename = "startTime", default)]
    pub start_time: WireDate,
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

/// An entry of `routes.json`, `backroutes.json` or `delegatees.json` (`rid` / `label`),
/// or of the `routes` / `delegatees` arrays some work item renderings embed (`id` /
/// `name`). Route ids are opaque: numbers, numeric strings or composite values such
/// as `<id>@<participant>` are all kept as text and sent back unchanged.
#[derive(Debug)]
pub(crate) struct Choice {
    pub rid: String,
    pub label: Option<String>,
}

impl<'de> Deserialize<'de> for Choice {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Choice, D::Error> {
        let m = Map::<String, Value>::deserialize(d)?;
        let text = |v: &Value| match v {
            Value::String(s) => Some(s.clone()),
            Value::Number(n) => Some(n.to_string()),
            _ => None,
        };
        let rid = m
            .get("rid")
            .and_then(text)
            .or_else(|| m.get("id").and_then(text))
            .ok_or_else(|| serde::de::Error::missing_field("rid"))?;
        let label = ["label", "name"]
            .iter()
            .find_map(|k| m.get(*k).and_then(Value::as_str).map(str::to_owned));
        Ok(Choice { rid, label })
    }
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

/// One history entry. Adobe's published client reads `status`, `process` (the step
/// title), `user`, `action`, `comment`, `startTime` and `endTime`; `workItem` is read
/// only when a server sends it.
#[derive(Debug, Deserialize)]
pub(crate) struct HistoryRow {
    #[serde(default)]
    pub status: String,
    pub process: Option<String>,
    pub user: Option<String>,
    #[serde(default)]
    pub action: Option<String>,
    pub comment: Option<String>,
    #[serde(rename = "workItem")]
    pub work_item: Option<String>,
    #[serde(rename = "endTime", default)]
    pub end_time: WireDate,
    #[serde(rename = "startTime", default)]
    pub start_time: WireDate,
}
