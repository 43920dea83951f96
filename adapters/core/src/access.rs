//! Who may see and do what: the one rule set every engine and the gateway apply.
//!
//! | right | granted to |
//! |---|---|
//! | see a workflow | administrators, power users, its initiator, anyone who is or was an actor or delegate of one of its tasks |
//! | cancel a workflow | administrators, power users, its initiator |
//! | see a task | administrators, its actors and delegates (directly or through a group), the workflow's initiator, the task's initiator |
//! | act on a task (complete it) | administrators, its actors and delegates, the task's initiator |
//! | manage a task (reassign, delegate) | administrators, its actors (not its delegates), the workflow's initiator |
//!
//! Lists apply the "see" rules to every entry. Administrators and power users are the
//! members of the groups the settings name (`auth.admin_group`, `auth.poweruser_group`);
//! the gateway sets [`CallContext::admin`] and [`CallContext::poweruser`] from them.

use crate::{CallContext, Task};

/// The people around one task, as the rules need them.
#[derive(Clone, Copy, Debug)]
pub struct TaskParties<'a> {
    /// Assignees (`user:` / `group:` prefixed or bare).
    pub actors: &'a [String],
    /// Principals the task was delegated to.
    pub delegated: &'a [String],
    /// The user whose request created the task.
    pub task_initiator: Option<&'a str>,
    /// The user who started the task's workflow.
    pub workflow_initiator: Option<&'a str>,
}

impl<'a> From<&'a Task> for TaskParties<'a> {
    fn from(t: &'a Task) -> Self {
        Self {
            actors: &t.actors,
            delegated: &t.delegated_actors,
            task_initiator: t.initiator.as_deref(),
            workflow_initiator: t.workflow_initiator.as_deref(),
        }
    }
}

impl TaskParties<'_> {
    /// Whether the caller is one of the actors, directly or through a group.
    pub fn is_actor(&self, cx: &CallContext) -> bool {
        self.actors.iter().any(|p| cx.is_principal(p))
    }

    /// Whether the caller is one of the delegates, directly or through a group.
    pub fn is_delegate(&self, cx: &CallContext) -> bool {
        self.delegated.iter().any(|p| cx.is_principal(p))
    }

    fn started_workflow(&self, cx: &CallContext) -> bool {
        self.workflow_initiator == Some(cx.user.as_str())
    }

    fn created_task(&self, cx: &CallContext) -> bool {
        self.task_initiator == Some(cx.user.as_str())
    }
}

/// Read access to a task (and its presence in lists).
pub fn may_see_task(cx: &CallContext, t: &TaskParties<'_>) -> bool {
    cx.admin || t.is_actor(cx) || t.is_delegate(cx) || t.started_workflow(cx) || t.created_task(cx)
}

/// Completing a task with one of its actions.
pub fn may_act_on_task(cx: &CallContext, t: &TaskParties<'_>) -> bool {
    cx.admin || t.is_actor(cx) || t.is_delegate(cx) || t.created_task(cx)
}

/// Reassigning or delegating a task. Delegates may act, never manage.
pub fn may_manage_task(cx: &CallContext, t: &TaskParties<'_>) -> bool {
    cx.admin || t.is_actor(cx) || t.started_workflow(cx)
}

/// Read access to a workflow: `initiator` started it, `tasks` are its tasks, past and
/// present.
pub fn may_see_workflow<'t>(
    cx: &CallContext,
    initiator: Option<&str>,
    mut tasks: impl Iterator<Item = TaskParties<'t>>,
) -> bool {
    cx.admin
        || cx.poweruser
        || initiator == Some(cx.user.as_str())
        || tasks.any(|t| t.is_actor(cx) || t.is_delegate(cx))
}

/// Canceling a workflow started by `initiator`.
pub fn may_cancel_workflow(cx: &CallContext, initiator: Option<&str>) -> bool {
    cx.admin || cx.poweruser || initiator == Some(cx.user.as_str())
}

/// Whether a live feed shows `e` to the caller: administrators and power users see
/// every event, a workflow's initiator all of its events, and the actors and delegates
/// of a task (directly or through a group) the events of that task, as its parties
/// stand after the event.
pub fn may_follow_event(cx: &CallContext, e: &crate::Event) -> bool {
    if cx.admin || cx.poweruser || e.initiator == cx.user {
        return true;
    }
    e.kind.is_task()
        && may_act_on_task(
            cx,
            &TaskParties {
                actors: &e.actors,
                delegated: &e.delegated,
                task_initiator: None,
                workflow_initiator: Some(&e.initiator),
            },
        )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parties<'a>(actors: &'a [String], delegated: &'a [String]) -> TaskParties<'a> {
        TaskParties {
            actors,
            delegated,
            task_initiator: Some("init"),
            workflow_initiator: Some("init"),
        }
    }

    #[test]
    fn live_events_follow_task_parties_and_initiators() {
        let mut e: crate::Event = serde_json::from_value(serde_json::json!({
            "kind": "afterWorkflowTaskCreated", "at": "2024-01-01T00:00:00Z",
            "workflowId": "w", "model": "m", "principal": "jdoe", "initiator": "jdoe",
            "actors": ["group:reviewers"], "delegated": ["eve"]
        }))
        .unwrap();
        let carol = CallContext::user("carol", ["reviewers"]);
        let eve = CallContext::user("eve", ["members"]);
        let dan = CallContext::user("dan", ["members"]);
        let jdoe = CallContext::user("jdoe", ["members"]);
        assert!(may_follow_event(&carol, &e));
        assert!(may_follow_event(&eve, &e));
        assert!(may_follow_event(&jdoe, &e));
        assert!(!may_follow_event(&dan, &e));
        e.kind = crate::EventKind::WorkflowStarted;
        assert!(
            !may_follow_event(&carol, &e),
            "workflow events: initiator only"
        );
        assert!(may_follow_event(&CallContext::admin("Administrator"), &e));
    }

    #[test]
    fn delegates_act_but_never_manage() {
        let actors = vec!["user:asmith".to_owned()];
        let delegated = vec!["eve".to_owned()];
        let t = parties(&actors, &delegated);
        let eve = CallContext::user("eve", ["members"]);
        assert!(may_see_task(&eve, &t));
        assert!(may_act_on_task(&eve, &t));
        assert!(!may_manage_task(&eve, &t));
        let asmith = CallContext::user("asmith", ["members"]);
        assert!(may_manage_task(&asmith, &t));
    }

    #[test]
    fn group_actors_count_and_outsiders_see_nothing() {
        let actors = vec!["group:reviewers".to_owned()];
        let t = parties(&actors, &[]);
        let member = CallContext::user("bob", ["reviewers"]);
        assert!(may_act_on_task(&member, &t) && may_manage_task(&member, &t));
        let out = CallContext::user("mallory", ["members"]);
        assert!(!may_see_task(&out, &t) && !may_act_on_task(&out, &t));
        assert!(!may_see_workflow(&out, Some("init"), [t].into_iter()));
        assert!(!may_cancel_workflow(&out, Some("init")));
    }

    #[test]
    fn power_users_see_and_cancel_workflows_but_not_tasks() {
        let mut p = CallContext::user("pat", ["ops"]);
        p.poweruser = true;
        assert!(may_see_workflow(&p, Some("init"), std::iter::empty()));
        assert!(may_cancel_workflow(&p, Some("init")));
        let actors = vec!["jdoe".to_owned()];
        assert!(!may_act_on_task(&p, &parties(&actors, &[])));
    }
}
