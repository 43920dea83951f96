//! Building neutral tasks: the outcome and actions of a task form, the variables
//! and form of a task as read, whether a task waits on a delegate, the node it
//! waits in, and the task itself.

use flowgate_core::{
    Comment, EngineError, TaskAction, TaskInfo, TaskState, Variables, WorkflowState,
};
use serde_json::Value;

use super::{
    comment_log, group_actor, opt_date, shown_variables, to_flowgate_id, ProcessInfo, UNKNOWN_DATE,
};
use crate::wire;

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
