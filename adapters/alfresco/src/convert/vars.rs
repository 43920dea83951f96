//! Variables: the mapping between Nuxeo-style and Alfresco names, the values sent
//! to and read from Alfresco, the variables never shown, and the comment log kept
//! in a local task variable.

use chrono::Utc;
use flowgate_core::{Comment, VarType, Variables};
use serde_json::Value;

use super::{alf_group, date, fmt_date, group_actor, user_of};
use crate::wire;

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
pub(super) const INTERNAL: &[&str] = &[
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

pub(super) fn var_type(data_type: Option<&str>, name: &str) -> VarType {
    match (data_type.unwrap_or("d:text"), name) {
        (_, "bpm_assignees") => VarType::StringList,
        ("d:int" | "d:long", _) => VarType::Integer,
        ("d:boolean", _) => VarType::Boolean,
        ("d:date" | "d:datetime", _) => VarType::Date,
        _ => VarType::String,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
