//! How the CQ adapter meets upstream faults: slow answers, error pages, malformed
//! bodies and dropped connections, with retries only where a request cannot have
//! taken effect twice. Each test runs against its own simulator and is bounded by
//! short HTTP timeouts.

mod common;

use std::time::{Duration, Instant};

use common::*;
use flowgate_core::{ErrorKind, Health, StartWorkflow, TaskState, WorkflowEngine, WorkflowState};
use flowgate_cq::sim::{Fault, FaultAction};
use flowgate_cq::Profile;

#[tokio::test]
async fn a_slow_get_times_out_within_the_deadline() {
    let (sim, e) = engine(Profile::Aem64To65).await;
    sim.add_fault(Fault::on(
        "GET",
        "/etc/workflow/models",
        FaultAction::Delay(Duration::from_secs(30)),
    ));
    let began = Instant::now();
    let cx = admin().with_timeout(Duration::from_millis(1500));
    let err = e.models(&cx).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Timeout, "{err:?}");
    assert!(began.elapsed() < Duration::from_secs(5));
}

#[tokio::test]
async fn a_slow_post_is_not_repeated() {
    let (sim, e) = engine(Profile::Aem64To65).await;
    let wf = start_review(&e, &id_of(PAGE)).await;
    sim.add_fault(Fault::on(
        "POST",
        "/var/workflow/instances",
        FaultAction::Delay(Duration::from_secs(30)),
    ));
    sim.clear_requests();
    let cx = admin().with_timeout(Duration::from_millis(2500));
    let began = Instant::now();
    let err = e.suspend(&cx, &wf.id).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Timeout, "{err:?}");
    assert_eq!(count(&sim, "POST", "/var/workflow/instances"), 1);
    assert!(began.elapsed() < Duration::from_secs(6));
}

#[tokio::test]
async fn a_500_page_is_an_upstream_error_without_the_body() {
    let (sim, e) = engine(Profile::Aem64To65).await;
    sim.add_fault(Fault::on(
        "GET",
        "/etc/workflow/models",
        FaultAction::Status(500),
    ));
    let err = e.models(&admin()).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Upstream);
    assert!(!err.message().contains("<html"), "{}", err.message());
    assert!(matches!(e.health().await, Health::Up));
    sim.add_fault(Fault::on(
        "GET",
        "/etc/workflow.json",
        FaultAction::Status(503),
    ));
    assert!(matches!(e.health().await, Health::Down(_)));
}

#[tokio::test]
async fn malformed_json_and_html_instead_of_json_are_upstream_errors() {
    let (sim, e) = engine(Profile::Aem64To65).await;
    let wf = start_review(&e, &id_of(PAGE)).await;
    sim.add_fault(
        Fault::on(
            "GET",
            "/etc/workflow/instances.RUNNING",
            FaultAction::MalformedJson,
        )
        .times(1),
    );
    let err = e.workflows(&admin(), Default::default()).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Upstream, "{err:?}");
    sim.add_fault(
        Fault::on(
            "GET",
            "/var/workflow/instances",
            FaultAction::HtmlInsteadOfJson,
        )
        .times(1),
    );
    let err = e.workflow(&admin(), &wf.id).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Upstream, "{err:?}");
    assert!(err.message().contains("instead of JSON"));
    // Faults spent: everything works again.
    assert_eq!(e.workflow(&admin(), &wf.id).await.expect("wf").id, wf.id);
}

#[tokio::test]
async fn dropped_gets_are_retried_and_persistent_drops_fail() {
    let (sim, e) = engine(Profile::Aem64To65).await;
    sim.add_fault(
        Fault::on(
            "GET",
            "/etc/workflow/models",
            FaultAction::DropBeforeResponse {
                apply_effects: false,
            },
        )
        .times(1),
    );
    assert!(!e
        .models(&admin())
        .await
        .expect("models after one drop")
        .is_empty());
    sim.add_fault(Fault::on(
        "GET",
        "/etc/workflow/models",
        FaultAction::DropBeforeResponse {
            apply_effects: false,
        },
    ));
    let err = e.models(&admin()).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Upstream, "{err:?}");
    sim.clear_faults();
    sim.add_fault(Fault::on(
        "GET",
        "/etc/workflow/models",
        FaultAction::DropMidBody,
    ));
    let err = e.models(&admin()).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Upstream, "{err:?}");
}

#[tokio::test]
async fn a_dropped_start_is_reconciled_not_reposted() {
    let (sim, e) = engine(Profile::Aem64To65).await;
    sim.add_fault(
        Fault::on(
            "POST",
            "/etc/workflow/instances",
            FaultAction::DropBeforeResponse {
                apply_effects: true,
            },
        )
        .times(1),
    );
    let wf = start_review(&e, &id_of(PAGE)).await;
    assert_eq!(wf.state, WorkflowState::Running);
    assert_eq!(count(&sim, "POST", "/etc/workflow/instances"), 1);
    assert_eq!(sim.instances_in_state("RUNNING"), vec![wf_path(&wf.id)]);

    sim.add_fault(
        Fault::on(
            "POST",
            "/etc/workflow/instances",
            FaultAction::DropBeforeResponse {
                apply_effects: false,
            },
        )
        .times(1),
    );
    let req = StartWorkflow {
        model: "flowgate/review".into(),
        documents: vec![id_of(PAGE)],
        variables: Default::default(),
    };
    let err = e.start(&editor1(), req).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Upstream, "{err:?}");
    assert_eq!(count(&sim, "POST", "/etc/workflow/instances"), 2);
    assert_eq!(sim.instances_in_state("RUNNING").len(), 1);
}

#[tokio::test]
async fn a_dropped_completion_that_took_effect_is_a_success() {
    let (sim, e) = engine(Profile::Aem64To65).await;
    let wf = start_review(&e, &id_of(PAGE)).await;
    let t = only_task(&e, &wf.id).await;
    sim.add_fault(
        Fault::on(
            "POST",
            "/bin/workflow/inbox",
            FaultAction::DropBeforeResponse {
                apply_effects: true,
            },
        )
        .times(1),
    );
    let done = e
        .complete(&jdoe(), &t.id, approve())
        .await
        .expect("settled by reading back");
    assert_eq!(done.state, TaskState::Ended);
    assert_eq!(count(&sim, "POST", "/bin/workflow/inbox"), 1);
}
