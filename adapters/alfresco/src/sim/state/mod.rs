//! In-memory repository state of the simulator: the records it keeps (definitions,
//! processes, tasks, tickets), the [`State`] that holds them, and lookups by id.
//!
//! The behaviour on top of that state lives in the submodules: who may see what
//! (`access`), the JSON views (`render`), starting a workflow (`start`), the
//! built-in workflow state machines (`flow`) and task updates (`update`).

mod access;
mod flow;
mod render;
mod start;
mod update;

use std::collections::{BTreeMap, BTreeSet, HashMap};

use chrono::{DateTime, Utc};
use serde_json::Value;

use super::model::{self, DefSeed, Node};
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
    /// Accepted bearer tokens → user name.
    pub bearer_tokens: HashMap<String, String>,
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
            bearer_tokens: opts.bearer_tokens.iter().cloned().collect(),
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
}
