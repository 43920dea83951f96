//! The `bearer_passthrough` mode: the caller's bearer token goes upstream, Alfresco
//! acts as the token's user, callers without a bearer sign-in are refused before any
//! request, and the token shows neither in errors nor in logs.

mod common;

use flowgate_testkit::logs::Captured;
use std::time::Duration;

use flowgate_alfresco::sim::{nodes, SimOptions};
use flowgate_alfresco::AuthMode;
use flowgate_core::{
    Completion, Credentials, ErrorKind, Secret, StartWorkflow, TaskQuery, TaskState, WorkflowEngine,
};
use serde_json::json;

const DAVE_TOKEN: &str = "eyJ0ZXN0IjoiZGF2ZSJ9.dave-signature-5Qm2";
const JDOE_TOKEN: &str = "eyJ0ZXN0IjoiamRvZSJ9.jdoe-signature-8Zt4";

fn sim() -> flowgate_alfresco::sim::SimHandle {
    common::sim_with(SimOptions {
        bearer_tokens: vec![
            (DAVE_TOKEN.into(), "dave".into()),
            (JDOE_TOKEN.into(), "jdoe".into()),
        ],
        ..SimOptions::default()
    })
}

async fn bounded<F: std::future::Future<Output = T>, T>(f: F) -> T {
    tokio::time::timeout(Duration::from_secs(60), f)
        .await
        .expect("test finished in time")
}

fn review_for_jdoe() -> StartWorkflow {
    StartWorkflow {
        model: "activitiReview".into(),
        documents: vec![nodes::CONTRACT.into()],
        variables: json!({"assignee": "jdoe"})
            .as_object()
            .cloned()
            .unwrap_or_default(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alfresco_acts_as_the_user_of_the_callers_bearer_token() {
    let sim = sim();
    let e = common::engine(&sim, AuthMode::BearerPassthrough);
    bounded(async {
        let dave = common::with_bearer(common::user("dave", &[]), DAVE_TOKEN);
        let wf = e
            .start(&dave, review_for_jdoe())
            .await
            .expect("start as dave");
        assert_eq!(
            wf.initiator.as_deref(),
            Some("dave"),
            "Alfresco records dave"
        );
        let reqs = sim.requests();
        assert!(!reqs.is_empty());
        assert!(
            reqs.iter().all(|r| r.user.as_deref() == Some("dave")),
            "{reqs:?}"
        );
        sim.clear_requests();
        let jdoe = common::with_bearer(common::user("jdoe", &[]), JDOE_TOKEN);
        let mine = e
            .tasks(&jdoe, TaskQuery::for_actor("jdoe", Vec::<String>::new()))
            .await
            .expect("jdoe's tasks");
        assert_eq!(mine.items.len(), 1);
        let done = Completion {
            action: "approve".into(),
            ..Default::default()
        };
        let t = e
            .complete(&jdoe, &mine.items[0].id, done)
            .await
            .expect("complete as jdoe");
        assert_eq!(t.state, TaskState::Ended);
        let reqs = sim.requests();
        let puts: Vec<_> = reqs.iter().filter(|r| r.method == "PUT").collect();
        assert!(!puts.is_empty());
        assert!(
            reqs.iter().all(|r| r.user.as_deref() == Some("jdoe")),
            "{reqs:?}"
        );
        // No ticket was ever asked for: the token is the only credential.
        assert_eq!(sim.ticket_count(), 0);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn callers_without_a_bearer_sign_in_are_refused_before_any_request() {
    let sim = sim();
    let e = common::engine(&sim, AuthMode::BearerPassthrough);
    bounded(async {
        let basic = common::with_password(common::user("dave", &[]));
        let none = common::user("dave", &[]);
        for cx in [basic, none] {
            let err = e.start(&cx, review_for_jdoe()).await.unwrap_err();
            assert_eq!(err.kind(), ErrorKind::Forbidden, "{err:?}");
            assert!(err.message().contains("Authorization: Bearer"), "{err}");
            let err = e.models(&cx).await.unwrap_err();
            assert_eq!(err.kind(), ErrorKind::Forbidden);
        }
        assert!(sim.requests().is_empty(), "{:?}", sim.requests());
        assert_eq!(sim.process_count(), 0);
    })
    .await;
}

#[tokio::test]
async fn a_refused_token_shows_neither_in_the_error_nor_in_logs() {
    let sim = sim();
    let e = common::engine(&sim, AuthMode::BearerPassthrough);
    let logs = Captured::default();
    let _guard = tracing::subscriber::set_default(logs.clone());
    let unknown = "eyJ1bmtub3duIjp0cnVlfQ.never-issued-7Kx1";
    let mut cx = common::user("dave", &[]);
    cx.credentials = Some(Credentials::Bearer(Secret::new(unknown)));
    assert!(!format!("{cx:?}").contains(unknown));
    let err = bounded(e.start(&cx, review_for_jdoe())).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Forbidden, "{err:?}");
    assert!(err.message().contains("bearer token"), "{err}");
    let dave = common::with_bearer(common::user("dave", &[]), DAVE_TOKEN);
    // An upstream error answered to a valid token: logged, still without the token.
    let err = bounded(e.workflow(&dave, "999999")).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound, "{err:?}");
    for text in [
        err.message(),
        format!("{err:?}"),
        format!("{dave:?}"),
        logs.text(),
    ] {
        assert!(
            !text.contains(unknown) && !text.contains(DAVE_TOKEN),
            "{text}"
        );
    }
    assert!(sim.requests().iter().any(|r| r.status == 401));
    assert!(logs.text().contains("alfresco error"), "logs were captured");
}
