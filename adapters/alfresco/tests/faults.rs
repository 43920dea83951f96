//! How the Alfresco adapter meets upstream faults: every fault ends in the right error
//! kind within its deadline, idempotent reads are retried, and a start or completion
//! that timed out is never sent again.

mod common;

use std::time::Duration;

use common::*;
use flowgate_alfresco::sim::{Fault, FaultKind};
use flowgate_core::{ErrorKind, TaskState, WorkflowEngine};
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_fault_gives_the_right_error_kind_without_hanging() {
    let cases = [
        (FaultKind::Delay(Duration::from_secs(3)), ErrorKind::Timeout),
        (FaultKind::Status(500), ErrorKind::Upstream),
        (FaultKind::Status(502), ErrorKind::Upstream),
        (FaultKind::RateLimit, ErrorKind::Unavailable),
        (FaultKind::MalformedJson, ErrorKind::Upstream),
        (FaultKind::WrongShape, ErrorKind::Upstream),
        (FaultKind::HtmlOk, ErrorKind::Upstream),
        (FaultKind::DropConnection, ErrorKind::Upstream),
    ];
    for (fault, kind) in cases {
        let sim = common::sim();
        let e = fast_engine(&sim);
        sim.fault(Fault::on("/process-definitions", fault.clone()));
        let started = std::time::Instant::now();
        let err = bounded(e.models(&common::admin()))
            .await
            .expect_err("fault surfaces");
        assert_eq!(err.kind(), kind, "{fault:?}: {err:?}");
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "{fault:?} took {:?}",
            started.elapsed()
        );
        assert!(
            !err.message().contains("Injected"),
            "no upstream body in messages: {err:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idempotent_reads_are_retried_after_a_transient_failure() {
    let sim = common::sim();
    let e = fast_engine(&sim);
    sim.fault(
        Fault::on("/process-definitions", FaultKind::Status(503))
            .method("GET")
            .times(1),
    );
    let models = bounded(e.models(&common::admin()))
        .await
        .expect("second attempt succeeds");
    assert_eq!(models.len(), 5);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_timed_out_completion_or_start_is_never_resent() {
    let sim = common::sim();
    let e = fast_engine(&sim);
    bounded(async {
        let dave = common::user("dave", &[]);
        sim.fault(
            Fault::on("/processes", FaultKind::Delay(Duration::from_secs(2)))
                .method("POST")
                .times(1),
        );
        let err = e
            .start(
                &dave,
                start_req("activitiReview", json!({"assignee": "jdoe"})),
            )
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Timeout, "{err:?}");
        assert_eq!(sim.count("POST", "/processes"), 1, "start sent once");

        let wf = e
            .start(
                &dave,
                start_req("activitiReview", json!({"assignee": "jdoe"})),
            )
            .await
            .expect("start");
        let t = open_tasks(&e, &wf.id).await.remove(0);
        sim.fault(
            Fault::on(
                format!("/tasks/{}", t.id),
                FaultKind::Delay(Duration::from_secs(2)),
            )
            .method("PUT")
            .times(1),
        );
        let jdoe = common::user("jdoe", &[]);
        let err = e.complete(&jdoe, &t.id, done("approve")).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Timeout, "{err:?}");
        assert_eq!(
            sim.count("PUT", &format!("/tasks/{}", t.id)),
            1,
            "completion sent once"
        );

        // A completion whose answer was lost is recognised on the re-read.
        sim.clear_faults();
        let wf = e
            .start(
                &dave,
                start_req("activitiReview", json!({"assignee": "jdoe"})),
            )
            .await
            .expect("start");
        let t = open_tasks(&e, &wf.id).await.remove(0);
        sim.fault(
            Fault::on(format!("/tasks/{}", t.id), FaultKind::DropAfterCommit)
                .method("PUT")
                .times(1),
        );
        let r = e.complete(&jdoe, &t.id, done("approve")).await;
        assert_eq!(
            sim.count("PUT", &format!("/tasks/{}", t.id)),
            1,
            "completion sent once"
        );
        if let Err(err) = r {
            assert_eq!(err.kind(), ErrorKind::Upstream, "{err:?}");
        }
        let after = e.task(&common::admin(), &t.id).await.expect("task");
        assert_eq!(
            after.state,
            TaskState::Ended,
            "the side effect happened once"
        );
    })
    .await;
}
