//! Sorted task and workflow lists: every engine orders them as
//! `flowgate_core::order::{tasks, workflows}` say, for every key in both directions,
//! and a page is a slice of the sorted whole.

use std::time::Duration;

use flowgate_core::order::{is_task_ordered, is_workflow_ordered};
use flowgate_core::{
    PageRequest, Sort, TaskQuery, TaskSort, TaskSortKey, WorkflowEngine, WorkflowQuery,
    WorkflowSort, WorkflowSortKey,
};

use crate::cases::{perform, start};
use crate::Fixture;

/// Every task order a caller may ask for, the default one first.
fn task_sorts() -> Vec<Option<TaskSort>> {
    let mut out = vec![None];
    for key in [
        TaskSortKey::DueDate,
        TaskSortKey::Created,
        TaskSortKey::Name,
    ] {
        out.push(Some(Sort::asc(key)));
        out.push(Some(Sort::desc(key)));
    }
    out
}

/// Every workflow order a caller may ask for, the default one first.
fn workflow_sorts() -> Vec<Option<WorkflowSort>> {
    let mut out = vec![None];
    for key in [
        WorkflowSortKey::Created,
        WorkflowSortKey::Name,
        WorkflowSortKey::Title,
    ] {
        out.push(Some(Sort::asc(key)));
        out.push(Some(Sort::desc(key)));
    }
    out
}

/// Three workflows started more than a second apart (some engines keep seconds only),
/// the first one a step further when the approve path has more than one step, so that
/// the open tasks differ in creation time and, where the model says so, in name and due
/// date. Task and workflow lists then follow every requested order, and their pages are
/// slices of the sorted whole.
pub async fn lists_follow_the_requested_sort(e: &dyn WorkflowEngine, f: &Fixture) {
    let mut started = Vec::new();
    for i in 0..3 {
        if i > 0 {
            tokio::time::sleep(Duration::from_millis(1100)).await;
        }
        started.push(start(e, f).await);
    }
    if let (true, Some(first)) = (f.approve_path.len() > 1, f.approve_path.first()) {
        tokio::time::sleep(Duration::from_millis(1100)).await;
        perform(e, f, &started[0].id, 0, first).await;
    }

    let tq = |sort: Option<TaskSort>, page| TaskQuery {
        model_name: Some(f.model.clone()),
        sort,
        page,
        ..Default::default()
    };
    let default = e
        .tasks(&f.admin, tq(None, PageRequest::all()))
        .await
        .expect("tasks in the default order");
    assert!(
        default.total >= 3,
        "[{}] at least three open tasks, got {}",
        f.label,
        default.total
    );
    let mut default_ids: Vec<String> = default.items.iter().map(|t| t.id.clone()).collect();
    default_ids.sort();
    for sort in task_sorts() {
        let all = e
            .tasks(&f.admin, tq(sort, PageRequest::all()))
            .await
            .unwrap_or_else(|err| panic!("[{}] tasks by {sort:?}: {err:?}", f.label));
        let shown: Vec<_> = all
            .items
            .iter()
            .map(|t| (t.name.as_str(), t.due_date, t.created, t.id.as_str()))
            .collect();
        assert!(
            is_task_ordered(&all.items, sort.as_ref()),
            "[{}] tasks not in {sort:?} order: {shown:#?}",
            f.label
        );
        let mut ids: Vec<String> = all.items.iter().map(|t| t.id.clone()).collect();
        ids.sort();
        assert_eq!(
            (all.total, &ids),
            (default.total, &default_ids),
            "[{}] {sort:?}: the same tasks as in the default order",
            f.label
        );
        let page = e
            .tasks(&f.admin, tq(sort, PageRequest::new(1, 2)))
            .await
            .unwrap_or_else(|err| panic!("[{}] page of tasks by {sort:?}: {err:?}", f.label));
        let got: Vec<&str> = page.items.iter().map(|t| t.id.as_str()).collect();
        let want: Vec<&str> = all
            .items
            .iter()
            .skip(1)
            .take(2)
            .map(|t| t.id.as_str())
            .collect();
        assert_eq!(
            (page.total, got),
            (all.total, want),
            "[{}] {sort:?}: a page is a slice of the sorted list",
            f.label
        );
    }
    // The workflows were started more than a second apart: where the engine reports
    // creation times, newest first is not the default order, whatever the due dates.
    let dated = default.items.iter().any(|t| {
        default
            .items
            .first()
            .is_some_and(|f| f.created != t.created)
    });
    let newest_first = e
        .tasks(
            &f.admin,
            tq(Some(Sort::desc(TaskSortKey::Created)), PageRequest::all()),
        )
        .await
        .expect("tasks newest first");
    let (first, last) = (
        newest_first.items.first().map(|t| t.created),
        newest_first.items.last().map(|t| t.created),
    );
    assert!(
        !dated || first > last,
        "[{}] newest task first: {first:?} then … {last:?}",
        f.label
    );

    let wq = |sort: Option<WorkflowSort>, page| WorkflowQuery {
        initiator: Some(f.initiator.user.clone()),
        model_name: Some(f.model.clone()),
        sort,
        page,
        ..Default::default()
    };
    for sort in workflow_sorts() {
        let all = e
            .workflows(&f.initiator, wq(sort, PageRequest::all()))
            .await
            .unwrap_or_else(|err| panic!("[{}] workflows by {sort:?}: {err:?}", f.label));
        assert!(
            all.total >= 3,
            "[{}] {sort:?}: the three workflows, got {}",
            f.label,
            all.total
        );
        let shown: Vec<_> = all
            .items
            .iter()
            .map(|w| (w.name.as_str(), w.title.as_str(), w.created, w.id.as_str()))
            .collect();
        assert!(
            is_workflow_ordered(&all.items, sort.as_ref()),
            "[{}] workflows not in {sort:?} order: {shown:#?}",
            f.label
        );
        let page = e
            .workflows(&f.initiator, wq(sort, PageRequest::new(1, 1)))
            .await
            .unwrap_or_else(|err| panic!("[{}] page of workflows by {sort:?}: {err:?}", f.label));
        let got: Vec<&str> = page.items.iter().map(|w| w.id.as_str()).collect();
        let want: Vec<&str> = all
            .items
            .iter()
            .skip(1)
            .take(1)
            .map(|w| w.id.as_str())
            .collect();
        assert_eq!(
            (page.total, got),
            (all.total, want),
            "[{}] {sort:?}: a page of workflows is a slice of the sorted list",
            f.label
        );
        if sort == Some(Sort::desc(WorkflowSortKey::Created)) {
            let ids: Vec<&str> = all.items.iter().map(|w| w.id.as_str()).collect();
            let pos = |id: &str| ids.iter().position(|x| *x == id);
            let (last, first) = (pos(&started[2].id), pos(&started[0].id));
            let created = |i: Option<usize>| i.and_then(|i| all.items.get(i)).map(|w| w.created);
            assert!(
                last.is_some()
                    && first.is_some()
                    && (created(last) == created(first) || last < first),
                "[{}] the last started workflow before the first one: {ids:?}",
                f.label
            );
        }
    }
}
