//! The simulated repository and workflow engine: instances, work items, inbox rules,
//! routes, back-routes, delegatees and history.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, FixedOffset, Offset, Utc};

use super::models::SimModel;
use crate::Profile;

/// Why a simulated call failed: HTTP status and a message for the error page.
pub(crate) type SimError = (u16, String);

/// Life-cycle state of a simulated instance.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum InstState {
    Running,
    Suspended,
    Aborted,
    Completed,
}

impl InstState {
    pub fn as_str(self) -> &'static str {
        match self {
            InstState::Running => "RUNNING",
            InstState::Suspended => "SUSPENDED",
            InstState::Aborted => "ABORTED",
            InstState::Completed => "COMPLETED",
        }
    }
}

#[derive(Clone, Debug)]
pub(crate) struct HistoryItem {
    pub status: &'static str,
    pub node: String,
    pub title: String,
    pub user: String,
    pub action: String,
    pub comment: String,
    pub item: String,
    pub start: DateTime<Utc>,
    pub end: Option<DateTime<Utc>>,
}

#[derive(Clone, Debug)]
pub(crate) struct Instance {
    pub path: String,
    pub model: String,
    pub state: InstState,
    pub initiator: String,
    pub payload_type: String,
    pub payload: String,
    pub meta: BTreeMap<String, String>,
    pub start: DateTime<Utc>,
    pub end: Option<DateTime<Utc>>,
    /// Open work item paths, in creation order.
    pub items: Vec<String>,
    /// Arrivals at AND_JOIN nodes still waiting for other branches.
    pub joins: HashMap<String, usize>,
    /// Visits per node, for naming work items of revisited nodes.
    pub visits: HashMap<String, u32>,
    /// Participant nodes completed so far, oldest first (back-route candidates).
    pub done_participants: Vec<String>,
    /// A process step failed: the instance stays RUNNING without items.
    pub stuck: bool,
    pub history: Vec<HistoryItem>,
}

#[derive(Clone, Debug)]
pub(crate) struct WorkItem {
    pub path: String,
    pub instance: String,
    pub node: String,
    pub assignee: String,
    pub start: DateTime<Utc>,
    pub comment: String,
}

/// One entry of `routes.json` / `backroutes.json`.
#[derive(Clone, Debug)]
pub(crate) struct Route {
    pub rid: String,
    pub label: String,
    /// Node entered when the route is taken.
    pub target: String,
    /// OR-split branch chosen by taking the route.
    pub branch: Option<String>,
}

/// Everything the simulator knows.
#[derive(Debug)]
pub(crate) struct World {
    pub profile: Profile,
    pub models: Vec<SimModel>,
    pub users: BTreeMap<String, (String, String)>,
    pub groups: BTreeMap<String, Vec<String>>,
    pub instances: BTreeMap<String, Instance>,
    pub items: BTreeMap<String, WorkItem>,
    pub counters: HashMap<String, u32>,
    pub csrf_tokens: HashMap<String, String>,
    pub pages: BTreeMap<String, String>,
    pub engine_active: bool,
}

/// 32-bit FNV-1a of `from#to`, rendered as a signed decimal like CQ's numeric route ids.
pub(crate) fn route_id(from: &str, to: &str) -> String {
    let mut h: u32 = 0x811c_9dc5;
    for b in format!("{from}#{to}").bytes() {
        h ^= u32::from(b);
        h = h.wrapping_mul(0x0100_0193);
    }
    (h as i32).to_string()
}

/// Java `Date.toString()` text in the simulated server zone (CEST, +02:00).
pub(crate) fn java_date(t: DateTime<Utc>) -> String {
    let zone = FixedOffset::east_opt(2 * 3600).unwrap_or(Utc.fix());
    t.with_timezone(&zone)
        .format("%a %b %d %H:%M:%S CEST %Y")
        .to_string()
}

impl World {
    pub fn new(profile: Profile) -> World {
        let mut users = BTreeMap::new();
        for (id, name) in [
            ("admin", "Administrator"),
            ("jdoe", "John Doe"),
            ("editor1", "Eddie Editor"),
            ("legal1", "Lena Legal"),
            ("dam1", "Dana Dam"),
            // The service account of config/example.toml and the README.
            ("flowgate-service", "flowgate service account"),
        ] {
            users.insert(id.to_owned(), (id.to_owned(), name.to_owned()));
        }
        let mut groups = BTreeMap::new();
        let g = |m: &[&str]| m.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        groups.insert(
            "administrators".to_owned(),
            g(&["admin", "flowgate-service"]),
        );
        groups.insert(
            "workflow-administrators".to_owned(),
            g(&["admin", "flowgate-service"]),
        );
        groups.insert("authors".to_owned(), g(&["jdoe", "editor1"]));
        groups.insert("legal".to_owned(), g(&["legal1"]));
        groups.insert("dam-users".to_owned(), g(&["dam1"]));
        groups.insert(
            "workflow-users".to_owned(),
            g(&["admin", "jdoe", "editor1", "legal1", "dam1"]),
        );
        let mut pages = BTreeMap::new();
        for (p, t) in [
            ("/content/flowgate/en", "English"),
            ("/content/flowgate/en/page-a", "Page A"),
            ("/content/flowgate/en/page-b", "Page B"),
            ("/content/flowgate/en/page-c", "Page C"),
            ("/content/site/en/page", "Site Page"),
            ("/content/my site/en/über-uns", "Über uns"),
        ] {
            pages.insert(p.to_owned(), t.to_owned());
        }
        World {
            profile,
            models: super::models::stock_models(profile != Profile::Cloud),
            users,
            groups,
            instances: BTreeMap::new(),
            items: BTreeMap::new(),
            counters: HashMap::new(),
            csrf_tokens: HashMap::new(),
            pages,
            engine_active: true,
        }
    }

    /// Whether `user` is `principal` or a member of group `principal`.
    pub fn is_member(&self, user: &str, principal: &str) -> bool {
        user == principal
            || self
                .groups
                .get(principal)
                .is_some_and(|m| m.iter().any(|u| u == user))
    }

    pub fn display_name(&self, principal: &str) -> String {
        if let Some((_, name)) = self.users.get(principal) {
            return name.clone();
        }
        let mut chars = principal.chars();
        match chars.next() {
            Some(c) => c.to_uppercase().chain(chars).collect(),
            None => String::new(),
        }
    }

    pub fn model(&self, name: &str) -> Option<&SimModel> {
        self.models.iter().find(|m| m.name == name)
    }

    /// Model name for a runtime model id of this profile (exact form only).
    pub fn model_for_runtime_id(&self, id: &str) -> Option<String> {
        self.models
            .iter()
            .find(|m| self.profile.model_id(&m.name) == id)
            .map(|m| m.name.clone())
    }

    fn instance_folder(&self, now: DateTime<Utc>) -> String {
        let day = now.format("%Y-%m-%d");
        if self.profile == Profile::Cq5 {
            format!("{}/{day}", self.profile.instance_root())
        } else {
            format!("{}/server0/{day}", self.profile.instance_root())
        }
    }

    /// Starts an instance and runs it to its first wait state; returns its path.
    pub fn start(
        &mut self,
        model: &str,
        initiator: &str,
        payload_type: &str,
        payload: &str,
        meta: BTreeMap<String, String>,
        now: DateTime<Utc>,
    ) -> Result<String, SimError> {
        let m = self
            .model(model)
            .cloned()
            .ok_or((500, format!("unknown model {model}")))?;
        let folder = self.instance_folder(now);
        let short = model.rsplit('/').next().unwrap_or(model);
        let counter = self
            .counters
            .entry(format!("{folder}/{short}"))
            .or_insert(0);
        *counter += 1;
        let path = format!("{folder}/{short}_{counter}");
        let inst = Instance {
            path: path.clone(),
            model: model.to_owned(),
            state: InstState::Running,
            initiator: initiator.to_owned(),
            payload_type: payload_type.to_owned(),
            payload: payload.to_owned(),
            meta,
            start: now,
            end: None,
            items: Vec::new(),
            joins: HashMap::new(),
            visits: HashMap::new(),
            done_participants: Vec::new(),
            stuck: false,
            history: Vec::new(),
        };
        self.instances.insert(path.clone(), inst);
        let start = m
            .nodes
            .iter()
            .find(|n| n.ty == "START")
            .map(|n| n.id.clone())
            .ok_or((500, "model has no start node".to_owned()))?;
        let comment = self
            .instances
            .get(&path)
            .and_then(|i| i.meta.get("startComment").cloned())
            .unwrap_or_default();
        self.run(&path, &m, vec![(start, None)], &comment, now);
        Ok(path)
    }

    /// Runs the engine from the given nodes until every token waits or ends.
    fn run(
        &mut self,
        path: &str,
        m: &SimModel,
        mut work: Vec<(String, Option<String>)>,
        comment: &str,
        now: DateTime<Utc>,
    ) {
        let mut guard = 0;
        while let Some((node_id, branch)) = work.pop() {
            guard += 1;
            if guard > 1000 {
                break;
            }
            let Some(node) = m.find(&node_id) else {
                continue;
            };
            let Some(inst) = self.instances.get_mut(path) else {
                return;
            };
            let next_all = |m: &SimModel| -> Vec<(String, Option<String>)> {
                m.outgoing(&node_id).map(|t| (t.to.clone(), None)).collect()
            };
            match node.ty.as_str() {
                "START" | "OR_JOIN" => work.extend(next_all(m).into_iter().take(1)),
                "END" => {}
                "AND_SPLIT" => work.extend(next_all(m).into_iter().rev()),
                "AND_JOIN" => {
                    let need = m.incoming_count(&node_id);
                    let got = inst.joins.entry(node_id.clone()).or_insert(0);
                    *got += 1;
                    if *got >= need {
                        inst.joins.remove(&node_id);
                        work.extend(next_all(m).into_iter().take(1));
                    }
                }
                "OR_SPLIT" => {
                    let chosen = branch.or_else(|| {
                        m.outgoing(&node_id)
                            .find(|t| match t.rule.as_deref() {
                                None | Some("") | Some("true") => true,
                                Some(key) => inst.meta.get(key).is_some_and(|v| v == "true"),
                            })
                            .or_else(|| m.outgoing(&node_id).next())
                            .map(|t| t.to.clone())
                    });
                    if let Some(to) = chosen {
                        work.push((to, None));
                    }
                }
                "PROCESS" => {
                    let failed = node.meta_value("SIM_FAIL") == Some("true");
                    inst.history.push(HistoryItem {
                        status: if failed { "Failed" } else { "Completed" },
                        node: node.id.clone(),
                        title: node.title.clone(),
                        user: "workflow-process-service".to_owned(),
                        action: String::new(),
                        comment: String::new(),
                        item: String::new(),
                        start: now,
                        end: Some(now),
                    });
                    if failed {
                        inst.stuck = true;
                    } else {
                        work.extend(next_all(m).into_iter().take(1));
                    }
                }
                _ => {
                    // PARTICIPANT and anything human: one work item.
                    let visits = inst.visits.entry(node_id.clone()).or_insert(0);
                    *visits += 1;
                    let base = format!(
                        "{path}/workItems/{node_id}_{}",
                        path.trim_start_matches('/').replace('/', "_")
                    );
                    let item_path = if *visits > 1 {
                        format!("{base}_{}", *visits - 1)
                    } else {
                        base
                    };
                    let assignee = node
                        .meta_value("PARTICIPANT")
                        .unwrap_or(inst.initiator.as_str())
                        .to_owned();
                    inst.items.push(item_path.clone());
                    inst.history.push(HistoryItem {
                        status: "Active",
                        node: node.id.clone(),
                        title: node.title.clone(),
                        user: String::new(),
                        action: String::new(),
                        comment: String::new(),
                        item: item_path.clone(),
                        start: now,
                        end: None,
                    });
                    self.items.insert(
                        item_path.clone(),
                        WorkItem {
                            path: item_path,
                            instance: path.to_owned(),
                            node: node_id.clone(),
                            assignee,
                            start: now,
                            comment: comment.to_owned(),
                        },
                    );
                }
            }
        }
        if let Some(inst) = self.instances.get_mut(path) {
            if inst.items.is_empty()
                && inst.joins.is_empty()
                && !inst.stuck
                && inst.state == InstState::Running
            {
                inst.state = InstState::Completed;
                inst.end = Some(now);
            }
        }
    }

    /// Routes offered at a node: one per outgoing transition, OR-split branches expanded.
    pub fn routes(&self, m: &SimModel, node: &str) -> Vec<Route> {
        let mut out = Vec::new();
        for t in m.outgoing(node) {
            let Some(target) = m.find(&t.to) else {
                continue;
            };
            if target.ty == "OR_SPLIT" {
                for b in m.outgoing(&target.id) {
                    let label = m.find(&b.to).map(|n| n.title.clone()).unwrap_or_default();
                    out.push(Route {
                        rid: route_id(&b.from, &b.to),
                        label,
                        target: target.id.clone(),
                        branch: Some(b.to.clone()),
                    });
                }
            } else {
                out.push(Route {
                    rid: route_id(node, &target.id),
                    label: target.title.clone(),
                    target: target.id.clone(),
                    branch: None,
                });
            }
        }
        out
    }

    /// Back-routes of an item: earlier participant nodes, most recent first.
    pub fn backroutes(&self, m: &SimModel, inst: &Instance, node: &str) -> Vec<Route> {
        let mut out: Vec<Route> = Vec::new();
        for target in inst.done_participants.iter().rev() {
            if target == node || out.iter().any(|r| &r.target == target) {
                continue;
            }
            let label = m.find(target).map(|n| n.title.clone()).unwrap_or_default();
            out.push(Route {
                rid: route_id(node, target),
                label,
                target: target.clone(),
                branch: None,
            });
        }
        out
    }

    /// Principals an item may be delegated to.
    pub fn delegatees(&self, item: &WorkItem) -> Vec<String> {
        if let Some(members) = self.groups.get(&item.assignee) {
            let mut out = members.clone();
            out.push(item.assignee.clone());
            out
        } else {
            self.groups
                .get("workflow-users")
                .map(|m| m.iter().filter(|u| **u != item.assignee).cloned().collect())
                .unwrap_or_default()
        }
    }

    fn check_item_action(&self, user: &str, item: &WorkItem) -> Result<(), SimError> {
        let inst = self
            .instances
            .get(&item.instance)
            .ok_or((404, "instance not found".to_owned()))?;
        if !(self.is_member(user, &item.assignee) || user == "admin") {
            return Err((403, format!("{user} may not act on {}", item.path)));
        }
        if inst.state != InstState::Running {
            return Err((409, format!("workflow {} is not running", inst.path)));
        }
        Ok(())
    }

    /// Completes an item along a route (`back == false`) or a back-route.
    pub fn advance(
        &mut self,
        user: &str,
        item_path: &str,
        rid: &str,
        back: bool,
        comment: &str,
        now: DateTime<Utc>,
    ) -> Result<(), SimError> {
        let item = self
            .items
            .get(item_path)
            .cloned()
            .ok_or((404, format!("work item {item_path} not found")))?;
        self.check_item_action(user, &item)?;
        let inst = self
            .instances
            .get(&item.instance)
            .cloned()
            .ok_or((404, "instance not found".to_owned()))?;
        let m = self
            .model(&inst.model)
            .cloned()
            .ok_or((500, "model vanished".to_owned()))?;
        let routes = if back {
            self.backroutes(&m, &inst, &item.node)
        } else {
            self.routes(&m, &item.node)
        };
        let route = routes
            .into_iter()
            .find(|r| r.rid == rid)
            .ok_or((500, format!("unknown route {rid}")))?;
        self.items.remove(item_path);
        if let Some(inst) = self.instances.get_mut(&item.instance) {
            inst.items.retain(|p| p != item_path);
            inst.done_participants.push(item.node.clone());
            if let Some(h) = inst
                .history
                .iter_mut()
                .rev()
                .find(|h| h.item == item_path && h.status == "Active")
            {
                h.status = "Completed";
                h.user = user.to_owned();
                h.action = rid.to_owned();
                comment.clone_into(&mut h.comment);
                h.end = Some(now);
            }
        }
        let start = match route.branch {
            Some(b) => vec![(b, None)],
            None => vec![(route.target, None)],
        };
        self.run(&item.instance, &m, start, comment, now);
        Ok(())
    }

    /// Delegates an item to a principal listed in its delegatees.
    pub fn delegate(
        &mut self,
        user: &str,
        item_path: &str,
        to: &str,
        comment: &str,
        now: DateTime<Utc>,
    ) -> Result<(), SimError> {
        let item = self
            .items
            .get(item_path)
            .cloned()
            .ok_or((404, format!("work item {item_path} not found")))?;
        self.check_item_action(user, &item)?;
        if !self.delegatees(&item).iter().any(|d| d == to) {
            return Err((500, format!("{to} is not a valid delegatee")));
        }
        let node_title = self
            .instances
            .get(&item.instance)
            .and_then(|i| self.model(&i.model))
            .and_then(|m| m.find(&item.node))
            .map(|n| n.title.clone())
            .unwrap_or_default();
        if let Some(it) = self.items.get_mut(item_path) {
            to.clone_into(&mut it.assignee);
        }
        if let Some(inst) = self.instances.get_mut(&item.instance) {
            inst.history.push(HistoryItem {
                status: "Delegated",
                node: item.node.clone(),
                title: node_title,
                user: user.to_owned(),
                action: to.to_owned(),
                comment: comment.to_owned(),
                item: item_path.to_owned(),
                start: now,
                end: Some(now),
            });
        }
        Ok(())
    }

    /// Applies a `state=` POST to an instance.
    pub fn set_state(
        &mut self,
        path: &str,
        target: &str,
        comment: &str,
        user: &str,
        now: DateTime<Utc>,
    ) -> Result<(), SimError> {
        let inst = self
            .instances
            .get_mut(path)
            .ok_or((404, format!("{path} not found")))?;
        let next = match (inst.state, target) {
            (InstState::Running, "SUSPENDED") => InstState::Suspended,
            (InstState::Suspended, "RUNNING") => InstState::Running,
            (InstState::Running | InstState::Suspended, "ABORTED") => InstState::Aborted,
            (s, t) => {
                return Err((
                    409,
                    format!("cannot change state of {path} from {} to {t}", s.as_str()),
                ))
            }
        };
        inst.state = next;
        if next == InstState::Aborted {
            inst.end = Some(now);
            for h in inst.history.iter_mut().filter(|h| h.status == "Active") {
                h.status = "Aborted";
                h.end = Some(now);
                h.user = user.to_owned();
                comment.clone_into(&mut h.comment);
            }
            let items = std::mem::take(&mut inst.items);
            for it in items {
                self.items.remove(&it);
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn route_ids_are_stable_signed_decimals() {
        assert_eq!(route_id("node1", "node2"), route_id("node1", "node2"));
        assert_ne!(route_id("node1", "node2"), route_id("node2", "node1"));
        assert!(route_id("node1", "node2").parse::<i32>().is_ok());
    }

    #[test]
    fn parallel_review_completes_only_after_both_items() {
        let mut w = World::new(Profile::Aem64To65);
        let now = Utc::now();
        let p = w
            .start(
                "flowgate/parallel_review",
                "admin",
                "JCR_PATH",
                "/content/x",
                BTreeMap::new(),
                now,
            )
            .unwrap();
        let items = w.instances[&p].items.clone();
        assert_eq!(items.len(), 2);
        for (i, it) in items.iter().enumerate() {
            let node = w.items[it].node.clone();
            let m = w.model("flowgate/parallel_review").unwrap().clone();
            let rid = w.routes(&m, &node)[0].rid.clone();
            w.advance("admin", it, &rid, false, "", now).unwrap();
            let state = w.instances[&p].state;
            if i == 0 {
                assert_eq!(state, InstState::Running);
            } else {
                assert_eq!(state, InstState::Completed);
            }
        }
    }

    #[test]
    fn java_dates_use_the_server_zone() {
        let t = DateTime::parse_from_rfc3339("2024-05-02T07:12:44Z")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(java_date(t), "Thu May 02 09:12:44 CEST 2024");
    }
}
