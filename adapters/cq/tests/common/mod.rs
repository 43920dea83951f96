//! Shared helpers: a simulator per profile and an engine configured for it.

#![allow(dead_code)]

use std::sync::Arc;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use flowgate_core::{CallContext, WorkflowEngine};
use flowgate_cq::sim::{self, CqSim};
use flowgate_cq::{AuthConfig, CqConfig, CqEngine, Profile};
use flowgate_testkit::{ExpectedTask, Fixture, Setup, Step, Who};

/// The page the fixtures attach.
pub const PAGE: &str = "/content/flowgate/en/page-a";

/// The flowgate id of a JCR path.
pub fn id_of(path: &str) -> String {
    URL_SAFE_NO_PAD.encode(path)
}

/// The service-account auth the simulator accepts for a profile.
pub fn service_auth(profile: Profile) -> AuthConfig {
    if profile == Profile::Cloud {
        AuthConfig::Bearer {
            token: Some("token-admin".into()),
            token_env: None,
        }
    } else {
        AuthConfig::Basic {
            user: "admin".into(),
            password: Some("admin".into()),
            password_env: None,
        }
    }
}

/// A config pointing at `sim`, with short timeouts so fault tests stay quick.
pub fn config_for(sim: &CqSim, auth: AuthConfig) -> CqConfig {
    let mut c = CqConfig::new(
        sim.base_url().parse().expect("sim URL"),
        sim.profile(),
        auth,
    );
    c.http.request_timeout_ms = 2_000;
    c.http.connect_timeout_ms = 1_000;
    c.http.max_attempts = 3;
    c.http.retry_min_delay_ms = 10;
    c.http.retry_max_delay_ms = 50;
    c.http.breaker_failures = 0;
    c
}

/// A simulator and an engine (service account) for it.
pub async fn engine(profile: Profile) -> (CqSim, CqEngine) {
    engine_with(sim::SimOptions::new(profile)).await
}

/// A simulator with explicit options and an engine (service account) for it.
pub async fn engine_with(options: sim::SimOptions) -> (CqSim, CqEngine) {
    let profile = options.profile;
    let sim = sim::spawn_with(options, 0).await.expect("simulator starts");
    let engine = CqEngine::new("cq", config_for(&sim, service_auth(profile))).expect("engine");
    (sim, engine)
}

/// Simulator options answering with only the fields public sources show.
pub fn minimal(profile: Profile) -> sim::SimOptions {
    let mut o = sim::SimOptions::new(profile);
    o.fields = sim::SimFields::Minimal;
    o
}

fn user(name: &str, groups: &[&str]) -> CallContext {
    CallContext::user(name, groups.iter().copied())
}

/// A caller as the gateway would build it for a simulator user.
pub fn jdoe() -> CallContext {
    user("jdoe", &["authors", "workflow-users"])
}
pub fn editor1() -> CallContext {
    user("editor1", &["authors", "workflow-users"])
}
pub fn legal1() -> CallContext {
    user("legal1", &["legal", "workflow-users"])
}
pub fn dam1() -> CallContext {
    user("dam1", &["dam-users", "workflow-users"])
}
pub fn admin() -> CallContext {
    CallContext::admin("admin")
}

/// `flowgate/review`: jdoe reviews and approves or rejects.
pub fn review_fixture(profile: Profile) -> Fixture {
    Fixture {
        label: format!("{profile}/review"),
        model: "flowgate/review".into(),
        document: id_of(PAGE),
        start_variables: serde_json::json!({"title": "Review page A", "comment": "please check"})
            .as_object()
            .cloned()
            .unwrap_or_default(),
        initiator: editor1(),
        reviewers: vec![jdoe()],
        spare: dam1(),
        outsider: legal1(),
        admin: admin(),
        first_task: ExpectedTask {
            actors: vec!["jdoe".into()],
            actions: vec!["Approve".into(), "Reject".into()],
            allow_reassignment: Some(false),
        },
        approve_path: vec![Step::new(Who::Reviewer(0), "Approve").comment("fine")],
        reject_path: Some(vec![Step::new(Who::Reviewer(0), "Reject")]),
        invalid_action: "NoSuchButton".into(),
        reassignable_after: 0,
    }
}

/// `publish_example`: admin validates, a process step publishes.
pub fn publish_fixture(profile: Profile) -> Fixture {
    Fixture {
        label: format!("{profile}/publish_example"),
        model: "publish_example".into(),
        document: id_of("/content/flowgate/en/page-b"),
        start_variables: Default::default(),
        initiator: jdoe(),
        reviewers: vec![admin()],
        spare: dam1(),
        outsider: legal1(),
        admin: admin(),
        first_task: ExpectedTask {
            actors: vec!["admin".into()],
            actions: vec!["Publish Content".into()],
            allow_reassignment: Some(false),
        },
        approve_path: vec![Step::new(Who::Reviewer(0), "Publish Content")],
        reject_path: None,
        invalid_action: "back:Nowhere".into(),
        reassignable_after: 0,
    }
}

/// The conformance setup of one profile: a fresh simulator and engine.
pub async fn setup(profile: Profile) -> Setup {
    setup_with(sim::SimOptions::new(profile)).await
}

/// The conformance setup against a simulator with explicit options.
pub async fn setup_with(options: sim::SimOptions) -> Setup {
    let profile = options.profile;
    let (sim, engine) = engine_with(options).await;
    let mut s = Setup::new(
        Arc::new(engine),
        vec![review_fixture(profile), publish_fixture(profile)],
    );
    s.guard = Some(Box::new(sim));
    s
}

/// Like [`setup`], with the simulator serving https from a CA made at test time that
/// the engine trusts through `ca_file`.
pub async fn setup_https(profile: Profile) -> Setup {
    let ca = flowgate_testkit::tls::Ca::new("flowgate cq test CA").expect("CA");
    let tls = ca.server_tls(None).expect("server certificate");
    let sim = sim::spawn_tls(sim::SimOptions::new(profile), 0, &tls)
        .await
        .expect("simulator starts");
    assert!(sim.base_url().starts_with("https://127.0.0.1:"));
    let ca_file = flowgate_testkit::tls::pem_file(&ca.pem()).expect("CA file");
    let mut cfg = config_for(&sim, service_auth(profile));
    cfg.http.ca_file = Some(ca_file.path().to_owned());
    let engine = CqEngine::new("cq", cfg).expect("engine");
    let mut s = Setup::new(
        Arc::new(engine),
        vec![review_fixture(profile), publish_fixture(profile)],
    );
    s.guard = Some(Box::new((sim, ca_file)));
    s
}

/// Requests the simulator received with this method and a path containing `path_contains`.
pub fn count(sim: &CqSim, method: &str, path_contains: &str) -> usize {
    sim.requests()
        .iter()
        .filter(|r| r.method == method && r.path.contains(path_contains))
        .count()
}

/// A `flowgate/review` on `doc`, started by editor1.
pub async fn start_review(e: &CqEngine, doc: &str) -> flowgate_core::WorkflowInstance {
    let req = flowgate_core::StartWorkflow {
        model: "flowgate/review".into(),
        documents: vec![doc.to_owned()],
        variables: Default::default(),
    };
    e.start(&editor1(), req).await.expect("start")
}

/// The one open task of workflow `wf`.
pub async fn only_task(e: &CqEngine, wf: &str) -> flowgate_core::Task {
    let tasks = e
        .tasks(&admin(), flowgate_core::TaskQuery::for_workflow(wf))
        .await
        .expect("tasks");
    assert_eq!(tasks.items.len(), 1, "{tasks:?}");
    tasks.items.into_iter().next().expect("one task")
}

/// Completion with the `Approve` route.
pub fn approve() -> flowgate_core::Completion {
    flowgate_core::Completion {
        action: "Approve".into(),
        ..Default::default()
    }
}

/// The JCR path a workflow id stands for.
pub fn wf_path(id: &str) -> String {
    let bytes = URL_SAFE_NO_PAD.decode(id).expect("base64url id");
    String::from_utf8(bytes).expect("utf-8 path")
}
