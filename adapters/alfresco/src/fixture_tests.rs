//! The answers of `tests/fixtures/` (only the definition's required fields, and every
//! field it lists) read with the wire types and converted to flowgate's model.

use flowgate_core::{TaskState, WorkflowState};

use crate::convert::{self, ProcessInfo, TaskParts};
use crate::wire;

macro_rules! fixture {
    ($shape:literal, $name:literal) => {
        include_str!(concat!("../tests/fixtures/", $shape, "/", $name, ".json"))
    };
}

fn list<T: serde::de::DeserializeOwned>(text: &str) -> Vec<T> {
    let l: wire::List<T> = serde_json::from_str(text).expect("a contract-valid list reads");
    l.list.into_entries()
}

fn entry<T: serde::de::DeserializeOwned>(text: &str) -> T {
    let e: wire::Entry<T> = serde_json::from_str(text).expect("a contract-valid entry reads");
    e.entry
}

struct Shape {
    defs: Vec<wire::ProcessDefinition>,
    process: wire::Process,
    task: wire::Task,
    tasks: Vec<wire::Task>,
    vars: Vec<wire::Variable>,
    items: Vec<wire::Item>,
    candidates: Vec<wire::Candidate>,
    form: Vec<wire::FormElement>,
}

macro_rules! shape {
    ($shape:literal) => {
        Shape {
            defs: list(fixture!($shape, "process-definitions")),
            process: entry(fixture!($shape, "process")),
            task: entry(fixture!($shape, "task")),
            tasks: list(fixture!($shape, "tasks")),
            vars: list(fixture!($shape, "variables")),
            items: list(fixture!($shape, "items")),
            candidates: list(fixture!($shape, "candidates")),
            form: list(fixture!($shape, "form-model")),
        }
    };
}

fn neutral_task(s: &Shape, t: &wire::Task, p: Option<&ProcessInfo>) -> flowgate_core::Task {
    let vars = convert::TaskVars::new(s.vars.clone());
    let form = convert::TaskForm::new(s.form.clone());
    convert::task(TaskParts {
        task: t,
        vars: &vars,
        items: &s.items,
        candidates: &s.candidates,
        form: &form,
        process: p,
        service_user: Some("admin"),
    })
    .expect("a contract-valid task converts")
}

#[test]
fn answers_with_only_the_required_fields_are_read() {
    let s = shape!("minimal");
    // Key and version come from the definition ids.
    let keys: Vec<(&str, i64)> = s.defs.iter().map(|d| (d.key(), d.version())).collect();
    assert_eq!(
        keys,
        [
            ("activitiReview", 1),
            ("activitiReview", 2),
            ("activitiAdhoc", 1)
        ]
    );
    let model = convert::model(&s.defs[1], &s.form);
    assert_eq!(model.name, "activitiReview");
    assert_eq!(model.title, "activitiReview");
    assert!(
        model.variables.is_empty(),
        "nameless form elements are ignored"
    );

    let info = ProcessInfo::new(&s.process, None).expect("a process with only its id");
    assert_eq!(info.state, WorkflowState::Running);
    assert_eq!(info.key, "");
    let wf = convert::instance(&info, &s.items, &s.vars);
    assert!(wf.attached_documents.is_empty() && wf.variables.is_empty());

    let t = neutral_task(&s, &s.task, Some(&info));
    assert_eq!(t.id, "101");
    assert_eq!(t.state, TaskState::Opened);
    assert_eq!(t.node_id, "task");
    assert!(t.actors.is_empty() && t.due_date.is_none());
    assert_eq!(t.created, info.created, "no startedAt: the process's start");
    assert_eq!(t.info.actions[0].name, convert::DEFAULT_ACTION);
    for raw in &s.tasks {
        neutral_task(&s, raw, None);
    }
}

#[test]
fn answers_with_every_field_are_read() {
    let s = shape!("full");
    assert_eq!(s.defs[0].key(), "activitiReview");
    assert_eq!(s.defs[0].version(), 3, "no version field: from the id");
    let model = convert::model(&s.defs[0], &s.form);
    assert_eq!(model.title, "Review and Approve");

    let info = ProcessInfo::new(&s.process, Some("Review and Approve".into())).expect("process");
    assert_eq!(info.state, WorkflowState::Canceled);
    assert_eq!(info.key, "activitiReview");
    assert_eq!(info.initiator.as_deref(), Some("dave"));
    assert_eq!(
        info.created,
        convert::date("2024-05-02T09:14:03.120Z").expect("date")
    );
    let wf = convert::instance(&info, &s.items, &s.vars);
    assert_eq!(
        wf.attached_documents,
        ["8f2105b4-daaf-4874-9e8a-2152569d109b"]
    );
    assert_eq!(wf.variables.get("priority"), Some(&serde_json::json!(1)));

    let t = neutral_task(&s, &s.task, Some(&info));
    assert_eq!(t.node_id, "reviewTask");
    assert_eq!(t.actors, ["jdoe"]);
    let actions: Vec<&str> = t.info.actions.iter().map(|a| a.name.as_str()).collect();
    assert_eq!(actions, ["approve", "reject"]);
    assert!(t.due_date.is_some());
    let done = neutral_task(&s, &s.tasks[0], None);
    assert_eq!(done.state, TaskState::Ended);
    assert_eq!(done.workflow_model_name.as_deref(), Some("activitiReview"));
}

#[test]
fn unreadable_dates_leave_their_field_empty_and_epoch_millis_are_read() {
    let s = shape!("full");
    let raw = r#"{"entry": {"id": "7", "processId": "81", "startedAt": 1714641243000,
        "dueAt": "sometime", "endedAt": "not a date", "assignee": "jdoe"}}"#;
    let t: wire::Task = entry(raw);
    let n = neutral_task(&s, &t, None);
    assert_eq!(
        n.created,
        convert::date("2024-05-02T09:14:03Z").expect("date")
    );
    assert_eq!(n.due_date, None);
    // An endedAt that cannot be read still says the task ended.
    assert_ne!(n.state, TaskState::Opened);
    let odd: wire::Process = entry(r#"{"entry": {"id": "9", "startedAt": true}}"#);
    let info = ProcessInfo::new(&odd, None).expect("process");
    assert_eq!(info.state, WorkflowState::Running);
}

#[test]
fn envelopes_are_required_and_their_absence_names_the_field() {
    let e = serde_json::from_str::<wire::List<wire::Task>>(r#"{"unexpected": true}"#)
        .expect_err("no list");
    assert!(e.to_string().contains("missing field `list`"), "{e}");
    let e = serde_json::from_str::<wire::Entry<wire::Task>>(r#"{"entry": {"name": "x"}}"#)
        .expect_err("no id");
    assert!(e.to_string().contains("missing field `id`"), "{e}");
}
