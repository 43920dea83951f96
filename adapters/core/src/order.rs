//! The orders of task and workflow lists, used by every engine and by the gateway when
//! it merges the lists of several engines: the one default order of task lists (the
//! inbox), the default order of workflow lists (creation time), and the orders a caller
//! may ask for with a [`TaskSort`] or a [`WorkflowSort`].
//!
//! Sorting is total and deterministic: ties on the chosen key fall back to the default
//! order, so an engine and the gateway merging several engines agree on every position,
//! and a page of a sorted list is a slice of the sorted whole.

use std::cmp::Ordering;

use chrono::{DateTime, Utc};

use crate::{Task, WorkflowInstance};

/// What a task list may be sorted by.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TaskSortKey {
    /// Due date; tasks without one come last in both directions.
    DueDate,
    /// Creation time.
    Created,
    /// Task name, compared without regard to case.
    Name,
}

/// What a workflow list may be sorted by.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum WorkflowSortKey {
    /// Start time.
    Created,
    /// Instance name, compared without regard to case.
    Name,
    /// Title, compared without regard to case.
    Title,
}

/// A sort key with its direction.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Sort<K> {
    /// What to compare first.
    pub key: K,
    /// Largest first.
    pub descending: bool,
}

impl<K> Sort<K> {
    /// Ascending by `key`.
    pub fn asc(key: K) -> Self {
        Self {
            key,
            descending: false,
        }
    }

    /// Descending by `key`.
    pub fn desc(key: K) -> Self {
        Self {
            key,
            descending: true,
        }
    }

    fn directed(&self, o: Ordering) -> Ordering {
        if self.descending {
            o.reverse()
        } else {
            o
        }
    }
}

/// The order a task query asks for.
pub type TaskSort = Sort<TaskSortKey>;

/// The order a workflow query asks for.
pub type WorkflowSort = Sort<WorkflowSortKey>;

/// Ids compare shorter first, then byte-wise (numeric ids compare as numbers).
fn by_id(a: &str, b: &str) -> Ordering {
    a.len().cmp(&b.len()).then_with(|| a.cmp(b))
}

/// Text compares case-insensitively, then exactly (so that the order is total).
fn by_text(a: &str, b: &str) -> Ordering {
    a.chars()
        .flat_map(char::to_lowercase)
        .cmp(b.chars().flat_map(char::to_lowercase))
        .then_with(|| a.cmp(b))
}

/// The inbox order: due date ascending, tasks without a due date last; then creation
/// time; then id, shorter ids first (so numeric ids compare as numbers).
pub fn inbox(a: &Task, b: &Task) -> Ordering {
    let due = match (a.due_date, b.due_date) {
        (Some(x), Some(y)) => x.cmp(&y),
        (Some(_), None) => Ordering::Less,
        (None, Some(_)) => Ordering::Greater,
        (None, None) => Ordering::Equal,
    };
    due.then_with(|| a.created.cmp(&b.created))
        .then_with(|| by_id(&a.id, &b.id))
}

/// The order of a task query: [`inbox`] without a sort; otherwise the sort's key in its
/// direction, ties in [`inbox`] order. Ascending by due date is the inbox order itself.
pub fn tasks(sort: Option<&TaskSort>, a: &Task, b: &Task) -> Ordering {
    let Some(s) = sort else {
        return inbox(a, b);
    };
    let first = match s.key {
        TaskSortKey::DueDate => match (a.due_date, b.due_date) {
            (Some(x), Some(y)) => s.directed(x.cmp(&y)),
            (Some(_), None) => Ordering::Less,
            (None, Some(_)) => Ordering::Greater,
            (None, None) => Ordering::Equal,
        },
        TaskSortKey::Created => s.directed(a.created.cmp(&b.created)),
        TaskSortKey::Name => s.directed(by_text(&a.name, &b.name)),
    };
    first.then_with(|| inbox(a, b))
}

/// Sorts a task list in the order of [`tasks`].
pub fn sort_tasks(list: &mut [Task], sort: Option<&TaskSort>) {
    list.sort_by(|a, b| tasks(sort, a, b));
}

/// Whether a task list is in the order of [`tasks`].
pub fn is_task_ordered(list: &[Task], sort: Option<&TaskSort>) -> bool {
    list.windows(2)
        .all(|w| tasks(sort, &w[0], &w[1]) != Ordering::Greater)
}

/// What workflow lists are sorted on, borrowed from an instance or from whatever an
/// engine reads before it builds instances.
#[derive(Clone, Copy, Debug)]
pub struct WorkflowKeys<'a> {
    /// Instance id, as the engine hands it out.
    pub id: &'a str,
    /// Instance name.
    pub name: &'a str,
    /// Title.
    pub title: &'a str,
    /// Start time.
    pub created: DateTime<Utc>,
}

impl<'a> From<&'a WorkflowInstance> for WorkflowKeys<'a> {
    fn from(w: &'a WorkflowInstance) -> Self {
        Self {
            id: &w.id,
            name: &w.name,
            title: &w.title,
            created: w.created,
        }
    }
}

/// The order of a workflow query: by start time then id without a sort; otherwise the
/// sort's key in its direction, ties by start time then id.
pub fn workflow_keys(sort: Option<&WorkflowSort>, a: &WorkflowKeys, b: &WorkflowKeys) -> Ordering {
    let default = || a.created.cmp(&b.created).then_with(|| by_id(a.id, b.id));
    let Some(s) = sort else {
        return default();
    };
    let first = match s.key {
        WorkflowSortKey::Created => s.directed(a.created.cmp(&b.created)),
        WorkflowSortKey::Name => s.directed(by_text(a.name, b.name)),
        WorkflowSortKey::Title => s.directed(by_text(a.title, b.title)),
    };
    first.then_with(default)
}

/// [`workflow_keys`] on instances.
pub fn workflows(
    sort: Option<&WorkflowSort>,
    a: &WorkflowInstance,
    b: &WorkflowInstance,
) -> Ordering {
    workflow_keys(sort, &a.into(), &b.into())
}

/// Sorts a workflow list in the order of [`workflows`].
pub fn sort_workflows(list: &mut [WorkflowInstance], sort: Option<&WorkflowSort>) {
    list.sort_by(|a, b| workflows(sort, a, b));
}

/// Whether a workflow list is in the order of [`workflows`].
pub fn is_workflow_ordered(list: &[WorkflowInstance], sort: Option<&WorkflowSort>) -> bool {
    list.windows(2)
        .all(|w| workflows(sort, &w[0], &w[1]) != Ordering::Greater)
}

/// Sorts a task list in [`inbox`] order.
pub fn sort_inbox(tasks: &mut [Task]) {
    tasks.sort_by(inbox);
}

/// Whether a task list is in [`inbox`] order.
pub fn is_inbox_ordered(tasks: &[Task]) -> bool {
    tasks
        .windows(2)
        .all(|w| inbox(&w[0], &w[1]) != Ordering::Greater)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::TaskState;
    use chrono::{DateTime, TimeZone, Utc};

    fn at(s: i64) -> DateTime<Utc> {
        Utc.timestamp_opt(s, 0).single().unwrap_or_default()
    }

    fn task(id: &str, created: i64, due: Option<i64>) -> Task {
        Task {
            id: id.into(),
            name: "t".into(),
            workflow_id: None,
            workflow_model_name: None,
            workflow_initiator: None,
            workflow_title: None,
            workflow_state: None,
            state: TaskState::Opened,
            directive: None,
            created: at(created),
            due_date: due.map(at),
            node_id: "n".into(),
            target_documents: Vec::new(),
            actors: Vec::new(),
            delegated_actors: Vec::new(),
            comments: Vec::new(),
            variables: Default::default(),
            info: Default::default(),
            initiator: None,
        }
    }

    #[test]
    fn due_first_then_creation_then_id() {
        let mut ts = vec![
            task("10", 5, None),
            task("9", 5, None),
            task("a", 1, None),
            task("b", 9, Some(200)),
            task("c", 9, Some(100)),
            task("d", 3, Some(200)),
        ];
        sort_inbox(&mut ts);
        let ids: Vec<&str> = ts.iter().map(|t| t.id.as_str()).collect();
        assert_eq!(ids, ["c", "d", "b", "a", "9", "10"]);
        assert!(is_inbox_ordered(&ts));
        ts.swap(0, 1);
        assert!(!is_inbox_ordered(&ts));
    }

    fn named(id: &str, name: &str, created: i64, due: Option<i64>) -> Task {
        Task {
            name: name.into(),
            ..task(id, created, due)
        }
    }

    fn ids(ts: &[Task]) -> Vec<&str> {
        ts.iter().map(|t| t.id.as_str()).collect()
    }

    fn sample() -> Vec<Task> {
        vec![
            named("a", "beta", 1, Some(300)),
            named("b", "Alpha", 2, None),
            named("c", "gamma", 3, Some(100)),
            named("d", "alpha", 4, Some(200)),
        ]
    }

    #[test]
    fn ascending_due_date_is_the_inbox_order() {
        let mut ts = sample();
        sort_tasks(&mut ts, Some(&Sort::asc(TaskSortKey::DueDate)));
        assert_eq!(ids(&ts), ["c", "d", "a", "b"]);
        assert!(is_inbox_ordered(&ts));
        sort_tasks(&mut ts, None);
        assert_eq!(ids(&ts), ["c", "d", "a", "b"]);
    }

    #[test]
    fn descending_due_date_keeps_undated_tasks_last() {
        let mut ts = sample();
        let s = Sort::desc(TaskSortKey::DueDate);
        sort_tasks(&mut ts, Some(&s));
        assert_eq!(ids(&ts), ["a", "d", "c", "b"]);
        assert!(is_task_ordered(&ts, Some(&s)));
        assert!(!is_inbox_ordered(&ts));
    }

    #[test]
    fn creation_and_name_in_both_directions() {
        let mut ts = sample();
        sort_tasks(&mut ts, Some(&Sort::asc(TaskSortKey::Created)));
        assert_eq!(ids(&ts), ["a", "b", "c", "d"]);
        sort_tasks(&mut ts, Some(&Sort::desc(TaskSortKey::Created)));
        assert_eq!(ids(&ts), ["d", "c", "b", "a"]);
        // Case-insensitive, then exact ("Alpha" < "alpha"), then the inbox order.
        sort_tasks(&mut ts, Some(&Sort::asc(TaskSortKey::Name)));
        assert_eq!(ids(&ts), ["b", "d", "a", "c"]);
        sort_tasks(&mut ts, Some(&Sort::desc(TaskSortKey::Name)));
        assert_eq!(ids(&ts), ["c", "a", "d", "b"]);
    }

    #[test]
    fn equal_keys_fall_back_to_the_inbox_order() {
        let mut ts = vec![
            named("x2", "same", 5, Some(10)),
            named("x1", "same", 5, Some(10)),
            named("x3", "same", 1, None),
        ];
        for s in [Sort::asc(TaskSortKey::Name), Sort::desc(TaskSortKey::Name)] {
            sort_tasks(&mut ts, Some(&s));
            assert_eq!(ids(&ts), ["x1", "x2", "x3"], "{s:?}");
        }
    }

    fn wf(id: &str, name: &str, title: &str, created: i64) -> WorkflowInstance {
        WorkflowInstance {
            id: id.into(),
            name: name.into(),
            title: title.into(),
            state: crate::WorkflowState::Running,
            model_name: name.into(),
            initiator: None,
            attached_documents: Vec::new(),
            variables: Default::default(),
            created: at(created),
            ended: None,
        }
    }

    #[test]
    fn workflows_default_to_creation_then_id() {
        let mut ws = vec![
            wf("10", "m", "t", 5),
            wf("9", "m", "t", 5),
            wf("1", "m", "t", 7),
            wf("2", "m", "t", 1),
        ];
        sort_workflows(&mut ws, None);
        let got: Vec<&str> = ws.iter().map(|w| w.id.as_str()).collect();
        assert_eq!(got, ["2", "9", "10", "1"]);
        assert!(is_workflow_ordered(
            &ws,
            Some(&Sort::asc(WorkflowSortKey::Created))
        ));
    }

    #[test]
    fn workflows_by_name_title_and_creation() {
        let mut ws = vec![
            wf("1", "b", "Zeta", 1),
            wf("2", "a", "eta", 2),
            wf("3", "C", "theta", 3),
        ];
        let order =
            |ws: &[WorkflowInstance]| -> Vec<String> { ws.iter().map(|w| w.id.clone()).collect() };
        sort_workflows(&mut ws, Some(&Sort::asc(WorkflowSortKey::Name)));
        assert_eq!(order(&ws), ["2", "1", "3"]);
        sort_workflows(&mut ws, Some(&Sort::desc(WorkflowSortKey::Title)));
        assert_eq!(order(&ws), ["1", "3", "2"]);
        sort_workflows(&mut ws, Some(&Sort::desc(WorkflowSortKey::Created)));
        assert_eq!(order(&ws), ["3", "2", "1"]);
        assert!(!is_workflow_ordered(&ws, None));
    }
}
