//! Alfresco wire data → the neutral model, and the name mappings between Nuxeo-style
//! variables and Alfresco ones. Fields the definition leaves optional have fallbacks
//! here; dates that cannot be read are left empty.

mod dates;
mod graph;
mod typed;

use base64::Engine as _;
use chrono::{DateTime, Utc};
use flowgate_core::{
    Comment, EngineError, TaskAction, TaskInfo, TaskState, VarType, VariableDef, Variables,
    WorkflowInstance, WorkflowModel, WorkflowState,
};
use serde_json::Value;

use crate::wire;

pub(crate) use dates::{date, fmt_date, opt_date};
pub(crate) use graph::{builtin_graph, graph_from_activities, mark_graph};
pub(crate) use typed::{form_element, form_value};

/// Shown for a date Alfresco did not send or sent unreadable where the neutral model
/// has no empty value (the creation date of a task or instance).
const UNKNOWN_DATE: DateTime<Utc> = DateTime::<Utc>::UNIX_EPOCH;

// ---------- ids ----------

const ENCODED: &str = "~";

/// A native Alfresco id as a path-safe flowgate id. Ids made of safe characters stay as
/// they are (Alfresco's are decimal); anything else is base64url-encoded behind `~`.
pub(crate) fn to_flowgate_id(native: &str) -> String {
    let safe = !native.is_empty()
        && !native.starts_with(ENCODED)
        && native
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
        && native != "."
        && native != "..";
    if safe {
        native.to_owned()
    } else {
        format!(
            "{ENCODED}{}",
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(native)
        )
    }
}

/// The native id behind a flowgate id; refuses anything that could not be an Alfresco
/// id so that nothing odd ever reaches an upstream URL.
pub(crate) fn to_native_id(id: &str) -> Result<String, EngineError> {
    let bad = || EngineError::bad_request(format!("'{}' is not a valid Alfresco id", short(id)));
    let native = match id.strip_prefix(ENCODED) {
        Some(b64) => {
            let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(b64)
                .map_err(|_| bad())?;
            String::from_utf8(raw).map_err(|_| bad())?
        }
        None => id.to_owned(),
    };
    let native = native
        .strip_prefix("activiti$")
        .unwrap_or(&native)
        .to_owned();
    let ok = !native.is_empty()
        && native.len() <= 255
        && native != "."
        && native != ".."
        && native
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':'));
    if ok {
        Ok(native)
    } else {
        Err(bad())
    }
}

/// A document id or node reference → bare node uuid (only the live store is accepted).
pub(crate) fn node_uuid(doc: &str) -> Result<String, EngineError> {
    let bare = match doc.strip_prefix("workspace://SpacesStore/") {
        Some(rest) => rest,
        None if doc.contains("://") => {
            return Err(EngineError::bad_request(
                "only documents of workspace://SpacesStore can be used",
            ))
        }
        None => doc,
    };
    let ok = !bare.is_empty()
        && bare.len() <= 64
        && bare.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
    if ok {
        Ok(bare.to_owned())
    } else {
        Err(EngineError::bad_request(format!(
            "'{}' is not a valid Alfresco document id",
            short(doc)
        )))
    }
}

fn short(s: &str) -> String {
    s.chars()
        .take(64)
        .map(|c| if c.is_control() { '?' } else { c })
        .collect()
}

// ---------- principals ----------

/// A flowgate group name as an Alfresco authority (`reviewers` → `GROUP_reviewers`).
pub(crate) fn alf_group(g: &str) -> String {
    let g = g.strip_prefix("group:").unwrap_or(g);
    if g.starts_with("GROUP_") {
        g.to_owned()
    } else {
        format!("GROUP_{g}")
    }
}

/// An Alfresco group authority as a flowgate actor (`GROUP_reviewers` → `group:reviewers`).
pub(crate) fn group_actor(g: &str) -> String {
    format!("group:{}", g.strip_prefix("GROUP_").unwrap_or(g))
}

/// A flowgate actor naming one user, bare.
pub(crate) fn user_of(actor: &str) -> Option<&str> {
    if actor.starts_with("group:") || actor.is_empty() {
        return None;
    }
    Some(actor.strip_prefix("user:").unwrap_or(actor))
}

// ---------- business key: who started a process through the gateway ----------

const BK_PREFIX: &str = "flowgate:";

/// `flowgate:<uuid>.<key>:<user>`: carries the gateway user who started a process,
/// because with a service account Alfresco records the service account as starter, and
/// the definition key, which a process answer need not carry (`processDefinitionId` is
/// optional in the definition). Older keys read `flowgate:<uuid>:<user>`.
pub(crate) fn business_key(key: &str, user: &str) -> String {
    let uuid = uuid::Uuid::new_v4().simple();
    if key.is_empty() || key.contains(':') {
        format!("{BK_PREFIX}{uuid}:{user}")
    } else {
        format!("{BK_PREFIX}{uuid}.{key}:{user}")
    }
}

/// The gateway user recorded in a business key.
pub(crate) fn initiator_of(business_key: Option<&str>) -> Option<String> {
    let rest = business_key?.strip_prefix(BK_PREFIX)?;
    let (_, user) = rest.split_once(':')?;
    (!user.is_empty()).then(|| user.to_owned())
}

/// The definition key recorded in a business key.
pub(crate) fn model_key_of(business_key: Option<&str>) -> Option<String> {
    let rest = business_key?.strip_prefix(BK_PREFIX)?;
    let (head, _) = rest.split_once(':')?;
    let (_, key) = head.split_once('.')?;
    (!key.is_empty()).then(|| key.to_owned())
}

// ---------- variables ----------

/// Nuxeo-style names ↔ Alfresco names where they differ.
pub(crate) const VAR_MAP: &[(&str, &str)] = &[
    ("assignee", "bpm_assignee"),
    ("participants", "bpm_assignees"),
    ("groupAssignee", "bpm_groupAssignee"),
    ("dueDate", "bpm_workflowDueDate"),
    ("priority", "bpm_workflowPriority"),
    ("comment", "bpm_workflowDescription"),
    ("description", "bpm_workflowDescription"),
    ("requiredApprovePercent", "wf_requiredApprovePercent"),
    ("notifyMe", "wf_notifyMe"),
    ("sendEmailNotifications", "bpm_sendEMailNotifications"),
    ("reviewOutcome", "wf_reviewOutcome"),
];

/// Variables the engine keeps for itself; never shown.
const INTERNAL: &[&str] = &[
    "initiator",
    "initiatorhome",
    "companyhome",
    "cancelled",
    "_startTaskCompleted",
    "bpm_package",
    "bpm_hiddenTransitions",
    "bpm_packageActionGroup",
    "bpm_packageItemActionGroup",
    "bpm_outcomePropertyName",
    COMMENTS_VAR,
];

/// Local task variable holding flowgate's comment log (Alfresco keeps one comment only).
pub(crate) const COMMENTS_VAR: &str = "fg_comments";

/// The comment log of a task.
pub(crate) fn comment_log(vars: &[wire::Variable]) -> Vec<Comment> {
    vars.iter()
        .find(|v| v.name == COMMENTS_VAR && v.scope.as_deref() != Some("global"))
        .and_then(|v| v.value.as_str())
        .and_then(|s| serde_json::from_str::<Vec<Comment>>(s).ok())
        .unwrap_or_default()
}

/// The comment log with one more entry, as a local task variable to PUT.
pub(crate) fn comment_log_with(
    vars: &[wire::Variable],
    author: &str,
    text: Option<String>,
) -> wire::VariableBody {
    let mut log = comment_log(vars);
    log.push(Comment {
        author: author.to_owned(),
        text,
        date: Utc::now(),
    });
    let encoded = serde_json::to_string(&log).unwrap_or_else(|_| "[]".to_owned());
    wire::VariableBody {
        name: COMMENTS_VAR.to_owned(),
        ty: Some("d:text"),
        value: Value::String(encoded),
        scope: "local",
    }
}

/// The Alfresco name of a variable given under a Nuxeo or Alfresco name.
pub(crate) fn alf_name(name: &str) -> String {
    VAR_MAP
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, a)| (*a).to_owned())
        .unwrap_or_else(|| name.to_owned())
}

/// The name a variable is shown under (first Nuxeo alias, else the Alfresco name).
pub(crate) fn nuxeo_name(alf: &str) -> &str {
    VAR_MAP
        .iter()
        .find(|(_, a)| *a == alf)
        .map(|(n, _)| *n)
        .unwrap_or(alf)
}

/// A value for Alfresco: actors lose their `user:` prefix, groups get `GROUP_`.
pub(crate) fn alf_value(alf_name: &str, v: &Value) -> Value {
    match (alf_name, v) {
        ("bpm_assignee", Value::String(s)) => Value::String(user_of(s).unwrap_or(s).to_owned()),
        ("bpm_assignee", Value::Array(a)) => a
            .first()
            .and_then(Value::as_str)
            .map(|s| Value::String(user_of(s).unwrap_or(s).to_owned()))
            .unwrap_or(Value::Null),
        ("bpm_assignees", Value::Array(a)) => Value::Array(
            a.iter()
                .filter_map(Value::as_str)
                .map(|s| Value::String(user_of(s).unwrap_or(s).to_owned()))
                .collect(),
        ),
        ("bpm_assignees", Value::String(s)) => {
            Value::Array(vec![Value::String(user_of(s).unwrap_or(s).to_owned())])
        }
        ("bpm_groupAssignee", Value::String(s)) => Value::String(alf_group(s)),
        ("bpm_workflowDueDate", Value::String(s)) => match date(s) {
            Some(d) => Value::String(fmt_date(d)),
            None => v.clone(),
        },
        _ => v.clone(),
    }
}

/// A value read from Alfresco, as flowgate shows it.
fn shown_value(alf_name: &str, v: &Value) -> Value {
    match (alf_name, v) {
        ("bpm_assignee", Value::String(s)) => Value::String(format!("user:{s}")),
        ("bpm_assignees", Value::Array(a)) => Value::Array(
            a.iter()
                .filter_map(Value::as_str)
                .map(|s| Value::String(format!("user:{s}")))
                .collect(),
        ),
        ("bpm_groupAssignee", Value::String(s)) => Value::String(group_actor(s)),
        (_, Value::String(s)) if s.len() >= 24 && s.ends_with("+0000") => match date(s) {
            Some(d) => Value::String(d.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()),
            None => v.clone(),
        },
        _ => v.clone(),
    }
}

/// Shown variables from Alfresco ones (internal ones dropped, names mapped).
pub(crate) fn shown_variables<'a>(
    vars: impl IntoIterator<Item = &'a wire::Variable, IntoIter: ExactSizeIterator>,
) -> Variables {
    let vars = vars.into_iter();
    let mut out = Variables::with_capacity(vars.len());
    for v in vars {
        if v.name.is_empty() || INTERNAL.contains(&v.name.as_str()) {
            continue;
        }
        // The first of a name wins (locals come first); one lookup per variable.
        if let serde_json::map::Entry::Vacant(slot) = out.entry(nuxeo_name(&v.name)) {
            slot.insert(shown_value(&v.name, &v.value));
        }
    }
    out
}

fn var_type(data_type: Option<&str>, name: &str) -> VarType {
    match (data_type.unwrap_or("d:text"), name) {
        (_, "bpm_assignees") => VarType::StringList,
        ("d:int" | "d:long", _) => VarType::Integer,
        ("d:boolean", _) => VarType::Boolean,
        ("d:date" | "d:datetime", _) => VarType::Date,
        _ => VarType::String,
    }
}

// ---------- models ----------

/// A model from its latest definition and its start form.
pub(crate) fn model(d: &wire::ProcessDefinition, form: &[wire::FormElement]) -> WorkflowModel {
    let variables = form
        .iter()
        .filter(|e| !e.name.is_empty() && !INTERNAL.contains(&e.name.as_str()))
        .filter(|e| !matches!(e.name.as_str(), "bpm_status" | "bpm_comment"))
        .map(|e| {
            let ty = var_type(e.data_type.as_deref(), &e.name);
            let default = match (&e.default_value, ty) {
                (None, VarType::StringList) => Value::Array(Vec::new()),
                (None, _) => Value::Null,
                (Some(d), VarType::Integer) => {
                    d.parse::<i64>().map(Value::from).unwrap_or(Value::Null)
                }
                (Some(d), VarType::Boolean) => Value::Bool(d == "true"),
                (Some(d), _) => Value::String(d.clone()),
            };
            VariableDef {
                name: nuxeo_name(&e.name).to_owned(),
                ty,
                default,
            }
        })
        .collect();
    let key = d.key().to_owned();
    WorkflowModel {
        id: to_flowgate_id(&key),
        title: d
            .title
            .clone()
            .or_else(|| d.name.clone())
            .unwrap_or_else(|| key.clone()),
        name: key,
        variables,
    }
}

// ---------- instances ----------

/// What a task or instance conversion needs to know about a process.
#[derive(Clone, Debug)]
pub(crate) struct ProcessInfo {
    pub id: String,
    pub key: String,
    pub title: String,
    pub state: WorkflowState,
    pub initiator: Option<String>,
    pub created: DateTime<Utc>,
    pub ended: Option<DateTime<Utc>>,
}

impl ProcessInfo {
    /// Reads a process entity; `title` is the definition's title.
    pub(crate) fn new(p: &wire::Process, title: Option<String>) -> Result<Self, EngineError> {
        let key = p
            .process_definition_key
            .clone()
            .or_else(|| {
                p.process_definition_id
                    .as_deref()
                    .map(|d| wire::key_of_definition_id(d).to_owned())
            })
            .or_else(|| model_key_of(p.business_key.as_deref()))
            .unwrap_or_default();
        let state = match (&p.ended_at, &p.delete_reason) {
            (None, _) => WorkflowState::Running,
            (Some(_), Some(_)) => WorkflowState::Canceled,
            (Some(_), None) => WorkflowState::Done,
        };
        Ok(Self {
            id: to_flowgate_id(&p.id),
            title: title.unwrap_or_else(|| key.clone()),
            key,
            state,
            initiator: initiator_of(p.business_key.as_deref()).or_else(|| p.start_user_id.clone()),
            created: opt_date(p.started_at.as_deref()).unwrap_or(UNKNOWN_DATE),
            ended: opt_date(p.ended_at.as_deref()),
        })
    }
}

/// A workflow instance from its process, items and variables.
pub(crate) fn instance(
    p: &ProcessInfo,
    items: &[wire::Item],
    vars: &[wire::Variable],
) -> WorkflowInstance {
    WorkflowInstance {
        id: p.id.clone(),
        name: p.key.clone(),
        title: p.title.clone(),
        state: p.state,
        model_name: p.key.clone(),
        initiator: p.initiator.clone(),
        attached_documents: items.iter().filter_map(|i| i.id.clone()).collect(),
        variables: shown_variables(vars),
        created: p.created,
        ended: p.ended,
    }
}

// ---------- tasks ----------

/// The outcome variable of a task form and its allowed values, if the form has one.
pub(crate) fn outcome(form: &[wire::FormElement]) -> Option<(String, Vec<String>, Option<String>)> {
    let from_prop = form
        .iter()
        .find(|e| e.name == "bpm_outcomePropertyName")
        .and_then(|e| e.default_value.as_deref())
        .and_then(|q| {
            let (uri, local) = q.strip_prefix('{')?.split_once('}')?;
            let prefix = match uri {
                "http://www.alfresco.org/model/workflow/1.0" => "wf",
                "http://www.alfresco.org/model/bpm/1.0" => "bpm",
                _ => return None,
            };
            Some(format!("{prefix}_{local}"))
        });
    let el = match from_prop {
        Some(n) => form.iter().find(|e| e.name == n),
        None => form
            .iter()
            .find(|e| !e.allowed_values.is_empty() && e.name.ends_with("Outcome")),
    }?;
    (!el.allowed_values.is_empty()).then(|| {
        (
            el.name.clone(),
            el.allowed_values.clone(),
            el.default_value.clone(),
        )
    })
}

/// Name of the single action of tasks without an outcome property.
pub(crate) const DEFAULT_ACTION: &str = "complete";

/// The task's actions: one per outcome value (lower-cased), or the single `complete`.
pub(crate) fn actions(form: &[wire::FormElement]) -> Vec<TaskAction> {
    match outcome(form) {
        Some((_, values, _)) => values
            .iter()
            .map(|v| TaskAction {
                name: v.to_lowercase(),
                label: v.clone(),
                validate: false,
            })
            .collect(),
        None => vec![TaskAction {
            name: DEFAULT_ACTION.to_owned(),
            label: "Task Done".to_owned(),
            validate: false,
        }],
    }
}

/// A task's variables as read, with the form every read of the task shows them in
/// (Nuxeo names, locals first, internal ones dropped), built once per read of the
/// variables rather than once per read of the task when they come from the cache.
#[derive(Debug, Default)]
pub(crate) struct TaskVars {
    pub raw: Vec<wire::Variable>,
    pub shown: Variables,
}

impl TaskVars {
    pub(crate) fn new(raw: Vec<wire::Variable>) -> Self {
        let mut locals: Vec<&wire::Variable> = raw
            .iter()
            .filter(|v| v.scope.as_deref() == Some("local"))
            .collect();
        locals.extend(raw.iter().filter(|v| v.scope.as_deref() != Some("local")));
        let shown = shown_variables(locals);
        Self { raw, shown }
    }
}

/// A task form as read, with the buttons every task of that form shows (derived once,
/// when the form is read, not on every read of a task).
#[derive(Debug)]
pub(crate) struct TaskForm {
    pub elements: Vec<wire::FormElement>,
    pub actions: Vec<TaskAction>,
}

impl TaskForm {
    pub(crate) fn new(elements: Vec<wire::FormElement>) -> Self {
        let actions = actions(&elements);
        Self { elements, actions }
    }
}

/// Everything needed to build one task.
pub(crate) struct TaskParts<'a> {
    pub task: &'a wire::Task,
    pub vars: &'a TaskVars,
    pub items: &'a [wire::Item],
    pub candidates: &'a [wire::Candidate],
    pub form: &'a TaskForm,
    pub process: Option<&'a ProcessInfo>,
    /// The service account, whose assignments are shown as the gateway initiator's.
    pub service_user: Option<&'a str>,
}

/// Whether a task waits on a delegate. Runtime lists say `delegated`; single GETs read
/// history and say `claimed`, where an owner different from the assignee gives it away.
pub(crate) fn is_delegated(t: &wire::Task) -> bool {
    let state = t.state.as_deref();
    t.ended_at.is_none()
        && (state == Some("delegated")
            || (state != Some("resolved")
                && matches!((&t.owner, &t.assignee), (Some(o), Some(a)) if o != a)))
}

/// The node a task waits in: its `activityDefinitionId`, else the local name of its
/// form key (`wf:activitiReviewTask` → `activitiReviewTask`), else its name, else `task`.
pub(crate) fn node_of(t: &wire::Task) -> String {
    let nonempty = |s: &Option<String>| s.clone().filter(|s| !s.is_empty());
    nonempty(&t.activity_definition_id)
        .or_else(|| {
            nonempty(&t.form_resource_key)
                .map(|k| k.rsplit_once(':').map_or(k.clone(), |(_, l)| l.to_owned()))
        })
        .or_else(|| nonempty(&t.name))
        .unwrap_or_else(|| "task".to_owned())
}

/// A neutral task.
pub(crate) fn task(p: TaskParts<'_>) -> Result<flowgate_core::Task, EngineError> {
    let t = p.task;
    let effective = |u: &str| -> String {
        match (
            p.service_user,
            p.process.and_then(|pr| pr.initiator.as_deref()),
        ) {
            (Some(svc), Some(init)) if svc == u => init.to_owned(),
            _ => u.to_owned(),
        }
    };
    let local = |name: &str| {
        p.vars
            .raw
            .iter()
            .find(|v| v.name == name && v.scope.as_deref() != Some("global"))
            .map(|v| &v.value)
    };
    let ended = opt_date(t.ended_at.as_deref());
    let created = opt_date(t.started_at.as_deref())
        .or(p.process.map(|pr| pr.created))
        .unwrap_or(UNKNOWN_DATE);
    let state = match t.ended_at {
        None => TaskState::Opened,
        Some(_)
            if local("bpm_outcome").is_none()
                && p.process
                    .is_some_and(|pr| pr.state == WorkflowState::Canceled) =>
        {
            TaskState::Cancelled
        }
        Some(_) if !p.vars.raw.is_empty() && local("bpm_outcome").is_none() => {
            // Ended by the engine (e.g. a parallel review decided early), not by an actor.
            TaskState::Cancelled
        }
        Some(_) => TaskState::Ended,
    };
    let candidates = || -> Vec<String> {
        p.candidates
            .iter()
            .filter_map(|c| match (c.candidate_type.as_deref(), &c.candidate_id) {
                (_, None) => None,
                (Some("group"), Some(id)) => Some(group_actor(id)),
                (_, Some(id)) if id.starts_with("GROUP_") => Some(group_actor(id)),
                (_, Some(id)) => Some(id.clone()),
            })
            .collect()
    };
    let (actors, delegated_actors) = if is_delegated(t) {
        let actors = match &t.owner {
            Some(o) => vec![effective(o)],
            None => candidates(),
        };
        (actors, t.assignee.iter().map(|a| effective(a)).collect())
    } else if let Some(a) = &t.assignee {
        (vec![effective(a)], Vec::new())
    } else {
        (candidates(), Vec::new())
    };
    let mut comments = comment_log(&p.vars.raw);
    if comments.is_empty() {
        if let Some(text) = local("bpm_comment")
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
        {
            comments.push(Comment {
                author: t
                    .assignee
                    .as_deref()
                    .or(t.owner.as_deref())
                    .map(effective)
                    .unwrap_or_default(),
                text: Some(text.to_owned()),
                date: ended.unwrap_or(created),
            });
        }
    }
    let node = node_of(t);
    let allow = local("bpm_reassignable")
        .and_then(Value::as_bool)
        .unwrap_or(true);
    Ok(flowgate_core::Task {
        id: to_flowgate_id(&t.id),
        name: node.clone(),
        workflow_id: t.process_id.as_deref().map(to_flowgate_id),
        workflow_model_name: p.process.map(|pr| pr.key.clone()).or_else(|| {
            t.process_definition_id
                .as_deref()
                .and_then(|d| d.split(':').next())
                .map(str::to_owned)
        }),
        workflow_initiator: p.process.and_then(|pr| pr.initiator.clone()),
        workflow_title: p.process.map(|pr| pr.title.clone()),
        workflow_state: p.process.map(|pr| pr.state),
        state,
        directive: t.name.clone(),
        created,
        due_date: opt_date(t.due_at.as_deref()),
        node_id: node.clone(),
        target_documents: p.items.iter().filter_map(|i| i.id.clone()).collect(),
        actors,
        delegated_actors,
        comments,
        variables: p.vars.shown.clone(),
        info: TaskInfo {
            allow_reassignment: allow,
            actions: p.form.actions.clone(),
            schemas: vec![format!("var_{node}")],
        },
        initiator: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip_and_stay_path_safe() {
        for native in [
            "1021",
            "activitiReview:1:8",
            "a/b",
            "..",
            "~x",
            "weird id\r\n",
        ] {
            let fg = to_flowgate_id(native);
            assert!(
                fg.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-_.~".contains(&b)),
                "{fg}"
            );
            assert_ne!(fg, "..");
            let back = to_native_id(&fg);
            if native
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b":-_.".contains(&b))
                && native != ".."
            {
                assert_eq!(back.unwrap(), native);
            } else {
                assert!(back.is_err(), "{native} must not reach a URL");
            }
        }
        assert_eq!(to_native_id("activiti$1021").unwrap(), "1021");
        assert!(to_native_id("../../etc").is_err());
        assert!(to_native_id("1%2F2").is_err());
        assert!(to_native_id("http://evil/").is_err());
    }

    #[test]
    fn node_refs_are_reduced_to_uuids_and_other_stores_refused() {
        assert_eq!(node_uuid("workspace://SpacesStore/abc-1").unwrap(), "abc-1");
        assert!(node_uuid("archive://SpacesStore/abc").is_err());
        assert!(node_uuid("a/../b").is_err());
    }

    #[test]
    fn business_key_carries_the_initiator() {
        let bk = business_key("activitiReview", "jdoe");
        assert_eq!(initiator_of(Some(&bk)).as_deref(), Some("jdoe"));
        assert_eq!(model_key_of(Some(&bk)).as_deref(), Some("activitiReview"));
        let old = "flowgate:0123abcd:jdoe";
        assert_eq!(initiator_of(Some(old)).as_deref(), Some("jdoe"));
        assert_eq!(model_key_of(Some(old)), None);
        assert_eq!(initiator_of(Some("other")), None);
    }

    #[test]
    fn variable_names_and_actor_values_map_both_ways() {
        assert_eq!(alf_name("participants"), "bpm_assignees");
        assert_eq!(alf_name("bpm_assignee"), "bpm_assignee");
        assert_eq!(nuxeo_name("bpm_workflowDueDate"), "dueDate");
        assert_eq!(
            alf_value("bpm_assignees", &serde_json::json!(["user:jdoe", "bob"])),
            serde_json::json!(["jdoe", "bob"])
        );
        assert_eq!(
            alf_value("bpm_groupAssignee", &serde_json::json!("group:reviewers")),
            serde_json::json!("GROUP_reviewers")
        );
    }
}
