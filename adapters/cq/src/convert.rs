//! CQ renderings → the neutral model. Malformed upstream data becomes
//! `EngineError::Upstream`, never a panic.

use std::collections::{HashMap, VecDeque};

use chrono::{DateTime, Utc};
use flowgate_core::{
    EngineError, Graph, GraphNode, GraphTransition, NodeState, Variables, WorkflowInstance,
    WorkflowModel, WorkflowState,
};
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use crate::profile::model_name_of;
use crate::wire::{InstanceDoc, ModelDoc, NodeDoc, TransitionDoc};
use crate::{dates, ids};

/// Start metadata keys the adapter writes itself (never shown as variables).
pub(crate) const META_INITIATOR: &str = "flowgateInitiator";
pub(crate) const META_START_ID: &str = "flowgateStartId";
pub(crate) const META_TITLE: &str = "workflowTitle";
pub(crate) const META_COMMENT: &str = "startComment";

fn malformed(what: &str) -> EngineError {
    EngineError::upstream(None, format!("CQ/AEM returned a malformed {what}"))
}

/// A parsed model node.
#[derive(Clone, Debug)]
pub(crate) struct NodeInfo {
    pub id: String,
    pub ty: String,
    pub title: String,
    pub description: Option<String>,
    pub participant: Option<String>,
}

/// A parsed transition.
#[derive(Clone, Debug)]
pub(crate) struct EdgeInfo {
    pub from: String,
    pub to: String,
    pub label: String,
}

/// A model in the adapter's own terms (both renderings parse to the same value).
#[derive(Clone, Debug)]
pub(crate) struct ModelInfo {
    pub name: String,
    pub title: String,
    pub deleted: bool,
    pub nodes: Vec<NodeInfo>,
    pub edges: Vec<EdgeInfo>,
}

/// Items of an array, or the object entries of a JCR dump (keyed by name; `jcr:`,
/// `sling:`, `cq:` properties and non-object values skipped), with their keys.
fn entries<T: DeserializeOwned>(
    v: Value,
    what: &str,
) -> Result<Vec<(Option<String>, T)>, EngineError> {
    let parse = |v: Value| serde_json::from_value::<T>(v).map_err(|_| malformed(what));
    match v {
        Value::Array(items) => items.into_iter().map(|i| Ok((None, parse(i)?))).collect(),
        Value::Object(map) => map
            .into_iter()
            .filter(|(k, v)| {
                v.is_object()
                    && !(k.starts_with("jcr:") || k.starts_with("sling:") || k.starts_with("cq:"))
            })
            .map(|(k, v)| Ok((Some(k), parse(v)?)))
            .collect(),
        Value::Null => Ok(Vec::new()),
        _ => Err(malformed(what)),
    }
}

fn meta_str<'a>(m: &'a Map<String, Value>, key: &str) -> Option<&'a str> {
    m.get(key).and_then(Value::as_str)
}

impl ModelInfo {
    /// Parses either model rendering.
    pub fn from_doc(name: &str, doc: ModelDoc) -> Result<ModelInfo, EngineError> {
        let nodes: Vec<NodeInfo> = entries::<NodeDoc>(doc.nodes, "model node")?
            .into_iter()
            .map(|(key, n)| {
                let id = n.id.or(key).ok_or_else(|| malformed("model node"))?;
                let participant = meta_str(&n.meta, "PARTICIPANT").map(str::to_owned);
                Ok(NodeInfo {
                    title: n.title.unwrap_or_else(|| id.clone()),
                    id,
                    ty: n.ty,
                    description: n.description.filter(|d| !d.is_empty()),
                    participant,
                })
            })
            .collect::<Result<_, EngineError>>()?;
        if nodes.is_empty() {
            return Err(malformed("model (no nodes)"));
        }
        let edges = entries::<TransitionDoc>(doc.transitions, "model transition")?
            .into_iter()
            .map(|(_, t)| EdgeInfo {
                label: t.title.or(t.rule).unwrap_or_default(),
                from: t.from,
                to: t.to,
            })
            .collect();
        Ok(ModelInfo {
            name: name.to_owned(),
            title: doc.title.unwrap_or_else(|| name.to_owned()),
            deleted: meta_str(&doc.meta, "deleted") == Some("true"),
            nodes,
            edges,
        })
    }

    /// A node by id.
    pub fn node(&self, id: &str) -> Option<&NodeInfo> {
        self.nodes.iter().find(|n| n.id == id)
    }

    /// The neutral model (CQ models declare no variables).
    pub fn to_model(&self) -> WorkflowModel {
        WorkflowModel {
            id: model_id(&self.name),
            name: self.name.clone(),
            title: self.title.clone(),
            variables: Vec::new(),
        }
    }

    /// The graph; nodes in `active` are marked `Suspended`, the rest get `rest`.
    pub fn graph(&self, active: &[String], rest: NodeState) -> Graph {
        let pos = self.layout();
        let nodes = self
            .nodes
            .iter()
            .map(|n| {
                let (x, y) = pos.get(n.id.as_str()).copied().unwrap_or((0, 0));
                GraphNode {
                    id: n.id.clone(),
                    title: n.title.clone(),
                    x,
                    y,
                    start: n.ty == "START",
                    end: n.ty == "END",
                    state: if active.iter().any(|a| a == &n.id) {
                        NodeState::Suspended
                    } else {
                        rest
                    },
                    merge: n.ty.ends_with("_JOIN"),
                    multi_task: false,
                    sub_workflow: n.ty == "CONTAINER",
                }
            })
            .collect();
        let transitions = self
            .edges
            .iter()
            .map(|e| GraphTransition {
                source: e.from.clone(),
                target: e.to.clone(),
                label: e.label.clone(),
                path: Vec::new(),
            })
            .collect();
        Graph { nodes, transitions }
    }

    /// A layered layout (breadth-first depth × index) so the graph can be drawn: CQ keeps
    /// coordinates in places the JSON rendering does not show.
    fn layout(&self) -> HashMap<&str, (i64, i64)> {
        let mut depth: HashMap<&str, i64> = HashMap::new();
        let mut queue = VecDeque::new();
        for n in self.nodes.iter().filter(|n| n.ty == "START") {
            depth.insert(&n.id, 0);
            queue.push_back(n.id.as_str());
        }
        while let Some(id) = queue.pop_front() {
            let d = depth.get(id).copied().unwrap_or(0);
            for e in self.edges.iter().filter(|e| e.from == id) {
                if !depth.contains_key(e.to.as_str()) {
                    depth.insert(&e.to, d + 1);
                    queue.push_back(&e.to);
                }
            }
        }
        let mut per_level: HashMap<i64, i64> = HashMap::new();
        let mut out = HashMap::new();
        for n in &self.nodes {
            let d = depth.get(n.id.as_str()).copied().unwrap_or(0);
            let i = per_level.entry(d).or_insert(0);
            out.insert(n.id.as_str(), (*i * 200, d * 100));
            *i += 1;
        }
        out
    }
}

/// The path-safe id of a model: its name, or the name's encoding when it has a `/`.
pub(crate) fn model_id(name: &str) -> String {
    if name.contains('/') {
        ids::encode(name)
    } else {
        name.to_owned()
    }
}

/// CQ instance state → neutral state.
pub(crate) fn workflow_state(s: &str) -> WorkflowState {
    match s {
        "RUNNING" => WorkflowState::Running,
        "SUSPENDED" => WorkflowState::Suspended,
        "COMPLETED" => WorkflowState::Done,
        "ABORTED" => WorkflowState::Canceled,
        other => {
            tracing::warn!(state = other, "unknown CQ workflow state, shown as running");
            WorkflowState::Running
        }
    }
}

/// The initiator flowgate wrote into the start metadata, when CQ renders it.
pub(crate) fn meta_initiator(doc: &InstanceDoc) -> Option<&str> {
    meta_str(&doc.meta, META_INITIATOR)
}

/// The start id flowgate wrote into the start metadata, when CQ renders it.
pub(crate) fn meta_start_id(doc: &InstanceDoc) -> Option<&str> {
    meta_str(&doc.meta, META_START_ID)
}

/// Model name of an instance.
pub(crate) fn model_name(doc: &InstanceDoc) -> Result<String, EngineError> {
    model_name_of(&doc.model).ok_or_else(|| malformed("workflow instance (model)"))
}

/// When an instance started: its `startTime`, else the day its path names (CQ files
/// instances by start date), else the Unix epoch as "unknown" (the neutral model has
/// no empty start date). Never an error.
pub(crate) fn instance_created(doc: &InstanceDoc) -> DateTime<Utc> {
    doc.start_time
        .get()
        .or_else(|| dates::day_of_instance_path(&doc.id))
        .unwrap_or(DateTime::UNIX_EPOCH)
}

/// Instance JSON → neutral instance; `model_title` is used when the instance has no
/// title, `initiator` is who started it as the engine knows it.
pub(crate) fn instance(
    doc: &InstanceDoc,
    model_title: Option<&str>,
    initiator: Option<String>,
) -> Result<WorkflowInstance, EngineError> {
    if !doc.id.starts_with('/') {
        return Err(malformed("workflow instance (id)"));
    }
    let name = model_name(doc)?;
    let title = meta_str(&doc.meta, META_TITLE)
        .filter(|t| !t.is_empty())
        .map(str::to_owned)
        .or_else(|| doc.title.clone())
        .or_else(|| model_title.map(str::to_owned))
        .unwrap_or_else(|| name.clone());
    let variables: Variables = doc
        .meta
        .iter()
        .filter(|(k, _)| {
            !k.starts_with("flowgate") && !k.starts_with("jcr:") && k.as_str() != META_TITLE
        })
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    Ok(WorkflowInstance {
        id: ids::encode(&doc.id),
        name: name.clone(),
        title,
        state: workflow_state(&doc.state),
        model_name: name,
        initiator,
        attached_documents: doc.payload.iter().map(|p| ids::encode(p)).collect(),
        variables,
        created: instance_created(doc),
        ended: doc.end_time.get(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn serialized() -> ModelDoc {
        serde_json::from_value(json!({"id":"/var/workflow/models/publish_example","title":"Publish Example",
          "nodes":[{"id":"node0","type":"START","title":"Start","metaData":{}},
                   {"id":"node1","type":"PARTICIPANT","title":"Validate Content","metaData":{"PARTICIPANT":"admin"}},
                   {"id":"node2","type":"AND_SPLIT","title":"Split","metaData":{}},
                   {"id":"node3","type":"AND_JOIN","title":"Join","metaData":{}},
                   {"id":"node4","type":"END","title":"End","metaData":{}}],
          "transitions":[{"from":"node0","to":"node1"},{"from":"node1","to":"node2"},
                         {"from":"node2","to":"node3","rule":"approved"},{"from":"node3","to":"node4"}]}))
        .unwrap()
    }

    fn dump() -> ModelDoc {
        serde_json::from_value(json!({"title":"Publish Example","jcr:primaryType":"cq:WorkflowModel",
          "metaData":{"jcr:primaryType":"nt:unstructured"},
          "nodes":{"jcr:primaryType":"nt:unstructured",
            "node0":{"type":"START","title":"Start","metaData":{}},
            "node1":{"type":"PARTICIPANT","title":"Validate Content","metaData":{"PARTICIPANT":"admin"}},
            "node2":{"type":"AND_SPLIT","title":"Split","metaData":{}},
            "node3":{"type":"AND_JOIN","title":"Join","metaData":{}},
            "node4":{"type":"END","title":"End","metaData":{}}},
          "transitions":{"jcr:primaryType":"nt:unstructured",
            "node0#node1":{"from":"node0","to":"node1","metaData":{}},
            "node1#node2":{"from":"node1","to":"node2"},
            "node2#node3":{"from":"node2","to":"node3","rule":"approved"},
            "node3#node4":{"from":"node3","to":"node4"}}}))
        .unwrap()
    }

    #[test]
    fn both_model_renderings_give_the_same_graph() {
        let a = ModelInfo::from_doc("publish_example", serialized()).unwrap();
        let b = ModelInfo::from_doc("publish_example", dump()).unwrap();
        let ga = a.graph(&[], NodeState::Validated);
        assert_eq!(ga, b.graph(&[], NodeState::Validated));
        assert!(ga.nodes[0].start && ga.nodes[4].end);
        assert!(ga.nodes[3].merge, "joins become merges");
        assert_eq!(ga.transitions[2].label, "approved");
        assert_eq!(
            a.node("node1").and_then(|n| n.participant.as_deref()),
            Some("admin")
        );
    }

    #[test]
    fn instance_graph_marks_current_nodes() {
        let a = ModelInfo::from_doc("p", serialized()).unwrap();
        let g = a.graph(&["node1".to_owned()], NodeState::Ready);
        assert_eq!(g.nodes[1].state, NodeState::Suspended);
        assert_eq!(g.nodes[0].state, NodeState::Ready);
    }

    #[test]
    fn malformed_models_are_upstream_errors() {
        let doc: ModelDoc = serde_json::from_value(json!({"nodes": 5})).unwrap();
        assert_eq!(
            ModelInfo::from_doc("x", doc).unwrap_err().kind(),
            flowgate_core::ErrorKind::Upstream
        );
        let doc: ModelDoc =
            serde_json::from_value(json!({"nodes": [{"title": "no type"}]})).unwrap();
        assert!(ModelInfo::from_doc("x", doc).is_err());
    }

    #[test]
    fn instances_convert_with_flowgate_metadata() {
        let doc: InstanceDoc = serde_json::from_value(json!({
            "id":"/var/workflow/instances/server0/2024-05-02/p_1","state":"SUSPENDED",
            "model":"/etc/workflow/models/dam/update_asset/jcr:content/model","initiator":"svc",
            "payloadType":"JCR_PATH","payload":"/content/a","startTime":"Thu May 02 09:12:44 CEST 2024",
            "metaData":{"flowgateInitiator":"jdoe","workflowTitle":"T","custom":"v"}})).unwrap();
        let i = instance(&doc, Some("Model"), meta_initiator(&doc).map(str::to_owned)).unwrap();
        assert_eq!(i.model_name, "dam/update_asset");
        assert_eq!(i.initiator.as_deref(), Some("jdoe"));
        assert_eq!(i.title, "T");
        assert_eq!(i.state, WorkflowState::Suspended);
        assert_eq!(i.variables.get("custom"), Some(&json!("v")));
        assert!(!i.variables.contains_key("flowgateInitiator"));
        assert_eq!(
            ids::document_path(&i.attached_documents[0]).unwrap(),
            "/content/a"
        );
    }

    #[test]
    fn instance_dates_in_any_shape_never_fail_the_instance() {
        let doc = |start: Value, end: Value| -> InstanceDoc {
            serde_json::from_value(json!({
                "id":"/var/workflow/instances/server0/2024-05-02/review_3","state":"COMPLETED",
                "model":"/var/workflow/models/flowgate/review","initiator":"jdoe",
                "startTime": start, "endTime": end}))
            .expect("an instance with odd dates still parses")
        };
        let at = "2024-05-02T07:12:44+00:00";
        for start in [
            json!("Thu May 02 09:12:44 CEST 2024"),
            json!(1_714_633_964_000_i64),
            json!("1714633964000"),
            json!("2024-05-02T07:12:44Z"),
        ] {
            let i = instance(&doc(start.clone(), start.clone()), None, None).expect("converts");
            assert_eq!(i.created.to_rfc3339(), at, "{start}");
            assert_eq!(i.ended.map(|d| d.to_rfc3339()).as_deref(), Some(at));
        }
        // Unreadable: the end stays empty, the start falls back to the path's day.
        let i = instance(&doc(json!("soon"), json!({"x": 1})), None, None).expect("converts");
        assert_eq!(i.ended, None);
        assert_eq!(i.created.to_rfc3339(), "2024-05-02T00:00:00+00:00");
        let i = instance(&doc(Value::Null, Value::Null), None, None).expect("converts");
        assert_eq!(i.state, WorkflowState::Done);
        assert_eq!(i.ended, None);
    }
}
