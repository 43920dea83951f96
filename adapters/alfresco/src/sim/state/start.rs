//! Starting a workflow (`POST /processes`): choosing the definition, checking the
//! start variables against the model, and creating the first tasks.

use std::collections::BTreeMap;

use chrono::Utc;

use serde_json::{json, Map, Value};

use super::{fmt_date, Activity, Process, State, Var};
use crate::sim::model;
use crate::sim::query::ApiError;

impl State {
    // ---------- start (§3.3, §4.2) ----------

    pub fn start(&mut self, user: &str, body: &Map<String, Value>) -> Result<Value, ApiError> {
        let def = match (
            body.get("processDefinitionId").and_then(Value::as_str),
            body.get("processDefinitionKey").and_then(Value::as_str),
        ) {
            (Some(id), _) => self.definition(id).cloned().ok_or_else(|| {
                ApiError::bad(format!(
                    "No workflow definition could be found with id '{id}'."
                ))
            })?,
            (None, Some(key)) => self.latest_definition(key).cloned().ok_or_else(|| {
                ApiError::bad(format!(
                    "No workflow definition could be found with key '{key}'."
                ))
            })?,
            (None, None) => {
                return Err(ApiError::bad(
                    "Either processDefinitionId or processDefinitionKey is required",
                ))
            }
        };
        let allowed: Vec<String> = model::start_form(def.seed.start_form)
            .unwrap_or_default()
            .iter()
            .filter_map(|e| e.get("name").and_then(Value::as_str).map(str::to_owned))
            .collect();
        let mut vars: BTreeMap<String, Var> = BTreeMap::new();
        if let Some(given) = body.get("variables") {
            let given = given
                .as_object()
                .ok_or_else(|| ApiError::bad("variables should be an object"))?;
            for (name, value) in given {
                if !allowed.contains(name) {
                    continue; // unknown start variables are dropped without error
                }
                let ty = model::var_type(name).unwrap_or("d:text").to_owned();
                let value = self.check_var_value(name, &ty, value)?;
                vars.insert(name.clone(), Var { ty, value });
            }
        }
        let items: Vec<String> = match body.get("items") {
            None => Vec::new(),
            Some(Value::Array(a)) => a
                .iter()
                .map(|i| {
                    i.as_str()
                        .map(|s| s.rsplit('/').next().unwrap_or(s).to_owned())
                })
                .collect::<Option<Vec<_>>>()
                .ok_or_else(|| ApiError::bad("items must be strings"))?,
            Some(_) => return Err(ApiError::bad("items should be an array")),
        };
        if items.iter().any(|i| self.node(i).is_none()) {
            return Err(ApiError::new(
                500,
                "framework.exception.ApiDefault",
                "Error while adding items to package",
            ));
        }
        let key = def.seed.key;
        let required = match key {
            "activitiAdhoc" | "activitiReview" => "bpm_assignee",
            "activitiParallelReview" => "bpm_assignees",
            _ => "bpm_groupAssignee",
        };
        if !vars.contains_key(required) {
            return Err(ApiError::new(
                500,
                "framework.exception.ApiDefault",
                format!("Unknown property used in expression: ${{{required}}}"),
            ));
        }
        let reviewers: Vec<String> = match key {
            "activitiParallelReview" => vars
                .get("bpm_assignees")
                .and_then(|v| v.value.as_array())
                .map(|a| {
                    a.iter()
                        .filter_map(|x| x.as_str().map(str::to_owned))
                        .collect()
                })
                .unwrap_or_default(),
            "activitiParallelGroupReview" => {
                let g = vars
                    .get("bpm_groupAssignee")
                    .and_then(|v| v.value.as_str())
                    .unwrap_or_default();
                self.members_of(g)
            }
            _ => Vec::new(),
        };
        if key == "activitiParallelGroupReview"
            && self.max_group_reviewers > 0
            && reviewers.len() > self.max_group_reviewers
        {
            return Err(ApiError::new(
                500,
                "framework.exception.ApiDefault",
                format!(
                    "Number of reviewers exceeds the maximum: {} vs {}",
                    reviewers.len(),
                    self.max_group_reviewers
                ),
            ));
        }
        let now = Utc::now();
        let pid = self.next_id();
        let pkg = self.next_id();
        let setv = |vars: &mut BTreeMap<String, Var>, n: &str, v: Value| {
            vars.insert(
                n.to_owned(),
                Var {
                    ty: model::var_type(n).unwrap_or("d:text").to_owned(),
                    value: v,
                },
            );
        };
        vars.entry("bpm_workflowPriority".into()).or_insert(Var {
            ty: "d:int".into(),
            value: json!(2),
        });
        vars.entry("bpm_sendEMailNotifications".into())
            .or_insert(Var {
                ty: "d:boolean".into(),
                value: json!(false),
            });
        if key.starts_with("activitiParallel") || key == "activitiReviewPooled" {
            vars.entry("wf_requiredApprovePercent".into())
                .or_insert(Var {
                    ty: "d:int".into(),
                    value: json!(50),
                });
        }
        let package = format!("workspace://SpacesStore/{pkg:08x}-0000-4000-8000-000000000000");
        setv(&mut vars, "initiator", json!(user));
        setv(&mut vars, "bpm_package", json!(package));
        setv(&mut vars, "cancelled", json!(false));
        setv(
            &mut vars,
            "companyhome",
            json!(format!("workspace://SpacesStore/{}", model::nodes::ROOT)),
        );
        if key.starts_with("activitiParallel") {
            let r = vars
                .get("wf_requiredApprovePercent")
                .map(|v| v.value.clone())
                .unwrap_or(json!(50));
            for (n, v) in [
                ("wf_approveCount", json!(0)),
                ("wf_rejectCount", json!(0)),
                ("wf_actualPercent", json!(0)),
                ("wf_actualRejectPercent", json!(0)),
                ("wf_reviewerCount", json!(reviewers.len())),
                ("wf_requiredPercent", r),
            ] {
                setv(&mut vars, n, v);
            }
            if key == "activitiParallelGroupReview" {
                vars.insert(
                    "wf_groupMembers".into(),
                    Var {
                        ty: "cm:person".into(),
                        value: json!(reviewers),
                    },
                );
            }
        }
        let business_key = body
            .get("businessKey")
            .and_then(Value::as_str)
            .map(str::to_owned);
        let start_act = self.next_id();
        let p = Process {
            id: pid.to_string(),
            def_id: def.id.clone(),
            key: key.to_owned(),
            business_key,
            started: now,
            ended: None,
            start_user: user.to_owned(),
            end_activity: None,
            delete_reason: None,
            vars,
            items,
            package,
            activities: vec![Activity {
                id: start_act.to_string(),
                def_id: "start".into(),
                started: now,
                ended: Some(now),
            }],
        };
        self.processes.insert(pid, p);
        let pid_s = pid.to_string();
        match key {
            "activitiAdhoc" => {
                let a = self.var_str(&pid_s, "bpm_assignee");
                self.create_task(&pid_s, "adhocTask", "wf:adhocTask", a, None);
            }
            "activitiReview" => {
                let a = self.var_str(&pid_s, "bpm_assignee");
                self.create_task(&pid_s, "reviewTask", "wf:activitiReviewTask", a, None);
            }
            "activitiReviewPooled" => {
                let g = self.var_str(&pid_s, "bpm_groupAssignee");
                self.create_task(&pid_s, "reviewTask", "wf:activitiReviewTask", None, g);
            }
            _ => {
                if reviewers.is_empty() {
                    self.parallel_decide(&pid_s);
                }
                for r in reviewers {
                    self.create_task(&pid_s, "reviewTask", "wf:activitiReviewTask", Some(r), None);
                }
            }
        }
        let p = self.process(&pid_s)?;
        Ok(self.render_process(p, false))
    }

    pub(super) fn var_str(&self, pid: &str, name: &str) -> Option<String> {
        self.process(pid)
            .ok()?
            .vars
            .get(name)?
            .value
            .as_str()
            .map(str::to_owned)
    }

    /// Validates a start variable's value against its model type.
    pub(super) fn check_var_value(
        &self,
        name: &str,
        ty: &str,
        value: &Value,
    ) -> Result<Value, ApiError> {
        match (name, ty) {
            ("bpm_assignees", _) => {
                let arr = value
                    .as_array()
                    .ok_or_else(|| ApiError::bad(format!("{name} should have an array value")))?;
                for u in arr {
                    let u = u.as_str().unwrap_or_default();
                    if !self.user_exists(u) {
                        return Err(ApiError::bad(format!("{u} is not a valid person user id")));
                    }
                }
                Ok(value.clone())
            }
            (_, "cm:person") => {
                let u = value.as_str().unwrap_or_default();
                if self.user_exists(u) {
                    Ok(value.clone())
                } else {
                    Err(ApiError::bad(format!("{u} is not a valid person user id")))
                }
            }
            (_, "cm:authorityContainer") => {
                let g = value.as_str().unwrap_or_default();
                if self.groups.iter().any(|(n, _)| n == g) {
                    Ok(value.clone())
                } else {
                    Err(ApiError::bad(format!("{g} is not a valid authority id")))
                }
            }
            // Like the server, numbers and flags must arrive with their JSON type: the
            // text "1" for a d:int or "true" for a d:boolean is refused.
            (_, "d:int") => match value {
                Value::Number(n) if n.is_i64() => Ok(value.clone()),
                _ => Err(ApiError::bad(format!(
                    "type of variable {name} should be d:int"
                ))),
            },
            (_, "d:double") => match value {
                Value::Number(_) => Ok(value.clone()),
                _ => Err(ApiError::bad(format!(
                    "type of variable {name} should be d:double"
                ))),
            },
            (_, "d:boolean") => match value {
                Value::Bool(_) => Ok(value.clone()),
                _ => Err(ApiError::bad(format!(
                    "type of variable {name} should be d:boolean"
                ))),
            },
            (_, "d:date") => {
                let s = value.as_str().unwrap_or_default();
                let d = crate::sim::query::parse_date(s).ok_or_else(|| {
                    ApiError::bad(format!("type of variable {name} should be d:date"))
                })?;
                Ok(json!(fmt_date(d)))
            }
            (_, "d:text") => match value {
                Value::String(_) => Ok(value.clone()),
                Value::Null => Ok(Value::Null),
                other => Ok(Value::String(other.to_string())),
            },
            _ => Ok(value.clone()),
        }
    }
}
