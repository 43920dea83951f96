//! Compiled workflow models: the checked form the runner works on (nodes, transitions,
//! actions with compiled expressions) and its views (the model entity, the graph).
//! Loading, checking and compiling model files is in `compile`.

use std::collections::HashMap;
use std::path::PathBuf;

use flowgate_core::{
    Graph, GraphNode, GraphPoint, GraphTransition, NodeState, TaskAction, VarType, VariableDef,
    Variables, WorkflowModel,
};

use crate::expr::{Expr, VarScope};
use crate::state::VarValues;

pub(crate) mod compile;

/// Node positions in a model by node id.
pub type NodeIndex = HashMap<String, usize, foldhash::fast::RandomState>;

/// A checked, compiled model. Shared by every instance through an `Arc`.
#[derive(Debug)]
pub(crate) struct Model {
    pub id: String,
    pub name: String,
    pub title: String,
    pub file: PathBuf,
    pub variables: Vec<VariableDef>,
    pub var_types: HashMap<String, VarType>,
    /// Default values with shared names; every instance starts from a clone.
    pub defaults: VarValues,
    pub nodes: Vec<Node>,
    /// Node positions by id. Hashed with foldhash: a few ids fixed when the model is
    /// compiled, looked up several times per task read and step.
    pub index: NodeIndex,
    pub start: usize,
    /// For each node, the nodes with a transition into it (merge bookkeeping).
    pub incoming: Vec<Vec<usize>>,
}

#[derive(Debug)]
pub(crate) struct Node {
    pub id: String,
    /// Schema of the node's task form, `var_<id>` (shown with every task read).
    pub schema: String,
    pub title: String,
    pub title_text: String,
    pub x: i64,
    pub y: i64,
    pub start: bool,
    pub stop: bool,
    pub merge: bool,
    pub task: Option<TaskDef>,
    pub variables: Vec<VariableDef>,
    pub var_types: HashMap<String, VarType>,
    /// Default values with shared names.
    pub defaults: VarValues,
    /// Workflow variables the node's tasks show and may write, in workflow declaration order.
    pub workflow_vars: Vec<String>,
    pub input: Vec<Action>,
    pub output: Vec<Action>,
    pub transitions: Vec<Transition>,
    pub escalations: Vec<Escalation>,
}

#[derive(Debug)]
pub(crate) struct TaskDef {
    pub directive: Option<String>,
    pub assignees: Option<Expr>,
    pub static_assignees: Vec<String>,
    pub multi_task: bool,
    pub due: Option<Expr>,
    pub allow_reassignment: bool,
    pub buttons: Vec<TaskAction>,
}

#[derive(Debug)]
pub(crate) struct Transition {
    pub name: String,
    pub label_text: String,
    pub condition: Expr,
    pub target: usize,
    pub actions: Vec<Action>,
    pub path: Vec<GraphPoint>,
}

#[derive(Debug)]
pub(crate) struct Action {
    pub when: Option<Expr>,
    pub kind: ActionKind,
}

#[derive(Debug)]
pub(crate) enum ActionKind {
    Set { target: VarTarget, value: Expr },
    Builtin { target: VarTarget, builtin: Builtin },
    Event(String),
}

#[derive(Debug, Clone)]
pub(crate) struct VarTarget {
    pub scope: VarScope,
    pub name: String,
    pub ty: VarType,
}

/// Computations that CEL cannot express conveniently.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Builtin {
    /// One line per ended task of the node: `actor: status` and the comment if any.
    ReviewSummary,
}

#[derive(Debug)]
pub(crate) struct Escalation {
    pub name: String,
    pub condition: Expr,
}

impl Model {
    /// The neutral model entity.
    pub fn entity(&self) -> WorkflowModel {
        WorkflowModel {
            id: self.id.clone(),
            name: self.name.clone(),
            title: self.title.clone(),
            variables: self.variables.clone(),
        }
    }

    pub fn node(&self, id: &str) -> Option<&Node> {
        self.index.get(id).map(|&i| &self.nodes[i])
    }

    /// Default values of every workflow variable, in declaration order.
    pub fn default_variables(&self) -> Variables {
        self.variables
            .iter()
            .map(|v| (v.name.clone(), v.default.clone()))
            .collect()
    }

    /// The graph, each node's state given by `state`.
    pub fn graph(&self, state: impl Fn(&Node) -> NodeState) -> Graph {
        let mut g = Graph::default();
        for n in &self.nodes {
            g.nodes.push(GraphNode {
                id: n.id.clone(),
                title: n.title_text.clone(),
                x: n.x,
                y: n.y,
                start: n.start,
                end: n.stop,
                state: state(n),
                merge: n.merge,
                multi_task: n.task.as_ref().is_some_and(|t| t.multi_task),
                sub_workflow: false,
            });
            for t in &n.transitions {
                g.transitions.push(GraphTransition {
                    source: n.id.clone(),
                    target: self.nodes[t.target].id.clone(),
                    label: t.label_text.clone(),
                    path: t.path.clone(),
                });
            }
        }
        g
    }

    /// Model graph: every node `validated`.
    pub fn model_graph(&self) -> Graph {
        self.graph(|_| NodeState::Validated)
    }

    /// Schema name of the workflow variables (used in typing errors).
    pub fn schema(&self) -> String {
        format!("var_{}", self.name)
    }
}

impl Node {
    pub fn schema(&self) -> &str {
        &self.schema
    }
}
