//! Cases of the lists: queries by user, workflow, document and model, paging, and
//! the inbox order.

use super::*;

/// Queries by user, workflow, document and model find the instance and its task.
pub async fn queries_find_by_user_workflow_document_model(e: &dyn WorkflowEngine, f: &Fixture) {
    let wf = start(e, f).await;
    let first_step = f.approve_path.first().expect("approve path has a step");
    let worker = f.user(first_step.who);
    let t = task_for(e, f, &wf.id, worker).await;
    let has = |p: &[Task]| p.iter().any(|x| x.id == t.id);
    let q = TaskQuery::for_actor(worker.user.clone(), worker.groups.clone());
    assert!(
        has(&e.tasks(worker, q).await.expect("by user").items),
        "[{}] by user",
        f.label
    );
    let q = TaskQuery::for_workflow(&wf.id);
    assert!(
        has(&e.tasks(worker, q).await.expect("by workflow").items),
        "[{}] by workflow",
        f.label
    );
    let q = TaskQuery {
        document: Some(f.document.clone()),
        ..Default::default()
    };
    assert!(
        has(&e.tasks(&f.admin, q).await.expect("by document").items),
        "[{}] by document",
        f.label
    );
    let q = TaskQuery {
        model_name: Some(f.model.clone()),
        ..Default::default()
    };
    assert!(
        has(&e.tasks(&f.admin, q).await.expect("by model").items),
        "[{}] by model",
        f.label
    );
    let q = TaskQuery::for_actor(f.outsider.user.clone(), f.outsider.groups.clone());
    assert!(
        !has(&e.tasks(&f.outsider, q).await.expect("outsider").items),
        "[{}] outsider",
        f.label
    );

    let has_wf = |p: &[WorkflowInstance]| p.iter().any(|x| x.id == wf.id);
    let q = WorkflowQuery {
        initiator: Some(f.initiator.user.clone()),
        ..Default::default()
    };
    assert!(
        has_wf(
            &e.workflows(&f.initiator, q)
                .await
                .expect("by initiator")
                .items
        ),
        "[{}]",
        f.label
    );
    let q = WorkflowQuery {
        document: Some(f.document.clone()),
        ..Default::default()
    };
    assert!(
        has_wf(
            &e.workflows(&f.initiator, q)
                .await
                .expect("by document")
                .items
        ),
        "[{}]",
        f.label
    );
    let q = WorkflowQuery {
        model_name: Some(f.model.clone()),
        ..Default::default()
    };
    assert!(
        has_wf(&e.workflows(&f.admin, q).await.expect("by model").items),
        "[{}]",
        f.label
    );
    let q = WorkflowQuery {
        model_name: Some("NoSuchModelAnywhere".into()),
        ..Default::default()
    };
    assert!(
        e.workflows(&f.admin, q)
            .await
            .expect("no match")
            .items
            .is_empty(),
        "[{}]",
        f.label
    );
}

/// Paging keeps the total and slices the ordered list.
pub async fn paging_reports_totals(e: &dyn WorkflowEngine, f: &Fixture) {
    for _ in 0..3 {
        start(e, f).await;
    }
    let q = |page| TaskQuery {
        model_name: Some(f.model.clone()),
        page,
        ..Default::default()
    };
    let all = e
        .tasks(&f.admin, q(PageRequest::all()))
        .await
        .expect("all tasks");
    let n = all.total;
    assert!(n >= 3, "[{}] at least three open tasks, got {n}", f.label);
    assert_eq!(
        all.items.len(),
        n,
        "[{}] unpaged list holds the total",
        f.label
    );
    let page = e
        .tasks(&f.admin, q(PageRequest::new(1, 2)))
        .await
        .expect("page");
    assert_eq!(page.total, n, "[{}] total unchanged by paging", f.label);
    assert_eq!(page.items.len(), 2.min(n - 1), "[{}]", f.label);
    let ids: Vec<&str> = page.items.iter().map(|t| t.id.as_str()).collect();
    let expected: Vec<&str> = all
        .items
        .iter()
        .skip(1)
        .take(2)
        .map(|t| t.id.as_str())
        .collect();
    assert_eq!(ids, expected, "[{}] page follows the full order", f.label);
    let past = e
        .tasks(&f.admin, q(PageRequest::new(n, 10)))
        .await
        .expect("past the end");
    assert!(past.items.is_empty());
    assert_eq!(past.total, n);

    let wq = |page| WorkflowQuery {
        initiator: Some(f.initiator.user.clone()),
        page,
        ..Default::default()
    };
    let all = e
        .workflows(&f.initiator, wq(PageRequest::all()))
        .await
        .expect("all workflows");
    assert!(
        all.total >= 3 && all.items.len() == all.total,
        "[{}]",
        f.label
    );
    let page = e
        .workflows(&f.initiator, wq(PageRequest::new(0, 1)))
        .await
        .expect("page");
    assert_eq!(
        (page.items.len(), page.total),
        (1, all.total),
        "[{}]",
        f.label
    );
}

/// Every task list comes in the one inbox order of `flowgate_core::order::inbox`: due
/// date ascending (none last), then creation time, then id.
pub async fn task_lists_are_in_inbox_order(e: &dyn WorkflowEngine, f: &Fixture) {
    for _ in 0..3 {
        start(e, f).await;
    }
    let first_step = f.approve_path.first().expect("approve path has a step");
    let worker = f.user(first_step.who);
    let queries = [
        ("all open tasks", &f.admin, TaskQuery::default()),
        (
            "by model",
            &f.admin,
            TaskQuery {
                model_name: Some(f.model.clone()),
                ..Default::default()
            },
        ),
        (
            "by document",
            &f.admin,
            TaskQuery {
                document: Some(f.document.clone()),
                ..Default::default()
            },
        ),
        (
            "by user",
            worker,
            TaskQuery::for_actor(worker.user.clone(), worker.groups.clone()),
        ),
    ];
    for (what, cx, q) in queries {
        let page = e.tasks(cx, q).await.expect(what);
        assert!(!page.items.is_empty(), "[{}] {what}: no tasks", f.label);
        let order: Vec<_> = page
            .items
            .iter()
            .map(|t| (t.due_date, t.created, t.id.as_str()))
            .collect();
        assert!(
            flowgate_core::order::is_inbox_ordered(&page.items),
            "[{}] {what}: not in inbox order: {order:?}",
            f.label
        );
    }
}
