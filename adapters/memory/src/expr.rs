//! Conditions and computed values, written in CEL.
//!
//! Every expression of a model is compiled when the model is loaded. At run time an
//! expression sees these names:
//!
//! | name | value |
//! |---|---|
//! | `WorkflowVariables` | map of the workflow variables (dates as timestamps) |
//! | `NodeVariables` | map of the current node's variables |
//! | `button` | the button pressed on the node's last task (`""` before any) |
//! | `initiator`, `workflowInitiator` | user name of the workflow initiator |
//! | `now` | the current time (timestamp) |
//! | `documents` | ids of the attached documents |
//! | `tasks` | the node's ended tasks: maps with `actor`, `status` (button), `comment` |
//! | `nodeId` | id of the current node |
//!
//! An evaluation error is returned as a message, never a panic.

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, LazyLock, OnceLock};

use cel::common::ast::{operators, Expr as Ast, IdedExpr, LiteralValue};
use cel::common::types::CelString;
use cel::common::value::{CowVal, Val};
use cel::context::VariableResolver;
use cel::{Context, Env, Program, Value as Cel};
use chrono::{DateTime, Utc};
use flowgate_core::VarType;
use serde_json::Value;

use crate::state::{TaskInfoRecord, VarValues};
use crate::vars::{format_date, parse_date};

/// The names an expression may use at its top level.
pub(crate) const SCOPE_NAMES: &[&str] = &[
    "WorkflowVariables",
    "NodeVariables",
    "button",
    "initiator",
    "workflowInitiator",
    "now",
    "documents",
    "tasks",
    "nodeId",
];

static ENV: LazyLock<Arc<Env>> = LazyLock::new(|| Arc::new(Env::stdlib()));

/// A compiled expression with its source text (for error messages).
#[derive(Debug)]
pub(crate) struct Expr {
    pub source: String,
    program: Program,
}

/// Which variable map an expression reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum VarScope {
    Workflow,
    Node,
}

/// What the static analysis of an expression found.
#[derive(Debug, Default)]
pub(crate) struct Analysis {
    /// Top-level names used that are not comprehension variables.
    pub names: BTreeSet<String>,
    /// Variables read as `WorkflowVariables.x`, `NodeVariables["x"]`, ...
    pub vars: BTreeSet<(VarScope, String)>,
    /// String literals compared with `button` (`button == "x"`).
    pub buttons: BTreeSet<String>,
}

impl Expr {
    /// Parses `source`; the error is the parser's message.
    pub fn compile(source: &str) -> Result<Self, String> {
        let program = ENV
            .compile(source)
            .map_err(|e| format!("invalid expression '{source}': {e}"))?;
        Ok(Self {
            source: source.to_owned(),
            program,
        })
    }

    /// Walks the expression to find the names, variables and button literals it uses.
    pub fn analyse(&self) -> Analysis {
        let mut a = Analysis::default();
        walk(self.program.expression(), &mut Vec::new(), &mut a);
        a
    }

    /// Evaluates against a scope.
    pub fn eval(&self, scope: &Scope<'_>) -> Result<Cel, String> {
        let names = Names::new(scope);
        let mut cx = Context::with_env(ENV.clone());
        cx.set_variable_resolver(&names);
        self.program
            .execute(&cx)
            .map_err(|e| format!("expression '{}' failed: {e}", self.source))
    }
}

fn walk(e: &IdedExpr, bound: &mut Vec<String>, a: &mut Analysis) {
    match &e.expr {
        Ast::Ident(name) => {
            if !bound.iter().any(|b| b == name) {
                a.names.insert(name.clone());
            }
        }
        Ast::Select(s) => {
            if let Some(scope) = scope_of(&s.operand, bound) {
                a.vars.insert((scope, s.field.clone()));
            }
            walk(&s.operand, bound, a);
        }
        Ast::Call(c) => {
            if c.func_name == operators::INDEX && c.args.len() == 2 {
                if let (Some(scope), Some(field)) =
                    (scope_of(&c.args[0], bound), string_lit(&c.args[1]))
                {
                    a.vars.insert((scope, field));
                }
            }
            if (c.func_name == operators::EQUALS || c.func_name == operators::NOT_EQUALS)
                && c.args.len() == 2
            {
                for (l, r) in [(&c.args[0], &c.args[1]), (&c.args[1], &c.args[0])] {
                    if is_button(l, bound) {
                        if let Some(lit) = string_lit(r) {
                            a.buttons.insert(lit);
                        }
                    }
                }
            }
            if let Some(t) = &c.target {
                walk(t, bound, a);
            }
            for arg in &c.args {
                walk(arg, bound, a);
            }
        }
        Ast::Comprehension(c) => {
            walk(&c.iter_range, bound, a);
            walk(&c.accu_init, bound, a);
            bound.push(c.iter_var.clone());
            if let Some(v2) = &c.iter_var2 {
                bound.push(v2.clone());
            }
            bound.push(c.accu_var.clone());
            walk(&c.loop_cond, bound, a);
            walk(&c.loop_step, bound, a);
            walk(&c.result, bound, a);
            bound.truncate(bound.len() - if c.iter_var2.is_some() { 3 } else { 2 });
        }
        Ast::List(l) => l.elements.iter().for_each(|x| walk(x, bound, a)),
        Ast::Map(m) => {
            for entry in &m.entries {
                if let cel::common::ast::EntryExpr::MapEntry(me) = &entry.expr {
                    walk(&me.key, bound, a);
                    walk(&me.value, bound, a);
                }
            }
        }
        Ast::Struct(s) => {
            for entry in &s.entries {
                if let cel::common::ast::EntryExpr::StructField(f) = &entry.expr {
                    walk(&f.value, bound, a);
                }
            }
        }
        Ast::Literal(_) | Ast::Unspecified => {}
    }
}

fn scope_of(e: &IdedExpr, bound: &[String]) -> Option<VarScope> {
    match &e.expr {
        Ast::Ident(n) if !bound.iter().any(|b| b == n) => match n.as_str() {
            "WorkflowVariables" => Some(VarScope::Workflow),
            "NodeVariables" => Some(VarScope::Node),
            _ => None,
        },
        _ => None,
    }
}

fn is_button(e: &IdedExpr, bound: &[String]) -> bool {
    match &e.expr {
        Ast::Ident(n) => n == "button" && !bound.iter().any(|b| b == n),
        Ast::Select(s) => {
            s.field == "button" && scope_of(&s.operand, bound) == Some(VarScope::Node)
        }
        Ast::Call(c) if c.func_name == operators::INDEX && c.args.len() == 2 => {
            scope_of(&c.args[0], bound) == Some(VarScope::Node)
                && string_lit(&c.args[1]).as_deref() == Some("button")
        }
        _ => false,
    }
}

fn string_lit(e: &IdedExpr) -> Option<String> {
    match &e.expr {
        Ast::Literal(LiteralValue::String(s)) => Some(s.inner().to_owned()),
        _ => None,
    }
}

/// Everything an expression can read.
pub(crate) struct Scope<'a> {
    pub workflow_vars: &'a VarValues,
    pub workflow_types: &'a HashMap<String, VarType>,
    pub node_vars: &'a VarValues,
    pub node_types: &'a HashMap<String, VarType>,
    pub button: &'a str,
    pub initiator: &'a str,
    pub now: DateTime<Utc>,
    pub documents: &'a [String],
    /// The node's ended tasks of the current visit.
    pub tasks: &'a [TaskInfoRecord],
    pub node_id: &'a str,
}

/// The names of a [`Scope`], converted into CEL values only when an evaluation looks
/// them up: most conditions read one or two names (`button == 'x'`), and building
/// every variable map for each of them would cost far more than evaluating it.
struct Names<'s, 'a> {
    scope: &'s Scope<'a>,
    /// `WorkflowVariables` and `NodeVariables` as whole maps, built at most once per
    /// evaluation (`WorkflowVariables["x"]`, `size(NodeVariables)`, `has(...)`).
    workflow: OnceLock<Option<Box<dyn Val>>>,
    node: OnceLock<Option<Box<dyn Val>>>,
}

impl<'s, 'a> Names<'s, 'a> {
    fn new(scope: &'s Scope<'a>) -> Self {
        Self {
            scope,
            workflow: OnceLock::new(),
            node: OnceLock::new(),
        }
    }
}

fn owned<'b>(v: Cel) -> Option<CowVal<'b, 'b>> {
    let v: Box<dyn Val> = v.try_into().ok()?;
    Some(CowVal::Owned(v))
}

fn borrowed<'b>(
    v: &'b OnceLock<Option<Box<dyn Val>>>,
    init: impl FnOnce() -> Cel,
) -> Option<CowVal<'b, 'b>> {
    let v = v.get_or_init(|| init().try_into().ok()).as_deref()?;
    Some(CowVal::Borrowed(v))
}

impl VariableResolver for Names<'_, '_> {
    fn resolve<'b>(&'b self, variable: &str) -> Option<CowVal<'b, 'b>> {
        let s = self.scope;
        match variable {
            "WorkflowVariables" => borrowed(&self.workflow, || {
                vars_to_cel(s.workflow_vars, s.workflow_types, None)
            }),
            // Nuxeo models read the pressed button as NodeVariables["button"] too.
            "NodeVariables" => borrowed(&self.node, || {
                vars_to_cel(s.node_vars, s.node_types, Some(s.button))
            }),
            "button" => Some(CowVal::owned(CelString::from(s.button))),
            "initiator" | "workflowInitiator" => Some(CowVal::owned(CelString::from(s.initiator))),
            "now" => owned(Cel::Timestamp(s.now.fixed_offset())),
            "documents" => owned(s.documents.to_vec().into()),
            "tasks" => owned(tasks_to_cel(s.tasks)),
            "nodeId" => Some(CowVal::owned(CelString::from(s.node_id))),
            _ => {
                // `WorkflowVariables.x` is looked up whole before `WorkflowVariables`:
                // answering with the one value spares building the map. A name that is
                // not a variable falls through to the map (and its "no such key").
                if let Some(name) = variable.strip_prefix("WorkflowVariables.") {
                    let v = s.workflow_vars.get(name)?;
                    return owned(var_to_cel(s.workflow_types, name, v));
                }
                let name = variable.strip_prefix("NodeVariables.")?;
                match s.node_vars.get(name) {
                    Some(v) => owned(var_to_cel(s.node_types, name, v)),
                    None if name == "button" => Some(CowVal::owned(CelString::from(s.button))),
                    None => None,
                }
            }
        }
    }
}

fn tasks_to_cel(tasks: &[TaskInfoRecord]) -> Cel {
    let tasks: Vec<Cel> = tasks
        .iter()
        .map(|t| {
            let mut m: HashMap<String, Cel> = HashMap::new();
            m.insert("actor".into(), t.actor.clone().into());
            m.insert("status".into(), t.status.clone().into());
            m.insert(
                "comment".into(),
                t.comment.clone().map(Cel::from).unwrap_or(Cel::Null),
            );
            Cel::from(m)
        })
        .collect();
    tasks.into()
}

/// One variable as expressions see it: dates as timestamps.
fn var_to_cel(types: &HashMap<String, VarType>, name: &str, v: &Value) -> Cel {
    match (types.get(name), v) {
        (Some(VarType::Date), Value::String(s)) => match parse_date(s) {
            Some(d) => Cel::Timestamp(d.fixed_offset()),
            None => Cel::Null,
        },
        _ => json_to_cel(v),
    }
}

fn vars_to_cel(vars: &VarValues, types: &HashMap<String, VarType>, button: Option<&str>) -> Cel {
    let mut m: HashMap<String, Cel> = HashMap::new();
    if let Some(b) = button {
        m.insert("button".to_owned(), b.to_owned().into());
    }
    for (k, v) in vars.iter() {
        m.insert(k.to_owned(), var_to_cel(types, k, v));
    }
    Cel::from(m)
}

fn json_to_cel(v: &Value) -> Cel {
    match v {
        Value::Null => Cel::Null,
        Value::Bool(b) => Cel::Bool(*b),
        Value::Number(n) => match n.as_i64() {
            Some(i) => Cel::Int(i),
            None => n.as_f64().map(Cel::Float).unwrap_or(Cel::Null),
        },
        Value::String(s) => Cel::from(s.clone()),
        Value::Array(a) => Cel::List(Arc::new(a.iter().map(json_to_cel).collect())),
        Value::Object(o) => {
            let m: HashMap<String, Cel> =
                o.iter().map(|(k, v)| (k.clone(), json_to_cel(v))).collect();
            Cel::from(m)
        }
    }
}

/// A short type name for messages.
pub(crate) fn type_name(v: &Cel) -> &'static str {
    match v {
        Cel::List(_) => "a list",
        Cel::Map(_) => "a map",
        Cel::Int(_) | Cel::UInt(_) => "an integer",
        Cel::Float(_) => "a double",
        Cel::String(_) => "a string",
        Cel::Bool(_) => "a boolean",
        Cel::Timestamp(_) => "a timestamp",
        Cel::Duration(_) => "a duration",
        Cel::Null => "null",
        _ => "an unsupported value",
    }
}

/// Converts an expression result into a stored variable value of the declared type.
pub(crate) fn cel_to_var(ty: VarType, v: &Cel) -> Result<Value, String> {
    let bad = || format!("cannot store {} in a variable of type {ty:?}", type_name(v));
    match (ty, v) {
        (VarType::StringList, Cel::Null) => Ok(Value::Array(Vec::new())),
        (_, Cel::Null) => Ok(Value::Null),
        (VarType::String, Cel::String(s)) => Ok(Value::String(s.to_string())),
        (VarType::Integer, Cel::Int(i)) => Ok(Value::from(*i)),
        (VarType::Integer, Cel::UInt(u)) => i64::try_from(*u).map(Value::from).map_err(|_| bad()),
        (VarType::Boolean, Cel::Bool(b)) => Ok(Value::Bool(*b)),
        (VarType::Date, Cel::Timestamp(t)) => Ok(Value::String(format_date(t.with_timezone(&Utc)))),
        (VarType::Date, Cel::String(s)) => parse_date(s)
            .map(|d| Value::String(format_date(d)))
            .ok_or_else(bad),
        (VarType::StringList, Cel::String(s)) => {
            Ok(Value::Array(vec![Value::String(s.to_string())]))
        }
        (VarType::StringList, Cel::List(items)) => items
            .iter()
            .map(|i| match i {
                Cel::String(s) => Ok(Value::String(s.to_string())),
                _ => Err(bad()),
            })
            .collect::<Result<Vec<_>, _>>()
            .map(Value::Array),
        _ => Err(bad()),
    }
}

/// Converts an assignee expression result into actor strings.
pub(crate) fn cel_to_actors(v: &Cel) -> Result<Vec<String>, String> {
    match v {
        Cel::Null => Ok(Vec::new()),
        Cel::String(s) => Ok(vec![s.to_string()]),
        Cel::List(items) => items
            .iter()
            .map(|i| match i {
                Cel::String(s) => Ok(s.to_string()),
                other => Err(format!(
                    "assignee list holds {} instead of strings",
                    type_name(other)
                )),
            })
            .collect(),
        other => Err(format!(
            "assignees gave {} instead of a string or a list",
            type_name(other)
        )),
    }
}

/// Converts a due-date expression result.
pub(crate) fn cel_to_date(v: &Cel) -> Result<Option<DateTime<Utc>>, String> {
    match v {
        Cel::Null => Ok(None),
        Cel::Timestamp(t) => Ok(Some(t.with_timezone(&Utc))),
        Cel::String(s) => parse_date(s)
            .map(Some)
            .ok_or_else(|| format!("due date '{s}' is not a date")),
        other => Err(format!(
            "due date gave {} instead of a timestamp",
            type_name(other)
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use flowgate_core::Variables;
    use serde_json::json;

    fn scope_eval(src: &str, wv: Variables, button: &str) -> Result<Cel, String> {
        let types: HashMap<String, VarType> = [
            ("index".to_owned(), VarType::Integer),
            ("participants".to_owned(), VarType::StringList),
            ("end_date".to_owned(), VarType::Date),
        ]
        .into_iter()
        .collect();
        let nv = VarValues::default();
        let nt = HashMap::new();
        let wv = VarValues::from(&wv);
        let scope = Scope {
            workflow_vars: &wv,
            workflow_types: &types,
            node_vars: &nv,
            node_types: &nt,
            button,
            initiator: "Administrator",
            now: Utc::now(),
            documents: &[],
            tasks: &[],
            node_id: "n",
        };
        Expr::compile(src)?.eval(&scope)
    }

    fn vars(v: Value) -> Variables {
        v.as_object().cloned().unwrap_or_default()
    }

    #[test]
    fn conditions_see_button_and_workflow_variables() {
        let wv = vars(json!({"index": 2, "participants": ["a", "b"]}));
        let r = scope_eval(
            "button == 'validate' && WorkflowVariables.index == size(WorkflowVariables.participants)",
            wv.clone(),
            "validate",
        );
        assert_eq!(r, Ok(Cel::Bool(true)));
        let r = scope_eval("button == 'reject'", wv, "validate");
        assert_eq!(r, Ok(Cel::Bool(false)));
    }

    #[test]
    fn lazily_resolved_names_behave_like_whole_maps() {
        let wv = vars(
            json!({"index": 1, "participants": ["a", "b"], "end_date": "2024-06-01T12:00:00.000Z"}),
        );
        for (src, want) in [
            (
                "WorkflowVariables.index == WorkflowVariables[\"index\"]",
                Cel::Bool(true),
            ),
            (
                "WorkflowVariables.participants[WorkflowVariables.index]",
                Cel::from("b".to_owned()),
            ),
            (
                "has(WorkflowVariables.index) && !has(WorkflowVariables.nope)",
                Cel::Bool(true),
            ),
            ("size(WorkflowVariables) == 3", Cel::Bool(true)),
            ("WorkflowVariables.end_date < now", Cel::Bool(true)),
            (
                "NodeVariables.button == button && NodeVariables[\"button\"] == 'ok'",
                Cel::Bool(true),
            ),
            (
                "initiator == workflowInitiator && nodeId == 'n' && size(tasks) == 0",
                Cel::Bool(true),
            ),
            ("[1, 2].exists(button, button == 2)", Cel::Bool(true)),
        ] {
            assert_eq!(scope_eval(src, wv.clone(), "ok"), Ok(want), "{src}");
        }
        let missing = scope_eval("WorkflowVariables.nope == 1", wv.clone(), "ok");
        assert!(missing.is_err(), "{missing:?}");
        let unknown = scope_eval("somethingElse == 1", wv, "ok");
        assert!(unknown.is_err(), "{unknown:?}");
    }

    #[test]
    fn dates_are_timestamps_in_expressions() {
        let wv = vars(json!({"end_date": "2024-06-01T12:00:00.000Z"}));
        let r = scope_eval("WorkflowVariables.end_date + duration('24h') < now", wv, "");
        assert_eq!(r, Ok(Cel::Bool(true)));
    }

    #[test]
    fn evaluation_errors_are_messages_not_panics() {
        let wv = vars(json!({"index": 0, "participants": []}));
        let r = scope_eval(
            "WorkflowVariables.participants[WorkflowVariables.index]",
            wv,
            "",
        );
        assert!(r.is_err(), "{r:?}");
        assert!(Expr::compile("button == ").is_err());
    }

    #[test]
    fn analysis_finds_buttons_variables_and_names() {
        let e = Expr::compile(
            "NodeVariables[\"button\"] == 'ok' || button == \"no\" && WorkflowVariables[\"index\"] > 0 && tasks.all(t, t.status != '')",
        )
        .unwrap();
        let a = e.analyse();
        assert_eq!(
            a.buttons.iter().cloned().collect::<Vec<_>>(),
            vec!["no", "ok"]
        );
        assert!(a.vars.contains(&(VarScope::Workflow, "index".to_owned())));
        assert!(a.names.contains("tasks"));
        assert!(!a.names.contains("t"));
    }
}
