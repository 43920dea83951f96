//! In-memory repository state and the five built-in workflow state machines.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use chrono::{DateTime, Utc};
use serde_json::{json, Map, Value};

use super::model::{self, DefSeed, Node, ADMIN_GROUP};
use super::query::ApiError;

/// Formats a date the way the v1 API does: UTC, milliseconds, `+0000`.
pub fn fmt_date(d: DateTime<Utc>) -> String {
    d.format("%Y-%m-%dT%H:%M:%S%.3f+0000").to_string()
}

/// Formats a date the way the legacy web scripts do (offset with a colon).
pub fn fmt_legacy_date(d: DateTime<Utc>) -> String {
    d.format("%Y-%m-%dT%H:%M:%S%.3f+00:00").to_string()
}

/// A typed variable.
#[derive(Clone, Debug)]
pub struct Var {
    pub ty: String,
    pub value: Value,
}

#[derive(Clone, Debug)]
pub struct Definition {
    pub id: String,
    pub seed: DefSeed,
    pub version: u32,
    pub deployment_id: String,
}

#[derive(Clone, Debug)]
pub struct Activity {
    pub id: String,
    pub def_id: String,
    pub started: DateTime<Utc>,
    pub ended: Option<DateTime<Utc>>,
}

#[derive(Clone, Debug)]
pub struct Process {
    pub id: String,
    pub def_id: String,
    pub key: String,
    pub business_key: Option<String>,
    pub started: DateTime<Utc>,
    pub ended: Option<DateTime<Utc>>,
    pub start_user: String,
    pub end_activity: Option<String>,
    pub delete_reason: Option<String>,
    pub vars: BTreeMap<String, Var>,
    pub items: Vec<String>,
    pub package: String,
    pub activities: Vec<Activity>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Delegation {
    Pending,
    Resolved,
}

#[derive(Clone, Debug)]
pub struct TaskRec {
    pub id: String,
    pub process_id: String,
    pub activity: String,
    pub name: String,
    pub description: Option<String>,
    pub started: DateTime<Utc>,
    pub ended: Option<DateTime<Utc>>,
    pub due: Option<String>,
    pub priority: i64,
    pub assignee: Option<String>,
    pub owner: Option<String>,
    pub candidate_users: Vec<String>,
    pub candidate_groups: Vec<String>,
    pub form_key: String,
    pub local: BTreeMap<String, Var>,
    pub delegation: Option<Delegation>,
    /// Users ever linked to the task (assignees, owners, candidates): Activiti's identity links.
    pub involved: BTreeSet<String>,
}

/// Tickets per user with the time of their last use.
#[derive(Clone, Debug)]
pub struct Ticket {
    pub id: String,
    pub user: String,
    pub last_used: std::time::Instant,
}

/// The whole repository.
#[derive(Debug)]
pub struct State {
    pub counter: u64,
    pub passwords: HashMap<String, String>,
    pub groups: Vec<(String, Vec<String>)>,
    pub nodes: Vec<Node>,
    pub definitions: Vec<Definition>,
    pub processes: BTreeMap<u64, Process>,
    pub tasks: BTreeMap<u64, TaskRec>,
    pub tickets: HashMap<String, Ticket>,
    pub max_group_reviewers: usize,
    pub initiator_shortcut_broken: bool,
    pub group_shortcut_500_on_multi_task: bool,
}

fn num(id: &str) -> Option<u64> {
    id.parse().ok()
}

impl State {
    pub fn new(opts: &super::SimOptions) -> Self {
        let mut s = State {
            counter: 1000,
            passwords: model::USERS
                .iter()
                .map(|u| ((*u).to_owned(), (*u).to_owned()))
                .collect(),
            groups: model::seed_groups()
                .into_iter()
                .map(|(g, m)| (g.to_owned(), m.into_iter().map(str::to_owned).collect()))
                .collect(),
            nodes: model::seed_nodes(),
            definitions: Vec::new(),
            processes: BTreeMap::new(),
            tasks: BTreeMap::new(),
            tickets: HashMap::new(),
            max_group_reviewers: opts.max_group_reviewers,
            initiator_shortcut_broken: opts.initiator_shortcut_broken,
            group_shortcut_500_on_multi_task: opts.group_shortcut_500_on_multi_task,
        };
        for (u, p) in &opts.extra_users {
            s.passwords.insert(u.clone(), p.clone());
        }
        for seed in model::DEFINITIONS {
            let n = s.next_id();
            s.definitions.push(Definition {
                id: format!("{}:1:{n}", seed.key),
                seed: seed.clone(),
                version: 1,
                deployment_id: "1".to_owned(),
            });
        }
        s
    }

    pub fn next_id(&mut self) -> u64 {
        self.counter += 1;
        self.counter
    }

    // ---------- principals ----------

    pub fn user_exists(&self, u: &str) -> bool {
        self.passwords.keys().any(|k| k.eq_ignore_ascii_case(u))
    }

    /// Every group `user` belongs to, directly or through nested groups.
    pub fn groups_of(&self, user: &str) -> BTreeSet<String> {
        let mut out = BTreeSet::new();
        let mut frontier = vec![user.to_owned()];
        while let Some(m) = frontier.pop() {
            for (g, members) in &self.groups {
                if members.iter().any(|x| x.eq_ignore_ascii_case(&m)) && out.insert(g.clone()) {
                    frontier.push(g.clone());
                }
            }
        }
        out
    }

    /// Person members of a group, direct and indirect, in seed order.
    pub fn members_of(&self, group: &str) -> Vec<String> {
        let mut out = Vec::new();
        let mut seen = BTreeSet::new();
        let mut stack = vec![group.to_owned()];
        while let Some(g) = stack.pop() {
            if !seen.insert(g.clone()) {
                continue;
            }
            if let Some((_, members)) = self.groups.iter().find(|(n, _)| *n == g) {
                for m in members {
                    if m.starts_with("GROUP_") {
                        stack.push(m.clone());
                    } else if !out.contains(m) {
                        out.push(m.clone());
                    }
                }
            }
        }
        out
    }

    pub fn is_admin(&self, user: &str) -> bool {
        self.groups_of(user).contains(ADMIN_GROUP)
    }

    // ---------- lookups ----------

    pub fn definition(&self, id: &str) -> Option<&Definition> {
        self.definitions.iter().find(|d| d.id == id)
    }

    pub fn latest_definition(&self, key: &str) -> Option<&Definition> {
        self.definitions
            .iter()
            .filter(|d| d.seed.key == key)
            .max_by_key(|d| d.version)
    }

    /// Deploys a new version of a built-in definition ("redeploy").
    pub fn redeploy(&mut self, key: &str) -> Option<String> {
        let latest = self.latest_definition(key)?.clone();
        let n = self.next_id();
        let id = format!("{key}:{}:{n}", latest.version + 1);
        self.definitions.push(Definition {
            id: id.clone(),
            seed: latest.seed,
            version: latest.version + 1,
            deployment_id: n.to_string(),
        });
        Some(id)
    }

    pub fn process(&self, id: &str) -> Result<&Process, ApiError> {
        num(id)
            .and_then(|n| self.processes.get(&n))
            .ok_or_else(|| ApiError::not_found(id))
    }

    pub fn task(&self, id: &str) -> Result<&TaskRec, ApiError> {
        num(id)
            .and_then(|n| self.tasks.get(&n))
            .ok_or_else(|| ApiError::not_found(id))
    }

    pub fn node(&self, id: &str) -> Option<&Node> {
        let bare = id.rsplit('/').next().unwrap_or(id);
        self.nodes.iter().find(|n| n.id == bare)
    }

    pub fn node_path(&self, id: &str) -> String {
        let mut names = Vec::new();
        let mut cur = self.node(id).and_then(|n| n.parent);
        while let Some(p) = cur.and_then(|p| self.node(p)) {
            names.push(p.name);
            cur = p.parent;
        }
        names.reverse();
        format!("/{}", names.join("/"))
    }

    pub fn resolve_path(&self, root: &str, rel: &str) -> Option<&Node> {
        let mut cur = self.node(root)?;
        for seg in rel.split('/').filter(|s| !s.is_empty()) {
            cur = self
                .nodes
                .iter()
                .find(|n| n.parent == Some(cur.id) && n.name == seg)?;
        }
        Some(cur)
    }

    pub fn process_tasks(&self, pid: &str) -> impl Iterator<Item = &TaskRec> {
        let pid = pid.to_owned();
        self.tasks.values().filter(move |t| t.process_id == pid)
    }

    // ---------- visibility (§7) ----------

    /// Whether `user` is linked to any task (current or past) of the process.
    pub fn involved_in_tasks(&self, user: &str, pid: &str) -> bool {
        self.process_tasks(pid).any(|t| t.involved.contains(user))
    }

    /// Process-level involvement used by `GET /processes`: started it or is linked to a task.
    pub fn involved_in_process(&self, user: &str, p: &Process) -> bool {
        p.start_user == user || self.involved_in_tasks(user, &p.id)
    }

    /// Access check of `GET /processes/{id}` and its sub-resources.
    pub fn check_process_access(&self, user: &str, p: &Process) -> Result<(), ApiError> {
        if self.is_admin(user) || self.involved_in_tasks(user, &p.id) {
            return Ok(());
        }
        if !self.initiator_shortcut_broken && p.start_user == user {
            return Ok(());
        }
        if let Some(g) = p
            .vars
            .get("bpm_groupAssignee")
            .and_then(|v| v.value.as_str())
        {
            if self.groups_of(user).contains(g) {
                let open: Vec<&TaskRec> = self
                    .process_tasks(&p.id)
                    .filter(|t| t.ended.is_none())
                    .collect();
                if open.len() == 1 && open[0].assignee.is_none() {
                    return Ok(());
                }
                if open.len() > 1 && self.group_shortcut_500_on_multi_task {
                    return Err(ApiError::new(
                        500,
                        "framework.exception.ApiDefault",
                        "query return multiple results",
                    ));
                }
            }
        }
        Err(ApiError::forbidden())
    }

    /// Whether the user is a candidate of an open, unassigned task through a group.
    pub fn group_candidate(&self, user: &str, t: &TaskRec) -> bool {
        if t.ended.is_some() || t.assignee.is_some() {
            return false;
        }
        let gs = self.groups_of(user);
        t.candidate_groups.iter().any(|g| gs.contains(g))
    }

    pub fn check_task_read(&self, user: &str, t: &TaskRec) -> Result<(), ApiError> {
        if self.is_admin(user) || t.involved.contains(user) || self.group_candidate(user, t) {
            Ok(())
        } else {
            Err(ApiError::forbidden())
        }
    }

    pub fn check_task_update(&self, user: &str, t: &TaskRec, claim: bool) -> Result<(), ApiError> {
        if self.is_admin(user)
            || t.owner.as_deref() == Some(user)
            || t.assignee.as_deref() == Some(user)
            || self
                .process(&t.process_id)
                .is_ok_and(|p| p.start_user == user && !claim)
            || self.group_candidate(user, t)
            || (t.assignee.is_none() && t.candidate_users.iter().any(|c| c == user))
        {
            Ok(())
        } else {
            Err(ApiError::forbidden())
        }
    }

    // ---------- rendering ----------

    pub fn render_definition(d: &Definition) -> Value {
        json!({
            "id": d.id, "key": d.seed.key, "name": d.seed.name, "category": "http://alfresco.org",
            "version": d.version, "deploymentId": d.deployment_id, "title": d.seed.title,
            "description": d.seed.description, "startFormResourceKey": d.seed.start_form,
            "graphicNotationDefined": true,
        })
    }

    pub fn render_process(&self, p: &Process, with_vars: bool) -> Value {
        let mut v = json!({
            "id": p.id, "processDefinitionId": p.def_id, "processDefinitionKey": p.key,
            "startedAt": fmt_date(p.started), "startUserId": p.start_user,
            "startActivityId": "start", "completed": p.ended.is_some(),
        });
        if let Some(b) = &p.business_key {
            v["businessKey"] = json!(b);
        }
        if let Some(e) = p.ended {
            v["endedAt"] = json!(fmt_date(e));
            v["durationInMs"] = json!((e - p.started).num_milliseconds());
        }
        if let Some(a) = &p.end_activity {
            v["endActivityId"] = json!(a);
        }
        if let Some(r) = &p.delete_reason {
            v["deleteReason"] = json!(r);
        }
        if with_vars {
            v["processVariables"] = Value::Array(
                p.vars
                    .iter()
                    .map(|(n, var)| json!({"name": n, "type": var.ty, "value": var.value}))
                    .collect(),
            );
        }
        v
    }

    /// A task as the API shows it. `runtime` selects the runtime view (which knows
    /// `delegated`/`resolved`) over the history view of single GETs.
    pub fn render_task(&self, t: &TaskRec, runtime: bool, vars: bool) -> Value {
        let p = self.process(&t.process_id).ok();
        let state = if t.ended.is_some() {
            "completed"
        } else if runtime && t.delegation == Some(Delegation::Pending) {
            "delegated"
        } else if runtime && t.delegation == Some(Delegation::Resolved) {
            "resolved"
        } else if t.assignee.is_some() {
            "claimed"
        } else {
            "unclaimed"
        };
        let mut v = json!({
            "id": t.id, "processId": t.process_id,
            "processDefinitionId": p.map(|p| p.def_id.clone()).unwrap_or_default(),
            "activityDefinitionId": t.activity, "name": t.name,
            "startedAt": fmt_date(t.started), "priority": t.priority,
            "formResourceKey": t.form_key, "state": state,
        });
        let o = v.as_object_mut();
        if let Some(o) = o {
            if let Some(d) = t.description.as_ref().filter(|d| !d.is_empty()) {
                o.insert("description".into(), json!(d));
            }
            if let Some(d) = &t.due {
                o.insert("dueAt".into(), json!(d));
            }
            if let Some(a) = &t.assignee {
                o.insert("assignee".into(), json!(a));
            }
            if let Some(w) = &t.owner {
                o.insert("owner".into(), json!(w));
            }
            if let Some(e) = t.ended {
                o.insert("endedAt".into(), json!(fmt_date(e)));
                o.insert(
                    "durationInMs".into(),
                    json!((e - t.started).num_milliseconds()),
                );
            }
            if vars {
                o.insert(
                    "variables".into(),
                    Value::Array(self.task_variables(t, None)),
                );
            }
        }
        v
    }

    /// Local then global variables of a task, optionally restricted to one scope.
    pub fn task_variables(&self, t: &TaskRec, scope: Option<&str>) -> Vec<Value> {
        let mut out = Vec::new();
        if scope != Some("global") {
            for (n, var) in &t.local {
                out.push(json!({"scope": "local", "name": n, "type": var.ty, "value": var.value}));
            }
        }
        if scope != Some("local") {
            if let Ok(p) = self.process(&t.process_id) {
                for (n, var) in &p.vars {
                    out.push(
                        json!({"scope": "global", "name": n, "type": var.ty, "value": var.value}),
                    );
                }
            }
        }
        out
    }

    pub fn render_item(&self, id: &str) -> Option<Value> {
        let n = self.node(id)?;
        let mut v = json!({
            "id": n.id, "name": n.name,
            "createdAt": "2024-04-30T08:00:00.000+0000", "createdBy": "admin",
            "modifiedAt": "2024-05-01T12:00:00.000+0000", "modifiedBy": "admin",
        });
        if let Some(t) = n.title {
            v["title"] = json!(t);
        }
        if let Some(m) = n.mime {
            v["mimeType"] = json!(m);
        }
        if let Some(s) = n.size {
            v["size"] = json!(s);
        }
        Some(v)
    }

    pub fn render_node(&self, n: &Node) -> Value {
        let mut v = json!({
            "id": n.id, "name": n.name,
            "nodeType": if n.folder { "cm:folder" } else { "cm:content" },
            "isFile": !n.folder, "isFolder": n.folder,
            "createdAt": "2024-04-30T08:00:00.000+0000",
            "modifiedAt": "2024-05-01T12:00:00.000+0000",
            "path": {"name": self.node_path(n.id), "isComplete": true},
        });
        if let Some(p) = n.parent {
            v["parentId"] = json!(p);
        }
        if let Some(t) = n.title {
            v["properties"] = json!({"cm:title": t});
        }
        v
    }

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

    fn var_str(&self, pid: &str, name: &str) -> Option<String> {
        self.process(pid)
            .ok()?
            .vars
            .get(name)?
            .value
            .as_str()
            .map(str::to_owned)
    }

    /// Validates a start variable's value against its model type.
    fn check_var_value(&self, name: &str, ty: &str, value: &Value) -> Result<Value, ApiError> {
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
                let d = super::query::parse_date(s).ok_or_else(|| {
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

    fn create_task(
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

    fn end_activity(&mut self, pid: &str, activity: &str) {
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

    fn add_passed_activity(&mut self, pid: &str, activity: &str) {
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

    fn finish_process(&mut self, pid: &str, end: &str) {
        self.add_passed_activity(pid, end);
        if let Some(p) = num(pid).and_then(|n| self.processes.get_mut(&n)) {
            p.ended = Some(Utc::now());
            p.end_activity = Some(end.to_owned());
        }
    }

    fn set_global(&mut self, pid: &str, name: &str, value: Value) {
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

    fn global_f64(&self, pid: &str, name: &str) -> f64 {
        self.process(pid)
            .ok()
            .and_then(|p| p.vars.get(name))
            .and_then(|v| v.value.as_f64())
            .unwrap_or(0.0)
    }

    /// Runs the parallel review's decision after a completion (or at start with N = 0).
    fn parallel_decide(&mut self, pid: &str) {
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

    fn end_activity_all(&mut self, pid: &str, activity: &str) {
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

    /// Moves the process on after `activity` completed with `outcome`.
    fn advance(&mut self, pid: &str, activity: &str, outcome: &str, user: &str) {
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

fn infer_type(v: &Value) -> &'static str {
    match v {
        Value::Bool(_) => "d:boolean",
        Value::Number(n) if n.is_i64() => "d:int",
        Value::Number(_) => "d:double",
        Value::String(s) if super::query::parse_date(s).is_some() => "d:date",
        _ => "d:text",
    }
}
