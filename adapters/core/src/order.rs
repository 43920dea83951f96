//! The one order of task lists (inboxes), used by every engine and by the gateway when
//! it merges the lists of several engines.

use std::cmp::Ordering;

use crate::Task;

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
        .then_with(|| a.id.len().cmp(&b.id.len()))
        .then_with(|| a.id.cmp(&b.id))
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
}
