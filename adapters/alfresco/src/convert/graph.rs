//! Workflow graphs: the static graphs of the built-in definitions, graphs learnt from
//! activities, and instance marking.

use flowgate_core::{Graph, GraphNode, GraphTransition, NodeState, WorkflowState};

use crate::wire;

// ---------- graphs ----------

type NodeSpec = (&'static str, &'static str, bool, bool, bool, bool);
type EdgeSpec = (&'static str, &'static str, &'static str);
type GraphSpec = (Vec<NodeSpec>, Vec<EdgeSpec>);

/// Static graphs of the five built-in definitions: (id, title, start, end, merge, multi).
fn builtin_nodes(key: &str) -> Option<GraphSpec> {
    let review = |multi: bool, cond: &'static str| {
        (
            vec![
                ("start", "Start", true, false, false, false),
                ("reviewTask", "Review Task", false, false, false, multi),
                (
                    "reviewDecision",
                    "Review Decision",
                    false,
                    false,
                    false,
                    false,
                ),
                ("approved", "Document Approved", false, false, false, false),
                ("rejected", "Document Rejected", false, false, false, false),
                ("end", "End", false, true, true, false),
            ],
            vec![
                ("start", "reviewTask", ""),
                ("reviewTask", "reviewDecision", ""),
                ("reviewDecision", "approved", cond),
                ("reviewDecision", "rejected", "otherwise"),
                ("approved", "end", ""),
                ("rejected", "end", ""),
            ],
        )
    };
    Some(match key {
        "activitiAdhoc" => (
            vec![
                ("start", "Start", true, false, false, false),
                ("adhocTask", "Adhoc Task", false, false, false, false),
                (
                    "verifyTaskDone",
                    "Verify Adhoc Task Completed.",
                    false,
                    false,
                    false,
                    false,
                ),
                ("theEnd", "End", false, true, false, false),
            ],
            vec![
                ("start", "adhocTask", ""),
                ("adhocTask", "verifyTaskDone", ""),
                ("verifyTaskDone", "theEnd", ""),
            ],
        ),
        "activitiReview" | "activitiReviewPooled" => review(false, "wf_reviewOutcome == 'Approve'"),
        "activitiParallelReview" | "activitiParallelGroupReview" => {
            review(true, "wf_actualPercent >= wf_requiredApprovePercent")
        }
        _ => return None,
    })
}

/// The graph of a built-in definition, laid out top to bottom.
pub(crate) fn builtin_graph(key: &str) -> Option<Graph> {
    let (nodes, transitions) = builtin_nodes(key)?;
    let mut row = 0;
    let nodes = nodes
        .into_iter()
        .map(|(id, title, start, end, merge, multi)| {
            // approved/rejected sit side by side.
            let (x, y) = match id {
                "rejected" => (300, 100 * (row - 1)),
                _ => {
                    row += 1;
                    (100, 100 * (row - 1))
                }
            };
            GraphNode {
                id: id.to_owned(),
                title: title.to_owned(),
                x,
                y,
                start,
                end,
                state: NodeState::Validated,
                merge,
                multi_task: multi,
                sub_workflow: false,
            }
        })
        .collect();
    let transitions = transitions
        .into_iter()
        .map(|(s, t, label)| GraphTransition {
            source: s.to_owned(),
            target: t.to_owned(),
            label: label.to_owned(),
            path: Vec::new(),
        })
        .collect();
    Some(Graph { nodes, transitions })
}

/// A graph for a definition flowgate has no table for: the activities seen, in order.
pub(crate) fn graph_from_activities(acts: &[wire::Activity]) -> Graph {
    let mut g = Graph::default();
    let mut sorted: Vec<&wire::Activity> = acts.iter().collect();
    sorted.sort_by(|a, b| a.started_at.cmp(&b.started_at));
    let mut prev: Option<String> = None;
    for (i, a) in sorted.iter().enumerate() {
        let id = a.activity_definition_id.clone();
        if !g.nodes.iter().any(|n| n.id == id) {
            let ty = a.activity_definition_type.as_deref().unwrap_or("");
            g.nodes.push(GraphNode {
                id: id.clone(),
                title: a
                    .activity_definition_name
                    .clone()
                    .unwrap_or_else(|| id.clone()),
                x: 100,
                y: 100 * i as i64,
                start: ty == "startEvent",
                end: ty == "endEvent",
                state: NodeState::Validated,
                merge: false,
                multi_task: false,
                sub_workflow: false,
            });
        }
        if let Some(p) = prev.replace(id.clone()) {
            if p != id
                && !g
                    .transitions
                    .iter()
                    .any(|t| t.source == p && t.target == id)
            {
                g.transitions.push(GraphTransition {
                    source: p,
                    target: id,
                    label: String::new(),
                    path: Vec::new(),
                });
            }
        }
    }
    g
}

/// Marks the nodes of an instance graph from its activities: nodes with an open activity
/// are `suspended`, the others `ready` (`canceled` for a cancelled instance).
pub(crate) fn mark_graph(mut g: Graph, acts: &[wire::Activity], state: WorkflowState) -> Graph {
    for n in &mut g.nodes {
        let open = acts
            .iter()
            .any(|a| a.activity_definition_id == n.id && a.ended_at.is_none());
        n.state = if state == WorkflowState::Canceled {
            NodeState::Canceled
        } else if open {
            NodeState::Suspended
        } else {
            NodeState::Ready
        };
    }
    g
}
