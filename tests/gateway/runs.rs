//! Full runs of the shipped models over HTTP, with different users (facade spec §9).

use serde_json::{json, Value};

use crate::common::{action_names, actor_ids, TestGateway};

const DOC: &str = "0c5e3b7a-9a41-4f3e-8f27-4d6b0e1c2d33";

fn id(v: &Value) -> String {
    v["id"].as_str().expect("id").to_owned()
}

async fn workflow_state(gw: &TestGateway, wf: &str) -> String {
    gw.get(&format!("/api/v1/workflow/{wf}"), "Administrator")
        .await
        .expect(200)
        .json()["state"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// Starts Serial on DOC and completes the first task with `participants`; returns the
/// workflow id.
async fn serial_started(gw: &TestGateway, participants: Value) -> String {
    let wf = gw
        .start("Administrator", "SerialDocumentReview", Some(DOC))
        .await;
    assert_eq!(wf["state"], "running");
    assert_eq!(wf["attachedDocumentIds"], json!([{"id": DOC}]));
    let wf = id(&wf);
    let t1 = gw.only_task("Administrator", &wf).await;
    assert_eq!(t1["name"], "wf.serialDocumentReview.chooseParticipants");
    assert_eq!(t1["nodeName"], "Task38e");
    assert_eq!(actor_ids(&t1), vec!["Administrator"]);
    assert_eq!(action_names(&t1), vec!["cancel", "start_review"]);
    assert_eq!(t1["taskInfo"]["allowTaskReassignment"], false);
    let done = gw
        .complete(
            "Administrator",
            &id(&t1),
            "start_review",
            json!({"participants": participants}),
        )
        .await
        .expect(200)
        .json();
    assert_eq!(done["state"], "ended");
    wf
}

#[actix_web::test]
async fn serial_run_a_two_validators_finish_the_workflow() {
    let gw = TestGateway::new().await;
    let wf = serial_started(&gw, json!(["user:jdoe", "user:asmith"])).await;

    let t2 = gw.only_task("jdoe", &wf).await;
    assert_eq!(t2["nodeName"], "Task6d8");
    assert_eq!(actor_ids(&t2), vec!["user:jdoe"]);
    assert_eq!(action_names(&t2), vec!["reject", "validate"]);
    assert_eq!(t2["taskInfo"]["allowTaskReassignment"], true);
    // asmith is not an actor yet and sees nothing of it.
    assert!(gw.tasks_of("asmith", &wf).await.is_empty());

    gw.complete("jdoe", &id(&t2), "validate", json!({}))
        .await
        .expect(200);
    let t3 = gw.only_task("asmith", &wf).await;
    assert_eq!(actor_ids(&t3), vec!["user:asmith"]);
    let w = gw
        .get(&format!("/api/v1/workflow/{wf}"), "Administrator")
        .await
        .expect(200)
        .json();
    assert_eq!(w["variables"]["index"], 1);

    gw.complete("asmith", &id(&t3), "validate", json!({}))
        .await
        .expect(200);
    assert_eq!(workflow_state(&gw, &wf).await, "done");
    assert!(gw.tasks_of("Administrator", &wf).await.is_empty());
    let on_doc = gw
        .get(&format!("/api/v1/id/{DOC}/@workflow"), "Administrator")
        .await
        .expect(200)
        .json();
    assert_eq!(on_doc["entries"], json!([]));
}

#[actix_web::test]
async fn serial_run_b_rejections_loop_back_to_the_initiator() {
    let gw = TestGateway::new().await;
    let wf = serial_started(&gw, json!(["user:jdoe", "user:asmith"])).await;
    let t = gw.only_task("jdoe", &wf).await;
    gw.complete("jdoe", &id(&t), "validate", json!({}))
        .await
        .expect(200);
    let t = gw.only_task("asmith", &wf).await;
    gw.complete("asmith", &id(&t), "reject", json!({"comment": "not yet"}))
        .await
        .expect(200);
    // index 0 again: back to jdoe.
    let t = gw.only_task("jdoe", &wf).await;
    assert_eq!(t["nodeName"], "Task6d8");
    gw.complete("jdoe", &id(&t), "reject", json!({}))
        .await
        .expect(200);
    // index -1: the initiator must update the document.
    let t = gw.only_task("Administrator", &wf).await;
    assert_eq!(t["nodeName"], "Task542");
    assert_eq!(actor_ids(&t), vec!["Administrator"]);
    assert_eq!(action_names(&t), vec!["cancel", "submit"]);
    gw.complete("Administrator", &id(&t), "submit", json!({}))
        .await
        .expect(200);
    let t = gw.only_task("jdoe", &wf).await;
    assert_eq!(t["nodeName"], "Task6d8");
    gw.complete("jdoe", &id(&t), "reject", json!({}))
        .await
        .expect(200);
    let t = gw.only_task("Administrator", &wf).await;
    assert_eq!(t["nodeName"], "Task542");
    gw.complete("Administrator", &id(&t), "cancel", json!({}))
        .await
        .expect(200);
    // The cancel button ends the workflow normally.
    assert_eq!(workflow_state(&gw, &wf).await, "done");
}

#[actix_web::test]
async fn serial_run_c_single_participant_validates() {
    let gw = TestGateway::new().await;
    let wf = serial_started(&gw, json!(["user:Administrator"])).await;
    let t = gw.only_task("Administrator", &wf).await;
    assert_eq!(actor_ids(&t), vec!["user:Administrator"]);
    gw.complete("Administrator", &id(&t), "validate", json!({}))
        .await
        .expect(200);
    assert_eq!(workflow_state(&gw, &wf).await, "done");
}

#[actix_web::test]
async fn serial_run_d_cancel_button_ends_without_further_task() {
    let gw = TestGateway::new().await;
    let wf = id(&gw
        .start("Administrator", "SerialDocumentReview", None)
        .await);
    let t = gw.only_task("Administrator", &wf).await;
    gw.complete("Administrator", &id(&t), "cancel", json!({}))
        .await
        .expect(200);
    assert_eq!(workflow_state(&gw, &wf).await, "done");
    assert!(gw.tasks_of("Administrator", &wf).await.is_empty());
}

/// Seed 002's parallel review: string-encoded participants, one task per reviewer,
/// consolidation by the initiator.
async fn parallel_to_consolidation(gw: &TestGateway) -> (String, Value) {
    let wf = gw
        .post(
            &format!("/api/v1/id/{DOC}/@workflow"),
            "Administrator",
            &json!({"entity-type": "workflow", "workflowModelName": "ParallelDocumentReview"}),
        )
        .await
        .expect(201)
        .json();
    let wf = id(&wf);
    let t1 = gw.only_task("Administrator", &wf).await;
    assert_eq!(t1["nodeName"], "Task2556");
    assert_eq!(action_names(&t1), vec!["cancel", "start_review"]);
    let body = json!({
        "entity-type": "task",
        "id": id(&t1),
        "comment": "please review",
        "variables": {
            "participants": "[\"user:jdoe\",\"user:asmith\"]",
            "end_date": "2031-10-23T12:00:00.00Z"
        }
    });
    gw.put(
        &format!("/api/v1/task/{}/start_review", id(&t1)),
        "Administrator",
        Some(&body),
    )
    .await
    .expect(200);
    let w = gw
        .get(&format!("/api/v1/workflow/{wf}"), "Administrator")
        .await
        .expect(200)
        .json();
    assert_eq!(w["variables"]["initiatorComment"], "please review");

    let reviews = gw.tasks_of("Administrator", &wf).await;
    assert_eq!(reviews.len(), 2, "{reviews:?}");
    let tj = gw.only_task("jdoe", &wf).await;
    let ta = gw.only_task("asmith", &wf).await;
    assert_eq!(tj["nodeName"], "Task328d");
    assert_eq!(action_names(&tj), vec!["NA", "approve", "reject"]);
    assert_eq!(tj["dueDate"], "2031-10-23T12:00:00.000Z");
    assert_eq!(actor_ids(&tj), vec!["user:jdoe"]);
    assert_eq!(actor_ids(&ta), vec!["user:asmith"]);

    gw.complete("jdoe", &id(&tj), "approve", json!({"comment": "fine"}))
        .await
        .expect(200);
    // Until the last reviewer, nothing else appears.
    let left = gw.tasks_of("Administrator", &wf).await;
    assert_eq!(left.len(), 1);
    assert_eq!(left[0]["nodeName"], "Task328d");
    gw.complete("asmith", &id(&ta), "reject", json!({}))
        .await
        .expect(200);

    let consolidate = gw.only_task("Administrator", &wf).await;
    assert_eq!(consolidate["nodeName"], "Task2169");
    assert_eq!(action_names(&consolidate), vec!["reject", "validate"]);
    let summary = consolidate["variables"]["review_result"]
        .as_str()
        .unwrap_or_default();
    assert!(
        summary.contains("jdoe") && summary.contains("asmith"),
        "{summary}"
    );
    (wf, consolidate)
}

#[actix_web::test]
async fn parallel_review_validated_by_the_initiator_is_done() {
    let gw = TestGateway::new().await;
    let (wf, t) = parallel_to_consolidation(&gw).await;
    gw.complete("Administrator", &id(&t), "validate", json!({}))
        .await
        .expect(200);
    assert_eq!(workflow_state(&gw, &wf).await, "done");
    assert!(gw.tasks_of("Administrator", &wf).await.is_empty());
}

#[actix_web::test]
async fn parallel_review_rejected_by_the_initiator_is_done() {
    let gw = TestGateway::new().await;
    let (wf, t) = parallel_to_consolidation(&gw).await;
    gw.complete("Administrator", &id(&t), "reject", json!({}))
        .await
        .expect(200);
    assert_eq!(workflow_state(&gw, &wf).await, "done");
}

#[actix_web::test]
async fn parallel_single_reviewer_then_second_completion_is_409() {
    let gw = TestGateway::new().await;
    let wf = id(&gw
        .start("Administrator", "ParallelDocumentReview", None)
        .await);
    let t1 = gw.only_task("Administrator", &wf).await;
    let vars = json!({"participants": ["user:Administrator"]});
    gw.complete("Administrator", &id(&t1), "start_review", vars.clone())
        .await
        .expect(200);
    let r = gw.only_task("Administrator", &wf).await;
    gw.complete("Administrator", &id(&r), "approve", json!({}))
        .await
        .expect(200);
    let c = gw.only_task("Administrator", &wf).await;
    gw.complete("Administrator", &id(&c), "validate", json!({}))
        .await
        .expect(200);
    assert_eq!(workflow_state(&gw, &wf).await, "done");
    gw.complete("Administrator", &id(&t1), "start_review", vars)
        .await
        .expect_exception(409);
}
