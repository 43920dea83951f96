//! Evaluation of `where` predicates against the JSON view of an entity.

use serde_json::Value;

use crate::sim::query::{self, Pred};

pub(super) fn flag(preds: &[Pred], name: &str) -> bool {
    preds
        .iter()
        .any(|p| p.prop == name && p.value == Value::Bool(true))
}

pub(super) fn status_of(preds: &[Pred], default: &str) -> String {
    preds
        .iter()
        .find(|p| p.prop == "status")
        .and_then(|p| p.value.as_str())
        .unwrap_or(default)
        .to_owned()
}

/// Evaluates predicates against an entity's JSON view; flags and `status` are skipped.
pub(super) fn eval(preds: &[Pred], view: &Value, vars: &[Value], skip: &[&str]) -> bool {
    preds.iter().all(|p| {
        if skip.contains(&p.prop.as_str()) {
            return true;
        }
        if let Some(rest) = p.prop.strip_prefix("variables/") {
            let (scope, name) = match rest.split_once('/') {
                Some(("local", n)) => (Some("local"), n),
                Some(("global", n)) => (Some("global"), n),
                _ => (None, rest),
            };
            let target = p
                .value
                .as_str()
                .map(|s| s.split_once(' ').map_or(s, |(_, v)| v))
                .map(|s| Value::String(s.to_owned()))
                .unwrap_or_else(|| p.value.clone());
            return vars.iter().any(|v| {
                v.get("name").and_then(Value::as_str) == Some(name)
                    && scope.is_none_or(|sc| {
                        v.get("scope")
                            .and_then(Value::as_str)
                            .is_none_or(|x| x == sc)
                    })
                    && query::compare(v.get("value"), p.op, &target)
            });
        }
        query::compare(view.get(&p.prop), p.op, &p.value)
    })
}
