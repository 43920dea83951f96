//! Loading, checking and compiling workflow model files into [`Model`]s. Every model is
//! checked and every expression compiled at load time: a broken file is a
//! [`ModelError`] naming the file, the node and the problem.

use std::collections::{HashMap, HashSet, VecDeque};
use std::path::Path;

use flowgate_core::{GraphPoint, TaskAction, VarType, VariableDef};
use uuid::Uuid;

use super::{
    Action, ActionKind, Builtin, Escalation, Model, Node, NodeIndex, TaskDef, Transition, VarTarget,
};
use crate::error::ModelError;
use crate::expr::{Expr, VarScope, SCOPE_NAMES};
use crate::spec::{ActionSpec, ModelSpec, NodeSpec, VarSpec};
use crate::state::VarValues;
use crate::vars::default_value;

/// Namespace of the deterministic model ids (UUID v5 of the model name).
const MODEL_NS: Uuid = Uuid::from_u128(0x6f0a_8d0e_2b7c_4f7e_9b1a_53c2_d4e5_f601);

fn defaults_of(vars: &[VariableDef]) -> VarValues {
    vars.iter()
        .map(|v| (std::sync::Arc::from(v.name.as_str()), v.default.clone()))
        .collect()
}

/// Reads and compiles one model file.
pub(crate) fn load_file(path: &Path) -> Result<Model, ModelError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| ModelError::new(path, None, format!("cannot read the file: {e}")))?;
    compile_str(path, &text)
}

/// Parses and compiles a model from its JSON text; `file` names it in errors.
pub(crate) fn compile_str(file: &Path, text: &str) -> Result<Model, ModelError> {
    let spec: ModelSpec = serde_json::from_str(text)
        .map_err(|e| ModelError::new(file, None, format!("invalid model JSON: {e}")))?;
    let mut nodes = Vec::with_capacity(spec.nodes.len());
    for (i, raw) in spec.nodes.iter().enumerate() {
        let node: NodeSpec = serde_json::from_value(raw.clone()).map_err(|e| {
            let name = raw
                .get("id")
                .and_then(|v| v.as_str())
                .map(str::to_owned)
                .unwrap_or_else(|| format!("#{}", i + 1));
            ModelError::new(file, Some(&name), format!("invalid node: {e}"))
        })?;
        nodes.push(node);
    }
    compile(file, spec, nodes)
}

fn err(file: &Path, node: Option<&str>, problem: impl Into<String>) -> ModelError {
    ModelError::new(file, node, problem)
}

fn compile_vars(
    file: &Path,
    node: Option<&str>,
    specs: &[VarSpec],
) -> Result<Vec<VariableDef>, ModelError> {
    let mut seen = HashSet::new();
    let mut out = Vec::with_capacity(specs.len());
    for v in specs {
        if v.name.is_empty() {
            return Err(err(file, node, "a variable has an empty name"));
        }
        if !seen.insert(v.name.as_str()) {
            return Err(err(file, node, format!("duplicate variable '{}'", v.name)));
        }
        let default = default_value(v.ty, &v.default)
            .map_err(|p| err(file, node, format!("variable '{}': {p}", v.name)))?;
        out.push(VariableDef {
            name: v.name.clone(),
            ty: v.ty,
            default,
        });
    }
    Ok(out)
}

/// What the expressions of one node may refer to.
struct ExprRules<'a> {
    file: &'a Path,
    node: &'a str,
    workflow_vars: &'a HashMap<String, VarType>,
    node_vars: &'a HashMap<String, VarType>,
    /// `None` for nodes without buttons: testing a button there is an error.
    buttons: Option<&'a [TaskAction]>,
}

impl ExprRules<'_> {
    fn compile(&self, what: &str, source: &str) -> Result<Expr, ModelError> {
        let e = Expr::compile(source)
            .map_err(|p| err(self.file, Some(self.node), format!("{what}: {p}")))?;
        let a = e.analyse();
        for name in &a.names {
            if !SCOPE_NAMES.contains(&name.as_str()) {
                return Err(err(
                    self.file,
                    Some(self.node),
                    format!("{what}: expression '{source}' uses unknown name '{name}'"),
                ));
            }
        }
        for (scope, name) in &a.vars {
            let known = match scope {
                VarScope::Workflow => self.workflow_vars.contains_key(name),
                VarScope::Node => name == "button" || self.node_vars.contains_key(name),
            };
            if !known {
                let kind = match scope {
                    VarScope::Workflow => "workflow",
                    VarScope::Node => "node",
                };
                return Err(err(
                    self.file,
                    Some(self.node),
                    format!(
                        "{what}: expression '{source}' reads undeclared {kind} variable '{name}'"
                    ),
                ));
            }
        }
        for b in &a.buttons {
            match self.buttons {
                None => {
                    return Err(err(
                        self.file,
                        Some(self.node),
                        format!("{what}: expression '{source}' tests button '{b}' but the node has no buttons"),
                    ))
                }
                Some(buttons) if !buttons.iter().any(|x| &x.name == b) => {
                    return Err(err(
                        self.file,
                        Some(self.node),
                        format!("{what}: expression '{source}' tests button '{b}', which the node does not have"),
                    ))
                }
                Some(_) => {}
            }
        }
        Ok(e)
    }

    fn target(&self, what: &str, target: &str) -> Result<VarTarget, ModelError> {
        let (scope, name) = if let Some(n) = target.strip_prefix("WorkflowVariables.") {
            (VarScope::Workflow, n)
        } else if let Some(n) = target.strip_prefix("NodeVariables.") {
            (VarScope::Node, n)
        } else {
            return Err(err(
                self.file,
                Some(self.node),
                format!("{what}: 'set' must be WorkflowVariables.<name> or NodeVariables.<name>, not '{target}'"),
            ));
        };
        let ty = match scope {
            VarScope::Workflow => self.workflow_vars.get(name),
            VarScope::Node => self.node_vars.get(name),
        };
        let ty = ty.copied().ok_or_else(|| {
            err(
                self.file,
                Some(self.node),
                format!("{what}: 'set' names undeclared variable '{target}'"),
            )
        })?;
        Ok(VarTarget {
            scope,
            name: name.to_owned(),
            ty,
        })
    }

    fn actions(&self, what: &str, specs: &[ActionSpec]) -> Result<Vec<Action>, ModelError> {
        let mut out = Vec::with_capacity(specs.len());
        for (i, a) in specs.iter().enumerate() {
            let what = format!("{what} action #{}", i + 1);
            let when = a
                .when
                .as_deref()
                .map(|w| self.compile(&what, w))
                .transpose()?;
            let kind = match (&a.set, &a.value, &a.builtin, &a.event) {
                (Some(set), Some(value), None, None) => ActionKind::Set {
                    target: self.target(&what, set)?,
                    value: self.compile(&what, value)?,
                },
                (Some(set), None, Some(b), None) => {
                    let builtin = match b.as_str() {
                        "review_summary" => Builtin::ReviewSummary,
                        other => {
                            return Err(err(
                                self.file,
                                Some(self.node),
                                format!("{what}: unknown builtin '{other}'"),
                            ))
                        }
                    };
                    let target = self.target(&what, set)?;
                    if target.ty != VarType::String {
                        return Err(err(
                            self.file,
                            Some(self.node),
                            format!("{what}: builtin '{b}' gives a string, '{set}' is not one"),
                        ));
                    }
                    ActionKind::Builtin { target, builtin }
                }
                (None, None, None, Some(ev)) if !ev.is_empty() => ActionKind::Event(ev.clone()),
                _ => {
                    return Err(err(
                        self.file,
                        Some(self.node),
                        format!("{what}: an action is either set+value, set+builtin or event"),
                    ))
                }
            };
            out.push(Action { when, kind });
        }
        Ok(out)
    }
}

fn path_safe(s: &str) -> bool {
    !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

fn compile(file: &Path, spec: ModelSpec, spec_nodes: Vec<NodeSpec>) -> Result<Model, ModelError> {
    if !path_safe(&spec.name) {
        return Err(err(
            file,
            None,
            format!(
                "model name '{}' must be letters, digits, '_' or '-'",
                spec.name
            ),
        ));
    }
    let variables = compile_vars(file, None, &spec.variables)?;
    let var_types: HashMap<String, VarType> =
        variables.iter().map(|v| (v.name.clone(), v.ty)).collect();
    if spec_nodes.is_empty() {
        return Err(err(file, None, "the model has no nodes"));
    }
    let mut index = NodeIndex::default();
    for (i, n) in spec_nodes.iter().enumerate() {
        if !path_safe(&n.id) {
            return Err(err(
                file,
                Some(&n.id),
                "node id must be letters, digits, '_' or '-'",
            ));
        }
        if index.insert(n.id.clone(), i).is_some() {
            return Err(err(file, Some(&n.id), "duplicate node id"));
        }
    }
    let starts: Vec<&NodeSpec> = spec_nodes.iter().filter(|n| n.start).collect();
    match starts.len() {
        0 => return Err(err(file, None, "the model has no start node")),
        1 => {}
        _ => {
            return Err(err(
                file,
                Some(&starts[1].id),
                "a second start node (only one is allowed)",
            ))
        }
    }
    if !spec_nodes.iter().any(|n| n.stop) {
        return Err(err(file, None, "the model has no stop node"));
    }
    let mut nodes = Vec::with_capacity(spec_nodes.len());
    for n in &spec_nodes {
        nodes.push(compile_node(file, n, &variables, &var_types, &index)?);
    }
    let start = index[&starts[0].id];
    let mut incoming = vec![Vec::new(); nodes.len()];
    for (i, n) in nodes.iter().enumerate() {
        for t in &n.transitions {
            if !incoming[t.target].contains(&i) {
                incoming[t.target].push(i);
            }
        }
    }
    check_reachability(file, &nodes, start, &incoming)?;
    Ok(Model {
        id: Uuid::new_v5(&MODEL_NS, spec.name.as_bytes()).to_string(),
        name: spec.name,
        title: spec.title,
        file: file.to_path_buf(),
        defaults: defaults_of(&variables),
        variables,
        var_types,
        nodes,
        index,
        start,
        incoming,
    })
}

fn compile_node(
    file: &Path,
    n: &NodeSpec,
    variables: &[VariableDef],
    var_types: &HashMap<String, VarType>,
    index: &NodeIndex,
) -> Result<Node, ModelError> {
    let id = n.id.as_str();
    let node_vars = compile_vars(file, Some(id), &n.variables)?;
    let node_types: HashMap<String, VarType> =
        node_vars.iter().map(|v| (v.name.clone(), v.ty)).collect();
    for w in &n.workflow_variables {
        if !var_types.contains_key(w) {
            return Err(err(
                file,
                Some(id),
                format!("workflowVariables names undeclared workflow variable '{w}'"),
            ));
        }
    }
    let workflow_vars: Vec<String> = variables
        .iter()
        .filter(|v| n.workflow_variables.contains(&v.name))
        .map(|v| v.name.clone())
        .collect();
    let merge = match n.merge.as_deref() {
        None => false,
        Some("all") => true,
        Some(other) => {
            return Err(err(
                file,
                Some(id),
                format!("merge must be \"all\", not \"{other}\""),
            ))
        }
    };
    if n.stop && (!n.transitions.is_empty() || n.task.is_some()) {
        return Err(err(
            file,
            Some(id),
            "a stop node has neither transitions nor a task",
        ));
    }
    if !n.stop && n.transitions.is_empty() {
        return Err(err(
            file,
            Some(id),
            "the node has no transition and is not a stop node",
        ));
    }
    if n.start && merge {
        return Err(err(file, Some(id), "the start node cannot be a merge"));
    }
    let buttons: Option<Vec<TaskAction>> = n.task.as_ref().map(|t| {
        t.buttons
            .iter()
            .map(|b| TaskAction {
                name: b.name.clone(),
                label: b.label.clone(),
                validate: b.validate,
            })
            .collect()
    });
    let rules = ExprRules {
        file,
        node: id,
        workflow_vars: var_types,
        node_vars: &node_types,
        buttons: buttons.as_deref(),
    };
    let task = match (&n.task, &buttons) {
        (Some(t), Some(buttons)) => {
            if buttons.is_empty() {
                return Err(err(file, Some(id), "task node has no buttons"));
            }
            let mut seen = HashSet::new();
            for b in buttons {
                if b.name.is_empty() || matches!(b.name.as_str(), "reassign" | "delegate") {
                    return Err(err(
                        file,
                        Some(id),
                        format!("invalid button name '{}'", b.name),
                    ));
                }
                if !seen.insert(b.name.as_str()) {
                    return Err(err(
                        file,
                        Some(id),
                        format!("duplicate button '{}'", b.name),
                    ));
                }
            }
            if t.assignees.is_none() && t.static_assignees.is_empty() {
                return Err(err(file, Some(id), "task node has no assignees"));
            }
            Some(TaskDef {
                directive: t.directive.clone(),
                assignees: t
                    .assignees
                    .as_deref()
                    .map(|a| rules.compile("assignees", a))
                    .transpose()?,
                static_assignees: t.static_assignees.clone(),
                multi_task: t.multi_task,
                due: t
                    .due_date
                    .as_deref()
                    .map(|d| rules.compile("dueDate", d))
                    .transpose()?,
                allow_reassignment: t.allow_task_reassignment,
                buttons: buttons.clone(),
            })
        }
        _ => None,
    };
    let mut transitions = Vec::with_capacity(n.transitions.len());
    let mut names = HashSet::new();
    for t in &n.transitions {
        if !names.insert(t.name.as_str()) {
            return Err(err(
                file,
                Some(id),
                format!("duplicate transition '{}'", t.name),
            ));
        }
        let what = format!("transition '{}'", t.name);
        let target = *index.get(&t.target).ok_or_else(|| {
            err(
                file,
                Some(id),
                format!("{what} targets unknown node '{}'", t.target),
            )
        })?;
        transitions.push(Transition {
            name: t.name.clone(),
            label_text: t
                .label_text
                .clone()
                .or_else(|| t.label.clone())
                .unwrap_or_default(),
            condition: rules.compile(&what, &t.condition)?,
            target,
            actions: rules.actions(&what, &t.actions)?,
            path: t
                .path
                .iter()
                .map(|p| GraphPoint { x: p.x, y: p.y })
                .collect(),
        });
    }
    let mut escalations = Vec::new();
    for e in &n.escalations {
        if task.is_none() {
            return Err(err(
                file,
                Some(id),
                format!("escalation '{}' on a node without task", e.name),
            ));
        }
        if e.action != "force_resume" {
            return Err(err(
                file,
                Some(id),
                format!("escalation '{}': unknown action '{}'", e.name, e.action),
            ));
        }
        escalations.push(Escalation {
            name: e.name.clone(),
            condition: rules.compile(&format!("escalation '{}'", e.name), &e.condition)?,
        });
    }
    Ok(Node {
        id: n.id.clone(),
        schema: format!("var_{}", n.id),
        title: n.title.clone(),
        title_text: n.title_text.clone().unwrap_or_else(|| n.title.clone()),
        x: n.x,
        y: n.y,
        start: n.start,
        stop: n.stop,
        merge,
        input: rules.actions("input", &n.input)?,
        output: rules.actions("output", &n.output)?,
        task,
        defaults: defaults_of(&node_vars),
        variables: node_vars,
        var_types: node_types,
        workflow_vars,
        transitions,
        escalations,
    })
}

fn check_reachability(
    file: &Path,
    nodes: &[Node],
    start: usize,
    incoming: &[Vec<usize>],
) -> Result<(), ModelError> {
    let mut seen = vec![false; nodes.len()];
    let mut queue = VecDeque::from([start]);
    seen[start] = true;
    while let Some(i) = queue.pop_front() {
        for t in &nodes[i].transitions {
            if !seen[t.target] {
                seen[t.target] = true;
                queue.push_back(t.target);
            }
        }
    }
    if let Some(i) = seen.iter().position(|s| !s) {
        return Err(err(
            file,
            Some(&nodes[i].id),
            "the node cannot be reached from the start node",
        ));
    }
    // Every node must be able to reach a stop node, or an instance could never end.
    let mut ends = vec![false; nodes.len()];
    let mut queue: VecDeque<usize> = (0..nodes.len()).filter(|&i| nodes[i].stop).collect();
    for &i in &queue {
        ends[i] = true;
    }
    while let Some(i) = queue.pop_front() {
        for &src in &incoming[i] {
            if !ends[src] {
                ends[src] = true;
                queue.push_back(src);
            }
        }
    }
    if let Some(i) = ends.iter().position(|e| !e) {
        return Err(err(
            file,
            Some(&nodes[i].id),
            "no stop node can be reached from this node",
        ));
    }
    Ok(())
}
