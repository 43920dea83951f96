use super::*;

fn wf(id: &str) -> SeenWorkflow {
    SeenWorkflow {
        id: id.into(),
        model: "review".into(),
        documents: vec!["doc1".into()],
        initiator: "jdoe".into(),
        created: Utc::now() - chrono::Duration::seconds(10),
    }
}

fn task(id: &str, wf: &str, actors: &[&str]) -> SeenTask {
    SeenTask {
        id: id.into(),
        workflow_id: wf.into(),
        name: "Review".into(),
        model: "review".into(),
        documents: vec!["doc1".into()],
        initiator: "jdoe".into(),
        actors: actors.iter().map(|a| (*a).to_owned()).collect(),
        delegated: vec![],
        due: None,
        created: Utc::now() - chrono::Duration::seconds(5),
    }
}

fn snap(wfs: &[SeenWorkflow], tasks: &[SeenTask]) -> Snapshot {
    Snapshot {
        workflows: wfs.iter().map(|w| (w.id.clone(), w.clone())).collect(),
        tasks: tasks.iter().map(|t| (t.id.clone(), t.clone())).collect(),
    }
}

fn kinds(events: &[Event]) -> Vec<EventKind> {
    events.iter().map(|e| e.kind).collect()
}

#[test]
fn a_new_instance_with_its_first_task_is_started_then_created() {
    let before = Snapshot::default();
    let now = snap(&[wf("w1")], &[task("t1", "w1", &["asmith"])]);
    let (events, keep) = derive(&before, &now, &HashMap::new(), &HashMap::new(), Utc::now());
    assert_eq!(
        kinds(&events),
        [EventKind::WorkflowStarted, EventKind::TaskCreated]
    );
    assert_eq!(keep, now);
    let created = &events[1];
    assert_eq!(created.task_id.as_deref(), Some("t1"));
    assert_eq!(created.actors, ["asmith"]);
    assert_eq!(created.extended[ext::MODEL_NAME], "review");
    assert_eq!(created.extended[ext::WORKFLOW_INSTANCE_ID], "w1");
}

#[test]
fn an_ended_task_carries_action_and_actor_and_the_next_task_follows() {
    let before = snap(&[wf("w1")], &[task("t1", "w1", &["asmith"])]);
    let now = snap(&[wf("w1")], &[task("t2", "w1", &["bob"])]);
    let ends = HashMap::from([(
        "t1".to_owned(),
        TaskEnd::Ended {
            action: Some("approve".into()),
            actor: Some("asmith".into()),
            comment: Some("ok".into()),
        },
    )]);
    let (events, _) = derive(&before, &now, &ends, &HashMap::new(), Utc::now());
    assert_eq!(
        kinds(&events),
        [EventKind::TaskEnded, EventKind::TaskCreated]
    );
    assert_eq!(events[0].action.as_deref(), Some("approve"));
    assert_eq!(events[0].principal, "asmith");
    assert_eq!(events[0].extended[ext::TASK_ACTOR], "asmith");
    assert_eq!(events[0].comment.as_deref(), Some("ok"));
    assert_eq!(
        events[1].principal, "asmith",
        "the completion created the next task"
    );
}

#[test]
fn gone_instances_finish_or_cancel_and_missed_ones_are_kept() {
    let before = snap(
        &[wf("w1"), wf("w2"), wf("w3")],
        &[task("t1", "w2", &["asmith"]), task("t3", "w3", &["bob"])],
    );
    let now = Snapshot::default();
    let ends = HashMap::from([
        ("t1".to_owned(), TaskEnd::Cancelled),
        ("t3".to_owned(), TaskEnd::StillOpen),
    ]);
    let wends = HashMap::from([
        ("w1".to_owned(), WorkflowEnd::Finished(None)),
        ("w2".to_owned(), WorkflowEnd::Canceled(None)),
        ("w3".to_owned(), WorkflowEnd::StillRunning),
    ]);
    let (events, keep) = derive(&before, &now, &ends, &wends, Utc::now());
    assert_eq!(
        kinds(&events),
        [EventKind::WorkflowFinished, EventKind::WorkflowCanceled]
    );
    assert_eq!(events[0].workflow_id, "w1");
    assert_eq!(events[1].workflow_id, "w2");
    assert_eq!(keep.workflows.keys().collect::<Vec<_>>(), ["w3"]);
    assert_eq!(keep.tasks.keys().collect::<Vec<_>>(), ["t3"]);
}

#[test]
fn changed_actors_are_reassignments_and_changed_delegates_delegations() {
    let before = snap(
        &[wf("w1")],
        &[task("t1", "w1", &["asmith"]), task("t2", "w1", &["bob"])],
    );
    let mut t2 = task("t2", "w1", &["bob"]);
    t2.delegated = vec!["carol".into()];
    let now = snap(&[wf("w1")], &[task("t1", "w1", &["dave"]), t2]);
    let (events, _) = derive(&before, &now, &HashMap::new(), &HashMap::new(), Utc::now());
    assert_eq!(
        kinds(&events),
        [EventKind::TaskReassigned, EventKind::TaskDelegated]
    );
    assert_eq!(events[0].actors, ["dave"]);
    assert_eq!(events[1].delegated, ["carol"]);
    let (none, _) = derive(&now, &now, &HashMap::new(), &HashMap::new(), Utc::now());
    assert!(none.is_empty(), "an unchanged upstream yields nothing");
}
