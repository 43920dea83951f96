//! The `bearer_passthrough` mode: each caller's bearer token goes upstream (also for
//! the CSRF token, which is per user), CQ acts as the token's user, callers without a
//! bearer sign-in are refused before any request, and the token shows neither in
//! errors nor in logs.

mod common;

use flowgate_testkit::logs::Captured;

use flowgate_core::{
    CallContext, Completion, Credentials, ErrorKind, Secret, StartWorkflow, TaskQuery, TaskState,
    WorkflowEngine,
};
use flowgate_cq::sim::{self, CqSim};
use flowgate_cq::{AuthConfig, CqEngine, Profile};

use common::{config_for, id_of, PAGE};

const EDITOR_TOKEN: &str = "eyJ0ZXN0IjoiZWRpdG9yMSJ9.editor1-signature-3Hq9";
const JDOE_TOKEN: &str = "eyJ0ZXN0IjoiamRvZSJ9.jdoe-signature-6Vb2";
const CSRF: &str = "/libs/granite/csrf/token";

async fn setup(profile: Profile) -> (CqSim, CqEngine) {
    let mut options = sim::SimOptions::new(profile);
    options.bearer_tokens = vec![
        (EDITOR_TOKEN.into(), "editor1".into()),
        (JDOE_TOKEN.into(), "jdoe".into()),
    ];
    let sim = sim::spawn_with(options, 0).await.expect("sim");
    let e = CqEngine::new("cq", config_for(&sim, AuthConfig::BearerPassthrough)).expect("engine");
    (sim, e)
}

fn bearer(cx: CallContext, token: &str) -> CallContext {
    let mut cx = cx;
    cx.credentials = Some(Credentials::Bearer(Secret::new(token)));
    cx
}

fn review() -> StartWorkflow {
    StartWorkflow {
        model: "flowgate/review".into(),
        documents: vec![id_of(PAGE)],
        variables: Default::default(),
    }
}

/// Index of the first recorded request with this method whose path contains `part`.
fn first(sim: &CqSim, method: &str, part: &str) -> Option<usize> {
    sim.requests()
        .iter()
        .position(|r| r.method == method && r.path.contains(part))
}

#[tokio::test]
async fn cq_acts_as_the_bearer_tokens_user_and_fetches_csrf_tokens_with_it() {
    let (sim, e) = setup(Profile::Aem64To65).await;
    let editor = bearer(common::editor1(), EDITOR_TOKEN);
    let wf = e.start(&editor, review()).await.expect("start as editor1");
    assert_eq!(wf.initiator.as_deref(), Some("editor1"));
    let reqs = sim.requests();
    assert!(reqs.iter().all(|r| r.user.as_deref() == Some("editor1")
        && r.header("authorization") == Some(&format!("Bearer {EDITOR_TOKEN}"))));
    assert!(first(&sim, "GET", CSRF) < first(&sim, "POST", "/etc/workflow/instances"));

    sim.clear_requests();
    let jdoe = bearer(common::jdoe(), JDOE_TOKEN);
    let mine = e
        .tasks(
            &jdoe,
            TaskQuery::for_actor("jdoe", ["authors", "workflow-users"]),
        )
        .await
        .expect("jdoe's inbox");
    assert_eq!(mine.items.len(), 1, "{mine:?}");
    let done = Completion {
        action: "Approve".into(),
        ..Default::default()
    };
    let t = e
        .complete(&jdoe, &mine.items[0].id, done)
        .await
        .expect("complete as jdoe");
    assert_eq!(t.state, TaskState::Ended);
    let reqs = sim.requests();
    assert!(
        reqs.iter().all(|r| r.user.as_deref() == Some("jdoe")),
        "{reqs:?}"
    );
    // jdoe's own CSRF token, fetched before jdoe's first POST: editor1's cached token
    // was not reused for another caller.
    let csrf = first(&sim, "GET", CSRF).expect("a CSRF token for jdoe");
    let post = first(&sim, "POST", "/").expect("a POST");
    assert!(csrf < post, "{reqs:?}");
    assert_eq!(
        reqs.iter().filter(|r| r.path.contains(CSRF)).count(),
        1,
        "no refresh after a refused POST"
    );
}

#[tokio::test]
async fn callers_without_a_bearer_sign_in_are_refused_before_any_request() {
    let (sim, e) = setup(Profile::Aem64To65).await;
    let mut basic = common::editor1();
    basic.credentials = Some(Credentials::Basic {
        user: "editor1".into(),
        password: Secret::new("editor1"),
    });
    for cx in [basic, common::editor1()] {
        let err = e.start(&cx, review()).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Forbidden, "{err:?}");
        assert!(err.message().contains("Authorization: Bearer"), "{err}");
        let err = e.models(&cx).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Forbidden, "{err:?}");
    }
    assert!(sim.requests().is_empty(), "{:?}", sim.requests());
    assert!(sim.instances_in_state("RUNNING").is_empty());
}

#[tokio::test]
async fn what_a_bearer_caller_read_is_not_served_to_a_basic_caller_of_the_same_name() {
    let (sim, e) = setup(Profile::Aem64To65).await;
    let editor = bearer(common::editor1(), EDITOR_TOKEN);
    let wf = e.start(&editor, review()).await.expect("start");
    let jdoe = bearer(common::jdoe(), JDOE_TOKEN);
    let tasks = e
        .tasks(&jdoe, TaskQuery::for_workflow(&wf.id))
        .await
        .expect("tasks");
    let task = tasks.items.first().expect("jdoe's task").id.clone();
    e.task(&jdoe, &task).await.expect("read as jdoe");
    e.workflow(&jdoe, &wf.id).await.expect("read as jdoe");
    sim.clear_requests();
    let mut basic = common::jdoe();
    basic.credentials = Some(Credentials::Basic {
        user: "jdoe".into(),
        password: Secret::new("jdoe"),
    });
    for cx in [basic, common::jdoe()] {
        let err = e.task(&cx, &task).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Forbidden, "{err:?}");
        let err = e.workflow(&cx, &wf.id).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Forbidden, "{err:?}");
        let err = e
            .tasks(&cx, TaskQuery::for_workflow(&wf.id))
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Forbidden, "{err:?}");
    }
    assert!(sim.requests().is_empty(), "{:?}", sim.requests());
}

#[tokio::test]
async fn a_refused_token_shows_neither_in_the_error_nor_in_logs() {
    let (sim, e) = setup(Profile::Aem64To65).await;
    let logs = Captured::default();
    let _guard = tracing::subscriber::set_default(logs.clone());
    let unknown = "eyJ1bmtub3duIjp0cnVlfQ.never-issued-2Lp8";
    let cx = bearer(common::editor1(), unknown);
    assert!(!format!("{cx:?}").contains(unknown));
    let err = e.start(&cx, review()).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Forbidden, "{err:?}");
    assert!(err.message().contains("bearer token"), "{err}");
    assert!(sim.requests().iter().any(|r| r.user.is_none()));
    for text in [err.message(), format!("{err:?}"), logs.text()] {
        assert!(
            !text.contains(unknown) && !text.contains(EDITOR_TOKEN),
            "{text}"
        );
    }
    assert!(!logs.text().is_empty(), "logs were captured");
}
