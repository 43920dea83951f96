//! What a poll reads from the upstream, through the engine's own trait methods as an
//! administrator (the adapter's service account): the running instances, the open
//! tasks, and what became of those no longer listed.

use async_trait::async_trait;
use flowgate_core::{
    CallContext, ErrorKind, PageRequest, Task, TaskQuery, TaskState, WorkflowEngine, WorkflowQuery,
    WorkflowState,
};

use crate::diff::{SeenTask, SeenWorkflow, Snapshot, TaskEnd, WorkflowEnd};

/// The running instances and open tasks, at most `max` of each; an upstream holding
/// more is an error (what a capped list misses would look ended).
pub(crate) async fn observe(
    engine: &dyn WorkflowEngine,
    cx: &CallContext,
    max: usize,
) -> Result<Snapshot, String> {
    let wq = WorkflowQuery {
        running_only: true,
        page: PageRequest::new(0, max),
        ..WorkflowQuery::default()
    };
    let workflows = engine
        .workflows(cx, wq)
        .await
        .map_err(|e| format!("listing running workflows: {}", e.message()))?;
    if workflows.total > workflows.items.len() {
        return Err(format!(
            "{} running workflows, more than events_max_items ({max})",
            workflows.total
        ));
    }
    let tq = TaskQuery {
        open_only: true,
        page: PageRequest::new(0, max),
        ..TaskQuery::default()
    };
    let tasks = engine
        .tasks(cx, tq)
        .await
        .map_err(|e| format!("listing open tasks: {}", e.message()))?;
    if tasks.total > tasks.items.len() {
        return Err(format!(
            "{} open tasks, more than events_max_items ({max})",
            tasks.total
        ));
    }
    let open: Vec<Task> = tasks
        .items
        .into_iter()
        .filter(|t| t.state == TaskState::Opened)
        .collect();
    Ok(Snapshot::of(&workflows.items, &open))
}

/// What an adapter can tell about a completion beyond the ended task itself (from
/// the upstream's history).
#[async_trait]
pub trait Completions: Send + Sync {
    /// The action ended task `task` was completed with and the user who completed it,
    /// each when the upstream says.
    async fn completion(&self, cx: &CallContext, task: &Task) -> (Option<String>, Option<String>);
}

/// No more than the ended task says.
#[derive(Debug, Clone, Copy, Default)]
pub struct TaskOnly;

#[async_trait]
impl Completions for TaskOnly {
    async fn completion(&self, _: &CallContext, _: &Task) -> (Option<String>, Option<String>) {
        (None, None)
    }
}

/// What became of task `t`, read again by id.
pub(crate) async fn task_end(
    engine: &dyn WorkflowEngine,
    more: &dyn Completions,
    cx: &CallContext,
    t: &SeenTask,
) -> Result<TaskEnd, String> {
    match engine.task(cx, &t.id).await {
        Ok(task) => Ok(match task.state {
            TaskState::Opened => TaskEnd::StillOpen,
            TaskState::Cancelled => TaskEnd::Cancelled,
            TaskState::Ended => {
                let (action, actor) = more.completion(cx, &task).await;
                TaskEnd::Ended {
                    action: action.or_else(|| action_of(&task)),
                    actor: actor.or_else(|| actor_of(&task)),
                    comment: task
                        .comments
                        .iter()
                        .rev()
                        .find(|c| c.date >= task.created)
                        .and_then(|c| c.text.clone()),
                }
            }
        }),
        // Deleted upstream with its instance: nobody completed it.
        Err(e) if e.kind() == ErrorKind::NotFound => Ok(TaskEnd::Cancelled),
        Err(e) => Err(format!("reading ended task {}: {}", t.id, e.message())),
    }
}

/// What became of instance `w`, read again by id.
pub(crate) async fn workflow_end(
    engine: &dyn WorkflowEngine,
    cx: &CallContext,
    w: &SeenWorkflow,
) -> Result<WorkflowEnd, String> {
    match engine.workflow(cx, &w.id).await {
        Ok(wf) => Ok(match wf.state {
            WorkflowState::Done => WorkflowEnd::Finished(wf.ended),
            WorkflowState::Canceled => WorkflowEnd::Canceled(wf.ended),
            _ => WorkflowEnd::StillRunning,
        }),
        // Deleted upstream while running: Alfresco and AEM delete to cancel.
        Err(e) if e.kind() == ErrorKind::NotFound => Ok(WorkflowEnd::Canceled(None)),
        Err(e) => Err(format!("reading ended workflow {}: {}", w.id, e.message())),
    }
}

/// The action an ended task was completed with: the one of its actions a variable of
/// the task holds (the upstream's outcome variable), or its only action.
pub(crate) fn action_of(t: &Task) -> Option<String> {
    let actions = &t.info.actions;
    let held = t
        .variables
        .values()
        .filter_map(|v| v.as_str())
        .find_map(|v| {
            actions
                .iter()
                .find(|a| a.name.eq_ignore_ascii_case(v))
                .map(|a| a.name.clone())
        });
    match (held, actions.as_slice()) {
        (Some(a), _) => Some(a),
        (None, [only]) => Some(only.name.clone()),
        _ => None,
    }
}

/// The user who completed an ended task: its only user actor, else the author of the
/// last comment written since it was created.
pub(crate) fn actor_of(t: &Task) -> Option<String> {
    let users: Vec<&str> = t
        .actors
        .iter()
        .filter(|a| !a.starts_with("group:"))
        .map(|a| a.strip_prefix("user:").unwrap_or(a))
        .collect();
    match users.as_slice() {
        [one] if t.actors.len() == 1 => Some((*one).to_owned()),
        _ => t
            .comments
            .iter()
            .rev()
            .find(|c| c.date >= t.created)
            .map(|c| c.author.clone()),
    }
}
