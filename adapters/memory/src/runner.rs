//! The graph runner: one engine step on a working copy of an instance.
//!
//! A [`Txn`] clones what it touches, runs the step and, only if everything succeeded,
//! hands back the [`Change`]s to apply. An error at any point (an expression that fails,
//! a node without assignee, no true transition) leaves the stored state untouched.

use std::collections::VecDeque;

use chrono::{DateTime, Utc};
use flowgate_core::{Comment, EngineError, Limits, TaskState, Variables, WorkflowState};
use serde_json::Value;
use uuid::Uuid;

use crate::expr::{cel_to_actors, cel_to_date, cel_to_var, Expr, Scope, VarScope};
use crate::model::{Action, ActionKind, Builtin, Model, Node, VarTarget};
use crate::state::{Change, NodeRecord, NodeRun, TaskInfoRecord, TaskRecord, WorkflowRecord};
use crate::store::Store;
use crate::view;

/// Upper bound of node entries in one step: a model looping without a wait state
/// is stopped instead of spinning forever.
const MAX_STEPS: usize = 1_000;

pub(crate) struct Txn<'a> {
    pub model: &'a Model,
    pub wf: WorkflowRecord,
    store: &'a Store,
    /// Working copies of touched tasks, in first-touch order (a step touches a few
    /// tasks, so a linear search beats a hash map).
    tasks: Vec<TaskRecord>,
    pub now: DateTime<Utc>,
    /// The user whose request drives this step.
    pub actor: String,
    /// Bounds on the tasks this step creates and their actors.
    pub limits: Limits,
    steps: usize,
    /// Tasks created by this step so far.
    created: usize,
}

fn model_error(node: &Node, msg: impl std::fmt::Display) -> EngineError {
    EngineError::bad_request(format!("Workflow node '{}': {msg}", node.id))
}

impl<'a> Txn<'a> {
    pub fn new(model: &'a Model, wf: WorkflowRecord, store: &'a Store, actor: &str) -> Self {
        Self {
            model,
            wf,
            store,
            tasks: Vec::new(),
            now: Utc::now(),
            actor: actor.to_owned(),
            limits: Limits::default(),
            steps: 0,
            created: 0,
        }
    }

    /// The changes to apply: the instance and every task touched.
    pub fn into_changes(mut self) -> Vec<Change> {
        // Nodes with nothing to remember are not kept: most instances pass through
        // start and automatic nodes, and a record each would cost memory for nothing.
        self.wf.nodes.retain(|n| {
            n.run != NodeRun::Ready
                || !n.variables.is_empty()
                || n.button.is_some()
                || n.last_actor.is_some()
                || !n.tasks_info.is_empty()
                || !n.arrived.is_empty()
                || !n.escalations_done.is_empty()
        });
        self.wf.nodes.shrink_to_fit();
        self.wf.tasks.shrink_to_fit();
        let events = crate::events::derive(
            self.store,
            self.model,
            &self.wf,
            &self.tasks,
            &self.actor,
            self.now,
        );
        let mut out = Vec::with_capacity(1 + self.tasks.len() + events.len());
        out.extend(self.tasks.into_iter().map(Change::Task));
        out.push(Change::Workflow(self.wf));
        // Events last: applied after the records they describe.
        out.extend(events);
        out
    }

    /// A task by id, from the working copies or the store.
    pub fn task(&mut self, id: Uuid) -> Option<&mut TaskRecord> {
        let i = match self.tasks.iter().position(|t| t.id == id) {
            Some(i) => i,
            None => {
                let t = self.store.task(&id)?;
                self.tasks.push(t);
                self.tasks.len() - 1
            }
        };
        self.tasks.get_mut(i)
    }

    /// Makes `t` (just read from the store) the working copy of its task.
    pub fn adopt(&mut self, t: TaskRecord) {
        if !self.tasks.iter().any(|w| w.id == t.id) {
            self.tasks.push(t);
        }
    }

    fn add_task(&mut self, t: TaskRecord) {
        self.wf.tasks.push(t.id);
        self.tasks.push(t);
    }

    /// Ids of the open tasks of the instance, optionally of one node. Tasks the step
    /// has not touched are looked at in the store without copying them into the step
    /// (and so into its changes).
    pub fn open_tasks(&self, node: Option<&str>) -> Vec<Uuid> {
        let open =
            |t: &TaskRecord| t.state == TaskState::Opened && node.is_none_or(|n| t.node_id == n);
        let mut out = Vec::new();
        for &id in &self.wf.tasks {
            let is_open = match self.tasks.iter().find(|t| t.id == id) {
                Some(t) => open(t),
                None => self.store.with_task(&id, open).unwrap_or(false),
            };
            if is_open {
                out.push(id);
            }
        }
        out
    }

    fn node_index(&self, id: &str) -> Result<usize, EngineError> {
        self.model.index.get(id).copied().ok_or_else(|| {
            EngineError::bad_request(format!(
                "Node '{id}' is not part of model '{}'",
                self.model.name
            ))
        })
    }

    /// The instance's record of a node, created with default variables on first entry.
    pub fn node_rec(&mut self, idx: usize) -> &mut NodeRecord {
        let node = &self.model.nodes[idx];
        let pos = match self.wf.nodes.iter().position(|r| r.id == node.id) {
            Some(p) => p,
            None => {
                self.wf.nodes.push(NodeRecord {
                    id: node.id.clone(),
                    run: NodeRun::Ready,
                    variables: node.defaults.clone(),
                    button: None,
                    last_actor: None,
                    tasks_info: Vec::new(),
                    arrived: Vec::new(),
                    escalations_done: Vec::new(),
                });
                self.wf.nodes.len() - 1
            }
        };
        &mut self.wf.nodes[pos]
    }

    fn eval(&mut self, idx: usize, expr: &Expr) -> Result<cel::Value, EngineError> {
        let node = &self.model.nodes[idx];
        self.node_rec(idx);
        let rec = self
            .wf
            .nodes
            .iter()
            .find(|r| r.id == node.id)
            .ok_or_else(|| model_error(node, "node state missing"))?;
        let scope = Scope {
            workflow_vars: &self.wf.variables,
            workflow_types: &self.model.var_types,
            node_vars: &rec.variables,
            node_types: &node.var_types,
            button: rec.button.as_deref().unwrap_or(""),
            initiator: &self.wf.initiator,
            now: self.now,
            documents: &self.wf.documents,
            tasks: &rec.tasks_info,
            node_id: &node.id,
        };
        expr.eval(&scope).map_err(|e| model_error(node, e))
    }

    fn eval_bool(&mut self, idx: usize, expr: &Expr) -> Result<bool, EngineError> {
        match self.eval(idx, expr)? {
            cel::Value::Bool(b) => Ok(b),
            other => Err(model_error(
                &self.model.nodes[idx],
                format!(
                    "condition '{}' gave {}",
                    expr.source,
                    crate::expr::type_name(&other)
                ),
            )),
        }
    }

    fn set_var(&mut self, idx: usize, target: &VarTarget, value: Value) {
        match target.scope {
            VarScope::Workflow => {
                self.wf.variables.insert(&target.name, value);
            }
            VarScope::Node => {
                self.node_rec(idx).variables.insert(&target.name, value);
            }
        }
    }

    fn run_actions(&mut self, idx: usize, actions: &[Action]) -> Result<(), EngineError> {
        let model = self.model;
        let node = &model.nodes[idx];
        for a in actions {
            if let Some(when) = &a.when {
                if !self.eval_bool(idx, when)? {
                    continue;
                }
            }
            match &a.kind {
                ActionKind::Set { target, value } => {
                    let v = self.eval(idx, value)?;
                    let v = cel_to_var(target.ty, &v).map_err(|e| {
                        model_error(node, format!("cannot set '{}': {e}", target.name))
                    })?;
                    self.set_var(idx, target, v);
                }
                ActionKind::Builtin { target, builtin } => {
                    let v = match builtin {
                        Builtin::ReviewSummary => review_summary(self.node_rec(idx)),
                    };
                    self.set_var(idx, target, v);
                }
                ActionKind::Event(name) => {
                    tracing::info!(
                        event = %name,
                        workflow = %self.wf.id,
                        model = %model.name,
                        node = %node.id,
                        documents = ?self.wf.documents,
                        "workflow event"
                    );
                }
            }
        }
        Ok(())
    }

    /// Enters the start node and runs to the first wait state.
    pub fn start(&mut self) -> Result<(), EngineError> {
        self.run(VecDeque::from([(self.model.start, None)]))
    }

    /// Runs queued node entries until every branch waits or ended.
    fn run(&mut self, mut queue: VecDeque<(usize, Option<usize>)>) -> Result<(), EngineError> {
        let model = self.model;
        while let Some((idx, from)) = queue.pop_front() {
            self.steps += 1;
            let node = &model.nodes[idx];
            if self.steps > MAX_STEPS {
                return Err(model_error(
                    node,
                    "the workflow loops without reaching a task or a stop node",
                ));
            }
            if node.merge {
                let all: Vec<String> = model.incoming[idx]
                    .iter()
                    .map(|&i| model.nodes[i].id.clone())
                    .collect();
                let rec = self.node_rec(idx);
                if let Some(f) = from {
                    let src = &model.nodes[f].id;
                    if !rec.arrived.contains(src) {
                        rec.arrived.push(src.clone());
                    }
                }
                if !all.iter().all(|s| rec.arrived.contains(s)) {
                    rec.run = NodeRun::Waiting;
                    continue;
                }
                rec.arrived.clear();
            }
            {
                let rec = self.node_rec(idx);
                rec.run = NodeRun::Ready;
                rec.button = None;
                rec.tasks_info.clear();
                rec.escalations_done.clear();
            }
            self.run_actions(idx, &node.input)?;
            if node.stop {
                self.wf.reached_stop = true;
                continue;
            }
            if node.task.is_some() {
                self.create_tasks(idx)?;
                self.node_rec(idx).run = NodeRun::Suspended;
                continue;
            }
            self.run_actions(idx, &node.output)?;
            for target in self.follow(idx)? {
                queue.push_back((target, Some(idx)));
            }
        }
        self.settle()
    }

    /// Ends the instance when nothing is left to do.
    fn settle(&mut self) -> Result<(), EngineError> {
        if !self.open_tasks(None).is_empty() {
            return Ok(());
        }
        if let Some(w) = self.wf.nodes.iter().find(|n| n.run == NodeRun::Waiting) {
            if !self.wf.reached_stop {
                return Err(EngineError::bad_request(format!(
                    "Workflow node '{}': the merge waits for branches that can no longer arrive",
                    w.id
                )));
            }
        }
        if self.wf.reached_stop {
            self.wf.state = WorkflowState::Done;
            self.wf.ended = Some(self.now);
            for n in &mut self.wf.nodes {
                n.run = NodeRun::Ready;
            }
        }
        Ok(())
    }

    /// Evaluates every transition of a node (model order), runs the chains of the true
    /// ones and returns their targets.
    fn follow(&mut self, idx: usize) -> Result<Vec<usize>, EngineError> {
        let model = self.model;
        let node = &model.nodes[idx];
        let mut chosen = Vec::new();
        for t in &node.transitions {
            if self.eval_bool(idx, &t.condition)? {
                chosen.push(t);
            }
        }
        if chosen.is_empty() {
            return Err(EngineError::bad_request(format!(
                "No transition evaluated to true from node '{}'",
                node.id
            )));
        }
        let mut targets = Vec::with_capacity(chosen.len());
        for t in chosen {
            tracing::debug!(workflow = %self.wf.id, transition = %t.name, "transition taken");
            self.run_actions(idx, &t.actions)?;
            targets.push(t.target);
        }
        Ok(targets)
    }

    fn create_tasks(&mut self, idx: usize) -> Result<(), EngineError> {
        let model = self.model;
        let node = &model.nodes[idx];
        let Some(def) = &node.task else {
            return Ok(());
        };
        let mut actors: Vec<String> = Vec::new();
        if let Some(expr) = &def.assignees {
            let v = self.eval(idx, expr)?;
            actors = cel_to_actors(&v).map_err(|e| model_error(node, e))?;
        }
        for s in &def.static_assignees {
            actors.push(s.clone());
        }
        let mut seen = std::collections::HashSet::new();
        actors.retain(|a| !a.is_empty() && seen.insert(a.clone()));
        if actors.is_empty() {
            return Err(model_error(
                node,
                "the task has no assignee (are the participants set?)",
            ));
        }
        let due = match &def.due {
            Some(expr) => {
                let v = self.eval(idx, expr)?;
                cel_to_date(&v).map_err(|e| model_error(node, e))?
            }
            None => None,
        };
        if !def.multi_task {
            self.limits.check_task_actors(actors.len())?;
        }
        let new_tasks = if def.multi_task { actors.len() } else { 1 };
        self.created += new_tasks;
        self.limits.check_new_tasks(self.created)?;
        let groups: Vec<Vec<String>> = if def.multi_task {
            actors.into_iter().map(|a| vec![a]).collect()
        } else {
            vec![actors]
        };
        for actors in groups {
            self.add_task(TaskRecord {
                id: Uuid::now_v7(),
                workflow_id: self.wf.id,
                node_id: node.id.clone(),
                state: TaskState::Opened,
                actors,
                delegated: Vec::new(),
                comments: Vec::new(),
                created: self.now,
                due,
                initiator: self.actor.clone(),
                action: None,
                ended: None,
                variables: None,
            });
        }
        Ok(())
    }

    /// Completes a task whose checks (existence, rights, state, action, variable types)
    /// already passed. `node_vars` / `workflow_vars` are typed and filtered.
    pub fn complete(
        &mut self,
        task_id: Uuid,
        action: &str,
        comment: Option<String>,
        node_vars: Variables,
        workflow_vars: Variables,
    ) -> Result<(), EngineError> {
        let model = self.model;
        let now = self.now;
        let actor = self.actor.clone();
        let node_id = self
            .task(task_id)
            .map(|t| t.node_id.clone())
            .ok_or_else(|| EngineError::not_found(task_id.to_string()))?;
        let idx = self.node_index(&node_id)?;
        let node = &model.nodes[idx];
        if let Some(t) = self.task(task_id) {
            t.state = TaskState::Ended;
            t.action = Some(action.to_owned());
            t.ended = Some(now);
            if let Some(text) = &comment {
                t.comments.push(Comment {
                    author: actor.clone(),
                    text: Some(text.clone()),
                    date: now,
                });
            }
        }
        for (k, v) in workflow_vars {
            self.wf.variables.insert(&k, v);
        }
        {
            let has_comment_var = node.var_types.contains_key("comment");
            let rec = self.node_rec(idx);
            for (k, v) in node_vars {
                rec.variables.insert(&k, v);
            }
            if let (Some(text), true) = (&comment, has_comment_var) {
                rec.variables.insert("comment", Value::String(text.clone()));
            }
            rec.button = Some(action.to_owned());
            rec.last_actor = Some(actor.clone());
            rec.tasks_info.push(TaskInfoRecord {
                task_id,
                actor: actor.clone(),
                status: action.to_owned(),
                comment: comment.clone(),
                ended: now,
            });
        }
        let multi = node.task.as_ref().is_some_and(|t| t.multi_task);
        if multi && !self.open_tasks(Some(&node.id)).is_empty() {
            let snapshot = view::task_variables(model, node, &self.wf);
            if let Some(t) = self.task(task_id) {
                t.variables = Some(Box::new(snapshot));
            }
            // The next reviewer of the node starts with an empty comment.
            if comment.is_some() && node.var_types.contains_key("comment") {
                self.node_rec(idx).variables.insert("comment", Value::Null);
            }
            return Ok(());
        }
        self.leave(idx, Some(task_id))
    }

    /// Runs a node's output chain and follows its transitions.
    fn leave(&mut self, idx: usize, completed: Option<Uuid>) -> Result<(), EngineError> {
        let model = self.model;
        let node = &model.nodes[idx];
        self.run_actions(idx, &node.output)?;
        if let Some(id) = completed {
            let snapshot = view::task_variables(model, node, &self.wf);
            if let Some(t) = self.task(id) {
                t.variables = Some(Box::new(snapshot));
            }
        }
        self.node_rec(idx).run = NodeRun::Ready;
        let targets = self.follow(idx)?;
        self.run(targets.into_iter().map(|t| (t, Some(idx))).collect())
    }

    /// Cancels the instance and its open tasks.
    pub fn cancel(&mut self) {
        let now = self.now;
        for id in self.open_tasks(None) {
            if let Some(t) = self.task(id) {
                t.state = TaskState::Cancelled;
                t.ended = Some(now);
            }
        }
        for n in &mut self.wf.nodes {
            n.run = NodeRun::Ready;
        }
        self.wf.state = WorkflowState::Canceled;
        self.wf.ended = Some(now);
    }

    /// Runs the escalation rules of the nodes holding open tasks; a true rule runs once
    /// per visit. Returns whether anything happened.
    pub fn escalate(&mut self) -> Result<bool, EngineError> {
        let model = self.model;
        let suspended: Vec<usize> = self
            .wf
            .nodes
            .iter()
            .filter(|n| n.run == NodeRun::Suspended)
            .filter_map(|n| model.index.get(&n.id).copied())
            .collect();
        let mut fired = false;
        for idx in suspended {
            let node = &model.nodes[idx];
            for rule in &node.escalations {
                if self.node_rec(idx).escalations_done.contains(&rule.name) {
                    continue;
                }
                if !self.eval_bool(idx, &rule.condition)? {
                    continue;
                }
                tracing::info!(workflow = %self.wf.id, node = %node.id, rule = %rule.name, "escalation: forcing the node on");
                self.node_rec(idx).escalations_done.push(rule.name.clone());
                let now = self.now;
                for id in self.open_tasks(Some(&node.id)) {
                    if let Some(t) = self.task(id) {
                        t.state = TaskState::Cancelled;
                        t.ended = Some(now);
                    }
                }
                self.leave(idx, None)?;
                fired = true;
                break;
            }
        }
        Ok(fired)
    }
}

/// `NRD-AC-PR-storeTaskInfo`: one line per ended task of the node.
fn review_summary(rec: &NodeRecord) -> Value {
    let mut out = String::new();
    for t in &rec.tasks_info {
        if !out.is_empty() {
            out.push('\n');
        }
        out.push_str(&t.actor);
        out.push_str(": ");
        out.push_str(&t.status);
        if let Some(c) = t.comment.as_deref().filter(|c| !c.trim().is_empty()) {
            out.push_str(" - ");
            out.push_str(c);
        }
    }
    Value::String(out)
}
