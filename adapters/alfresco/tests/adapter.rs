//! Adapter behaviour beyond the conformance suite: authentication modes and ticket
//! renewal, paging across Alfresco pages, outcome mapping of every built-in definition,
//! and path safety of ids (upstream faults: faults.rs).

mod common;

use common::{bounded, done, open_tasks, start_req};

use std::time::Duration;

use flowgate_alfresco::sim::{nodes, SimOptions};
use flowgate_alfresco::AuthMode;
use flowgate_core::{
    CallContext, DocLocator, ErrorKind, NodeState, StartWorkflow, TaskQuery, TaskState,
    WorkflowEngine, WorkflowState,
};
use serde_json::{json, Value};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expired_ticket_is_renewed_once_and_the_call_succeeds() {
    let sim = common::sim();
    let e = common::engine(&sim, AuthMode::Ticket);
    bounded(async {
        e.models(&common::admin())
            .await
            .expect("first call logs in");
        assert_eq!(sim.count("POST", "/tickets"), 1);
        e.models(&common::admin()).await.expect("ticket reused");
        assert_eq!(
            sim.count("POST", "/tickets"),
            1,
            "no login while the ticket is valid"
        );
        sim.expire_tickets();
        e.models(&common::admin())
            .await
            .expect("renewed after expiry");
        assert_eq!(sim.count("POST", "/tickets"), 2, "exactly one re-login");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ticket_idle_expiry_of_the_simulator_is_handled() {
    let sim = common::sim_with(SimOptions {
        ticket_idle: Duration::from_millis(300),
        ..SimOptions::default()
    });
    let e = common::engine(&sim, AuthMode::Ticket);
    bounded(async {
        e.models(&common::admin()).await.expect("login");
        tokio::time::sleep(Duration::from_millis(500)).await;
        e.models(&common::admin()).await.expect("renewed");
        assert_eq!(sim.count("POST", "/tickets"), 2);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rejected_service_credentials_are_a_502_without_secrets() {
    let sim = common::sim();
    for mode in [AuthMode::Basic, AuthMode::Ticket] {
        let cfg = common::config(&sim, mode);
        let e = flowgate_alfresco::AlfrescoEngine::with_env("alfresco", cfg, &|_| {
            Some("wrong-secret".to_owned())
        })
        .expect("engine");
        let err = bounded(e.models(&common::admin()))
            .await
            .expect_err("refused");
        assert_eq!(err.kind(), ErrorKind::Upstream, "{mode:?}: {err:?}");
        assert!(!err.message().contains("wrong-secret"));
        assert!(!format!("{err:?}").contains("wrong-secret"));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn passthrough_forwards_the_callers_credentials_and_alfresco_decides() {
    let sim = common::sim();
    let e = common::engine(&sim, AuthMode::Passthrough);
    bounded(async {
        let dave = common::with_password(common::user("dave", &[]));
        let no_creds = common::user("dave", &[]);
        assert_eq!(
            e.models(&no_creds).await.unwrap_err().kind(),
            ErrorKind::Forbidden
        );
        let mut wrong = dave.clone();
        wrong.credentials = Some(flowgate_core::Credentials::Basic {
            user: "dave".into(),
            password: flowgate_core::Secret::new("nope"),
        });
        assert_eq!(
            e.models(&wrong).await.unwrap_err().kind(),
            ErrorKind::Forbidden
        );
        let wf = e
            .start(
                &dave,
                start_req("activitiReview", json!({"assignee": "jdoe"})),
            )
            .await
            .expect("start as dave");
        assert_eq!(
            wf.initiator.as_deref(),
            Some("dave"),
            "Alfresco records the caller"
        );
        let jdoe = common::with_password(common::user("jdoe", &[]));
        let mine = e
            .tasks(&jdoe, TaskQuery::for_actor("jdoe", Vec::<String>::new()))
            .await
            .expect("jdoe's tasks");
        assert_eq!(mine.items.len(), 1);
        let mallory = common::with_password(common::user("mallory", &[]));
        let err = e.task(&mallory, &mine.items[0].id).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Forbidden, "Alfresco's own check");
        let t = e
            .complete(&jdoe, &mine.items[0].id, done("approve"))
            .await
            .expect("complete");
        assert_eq!(t.state, TaskState::Ended);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lists_are_walked_across_alfresco_pages() {
    let sim = common::sim();
    let mut cfg = common::config(&sim, AuthMode::Basic);
    cfg.page_size = 10;
    let e = common::engine_from(cfg);
    bounded(async {
        let dave = common::user("dave", &[]);
        for _ in 0..25 {
            e.start(
                &dave,
                start_req("activitiAdhoc", json!({"assignee": "bob"})),
            )
            .await
            .expect("start");
        }
        sim.clear_requests();
        let bob = common::user("bob", &[]);
        let all = e
            .tasks(&bob, TaskQuery::for_actor("bob", Vec::<String>::new()))
            .await
            .expect("bob's tasks");
        assert_eq!(all.total, 25);
        let skips: Vec<String> = sim
            .requests()
            .into_iter()
            .filter(|r| {
                r.path.ends_with("/tasks")
                    && r.query
                        .iter()
                        .any(|(k, v)| k == "where" && v.contains("assignee='bob'"))
            })
            .filter_map(|r| {
                r.query
                    .into_iter()
                    .find(|(k, _)| k == "skipCount")
                    .map(|(_, v)| v)
            })
            .collect();
        assert_eq!(skips, vec!["0", "10", "20"], "three Alfresco pages of 10");
        let page = e
            .tasks(
                &bob,
                TaskQuery::for_actor("bob", Vec::<String>::new())
                    .page(flowgate_core::PageRequest::new(20, 10)),
            )
            .await
            .expect("last page");
        assert_eq!((page.items.len(), page.total), (5, 25));
    })
    .await;
}

/// Completes the single open task of `wf` as `cx` with `action`; returns the node ids of
/// the open tasks afterwards.
async fn step(e: &dyn WorkflowEngine, wf: &str, cx: &CallContext, action: &str) -> Vec<String> {
    let tasks = open_tasks(e, wf).await;
    let t = tasks
        .iter()
        .find(|t| {
            t.actors
                .iter()
                .chain(&t.delegated_actors)
                .any(|a| a == &cx.user || cx.groups.iter().any(|g| a == &format!("group:{g}")))
        })
        .unwrap_or_else(|| panic!("no task for {} in {tasks:#?}", cx.user));
    e.complete(cx, &t.id, done(action)).await.expect("complete");
    let mut nodes: Vec<String> = open_tasks(e, wf)
        .await
        .into_iter()
        .map(|t| t.node_id)
        .collect();
    nodes.sort();
    nodes
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outcomes_of_every_builtin_definition_map_to_actions() {
    let sim = common::sim();
    let e = common::engine(&sim, AuthMode::Basic);
    bounded(async {
        let dave = common::user("dave", &[]);
        let jdoe = common::user("jdoe", &["reviewers"]);
        let bob = common::user("bob", &["reviewers"]);
        let carol = common::user("carol", &["reviewers"]);
        let cases: Vec<(&str, Value, Vec<&str>)> = vec![
            (
                "activitiAdhoc",
                json!({"assignee": "jdoe"}),
                vec!["complete"],
            ),
            (
                "activitiReview",
                json!({"assignee": "jdoe"}),
                vec!["approve", "reject"],
            ),
            (
                "activitiReviewPooled",
                json!({"groupAssignee": "reviewers"}),
                vec!["approve", "reject"],
            ),
            (
                "activitiParallelReview",
                json!({"participants": ["jdoe", "bob"]}),
                vec!["approve", "reject"],
            ),
            (
                "activitiParallelGroupReview",
                json!({"groupAssignee": "group:reviewers", "requiredApprovePercent": 60}),
                vec!["approve", "reject"],
            ),
        ];
        for (model, vars, actions) in cases {
            let wf = e.start(&dave, start_req(model, vars)).await.expect(model);
            let t = &open_tasks(&e, &wf.id).await[0];
            let names: Vec<&str> = t.info.actions.iter().map(|a| a.name.as_str()).collect();
            assert_eq!(names, actions, "{model}");
            let bad = e
                .complete(&common::admin(), &t.id, done("frobnicate"))
                .await
                .unwrap_err();
            assert_eq!(bad.kind(), ErrorKind::BadRequest, "{model}");
        }
        // Review: approve → approved, reject → rejected; the default outcome is not used.
        for (action, next) in [("approve", "approved"), ("reject", "rejected")] {
            let wf = e
                .start(
                    &dave,
                    start_req("activitiReview", json!({"assignee": "jdoe"})),
                )
                .await
                .unwrap();
            assert_eq!(step(&e, &wf.id, &jdoe, action).await, vec![next]);
            assert_eq!(
                step(&e, &wf.id, &dave, "complete").await,
                Vec::<String>::new()
            );
            let w = e.workflow(&dave, &wf.id).await.unwrap();
            assert_eq!(w.state, WorkflowState::Done);
            assert_eq!(
                w.variables.get("reviewOutcome"),
                Some(&json!(if action == "approve" {
                    "Approve"
                } else {
                    "Reject"
                }))
            );
        }
        // Pooled: any group member takes and completes it.
        let wf = e
            .start(
                &dave,
                start_req(
                    "activitiReviewPooled",
                    json!({"groupAssignee": "reviewers"}),
                ),
            )
            .await
            .unwrap();
        assert_eq!(step(&e, &wf.id, &bob, "approve").await, vec!["approved"]);
        // Parallel, 2 reviewers at 50%: one approval decides, the other task goes away.
        let wf = e
            .start(
                &dave,
                start_req(
                    "activitiParallelReview",
                    json!({"participants": ["jdoe", "bob"], "requiredApprovePercent": 50}),
                ),
            )
            .await
            .unwrap();
        assert_eq!(step(&e, &wf.id, &jdoe, "approve").await, vec!["approved"]);
        // Parallel group of 3 at 60%: approve, reject → 33% each → continue; a second
        // reject → 66% reject, 60% can no longer be reached → rejected.
        let wf = e
            .start(
                &dave,
                start_req(
                    "activitiParallelGroupReview",
                    json!({"groupAssignee": "reviewers", "requiredApprovePercent": 60}),
                ),
            )
            .await
            .unwrap();
        assert_eq!(open_tasks(&e, &wf.id).await.len(), 3);
        assert_eq!(
            step(&e, &wf.id, &jdoe, "approve").await,
            vec!["reviewTask", "reviewTask"]
        );
        assert_eq!(step(&e, &wf.id, &bob, "reject").await, vec!["reviewTask"]);
        assert_eq!(step(&e, &wf.id, &carol, "reject").await, vec!["rejected"]);
        // Ad hoc: the assignee's task goes back to the initiator.
        let wf = e
            .start(
                &dave,
                start_req("activitiAdhoc", json!({"assignee": "jdoe"})),
            )
            .await
            .unwrap();
        assert_eq!(
            step(&e, &wf.id, &jdoe, "complete").await,
            vec!["verifyTaskDone"]
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_required_start_variable_is_a_bad_request_without_upstream_start() {
    let sim = common::sim();
    let e = common::engine(&sim, AuthMode::Basic);
    let err = bounded(e.start(
        &common::user("dave", &[]),
        start_req("activitiReview", json!({"comment": "x"})),
    ))
    .await
    .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::BadRequest, "{err:?}");
    assert_eq!(sim.count("POST", "/processes"), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_ids_and_paths_are_refused_before_any_upstream_call() {
    let sim = common::sim();
    let e = common::engine(&sim, AuthMode::Basic);
    let cx = common::admin();
    bounded(async {
        e.models(&cx).await.expect("warm up");
        sim.clear_requests();
        for id in [
            "../../etc/passwd",
            "..",
            "1/2",
            "1%2F2",
            "1\r\nX-Evil: 1",
            "http://evil.example/",
            "a b",
            "~!!!",
            "1?x=y",
            "1#frag",
        ] {
            for (op, err) in [
                ("task", e.task(&cx, id).await.map(|_| ()).unwrap_err()),
                (
                    "workflow",
                    e.workflow(&cx, id).await.map(|_| ()).unwrap_err(),
                ),
                ("cancel", e.cancel(&cx, id).await.unwrap_err()),
                (
                    "complete",
                    e.complete(&cx, id, done("approve"))
                        .await
                        .map(|_| ())
                        .unwrap_err(),
                ),
                (
                    "graph",
                    e.workflow_graph(&cx, id).await.map(|_| ()).unwrap_err(),
                ),
            ] {
                assert_eq!(err.kind(), ErrorKind::BadRequest, "{op}({id:?}): {err:?}");
            }
        }
        for doc in [
            "../x",
            "http://evil.example/x",
            "archive://SpacesStore/abc",
            "a\r\nb",
        ] {
            let err = e
                .document(&cx, &DocLocator::Id(doc.into()))
                .await
                .unwrap_err();
            assert_eq!(err.kind(), ErrorKind::BadRequest, "{doc:?}");
        }
        for path in [
            "/Sites/../secret",
            "/Sites//x",
            "/Sites/a\r\nb",
            "Sites/relative",
        ] {
            let err = e
                .document(&cx, &DocLocator::Path(path.into()))
                .await
                .unwrap_err();
            assert_eq!(err.kind(), ErrorKind::BadRequest, "{path:?}");
        }
        assert!(
            sim.requests().is_empty(),
            "nothing reached Alfresco: {:?}",
            sim.requests()
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn documents_resolve_by_path_and_id() {
    let sim = common::sim();
    let e = common::engine(&sim, AuthMode::Basic);
    let cx = common::admin();
    bounded(async {
        let d = e
            .document(
                &cx,
                &DocLocator::Path("/Sites/finance/documentLibrary/minutes & notes 2024.txt".into()),
            )
            .await
            .expect("odd name resolves");
        assert_eq!(d.id, nodes::ODD_NAME);
        assert_eq!(
            d.path.as_deref(),
            Some("/Sites/finance/documentLibrary/minutes & notes 2024.txt")
        );
        let d = e
            .document(
                &cx,
                &DocLocator::Id(format!("workspace://SpacesStore/{}", nodes::CONTRACT)),
            )
            .await
            .expect("node ref");
        assert_eq!(d.id, nodes::CONTRACT);
        let err = e
            .document(&cx, &DocLocator::Id(nodes::ARCHIVE_FOLDER.into()))
            .await
            .unwrap_err();
        assert_eq!(
            err.kind(),
            ErrorKind::BadRequest,
            "folders are not documents"
        );
        let err = e
            .document(&cx, &DocLocator::Path("/Sites/nowhere.pdf".into()))
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::NotFound);
        let err = e
            .start(
                &common::user("dave", &[]),
                StartWorkflow {
                    model: "activitiReview".into(),
                    documents: vec!["00000000-0000-4000-8000-000000000000".into()],
                    variables: json!({"assignee": "jdoe"})
                        .as_object()
                        .cloned()
                        .unwrap_or_default(),
                },
            )
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::NotFound, "unknown document");
        let wf = e
            .start(
                &common::user("dave", &[]),
                StartWorkflow {
                    model: "activitiReview".into(),
                    documents: vec!["/Sites/finance/documentLibrary/budget.xlsx".into()],
                    variables: json!({"assignee": "jdoe"})
                        .as_object()
                        .cloned()
                        .unwrap_or_default(),
                },
            )
            .await
            .expect("start on a path");
        assert_eq!(wf.attached_documents, vec![nodes::BUDGET.to_owned()]);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn instance_graph_marks_the_current_node_and_variables_read_back_mapped() {
    let sim = common::sim();
    let e = common::engine(&sim, AuthMode::Basic);
    bounded(async {
        let dave = common::user("dave", &[]);
        let wf = e
            .start(&dave, start_req("activitiReview", json!({"assignee": "user:jdoe", "dueDate": "2030-06-01T17:00:00.000Z", "priority": 1, "comment": "Q3 contract", "unknownVar": 3})))
            .await
            .expect("start");
        assert_eq!(wf.variables.get("assignee"), Some(&json!("user:jdoe")));
        assert_eq!(wf.variables.get("dueDate"), Some(&json!("2030-06-01T17:00:00.000Z")));
        assert_eq!(wf.variables.get("priority"), Some(&json!(1)));
        assert_eq!(wf.variables.get("comment"), Some(&json!("Q3 contract")));
        assert!(!wf.variables.contains_key("unknownVar"));
        assert!(!wf.variables.contains_key("initiator"), "engine internals hidden");
        let t = &open_tasks(&e, &wf.id).await[0];
        assert_eq!(t.due_date.map(|d| d.to_rfc3339()), Some("2030-06-01T17:00:00+00:00".into()));
        let g = e.workflow_graph(&dave, &wf.id).await.expect("graph");
        let state = |id: &str| g.nodes.iter().find(|n| n.id == id).map(|n| n.state);
        assert_eq!(state("reviewTask"), Some(NodeState::Suspended));
        assert_eq!(state("approved"), Some(NodeState::Ready));
        e.cancel(&dave, &wf.id).await.expect("cancel");
        let g = e.workflow_graph(&dave, &wf.id).await.expect("graph after cancel");
        assert!(g.nodes.iter().all(|n| n.state == NodeState::Canceled));
    })
    .await;
}
