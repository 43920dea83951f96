//! `@audit`: the routing events of a document in Nuxeo's `logEntries` shape.

use serde_json::{json, Value};

use crate::common::TestGateway;

fn event_ids(v: &Value) -> Vec<String> {
    v["entries"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|e| e["eventId"].as_str().unwrap_or_default().to_owned())
                .collect()
        })
        .unwrap_or_default()
}

async fn serial_review(gw: &TestGateway, doc: &str) -> String {
    let w = gw.start("jdoe", "SerialDocumentReview", Some(doc)).await;
    let wf = w["id"].as_str().unwrap().to_owned();
    let t = gw.only_task("jdoe", &wf).await;
    gw.complete(
        "jdoe",
        t["id"].as_str().unwrap(),
        "start_review",
        json!({"participants": ["user:asmith"], "comment": "please"}),
    )
    .await
    .expect(200);
    let t = gw.only_task("asmith", &wf).await;
    gw.complete("asmith", t["id"].as_str().unwrap(), "validate", json!({}))
        .await
        .expect(200);
    wf
}

#[actix_web::test]
async fn serial_review_audit_lists_every_routing_event_once_in_order() {
    let gw = TestGateway::new().await;
    let wf = serial_review(&gw, "doc-audit").await;
    let v = gw
        .get("/api/v1/id/doc-audit/@audit", "jdoe")
        .await
        .expect(200)
        .json();
    assert_eq!(v["entity-type"], "logEntries");
    assert_eq!(
        event_ids(&v),
        vec![
            "afterWorkflowStarted",
            "afterWorkflowTaskCreated",
            "afterWorkflowTaskEnded",
            "afterWorkflowTaskCreated",
            "afterWorkflowTaskEnded",
            "afterWorkflowFinish",
        ]
    );
    assert_eq!(v["resultsCount"], 6);
    assert_eq!(v["isPaginable"], true);
    let entries = v["entries"].as_array().unwrap();
    let mut ids: Vec<&str> = entries.iter().map(|e| e["id"].as_str().unwrap()).collect();
    ids.dedup();
    assert_eq!(ids.len(), 6, "ids are distinct");
    for e in entries {
        assert_eq!(e["entity-type"], "logEntry");
        assert_eq!(e["category"], "Routing");
        assert_eq!(e["docUUID"], "doc-audit");
        assert_eq!(e["repositoryId"], "default");
        assert!(e["eventDate"].is_string() && e["logDate"].is_string());
        assert_eq!(e["extended"]["modelName"], "SerialDocumentReview");
        assert_eq!(e["extended"]["workflowInitiator"], "jdoe");
        assert_eq!(e["extended"]["workflowInstanceId"], wf.as_str());
    }
    let first_end = &entries[2];
    assert_eq!(first_end["principalName"], "jdoe");
    assert_eq!(first_end["comment"], "please");
    assert_eq!(first_end["extended"]["action"], "start_review");
    assert_eq!(first_end["extended"]["taskActor"], "jdoe");
    assert!(first_end["extended"]["timeSinceTaskStarted"].is_u64());
    assert_eq!(entries[4]["principalName"], "asmith");
    // Other mounts of the API answer the same.
    let again = gw
        .get("/nuxeo/api/v1/id/doc-audit/@audit", "jdoe")
        .await
        .expect(200)
        .json();
    assert_eq!(event_ids(&again), event_ids(&v));
}

#[actix_web::test]
async fn parallel_review_audit_has_one_created_and_ended_per_reviewer() {
    let gw = TestGateway::new().await;
    let w = gw
        .start("jdoe", "ParallelDocumentReview", Some("doc-par"))
        .await;
    let wf = w["id"].as_str().unwrap().to_owned();
    let t = gw.only_task("jdoe", &wf).await;
    gw.complete(
        "jdoe",
        t["id"].as_str().unwrap(),
        "start_review",
        json!({"participants": ["user:asmith", "user:bob"], "end_date": "2030-06-01T12:00:00.00Z"}),
    )
    .await
    .expect(200);
    for who in ["asmith", "bob"] {
        let t = gw.only_task(who, &wf).await;
        gw.complete(who, t["id"].as_str().unwrap(), "approve", json!({}))
            .await
            .expect(200);
    }
    let t = gw.only_task("jdoe", &wf).await;
    gw.complete("jdoe", t["id"].as_str().unwrap(), "validate", json!({}))
        .await
        .expect(200);
    let v = gw
        .get("/api/v1/id/doc-par/@audit", "Administrator")
        .await
        .expect(200)
        .json();
    assert_eq!(
        event_ids(&v),
        vec![
            "afterWorkflowStarted",
            "afterWorkflowTaskCreated",
            "afterWorkflowTaskEnded",
            "afterWorkflowTaskCreated",
            "afterWorkflowTaskCreated",
            "afterWorkflowTaskEnded",
            "afterWorkflowTaskEnded",
            "afterWorkflowTaskCreated",
            "afterWorkflowTaskEnded",
            "afterWorkflowFinish",
        ]
    );
    let enders: Vec<&str> = v["entries"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["eventId"] == "afterWorkflowTaskEnded")
        .map(|e| e["principalName"].as_str().unwrap())
        .collect();
    assert_eq!(enders, vec!["jdoe", "asmith", "bob", "jdoe"]);
}

#[actix_web::test]
async fn audit_filters_and_paging() {
    let gw = TestGateway::new().await;
    serial_review(&gw, "doc-f").await;
    let only = |q: &str| format!("/api/v1/id/doc-f/@audit?{q}");
    let v = gw
        .get(&only("eventId=afterWorkflowTaskEnded"), "jdoe")
        .await
        .expect(200)
        .json();
    assert_eq!(event_ids(&v).len(), 2);
    let v = gw
        .get(&only("principalName=asmith"), "jdoe")
        .await
        .expect(200)
        .json();
    assert_eq!(
        event_ids(&v),
        vec!["afterWorkflowTaskEnded", "afterWorkflowFinish"]
    );
    let v = gw
        .get(&only("category=eventDocumentCategory"), "jdoe")
        .await
        .expect(200)
        .json();
    assert!(event_ids(&v).is_empty());
    let v = gw
        .get(
            &only("category=Routing&pageSize=4&currentPageIndex=1"),
            "jdoe",
        )
        .await
        .expect(200)
        .json();
    assert_eq!(
        event_ids(&v),
        vec!["afterWorkflowTaskEnded", "afterWorkflowFinish"]
    );
    assert_eq!(v["resultsCount"], 6);
    assert_eq!(v["currentPageIndex"], 1);
    assert_eq!(v["numberOfPages"], 2);
    let v = gw
        .get(&only("startEventDate=2999-01-01T00:00:00Z"), "jdoe")
        .await
        .expect(200)
        .json();
    assert!(event_ids(&v).is_empty());
    let v = gw
        .get(
            &only("endEventDate=2999-01-01T00:00:00Z&startEventDate=2000-01-01T00:00:00Z"),
            "jdoe",
        )
        .await
        .expect(200)
        .json();
    assert_eq!(event_ids(&v).len(), 6);
    gw.get(&only("eventId=documentModified"), "jdoe")
        .await
        .expect_exception(400);
    gw.get(&only("startEventDate=yesterday"), "jdoe")
        .await
        .expect_exception(400);
    for paging in [
        "pageSize=0",
        "pageSize=3000000000",
        "currentPageIndex=3000000000",
    ] {
        gw.get(&only(paging), "jdoe").await.expect_exception(400);
    }
}

#[actix_web::test]
async fn audit_is_refused_to_who_may_not_see_the_workflows_and_refusals_add_nothing() {
    let gw = TestGateway::new().await;
    let w = gw
        .start("jdoe", "SerialDocumentReview", Some("doc-x"))
        .await;
    let wf = w["id"].as_str().unwrap().to_owned();
    gw.get("/api/v1/id/doc-x/@audit", "eve")
        .await
        .expect_exception(403);
    let before = event_ids(
        &gw.get("/api/v1/id/doc-x/@audit", "jdoe")
            .await
            .expect(200)
            .json(),
    );
    let t = gw.only_task("jdoe", &wf).await;
    let tid = t["id"].as_str().unwrap();
    gw.complete("jdoe", tid, "no_such_button", json!({}))
        .await
        .expect_exception(400);
    gw.complete("eve", tid, "start_review", json!({}))
        .await
        .expect(403);
    gw.complete(
        "jdoe",
        tid,
        "start_review",
        json!({"participants": ["user:asmith"]}),
    )
    .await
    .expect(200);
    gw.complete(
        "jdoe",
        tid,
        "start_review",
        json!({"participants": ["user:asmith"]}),
    )
    .await
    .expect_exception(409);
    let after = event_ids(
        &gw.get("/api/v1/id/doc-x/@audit", "jdoe")
            .await
            .expect(200)
            .json(),
    );
    assert_eq!(after.len(), before.len() + 2, "{after:?}");
    // A document without workflows has an empty audit.
    let v = gw
        .get("/api/v1/id/never-seen/@audit", "eve")
        .await
        .expect(200)
        .json();
    assert_eq!(v["entries"], json!([]));
}

#[actix_web::test]
async fn audit_by_path_resolves_the_document() {
    let gw = TestGateway::new().await;
    let w = gw
        .post(
            "/api/v1/path/default-domain/ws/report/@workflow",
            "jdoe",
            &json!({"entity-type":"workflow","workflowModelName":"SerialDocumentReview"}),
        )
        .await
        .expect(201)
        .json();
    assert!(w["id"].is_string());
    let v = gw
        .get("/api/v1/path/default-domain/ws/report/@audit", "jdoe")
        .await
        .expect(200)
        .json();
    assert_eq!(
        event_ids(&v),
        vec!["afterWorkflowStarted", "afterWorkflowTaskCreated"]
    );
    assert_eq!(v["entries"][0]["docPath"], "/default-domain/ws/report");
}
