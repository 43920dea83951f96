//! What users do to running work: the routes, back-routes and delegatees a work
//! item offers, advancing and delegating items, and changing an instance's state.

use chrono::{DateTime, Utc};

use super::{route_id, HistoryItem, InstState, Instance, Route, SimError, WorkItem, World};
use crate::sim::models::SimModel;

impl World {
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

    pub(super) fn check_item_action(&self, user: &str, item: &WorkItem) -> Result<(), SimError> {
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
    use std::collections::BTreeMap;

    use super::*;
    use crate::Profile;

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
}
