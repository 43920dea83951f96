//! Adapter behaviour the conformance suite does not cover: CSRF, Sling pages, start
//! verification, path encoding, id checks, profiles and auth (upstream faults: faults.rs).
//! Each test runs against its own simulator and is bounded by short HTTP timeouts.

mod common;

use common::*;
use flowgate_core::{
    Completion, Credentials, DocLocator, ErrorKind, Health, Secret, StartWorkflow, TaskQuery,
    TaskState, WorkflowEngine, WorkflowState,
};
use flowgate_cq::sim::{Fault, FaultAction};
use flowgate_cq::{AuthConfig, CqEngine, Profile};

#[tokio::test]
async fn expired_csrf_token_is_refreshed_once_and_the_post_retried() {
    let (sim, e) = engine(Profile::Aem64To65).await;
    let wf = start_review(&e, &id_of(PAGE)).await;
    let t = only_task(&e, &wf.id).await;
    sim.expire_csrf_tokens();
    sim.clear_requests();
    let done = e
        .complete(&jdoe(), &t.id, approve())
        .await
        .expect("complete");
    assert_eq!(done.state, TaskState::Ended);
    assert_eq!(count(&sim, "POST", "/bin/workflow/inbox"), 2);
    assert_eq!(count(&sim, "GET", "/libs/granite/csrf/token"), 1);
    for r in sim.requests().iter().filter(|r| r.method == "POST") {
        assert!(
            r.header("csrf-token").is_some(),
            "CSRF header on every POST"
        );
        assert_eq!(r.field("_charset_"), Some("utf-8"));
    }
}

#[tokio::test]
async fn a_second_403_after_the_refresh_is_forbidden() {
    let (sim, e) = engine(Profile::Aem64To65).await;
    let wf = start_review(&e, &id_of(PAGE)).await;
    let t = only_task(&e, &wf.id).await;
    sim.add_fault(Fault::on("POST", "/bin/workflow/inbox", FaultAction::Status(403)).times(2));
    sim.clear_requests();
    let err = e.complete(&jdoe(), &t.id, approve()).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Forbidden, "{err:?}");
    assert_eq!(count(&sim, "POST", "/bin/workflow/inbox"), 2);
}

#[tokio::test]
async fn cq5_sends_no_csrf_token_and_posts_page_model_ids() {
    let (sim, e) = engine(Profile::Cq5).await;
    let wf = start_review(&e, &id_of(PAGE)).await;
    let t = only_task(&e, &wf.id).await;
    e.complete(&jdoe(), &t.id, approve())
        .await
        .expect("complete");
    assert_eq!(count(&sim, "GET", "/libs/granite/csrf/token"), 0);
    let posts: Vec<_> = sim
        .requests()
        .into_iter()
        .filter(|r| r.method == "POST")
        .collect();
    assert!(posts.iter().all(|r| r.header("csrf-token").is_none()));
    let start = posts
        .iter()
        .find(|r| r.path == "/etc/workflow/instances")
        .expect("start POST");
    assert_eq!(
        start.field("model"),
        Some("/etc/workflow/models/flowgate/review/jcr:content/model")
    );
    assert!(wf_path(&wf.id).starts_with("/etc/workflow/instances/"));
    let models = e.models(&admin()).await.expect("models");
    let names: Vec<&str> = models.iter().map(|m| m.name.as_str()).collect();
    assert!(names.contains(&"publish_example") && names.contains(&"flowgate/review"));
}

#[tokio::test]
async fn aem60_without_a_token_endpoint_falls_back_to_no_csrf() {
    let sim = flowgate_cq::sim::spawn_with(
        {
            let mut o = flowgate_cq::sim::SimOptions::new(Profile::Aem60To63);
            o.csrf = false;
            o
        },
        0,
    )
    .await
    .expect("sim");
    let e =
        CqEngine::new("cq", config_for(&sim, service_auth(Profile::Aem60To63))).expect("engine");
    let wf = start_review(&e, &id_of(PAGE)).await;
    e.cancel(&editor1(), &wf.id).await.expect("cancel");
    assert_eq!(
        count(&sim, "GET", "/libs/granite/csrf/token"),
        1,
        "probed once"
    );
}

#[tokio::test]
async fn state_conflicts_are_read_from_the_sling_error_page() {
    let (_sim, e) = engine(Profile::Aem64To65).await;
    let wf = start_review(&e, &id_of(PAGE)).await;
    e.suspend(&admin(), &wf.id).await.expect("suspend");
    let err = e.suspend(&admin(), &wf.id).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Conflict, "{err:?}");
    assert!(err.message().contains("409 Conflict"), "{}", err.message());
    assert!(!err.message().contains("<"), "no HTML in messages");
    let t = only_task(&e, &wf.id).await;
    let err = e.complete(&jdoe(), &t.id, approve()).await.unwrap_err();
    assert_eq!(
        err.kind(),
        ErrorKind::Conflict,
        "suspended workflows refuse completion"
    );
    e.resume(&admin(), &wf.id).await.expect("resume");
    e.cancel(&editor1(), &wf.id).await.expect("cancel");
    let t = e.task(&admin(), &t.id).await.expect("cancelled task");
    assert_eq!(t.state, TaskState::Cancelled);
}

#[tokio::test]
async fn a_2xx_start_without_an_instance_is_an_upstream_error() {
    let (sim, e) = engine(Profile::Aem64To65).await;
    sim.add_fault(Fault::on("POST", "/etc/workflow/instances", FaultAction::JunkCreated).times(1));
    let req = StartWorkflow {
        model: "flowgate/review".into(),
        documents: vec![id_of(PAGE)],
        variables: Default::default(),
    };
    let err = e.start(&editor1(), req.clone()).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Upstream, "{err:?}");
    assert!(
        err.message().contains("created no workflow instance"),
        "{}",
        err.message()
    );
    assert!(sim.instances_in_state("RUNNING").is_empty());

    sim.add_fault(
        Fault::on(
            "POST",
            "/etc/workflow/instances",
            FaultAction::EmptyBody(201),
        )
        .times(1),
    );
    let err = e.start(&editor1(), req.clone()).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Upstream, "{err:?}");

    // Without the header, the status page's Location element is enough.
    sim.add_fault(
        Fault::on(
            "POST",
            "/etc/workflow/instances",
            FaultAction::MissingLocation,
        )
        .times(1),
    );
    let wf = e
        .start(&editor1(), req)
        .await
        .expect("start via page Location");
    assert_eq!(wf.state, WorkflowState::Running);
}

#[tokio::test]
async fn a_failure_hidden_in_a_200_status_page_is_an_error() {
    let (sim, e) = engine(Profile::Aem64To65).await;
    let wf = start_review(&e, &id_of(PAGE)).await;
    sim.add_fault(
        Fault::on(
            "POST",
            "/var/workflow/instances",
            FaultAction::StatusPage(409),
        )
        .times(1),
    );
    let err = e.suspend(&admin(), &wf.id).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Conflict, "{err:?}");
}

#[tokio::test]
async fn paths_and_comments_round_trip_byte_exact() {
    let (sim, e) = engine(Profile::Aem64To65).await;
    let payload = "/content/my site/en/über-uns";
    let wf = start_review(&e, payload).await;
    assert_eq!(wf_path(&wf.attached_documents[0]), payload);
    let t = only_task(&e, &wf.id).await;
    let comment = "Geprüft – ok ✓";
    let c = Completion {
        action: "Approve".into(),
        comment: Some(comment.into()),
        ..Default::default()
    };
    e.complete(&jdoe(), &t.id, c).await.expect("complete");
    let post = sim
        .requests()
        .into_iter()
        .find(|r| r.method == "POST" && r.path == "/bin/workflow/inbox")
        .expect("completion POST");
    assert_eq!(post.field("comment"), Some(comment));
    let item = wf_path(&t.id);
    assert_eq!(post.field(&format!("comment-{item}")), Some(comment));
    let start = sim
        .requests()
        .into_iter()
        .find(|r| r.method == "POST" && r.path == "/etc/workflow/instances")
        .expect("start POST");
    assert_eq!(start.field("payload"), Some(payload));

    let doc = e
        .document(&admin(), &DocLocator::Path(payload.into()))
        .await
        .expect("document");
    assert_eq!(doc.title.as_deref(), Some("Über uns"));
    assert_eq!(doc.doc_type.as_deref(), Some("cq:Page"));
    let get = sim
        .requests()
        .into_iter()
        .find(|r| r.method == "GET" && r.path.starts_with("/content/my site"))
        .expect("document GET");
    assert!(get.raw_path.contains("/my%20site/"), "{}", get.raw_path);
    assert!(
        get.raw_path.ends_with("/jcr:content.json"),
        "{}",
        get.raw_path
    );
    assert!(!get.raw_path.contains('+'));
    let by_id = e
        .document(&admin(), &DocLocator::Id(doc.id.clone()))
        .await
        .expect("document by id");
    assert_eq!(by_id.path.as_deref(), Some(payload));
}

#[tokio::test]
async fn documents_outside_the_mount_or_missing_are_not_found() {
    let (_sim, e) = engine(Profile::Aem64To65).await;
    for p in ["/etc/passwd", "/content/flowgate/en/no-such-page"] {
        let err = e
            .document(&admin(), &DocLocator::Path(p.into()))
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::NotFound, "{p}: {err:?}");
    }
    let err = e
        .document(&admin(), &DocLocator::Path("/content/../etc".into()))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::BadRequest);
}

#[tokio::test]
async fn escaping_ids_are_refused_before_any_request() {
    let (sim, e) = engine(Profile::Aem64To65).await;
    sim.clear_requests();
    let cx = admin();
    let traversal = [
        "../../etc/passwd".to_owned(),
        "a%2F..%2Fb".to_owned(),
        "x\r\nHost: evil".to_owned(),
        "http://evil.example/x".to_owned(),
        id_of("/var/workflow/instances/../../../content/secret"),
        id_of("/var/workflow/instances/server0/x.infinity"),
        id_of("/var/workflow/instances//x"),
        id_of("/var/workflow/instances/x\r\nHost: evil"),
    ];
    for id in &traversal {
        let err = e.workflow(&cx, id).await.unwrap_err();
        assert_eq!(
            err.kind(),
            ErrorKind::BadRequest,
            "workflow {id:?}: {err:?}"
        );
        let err = e.task(&cx, id).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::BadRequest, "task {id:?}: {err:?}");
        let err = e.cancel(&cx, id).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::BadRequest, "cancel {id:?}: {err:?}");
    }
    let outside = id_of("/content/secret");
    assert_eq!(
        e.workflow(&cx, &outside).await.unwrap_err().kind(),
        ErrorKind::NotFound
    );
    assert!(
        sim.requests().is_empty(),
        "nothing was sent: {:?}",
        sim.requests()
    );
}

#[tokio::test]
async fn cancel_of_a_missing_instance_never_posts() {
    let (sim, e) = engine(Profile::Aem64To65).await;
    let id = id_of("/var/workflow/instances/server0/2024-05-02/nothing_1");
    let err = e.cancel(&admin(), &id).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound);
    assert_eq!(count(&sim, "POST", ""), 0, "no junk node created");
}

#[tokio::test]
async fn or_split_routes_and_back_routes_become_actions() {
    let (sim, e) = engine(Profile::Aem64To65).await;
    let req = StartWorkflow {
        model: "flowgate/two_step_approval".into(),
        documents: vec![id_of(PAGE)],
        variables: Default::default(),
    };
    let wf = e.start(&jdoe(), req).await.expect("start");
    let t = only_task(&e, &wf.id).await;
    assert_eq!(t.actors, vec!["authors"]);
    let names: Vec<&str> = t.info.actions.iter().map(|a| a.name.as_str()).collect();
    assert_eq!(names, ["Legal Review"]);
    e.complete(
        &editor1(),
        &t.id,
        Completion {
            action: "Legal Review".into(),
            ..Default::default()
        },
    )
    .await
    .expect("editor review");
    let t = only_task(&e, &wf.id).await;
    let names: Vec<&str> = t.info.actions.iter().map(|a| a.name.as_str()).collect();
    assert_eq!(names, ["Publish", "Notify Rejection", "back:Editor Review"]);
    e.complete(
        &legal1(),
        &t.id,
        Completion {
            action: "back:Editor Review".into(),
            ..Default::default()
        },
    )
    .await
    .expect("step back");
    let back = only_task(&e, &wf.id).await;
    assert_eq!(back.node_id, "node1");
    assert_eq!(
        sim.assignee_of(&wf_path(&back.id)).as_deref(),
        Some("authors")
    );
    // Route ids work as action names too.
    let graph = e.workflow_graph(&admin(), &wf.id).await.expect("graph");
    assert!(graph
        .nodes
        .iter()
        .any(|n| n.id == "node1" && n.state == flowgate_core::NodeState::Suspended));
}

#[tokio::test]
async fn delegation_outside_the_delegatees_is_refused_without_a_post() {
    let (sim, e) = engine(Profile::Aem64To65).await;
    let wf = start_review(&e, &id_of(PAGE)).await;
    let t = only_task(&e, &wf.id).await;
    sim.clear_requests();
    let err = e
        .delegate(&jdoe(), &t.id, vec!["nobody".into()], None)
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::BadRequest, "{err:?}");
    let err = e
        .delegate(&jdoe(), &t.id, vec!["dam1".into(), "admin".into()], None)
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::BadRequest);
    assert_eq!(count(&sim, "POST", ""), 0);
    e.delegate(
        &jdoe(),
        &t.id,
        vec!["user:dam1".into()],
        Some("yours".into()),
    )
    .await
    .expect("delegate");
    assert_eq!(sim.assignee_of(&wf_path(&t.id)).as_deref(), Some("dam1"));
    let err = e.complete(&jdoe(), &t.id, approve()).await.unwrap_err();
    assert_eq!(
        err.kind(),
        ErrorKind::Forbidden,
        "the former assignee can no longer act"
    );
    let err = e
        .reassign(&admin(), &t.id, vec!["dam1".into()], None)
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unsupported);
    assert!(!e.info().capabilities.reassign);
}

#[tokio::test]
async fn parallel_items_complete_the_workflow_only_together() {
    let (_sim, e) = engine(Profile::Aem64To65).await;
    let req = StartWorkflow {
        model: "flowgate/parallel_review".into(),
        documents: vec![id_of(PAGE)],
        variables: Default::default(),
    };
    let wf = e.start(&jdoe(), req).await.expect("start");
    let tasks = e
        .tasks(&admin(), TaskQuery::for_workflow(&wf.id))
        .await
        .expect("tasks")
        .items;
    assert_eq!(tasks.len(), 2);
    let cx_for = |actor: &str| {
        if actor == "authors" {
            editor1()
        } else {
            dam1()
        }
    };
    for (i, t) in tasks.iter().enumerate() {
        let action = t.info.actions[0].name.clone();
        e.complete(
            &cx_for(&t.actors[0]),
            &t.id,
            Completion {
                action,
                ..Default::default()
            },
        )
        .await
        .expect("complete");
        let state = e.workflow(&admin(), &wf.id).await.expect("wf").state;
        let want = if i == 0 {
            WorkflowState::Running
        } else {
            WorkflowState::Done
        };
        assert_eq!(state, want);
    }
    let g = e
        .model_graph(&admin(), "flowgate/parallel_review")
        .await
        .expect("graph");
    assert!(g.nodes.iter().any(|n| n.merge), "AND_JOIN becomes a merge");
}

#[tokio::test]
async fn process_only_models_finish_on_start() {
    let (_sim, e) = engine(Profile::Aem64To65).await;
    let req = StartWorkflow {
        model: "dam/update_asset".into(),
        documents: vec!["/content/dam/flowgate/photo.jpg".into()],
        variables: Default::default(),
    };
    let wf = e.start(&admin(), req).await.expect("start");
    assert_eq!(wf.state, WorkflowState::Done);
    assert!(wf.ended.is_some());
}

#[tokio::test]
async fn passthrough_reads_the_callers_inbox_without_task_rows() {
    let sim = flowgate_cq::sim::spawn(Profile::Aem64To65)
        .await
        .expect("sim");
    let e = CqEngine::new("cq", config_for(&sim, AuthConfig::Passthrough)).expect("engine");
    let mut cx = admin();
    cx.credentials = Some(Credentials::Basic {
        user: "admin".into(),
        password: Secret::new("admin"),
    });
    let req = StartWorkflow {
        model: "publish_example".into(),
        documents: vec![id_of(PAGE)],
        variables: Default::default(),
    };
    let wf = e.start(&cx, req).await.expect("start");
    let mine = e
        .tasks(&cx, TaskQuery::for_actor("admin", ["administrators"]))
        .await
        .expect("inbox");
    assert_eq!(
        mine.items.len(),
        1,
        "only the work item, not the Task rows: {mine:?}"
    );
    assert_eq!(mine.items[0].workflow_id.as_deref(), Some(wf.id.as_str()));
    assert!(count(&sim, "GET", "/bin/workflow/inbox") >= 1);
    let err = e.models(&admin()).await.unwrap_err();
    assert_eq!(
        err.kind(),
        ErrorKind::Forbidden,
        "no credentials kept: {err:?}"
    );
    let mut wrong = admin();
    wrong.credentials = Some(Credentials::Basic {
        user: "admin".into(),
        password: Secret::new("nope"),
    });
    let err = e.models(&wrong).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Forbidden);
    assert!(!err.message().contains("nope"));
    assert_eq!(e.health().await, Health::Up);
}

#[tokio::test]
async fn rejected_service_credentials_are_an_upstream_error() {
    let sim = flowgate_cq::sim::spawn(Profile::Cloud).await.expect("sim");
    // Basic is refused by the cloud profile: the engine refuses to build such a config...
    let basic = AuthConfig::Basic {
        user: "admin".into(),
        password: Some("admin".into()),
        password_env: None,
    };
    assert!(CqEngine::new("cq", config_for(&sim, basic)).is_err());
    // ...and a bad bearer token is the gateway's problem (502), never the caller's 401.
    let bad = AuthConfig::Bearer {
        token: Some("token-nobody".into()),
        token_env: None,
    };
    let e = CqEngine::new("cq", config_for(&sim, bad)).expect("engine");
    let err = e.models(&admin()).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Upstream);
    assert!(!err.message().contains("token-nobody"));
    assert!(matches!(e.health().await, Health::Down(_)));
    let (sim, e) = engine(Profile::Cloud).await;
    sim.add_fault(Fault::on("GET", "/etc/workflow/models", FaultAction::Unauthorized).times(1));
    let err = e.models(&admin()).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Upstream);
    assert!(sim.requests().iter().all(|r| r
        .header("authorization")
        .is_some_and(|a| a.starts_with("Bearer "))));
}

#[tokio::test]
async fn requests_never_look_like_a_browser() {
    let (sim, e) = engine(Profile::Aem64To65).await;
    let wf = start_review(&e, &id_of(PAGE)).await;
    e.cancel(&editor1(), &wf.id).await.expect("cancel");
    for r in sim.requests() {
        let ua = r.header("user-agent").unwrap_or("");
        assert!(ua.starts_with("flowgate-cq/"), "{ua}");
        assert!(r.header("referer").is_none());
        assert!(r.field(":status").is_none());
    }
    // The simulator's referrer filter refuses browser-like POSTs.
    let resp = reqwest::Client::new()
        .post(format!("{}etc/workflow/instances", sim.base_url()))
        .basic_auth("admin", Some("admin"))
        .header("User-Agent", "Mozilla/5.0")
        .body("model=x")
        .send()
        .await
        .expect("raw POST");
    assert_eq!(resp.status().as_u16(), 403);
}
