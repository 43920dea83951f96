//! Start variables typed by the start form before they are sent, and lists that never
//! end cut by the page bound, against the simulator (which, like Alfresco, refuses a
//! d:int given as text and can be told to misbehave on paging).

mod common;

use std::time::Duration;

use flowgate_alfresco::sim::{nodes, SimOptions};
use flowgate_alfresco::AuthMode;
use flowgate_core::{ErrorKind, StartWorkflow, TaskQuery, WorkflowEngine};
use serde_json::{json, Value};

async fn bounded<F: std::future::Future<Output = T>, T>(f: F) -> T {
    tokio::time::timeout(Duration::from_secs(60), f)
        .await
        .expect("test finished in time")
}

fn start_req(model: &str, vars: Value) -> StartWorkflow {
    StartWorkflow {
        model: model.into(),
        documents: vec![nodes::CONTRACT.into()],
        variables: vars.as_object().cloned().unwrap_or_default(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn start_variables_given_as_text_are_sent_with_their_form_type() {
    let sim = common::sim();
    let e = common::engine(&sim, AuthMode::Basic);
    let dave = common::user("dave", &[]);
    let wf = bounded(e.start(
        &dave,
        start_req(
            "activitiReview",
            json!({"assignee": "user:jdoe", "priority": "1",
                   "sendEmailNotifications": "true", "dueDate": "2030-01-02"}),
        ),
    ))
    .await
    .expect("the simulator takes the converted values");
    assert_eq!(wf.variables.get("priority"), Some(&json!(1)), "{wf:?}");
    assert_eq!(
        wf.variables.get("sendEmailNotifications"),
        Some(&json!(true)),
        "{wf:?}"
    );
    assert_eq!(
        wf.variables.get("dueDate"),
        Some(&json!("2030-01-02T00:00:00.000Z")),
        "{wf:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_start_variable_that_cannot_be_converted_is_a_400_naming_it_before_any_write() {
    let sim = common::sim();
    let e = common::engine(&sim, AuthMode::Basic);
    let dave = common::user("dave", &[]);
    for (vars, name) in [
        (
            json!({"assignee": "jdoe", "priority": "urgent"}),
            "'priority'",
        ),
        (
            json!({"assignee": "jdoe", "sendEmailNotifications": "maybe"}),
            "'sendEmailNotifications'",
        ),
        (
            json!({"assignee": "jdoe", "dueDate": "next week"}),
            "'dueDate'",
        ),
        (json!({"assignee": "group:reviewers"}), "'assignee'"),
    ] {
        sim.clear_requests();
        let err = bounded(e.start(&dave, start_req("activitiReview", vars.clone())))
            .await
            .expect_err("refused");
        assert_eq!(err.kind(), ErrorKind::BadRequest, "{vars}: {err:?}");
        assert!(err.message().contains(name), "{vars}: {}", err.message());
        assert_eq!(sim.count("POST", "/processes"), 0, "{vars}");
        // Only the definition and its start form were read; no document lookup either.
        assert!(
            sim.requests()
                .iter()
                .all(|r| r.method == "GET" && (r.path.contains("/process-definitions"))),
            "{:?}",
            sim.requests()
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_task_variable_that_cannot_be_converted_is_a_400_before_the_task_is_touched() {
    let sim = common::sim();
    let e = common::engine(&sim, AuthMode::Basic);
    let dave = common::user("dave", &[]);
    let jdoe = common::user("jdoe", &["reviewers"]);
    let wf = bounded(e.start(
        &dave,
        start_req("activitiAdhoc", json!({"assignee": "jdoe"})),
    ))
    .await
    .expect("start");
    let tasks = bounded(e.tasks(&jdoe, TaskQuery::for_workflow(&wf.id)))
        .await
        .expect("tasks");
    let id = tasks.items[0].id.clone();
    sim.clear_requests();
    let c = flowgate_core::Completion {
        action: "complete".into(),
        comment: None,
        variables: json!({"bpm_dueDate": "whenever"})
            .as_object()
            .cloned()
            .unwrap_or_default(),
    };
    let err = bounded(e.complete(&jdoe, &id, c))
        .await
        .expect_err("refused");
    assert_eq!(err.kind(), ErrorKind::BadRequest, "{err:?}");
    assert!(err.message().contains("bpm_dueDate"), "{}", err.message());
    let writes = sim
        .requests()
        .into_iter()
        .filter(|r| r.method != "GET")
        .count();
    assert_eq!(writes, 0, "{:?}", sim.requests());
}

fn endless_engine(
    max_pages: Option<usize>,
) -> (
    flowgate_alfresco::sim::SimHandle,
    flowgate_alfresco::AlfrescoEngine,
) {
    let sim = common::sim_with(SimOptions {
        endless_lists: true,
        ..SimOptions::default()
    });
    let mut cfg = common::config(&sim, AuthMode::Basic);
    // One entry per page: the walk is as long as it can be.
    cfg.page_size = 1;
    if let Some(n) = max_pages {
        cfg.max_pages = n;
    }
    let e = common::engine_from(cfg);
    (sim, e)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_list_that_never_ends_is_cut_after_max_pages_requests() {
    let (sim, e) = endless_engine(Some(7));
    let err = bounded(e.models(&common::admin()))
        .await
        .expect_err("the list does not end");
    assert_eq!(err.kind(), ErrorKind::Upstream, "{err:?}");
    assert!(
        err.message().contains("did not end") && err.message().contains("max_pages"),
        "{}",
        err.message()
    );
    assert_eq!(sim.count("GET", "/process-definitions"), 7);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_default_page_bound_keeps_a_never_ending_task_list_short() {
    let (sim, e) = endless_engine(None);
    let dave = common::user("dave", &[]);
    bounded(e.start(
        &dave,
        start_req("activitiAdhoc", json!({"assignee": "jdoe"})),
    ))
    .await
    .expect("start");
    sim.clear_requests();
    let jdoe = common::user("jdoe", &["reviewers"]);
    let started = std::time::Instant::now();
    let err = bounded(e.tasks(&jdoe, TaskQuery::default()))
        .await
        .expect_err("the list does not end");
    assert_eq!(err.kind(), ErrorKind::Upstream, "{err:?}");
    assert!(err.message().contains("did not end"), "{}", err.message());
    // Each task clause of the inbox query walks at most 50 pages (the default), where
    // the item bound alone (max_scan, 5000) let one walk send 5000 requests.
    let lists = sim.count("GET", "/workflow/versions/1/tasks");
    assert!(lists <= 4 * 50, "{lists} list requests");
    assert!(started.elapsed() < Duration::from_secs(30));
}
