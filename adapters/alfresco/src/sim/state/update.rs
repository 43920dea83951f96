//! Task updates (`PUT /tasks/{id}`): claiming, delegating, resolving, completing
//! and setting variables, with the fields each transition accepts.

use chrono::Utc;

use serde_json::{json, Map, Value};

use super::{num, Delegation, State, Var};
use crate::sim::model;
use crate::sim::query::ApiError;

impl State {
    // ---------- task update (§3.4) ----------

    /// Applies `PUT /tasks/{id}` with the given `select` list.
    pub fn update_task(
        &mut self,
        user: &str,
        id: &str,
        select: &[String],
        body: &Map<String, Value>,
    ) -> Result<Value, ApiError> {
        const UPDATABLE: &[&str] = &[
            "name",
            "description",
            "dueAt",
            "priority",
            "assignee",
            "owner",
            "state",
            "variables",
        ];
        const READ_ONLY: &[&str] = &[
            "id",
            "processId",
            "processDefinitionId",
            "activityDefinitionId",
            "startedAt",
            "endedAt",
            "durationInMs",
            "formResourceKey",
        ];
        for s in select {
            if READ_ONLY.contains(&s.as_str()) {
                return Err(ApiError::bad(format!("The property '{s}' is read-only")));
            }
            if !UPDATABLE.contains(&s.as_str()) {
                return Err(ApiError::bad(format!(
                    "The property selected for update does not exist for this resource: {s}"
                )));
            }
        }
        if select.is_empty() {
            return Err(ApiError::bad("No properties are selected for update"));
        }
        let key = num(id).ok_or_else(|| ApiError::not_found(id))?;
        let t = self.task(id)?.clone();
        if t.ended.is_some() {
            return Err(ApiError::new(
                405,
                "framework.exception.UnsupportedResourceOperation",
                "The operation is unsupported",
            ));
        }
        let has = |f: &str| select.iter().any(|s| s == f);
        let state = if has("state") {
            let s = body.get("state").and_then(Value::as_str).ok_or_else(|| {
                ApiError::bad("The task state property has an invalid value: null")
            })?;
            if !matches!(
                s,
                "claimed" | "unclaimed" | "completed" | "delegated" | "resolved"
            ) {
                return Err(ApiError::bad(format!(
                    "The task state property has an invalid value: {s}"
                )));
            }
            Some(s.to_owned())
        } else {
            None
        };
        if state.as_deref() == Some("claimed") && t.assignee.as_deref().is_some_and(|a| a != user) {
            let gs = self.groups_of(user);
            let candidate = t.candidate_groups.iter().any(|g| gs.contains(g))
                || t.candidate_users.iter().any(|c| c == user);
            if candidate {
                return Err(ApiError::new(
                    409,
                    "framework.exception.ConstraintViolated",
                    "The task is already claimed by another user.",
                ));
            }
        }
        self.check_task_update(user, &t, state.as_deref() == Some("claimed"))?;
        // Parse variables before any change so that a bad one leaves the task untouched.
        let mut local_vars = Vec::new();
        let mut global_vars = Vec::new();
        if has("variables") {
            let arr = body
                .get("variables")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            for v in arr {
                let name = v
                    .get("name")
                    .and_then(Value::as_str)
                    .ok_or_else(|| ApiError::bad("Variable name is required."))?
                    .to_owned();
                let scope = v.get("scope").and_then(Value::as_str).unwrap_or_default();
                let model_ty = model::var_type(&name);
                let ty = match (v.get("type").and_then(Value::as_str), model_ty) {
                    (Some(given), Some(m)) if given != m => {
                        return Err(ApiError::bad(format!(
                            "type of variable {name} should be {m}"
                        )))
                    }
                    (Some(given), _) => given.to_owned(),
                    (None, Some(m)) => m.to_owned(),
                    (None, None) => infer_type(v.get("value").unwrap_or(&Value::Null)).to_owned(),
                };
                let value = v.get("value").cloned().unwrap_or(Value::Null);
                match scope {
                    "local" => local_vars.push((name, Var { ty, value })),
                    "global" => global_vars.push((name, Var { ty, value })),
                    _ => {
                        return Err(ApiError::bad(format!(
                            "Illegal value for variable scope: '{scope}'."
                        )))
                    }
                }
            }
        }
        let mut next_assignee = t.assignee.clone();
        if has("assignee") {
            next_assignee = body
                .get("assignee")
                .and_then(Value::as_str)
                .map(str::to_owned);
        }
        match state.as_deref() {
            Some("claimed") => {
                if let Some(a) = &t.assignee {
                    if a != user {
                        return Err(ApiError::new(
                            409,
                            "framework.exception.ConstraintViolated",
                            "The task is already claimed by another user.",
                        ));
                    }
                }
                next_assignee = Some(user.to_owned());
            }
            Some("unclaimed") => next_assignee = None,
            Some("delegated") if !has("assignee") || next_assignee.is_none() => {
                return Err(ApiError::bad(
                        "When delegating a task, assignee should be selected and provided in the request.",
                ));
            }
            Some("resolved") if t.delegation != Some(Delegation::Pending) => {
                return Err(ApiError::bad("The task is not delegated"));
            }
            _ => {}
        }
        if state.as_deref() == Some("completed") && t.delegation == Some(Delegation::Pending) {
            return Err(ApiError::bad(
                "A delegated task cannot be completed, but should be resolved instead.",
            ));
        }
        let now = Utc::now();
        let Some(tm) = self.tasks.get_mut(&key) else {
            return Err(ApiError::not_found(id));
        };
        for f in ["name", "description", "dueAt", "owner"] {
            if has(f) {
                let v = body.get(f).and_then(Value::as_str).map(str::to_owned);
                match f {
                    "name" => tm.name = v.unwrap_or_default(),
                    "description" => tm.description = v,
                    "dueAt" => tm.due = v,
                    _ => tm.owner = v,
                }
            }
        }
        if has("priority") {
            if let Some(p) = body.get("priority").and_then(Value::as_i64) {
                tm.priority = p;
            }
        }
        match state.as_deref() {
            Some("delegated") => {
                // Activiti keeps an existing owner; otherwise the current assignee (if any).
                if tm.owner.is_none() {
                    tm.owner = tm.assignee.clone();
                }
                tm.delegation = Some(Delegation::Pending);
            }
            Some("resolved") => {
                next_assignee = tm.owner.clone();
                tm.delegation = Some(Delegation::Resolved);
            }
            _ => {}
        }
        tm.assignee = next_assignee;
        if let Some(a) = &tm.assignee {
            tm.involved.insert(a.clone());
        }
        if let Some(o) = &tm.owner {
            tm.involved.insert(o.clone());
        }
        if state.as_deref() == Some("completed") {
            for (n, v) in local_vars {
                tm.local.insert(n, v);
            }
            let outcome = if tm.form_key == "wf:activitiReviewTask" {
                tm.local
                    .get("wf_reviewOutcome")
                    .and_then(|v| v.value.as_str())
                    .unwrap_or("Reject")
                    .to_owned()
            } else {
                "Next".to_owned()
            };
            tm.local.insert(
                "bpm_outcome".into(),
                Var {
                    ty: "d:text".into(),
                    value: json!(outcome),
                },
            );
            tm.local.insert(
                "bpm_status".into(),
                Var {
                    ty: "d:text".into(),
                    value: json!("Completed"),
                },
            );
            tm.ended = Some(now);
            let pid = tm.process_id.clone();
            let activity = tm.activity.clone();
            for (n, v) in global_vars {
                self.set_global(&pid, &n, v.value);
            }
            self.advance(&pid, &activity, &outcome, user);
        } else {
            for (n, v) in local_vars {
                tm.local.insert(n, v);
            }
            let pid = tm.process_id.clone();
            for (n, v) in global_vars {
                self.set_global(&pid, &n, v.value);
            }
        }
        let t = self.task(id)?;
        Ok(self.render_task(t, true, false))
    }
}

fn infer_type(v: &Value) -> &'static str {
    match v {
        Value::Bool(_) => "d:boolean",
        Value::Number(n) if n.is_i64() => "d:int",
        Value::Number(_) => "d:double",
        Value::String(s) if crate::sim::query::parse_date(s).is_some() => "d:date",
        _ => "d:text",
    }
}
