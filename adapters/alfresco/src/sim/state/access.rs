//! Principals and visibility: group membership, administrators, and the access
//! checks Alfresco applies to processes and tasks.

use std::collections::BTreeSet;

use super::{Process, State, TaskRec};
use crate::sim::model::ADMIN_GROUP;
use crate::sim::query::ApiError;

impl State {
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
}
