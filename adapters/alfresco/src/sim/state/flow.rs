//! The built-in workflow state machines: creating tasks, ending activities, the
//! parallel review decision, moving a process on after a task completes, and
//! cancelling a process.

use std::collections::{BTreeMap, BTreeSet};

use chrono::Utc;

use serde_json::{json, Value};

use super::{num, Activity, State, TaskRec, Var};
use crate::sim::model;
use crate::sim::query::ApiError;

impl State {
    pub(super) fn create_task(
        &mut self,
        pid: &str,
        activity: &str,
        form_key: &str,
        assignee: Option<String>,
        group: Option<String>,
    ) -> String {
        let id = self.next_id();
        let act_id = self.next_id();
        let now = Utc::now();
        let (desc, due, prio, key) = match self.process(pid) {
            Ok(p) => (
                p.vars
                    .get("bpm_workflowDescription")
                    .and_then(|v| v.value.as_str())
                    .map(str::to_owned)
                    .or_else(|| {
                        self.definition(&p.def_id)
                            .map(|d| d.seed.description.to_owned())
                    }),
                p.vars
                    .get("bpm_workflowDueDate")
                    .and_then(|v| v.value.as_str())
                    .map(str::to_owned),
                p.vars
                    .get("bpm_workflowPriority")
                    .and_then(|v| v.value.as_i64())
                    .unwrap_or(2),
                p.key.clone(),
            ),
            Err(_) => (None, None, 2, String::new()),
        };
        let (name, _) = model::activity_name(&key, activity);
        let mut local = BTreeMap::new();
        for (n, v) in [
            ("bpm_status", json!("Not Yet Started")),
            ("bpm_percentComplete", json!(0)),
            ("bpm_reassignable", json!(true)),
            ("bpm_priority", json!(prio)),
        ] {
            local.insert(
                n.to_owned(),
                Var {
                    ty: model::var_type(n).unwrap_or("d:text").into(),
                    value: v,
                },
            );
        }
        if form_key == "wf:activitiReviewTask" {
            local.insert(
                "wf_reviewOutcome".into(),
                Var {
                    ty: "d:text".into(),
                    value: json!("Reject"),
                },
            );
        }
        let mut involved = BTreeSet::new();
        if let Some(a) = &assignee {
            involved.insert(a.clone());
        }
        let t = TaskRec {
            id: id.to_string(),
            process_id: pid.to_owned(),
            activity: activity.to_owned(),
            name: name.to_owned(),
            description: desc,
            started: now,
            ended: None,
            due,
            priority: prio,
            assignee,
            owner: None,
            candidate_users: Vec::new(),
            candidate_groups: group.into_iter().collect(),
            form_key: form_key.to_owned(),
            local,
            delegation: None,
            involved,
        };
        self.tasks.insert(id, t);
        if let Some(p) = num(pid).and_then(|n| self.processes.get_mut(&n)) {
            p.activities.push(Activity {
                id: act_id.to_string(),
                def_id: activity.to_owned(),
                started: now,
                ended: None,
            });
        }
        id.to_string()
    }

    pub(super) fn end_activity(&mut self, pid: &str, activity: &str) {
        let now = Utc::now();
        if let Some(p) = num(pid).and_then(|n| self.processes.get_mut(&n)) {
            if let Some(a) = p
                .activities
                .iter_mut()
                .find(|a| a.def_id == activity && a.ended.is_none())
            {
                a.ended = Some(now);
            }
        }
    }

    pub(super) fn add_passed_activity(&mut self, pid: &str, activity: &str) {
        let id = self.next_id().to_string();
        let now = Utc::now();
        if let Some(p) = num(pid).and_then(|n| self.processes.get_mut(&n)) {
            p.activities.push(Activity {
                id,
                def_id: activity.to_owned(),
                started: now,
                ended: Some(now),
            });
        }
    }

    pub(super) fn finish_process(&mut self, pid: &str, end: &str) {
        self.add_passed_activity(pid, end);
        if let Some(p) = num(pid).and_then(|n| self.processes.get_mut(&n)) {
            p.ended = Some(Utc::now());
            p.end_activity = Some(end.to_owned());
        }
    }

    pub(super) fn set_global(&mut self, pid: &str, name: &str, value: Value) {
        if let Some(p) = num(pid).and_then(|n| self.processes.get_mut(&n)) {
            p.vars.insert(
                name.to_owned(),
                Var {
                    ty: model::var_type(name).unwrap_or("d:text").into(),
                    value,
                },
            );
        }
    }

    pub(super) fn global_f64(&self, pid: &str, name: &str) -> f64 {
        self.process(pid)
            .ok()
            .and_then(|p| p.vars.get(name))
            .and_then(|v| v.value.as_f64())
            .unwrap_or(0.0)
    }

    /// Runs the parallel review's decision after a completion (or at start with N = 0).
    pub(super) fn parallel_decide(&mut self, pid: &str) {
        let n = self.global_f64(pid, "wf_reviewerCount");
        let r = self.global_f64(pid, "wf_requiredPercent");
        let actual = self.global_f64(pid, "wf_actualPercent");
        let reject = self.global_f64(pid, "wf_actualRejectPercent");
        let open: Vec<u64> = self
            .tasks
            .iter()
            .filter(|(_, t)| t.process_id == pid && t.ended.is_none() && t.activity == "reviewTask")
            .map(|(k, _)| *k)
            .collect();
        let done = n == 0.0 || actual >= r || r > 100.0 - reject || open.is_empty();
        if !done {
            return;
        }
        let now = Utc::now();
        for k in open {
            if let Some(t) = self.tasks.get_mut(&k) {
                t.ended = Some(now);
            }
        }
        self.end_activity_all(pid, "reviewTask");
        self.add_passed_activity(pid, "reviewDecision");
        let initiator = self.var_str(pid, "initiator");
        let (act, form) = if actual >= r && n > 0.0 {
            ("approved", "wf:approvedParallelTask")
        } else {
            ("rejected", "wf:rejectedParallelTask")
        };
        let tid = self.create_task(pid, act, form, initiator, None);
        let copies: Vec<(String, Var)> = self
            .process(pid)
            .map(|p| {
                [
                    "wf_reviewerCount",
                    "wf_requiredPercent",
                    "wf_actualPercent",
                    "wf_approveCount",
                ]
                .iter()
                .filter_map(|n| p.vars.get(*n).map(|v| ((*n).to_owned(), v.clone())))
                .collect()
            })
            .unwrap_or_default();
        if let Some(t) = num(&tid).and_then(|k| self.tasks.get_mut(&k)) {
            t.local.extend(copies);
        }
    }

    pub(super) fn end_activity_all(&mut self, pid: &str, activity: &str) {
        let now = Utc::now();
        if let Some(p) = num(pid).and_then(|n| self.processes.get_mut(&n)) {
            for a in p
                .activities
                .iter_mut()
                .filter(|a| a.def_id == activity && a.ended.is_none())
            {
                a.ended = Some(now);
            }
        }
    }

    /// Moves the process on after `activity` completed with `outcome`.
    pub(super) fn advance(&mut self, pid: &str, activity: &str, outcome: &str, user: &str) {
        self.end_activity(pid, activity);
        let key = self.process(pid).map(|p| p.key.clone()).unwrap_or_default();
        let initiator = self.var_str(pid, "initiator");
        match (key.as_str(), activity) {
            ("activitiAdhoc", "adhocTask") => {
                self.create_task(
                    pid,
                    "verifyTaskDone",
                    "wf:completedAdhocTask",
                    initiator,
                    None,
                );
            }
            ("activitiAdhoc", _) => self.finish_process(pid, "theEnd"),
            ("activitiReview" | "activitiReviewPooled", "reviewTask") => {
                self.set_global(pid, "wf_reviewOutcome", json!(outcome));
                self.add_passed_activity(pid, "reviewDecision");
                let (act, form) = if outcome == "Approve" {
                    ("approved", "wf:approvedTask")
                } else {
                    ("rejected", "wf:rejectedTask")
                };
                self.create_task(pid, act, form, initiator, None);
            }
            (k, "reviewTask") if k.starts_with("activitiParallel") => {
                let n = self.global_f64(pid, "wf_reviewerCount").max(1.0);
                if outcome == "Approve" {
                    let c = self.global_f64(pid, "wf_approveCount") as i64 + 1;
                    self.set_global(pid, "wf_approveCount", json!(c));
                    self.set_global(pid, "wf_actualPercent", json!(c as f64 * 100.0 / n));
                } else {
                    let c = self.global_f64(pid, "wf_rejectCount") as i64 + 1;
                    self.set_global(pid, "wf_rejectCount", json!(c));
                    self.set_global(pid, "wf_actualRejectPercent", json!(c as f64 * 100.0 / n));
                }
                self.parallel_decide(pid);
            }
            (_, _) => {
                if key == "activitiReviewPooled" {
                    self.set_global(pid, "bpm_assignee", json!(user));
                }
                self.finish_process(pid, "end");
            }
        }
    }

    /// `DELETE /processes/{id}`.
    pub fn cancel(&mut self, user: &str, id: &str) -> Result<(), ApiError> {
        let p = self.process(id)?;
        if p.ended.is_some() {
            return Err(ApiError::not_found(id));
        }
        self.check_process_access(user, p)?;
        let now = Utc::now();
        for t in self.tasks.values_mut() {
            if t.process_id == id && t.ended.is_none() {
                t.ended = Some(now);
            }
        }
        if let Some(p) = num(id).and_then(|n| self.processes.get_mut(&n)) {
            p.ended = Some(now);
            p.delete_reason = Some("deleted through REST API call".into());
            for a in p.activities.iter_mut().filter(|a| a.ended.is_none()) {
                a.ended = Some(now);
            }
        }
        Ok(())
    }
}
