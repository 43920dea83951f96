//! The simulated repository: instances, work items, history, users and groups,
//! held in a [`World`], with the lookups by name and id.
//!
//! Starting and running instances lives in `run`; what users do to work items
//! (routes, back-routes, delegation, state changes) in `items`.

mod items;
mod run;

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
    fn java_dates_use_the_server_zone() {
        let t = DateTime::parse_from_rfc3339("2024-05-02T07:12:44Z")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(java_date(t), "Thu May 02 09:12:44 CEST 2024");
    }
}
