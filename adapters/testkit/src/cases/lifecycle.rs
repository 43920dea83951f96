//! Cases of a workflow's life: models, start, the approve and reject paths, reassign,
//! delegate and cancel.

use super::*;

/// Models are listed and found by name; an unknown name is NotFound.
pub async fn models_include_fixture_model(e: &dyn WorkflowEngine, f: &Fixture) {
    let models = e.models(&f.initiator).await.expect("models");
    assert!(
        models.iter().any(|m| m.name == f.model),
        "[{}] {} not listed",
        f.label,
        f.model
    );
    let names: Vec<&str> = models.iter().map(|m| m.name.as_str()).collect();
    let mut sorted = names.clone();
    sorted.sort();
    assert_eq!(names, sorted, "[{}] models are sorted by name", f.label);
    let m = e
        .model(&f.initiator, &f.model)
        .await
        .expect("model by name");
    assert_eq!(m.name, f.model);
    expect_kind(
        f,
        "unknown model",
        e.model(&f.initiator, "NoSuchModelAnywhere").await,
        ErrorKind::NotFound,
    );
    let req = StartWorkflow {
        model: "NoSuchModelAnywhere".into(),
        ..Default::default()
    };
    expect_kind(
        f,
        "start unknown model",
        e.start(&f.initiator, req).await,
        ErrorKind::NotFound,
    );
}

/// Starting gives a running instance and the expected first task.
pub async fn start_shows_first_task(e: &dyn WorkflowEngine, f: &Fixture) {
    let wf = start(e, f).await;
    assert_eq!(wf.state, WorkflowState::Running, "[{}]", f.label);
    assert_eq!(wf.model_name, f.model, "[{}]", f.label);
    assert_eq!(
        wf.initiator.as_deref(),
        Some(f.initiator.user.as_str()),
        "[{}]",
        f.label
    );
    assert!(
        wf.attached_documents.contains(&f.document),
        "[{}] document attached",
        f.label
    );
    let tasks = open_tasks(e, f, &wf.id).await;
    assert_eq!(tasks.len(), 1, "[{}] one first task: {tasks:#?}", f.label);
    let t = &tasks[0];
    assert_eq!(
        t.actors, f.first_task.actors,
        "[{}] first task actors",
        f.label
    );
    let actions: Vec<&str> = t.info.actions.iter().map(|a| a.name.as_str()).collect();
    assert_eq!(
        actions, f.first_task.actions,
        "[{}] first task actions",
        f.label
    );
    if let Some(allow) = f.first_task.allow_reassignment {
        assert_eq!(
            t.info.allow_reassignment, allow,
            "[{}] allowTaskReassignment",
            f.label
        );
    }
    assert_eq!(t.state, TaskState::Opened);
    assert_eq!(t.workflow_id.as_deref(), Some(wf.id.as_str()));
    assert!(
        t.target_documents.contains(&f.document),
        "[{}] task targets the document",
        f.label
    );
    let again = e
        .workflow(&f.initiator, &wf.id)
        .await
        .expect("initiator reads the workflow");
    assert_eq!(again.id, wf.id);
    let by_id = e
        .task(&f.initiator, &t.id)
        .await
        .expect("initiator reads the task");
    assert_eq!(by_id.id, t.id);
}

/// The approve path ends the workflow `done`.
pub async fn approve_path_ends_done(e: &dyn WorkflowEngine, f: &Fixture) {
    walk_to_done(e, f, &f.approve_path).await;
}

/// The reject path, when the model has one, ends the workflow `done`.
pub async fn reject_path_ends_done(e: &dyn WorkflowEngine, f: &Fixture) {
    if let Some(path) = &f.reject_path {
        walk_to_done(e, f, path).await;
    }
}

async fn reach_reassignable<'f>(
    e: &dyn WorkflowEngine,
    f: &'f Fixture,
) -> (WorkflowInstance, Task, &'f Step) {
    let wf = start(e, f).await;
    for (i, s) in f.approve_path.iter().take(f.reassignable_after).enumerate() {
        perform(e, f, &wf.id, i, s).await;
    }
    let step = f
        .approve_path
        .get(f.reassignable_after)
        .unwrap_or_else(|| panic!("[{}] reassignable_after is past the approve path", f.label));
    let t = task_for(e, f, &wf.id, f.user(step.who)).await;
    (wf, t, step)
}

/// Reassign replaces the actors (prefixes stripped); the new actor can complete.
pub async fn reassign_replaces_actors(e: &dyn WorkflowEngine, f: &Fixture) {
    if !e.info().capabilities.reassign {
        let wf = start(e, f).await;
        let t = &open_tasks(e, f, &wf.id).await[0];
        let r = e
            .reassign(&f.initiator, &t.id, vec![f.spare.user.clone()], None)
            .await;
        expect_kind(f, "reassign without capability", r, ErrorKind::Unsupported);
        return;
    }
    if f.first_task.allow_reassignment == Some(false) {
        let wf = start(e, f).await;
        let t = &open_tasks(e, f, &wf.id).await[0];
        let r = e
            .reassign(&f.admin, &t.id, vec![f.spare.user.clone()], None)
            .await;
        expect_kind(
            f,
            "reassign where the node forbids it",
            r,
            ErrorKind::Conflict,
        );
    }
    let (wf, t, step) = reach_reassignable(e, f).await;
    let r = e
        .reassign(
            &f.outsider,
            &t.id,
            vec![format!("user:{}", f.outsider.user)],
            None,
        )
        .await;
    expect_kind(f, "outsider reassigns", r, ErrorKind::Forbidden);
    let to = format!("user:{}", f.spare.user);
    e.reassign(&f.initiator, &t.id, vec![to], Some("over to you".into()))
        .await
        .unwrap_or_else(|err| panic!("[{}] reassign: {err:?}", f.label));
    let after = e.task(&f.admin, &t.id).await.expect("task after reassign");
    assert_eq!(
        after.actors,
        vec![f.spare.user.clone()],
        "[{}] actors replaced, prefix stripped",
        f.label
    );
    assert_eq!(
        after.delegated_actors, t.delegated_actors,
        "[{}] delegated actors untouched",
        f.label
    );
    let c = after.comments.last().expect("reassign comment");
    assert_eq!(c.text.as_deref(), Some("over to you"));
    assert_eq!(c.author, f.initiator.user);
    let old = f.user(step.who);
    let old_tasks = e
        .tasks(
            old,
            TaskQuery::for_actor(old.user.clone(), old.groups.clone()),
        )
        .await
        .expect("old actor's tasks");
    assert!(
        !old_tasks.items.iter().any(|x| x.id == t.id),
        "[{}] old actor still has the task",
        f.label
    );
    let spare_tasks = e
        .tasks(
            &f.spare,
            TaskQuery::for_actor(f.spare.user.clone(), f.spare.groups.clone()),
        )
        .await
        .expect("new actor's tasks");
    assert!(
        spare_tasks.items.iter().any(|x| x.id == t.id),
        "[{}] new actor lacks the task",
        f.label
    );
    let done = e.complete(&f.spare, &t.id, completion(step)).await;
    assert_eq!(
        done.map(|d| d.state),
        Ok(TaskState::Ended),
        "[{}] new actor completes",
        f.label
    );
    let _ = wf;
}

/// Delegate adds delegated actors; a delegated actor can complete.
pub async fn delegate_lets_delegate_complete(e: &dyn WorkflowEngine, f: &Fixture) {
    if !e.info().capabilities.delegate {
        let wf = start(e, f).await;
        let t = &open_tasks(e, f, &wf.id).await[0];
        let r = e
            .delegate(&f.initiator, &t.id, vec![f.spare.user.clone()], None)
            .await;
        expect_kind(f, "delegate without capability", r, ErrorKind::Unsupported);
        return;
    }
    let (_wf, t, step) = reach_reassignable(e, f).await;
    let r = e
        .delegate(&f.outsider, &t.id, vec![f.outsider.user.clone()], None)
        .await;
    expect_kind(f, "outsider delegates", r, ErrorKind::Forbidden);
    let to = format!("user:{}", f.spare.user);
    e.delegate(&f.initiator, &t.id, vec![to.clone()], None)
        .await
        .unwrap_or_else(|err| panic!("[{}] delegate: {err:?}", f.label));
    e.delegate(&f.initiator, &t.id, vec![to], None)
        .await
        .unwrap_or_else(|err| panic!("[{}] delegate again: {err:?}", f.label));
    let after = e
        .task(&f.spare, &t.id)
        .await
        .expect("delegated actor reads the task");
    assert_eq!(
        after.delegated_actors,
        vec![f.spare.user.clone()],
        "[{}] delegated once, prefix stripped",
        f.label
    );
    assert_eq!(after.actors, t.actors, "[{}] actors untouched", f.label);
    let done = e.complete(&f.spare, &t.id, completion(step)).await;
    assert_eq!(
        done.map(|d| d.state),
        Ok(TaskState::Ended),
        "[{}] delegated actor completes",
        f.label
    );
}

/// Cancel: outsiders refused; tasks cancelled, workflow canceled; a second cancel refused.
pub async fn cancel_cancels_tasks_and_refuses_second_cancel(e: &dyn WorkflowEngine, f: &Fixture) {
    let wf = start(e, f).await;
    let first = open_tasks(e, f, &wf.id).await;
    expect_kind(
        f,
        "outsider cancels",
        e.cancel(&f.outsider, &wf.id).await,
        ErrorKind::Forbidden,
    );
    assert_eq!(
        e.workflow(&f.admin, &wf.id).await.map(|w| w.state),
        Ok(WorkflowState::Running)
    );
    e.cancel(&f.initiator, &wf.id)
        .await
        .unwrap_or_else(|err| panic!("[{}] cancel: {err:?}", f.label));
    let after = e
        .workflow(&f.admin, &wf.id)
        .await
        .expect("canceled workflow stays readable");
    assert_eq!(after.state, WorkflowState::Canceled, "[{}]", f.label);
    assert!(
        open_tasks(e, f, &wf.id).await.is_empty(),
        "[{}] open tasks after cancel",
        f.label
    );
    for t in first {
        let t = e
            .task(&f.admin, &t.id)
            .await
            .expect("cancelled task stays readable");
        assert_eq!(t.state, TaskState::Cancelled, "[{}]", f.label);
    }
    expect_kind(
        f,
        "second cancel",
        e.cancel(&f.initiator, &wf.id).await,
        ErrorKind::BadRequest,
    );
}
