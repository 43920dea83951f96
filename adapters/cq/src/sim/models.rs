//! The stock workflow models the simulator ships, and their two JSON renderings.

use serde_json::{json, Map, Value};

/// A node of a simulated model.
#[derive(Clone, Debug)]
pub struct SimNode {
    /// Node id (`node1`).
    pub id: String,
    /// CQ node type (`START`, `PARTICIPANT`, `PROCESS`, `AND_SPLIT`, ...).
    pub ty: String,
    /// Title.
    pub title: String,
    /// Description.
    pub description: String,
    /// `metaData` entries (`PARTICIPANT`, `PROCESS`, `SIM_FAIL`, ...).
    pub meta: Vec<(String, String)>,
}

impl SimNode {
    /// A node without metadata.
    pub fn new(id: &str, ty: &str, title: &str) -> SimNode {
        SimNode {
            id: id.to_owned(),
            ty: ty.to_owned(),
            title: title.to_owned(),
            description: String::new(),
            meta: Vec::new(),
        }
    }

    /// A participant step assigned to `who` (user or group).
    pub fn participant(id: &str, title: &str, who: &str) -> SimNode {
        SimNode::new(id, "PARTICIPANT", title)
            .describe(&format!("{title} by {who}."))
            .meta("PARTICIPANT", who)
    }

    /// An automatic step.
    pub fn process(id: &str, title: &str, implementation: &str) -> SimNode {
        SimNode::new(id, "PROCESS", title)
            .meta("PROCESS", implementation)
            .meta("PROCESS_AUTO_ADVANCE", "true")
    }

    /// Sets the description.
    pub fn describe(mut self, d: &str) -> SimNode {
        d.clone_into(&mut self.description);
        self
    }

    /// Adds a metadata entry.
    pub fn meta(mut self, k: &str, v: &str) -> SimNode {
        self.meta.push((k.to_owned(), v.to_owned()));
        self
    }

    /// A metadata value.
    pub fn meta_value(&self, k: &str) -> Option<&str> {
        self.meta
            .iter()
            .find(|(key, _)| key == k)
            .map(|(_, v)| v.as_str())
    }

    fn meta_json(&self) -> Value {
        let m: Map<String, Value> = self
            .meta
            .iter()
            .map(|(k, v)| (k.clone(), Value::String(v.clone())))
            .collect();
        Value::Object(m)
    }
}

/// A transition of a simulated model.
#[derive(Clone, Debug)]
pub struct SimTransition {
    /// Source node id.
    pub from: String,
    /// Target node id.
    pub to: String,
    /// OR-split rule (a metadata key that must be `"true"`, or `true`/empty).
    pub rule: Option<String>,
    /// Display title, if any.
    pub title: Option<String>,
}

/// A simulated workflow model.
#[derive(Clone, Debug)]
pub struct SimModel {
    /// Model name (`publish_example`, `dam/update_asset`).
    pub name: String,
    /// Title.
    pub title: String,
    /// Description.
    pub description: String,
    /// Nodes in model order.
    pub nodes: Vec<SimNode>,
    /// Transitions.
    pub transitions: Vec<SimTransition>,
    /// Deleted models keep answering 200 with `metaData.deleted = "true"`.
    pub deleted: bool,
}

impl SimModel {
    /// An empty model.
    pub fn new(name: &str, title: &str, description: &str) -> SimModel {
        SimModel {
            name: name.to_owned(),
            title: title.to_owned(),
            description: description.to_owned(),
            nodes: Vec::new(),
            transitions: Vec::new(),
            deleted: false,
        }
    }

    /// Adds a node.
    pub fn node(mut self, n: SimNode) -> SimModel {
        self.nodes.push(n);
        self
    }

    /// Adds a plain transition.
    pub fn edge(self, from: &str, to: &str) -> SimModel {
        self.rule_edge(from, to, None, None)
    }

    /// Adds a transition with an OR-split rule and a title.
    pub fn rule_edge(
        mut self,
        from: &str,
        to: &str,
        rule: Option<&str>,
        title: Option<&str>,
    ) -> SimModel {
        self.transitions.push(SimTransition {
            from: from.to_owned(),
            to: to.to_owned(),
            rule: rule.map(str::to_owned),
            title: title.map(str::to_owned),
        });
        self
    }

    /// A node by id.
    pub fn find(&self, id: &str) -> Option<&SimNode> {
        self.nodes.iter().find(|n| n.id == id)
    }

    /// Outgoing transitions of a node, in model order.
    pub fn outgoing<'a>(&'a self, id: &'a str) -> impl Iterator<Item = &'a SimTransition> + 'a {
        self.transitions.iter().filter(move |t| t.from == id)
    }

    /// Number of incoming transitions of a node.
    pub fn incoming_count(&self, id: &str) -> usize {
        self.transitions.iter().filter(|t| t.to == id).count()
    }

    fn meta_json(&self) -> Value {
        let mut m = Map::new();
        m.insert("tags".into(), json!("flowgate"));
        if self.deleted {
            m.insert("deleted".into(), json!("true"));
        }
        Value::Object(m)
    }

    /// The serialized (6.x) rendering, as `GET {M}.json` answers it.
    pub fn serialized(&self, id: &str) -> Value {
        let nodes: Vec<Value> = self
            .nodes
            .iter()
            .map(|n| {
                json!({"id": n.id, "type": n.ty, "title": n.title,
                       "description": n.description, "metaData": n.meta_json()})
            })
            .collect();
        let transitions: Vec<Value> = self
            .transitions
            .iter()
            .map(|t| {
                let mut o = json!({"from": t.from, "to": t.to, "metaData": {}});
                if let Some(r) = &t.rule {
                    o["rule"] = json!(r);
                }
                if let Some(title) = &t.title {
                    o["title"] = json!(title);
                }
                o
            })
            .collect();
        json!({"id": id, "title": self.title, "version": "1.0", "description": self.description,
               "metaData": self.meta_json(), "nodes": nodes, "transitions": transitions})
    }

    /// The JCR-dump rendering (`.tidy.-1.json`) of CQ 5: objects keyed by node name.
    pub fn jcr_dump(&self) -> Value {
        let mut nodes = Map::new();
        nodes.insert("jcr:primaryType".into(), json!("nt:unstructured"));
        for n in &self.nodes {
            let mut meta = n.meta_json();
            meta["jcr:primaryType"] = json!("nt:unstructured");
            nodes.insert(
                n.id.clone(),
                json!({"title": n.title, "description": n.description, "type": n.ty,
                       "jcr:primaryType": "cq:WorkflowNode", "metaData": meta}),
            );
        }
        let mut transitions = Map::new();
        transitions.insert("jcr:primaryType".into(), json!("nt:unstructured"));
        for t in &self.transitions {
            let mut o = json!({"from": t.from, "to": t.to,
                               "jcr:primaryType": "cq:WorkflowTransition",
                               "metaData": {"jcr:primaryType": "nt:unstructured"}});
            if let Some(r) = &t.rule {
                o["rule"] = json!(r);
            }
            if let Some(title) = &t.title {
                o["title"] = json!(title);
            }
            transitions.insert(format!("{}#{}", t.from, t.to), o);
        }
        let mut meta = self.meta_json();
        meta["jcr:primaryType"] = json!("nt:unstructured");
        json!({"title": self.title, "description": self.description,
               "jcr:primaryType": "cq:WorkflowModel", "sling:resourceType": "cq/workflow/components/model",
               "jcr:isCheckedOut": false, "metaData": meta,
               "nodes": nodes, "transitions": transitions})
    }
}

/// The stock models; `with_dam` adds DAM Update Asset (absent on the cloud profile).
pub fn stock_models(with_dam: bool) -> Vec<SimModel> {
    let mut out = vec![
        SimModel::new(
            "publish_example",
            "Publish Example",
            "This example shows a simple review and publish process.",
        )
        .node(SimNode::new("node0", "START", "Start").describe("The start node of the workflow."))
        .node(
            SimNode::participant("node1", "Validate Content", "admin")
                .describe("Validate the modified content."),
        )
        .node(
            SimNode::process(
                "node2",
                "Publish Content",
                "com.day.cq.wcm.workflow.process.ActivatePageProcess",
            )
            .describe("Publish the modified content."),
        )
        .node(SimNode::new("node3", "END", "End").describe("The end node of the workflow."))
        .edge("node0", "node1")
        .edge("node1", "node2")
        .edge("node2", "node3"),
        SimModel::new(
            "request_for_activation",
            "Request for Activation",
            "Approve, then activate the page.",
        )
        .node(SimNode::new("node0", "START", "Start"))
        .node(SimNode::participant(
            "node1",
            "Approve Content",
            "administrators",
        ))
        .node(SimNode::process(
            "node2",
            "Activate Content",
            "com.day.cq.wcm.workflow.process.ActivatePageProcess",
        ))
        .node(SimNode::new("node3", "END", "End"))
        .edge("node0", "node1")
        .edge("node1", "node2")
        .edge("node2", "node3"),
        SimModel::new(
            "flowgate/two_step_approval",
            "Two Step Approval",
            "Editor review, legal review, then publish or notify.",
        )
        .node(SimNode::new("node0", "START", "Start"))
        .node(SimNode::participant("node1", "Editor Review", "authors"))
        .node(SimNode::participant("node2", "Legal Review", "legal"))
        .node(SimNode::new("node3", "OR_SPLIT", "Decision"))
        .node(SimNode::process("node4", "Publish", "com.example.Publish"))
        .node(SimNode::process(
            "node5",
            "Notify Rejection",
            "com.example.Notify",
        ))
        .node(SimNode::new("node6", "END", "End"))
        .edge("node0", "node1")
        .edge("node1", "node2")
        .edge("node2", "node3")
        .rule_edge("node3", "node4", Some("approved"), Some("Approve"))
        .rule_edge("node3", "node5", Some("rejected"), Some("Reject"))
        .edge("node4", "node6")
        .edge("node5", "node6"),
        SimModel::new(
            "flowgate/parallel_review",
            "Parallel Review",
            "Copy and image checks in parallel.",
        )
        .node(SimNode::new("node0", "START", "Start"))
        .node(SimNode::new("node1", "AND_SPLIT", "Split"))
        .node(SimNode::participant("node2", "Copy Check", "authors"))
        .node(SimNode::participant("node3", "Image Check", "dam-users"))
        .node(SimNode::new("node4", "AND_JOIN", "Join"))
        .node(SimNode::new("node5", "END", "End"))
        .edge("node0", "node1")
        .edge("node1", "node2")
        .edge("node1", "node3")
        .edge("node2", "node4")
        .edge("node3", "node4")
        .edge("node4", "node5"),
        SimModel::new(
            "flowgate/review",
            "Review",
            "One review by jdoe with approve or reject, for conformance tests.",
        )
        .node(SimNode::new("node0", "START", "Start"))
        .node(SimNode::participant("node1", "Review", "jdoe"))
        .node(SimNode::new("node2", "OR_SPLIT", "Outcome"))
        .node(SimNode::process("node3", "Approve", "com.example.Approve"))
        .node(SimNode::process("node4", "Reject", "com.example.Reject"))
        .node(SimNode::new("node5", "END", "End"))
        .edge("node0", "node1")
        .edge("node1", "node2")
        .rule_edge("node2", "node3", Some("approved"), Some("Approve"))
        .rule_edge("node2", "node4", Some("rejected"), Some("Reject"))
        .edge("node3", "node5")
        .edge("node4", "node5"),
    ];
    if with_dam {
        let mut m = SimModel::new(
            "dam/update_asset",
            "DAM Update Asset",
            "Extracts metadata and renditions of an asset.",
        )
        .node(SimNode::new("node0", "START", "Start"));
        let steps = [
            "Metadata Extraction",
            "Thumbnail Creation",
            "Web Rendition",
            "Sub Asset Processing",
            "Set Last Modified",
        ];
        for (i, title) in steps.iter().enumerate() {
            m = m.node(SimNode::process(
                &format!("node{}", i + 1),
                title,
                "com.day.cq.dam.core.process",
            ));
        }
        m = m.node(SimNode::new("node6", "END", "End"));
        for i in 0..6 {
            m = m.edge(&format!("node{i}"), &format!("node{}", i + 1));
        }
        out.insert(0, m);
    }
    out
}
