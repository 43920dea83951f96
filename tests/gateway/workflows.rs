use serde_json::json;

use crate::common::TestGateway;

#[actix_web::test]
async fn start_returns_201_with_a_running_workflow_and_its_first_task() {
    let gw = TestGateway::new().await;
    let r = gw
        .post(
            "/api/v1/workflow",
            "jdoe",
            &json!({
                "entity-type": "workflow",
                "workflowModelName": "SerialDocumentReview",
                "attachedDocumentIds": ["doc-1"],
                "variables": {"initiatorComment": "go", "unknownVar": 1}
            }),
        )
        .await
        .expect(201);
    let w = r.json();
    assert_eq!(w["entity-type"], "workflow");
    assert_eq!(w["state"], "running");
    assert_eq!(w["initiator"], "jdoe");
    assert_eq!(w["workflowModelName"], "SerialDocumentReview");
    assert_eq!(w["attachedDocumentIds"], json!([{"id": "doc-1"}]));
    assert_eq!(w["variables"]["initiatorComment"], "go");
    assert!(w["variables"].get("unknownVar").is_none());
    let id = w["id"].as_str().unwrap();
    assert_eq!(
        w["graphResource"],
        format!("http://localhost:8080/nuxeo/api/v1/workflow/{id}/graph")
    );
    assert_eq!(gw.tasks_of("jdoe", id).await.len(), 1);
}

#[actix_web::test]
async fn start_accepts_a_posted_back_model_entity() {
    let gw = TestGateway::new().await;
    let mut model = gw
        .get("/api/v1/workflowModel/SerialDocumentReview", "jdoe")
        .await
        .expect(200)
        .json();
    model["attachedDocumentIds"] = json!([{"id": "doc-9"}]);
    let w = gw
        .post("/api/v1/workflow", "jdoe", &model)
        .await
        .expect(201)
        .json();
    assert_eq!(w["state"], "running");
    assert_eq!(w["attachedDocumentIds"], json!([{"id": "doc-9"}]));
}

#[actix_web::test]
async fn get_workflow_lists_only_running_workflows_of_the_caller() {
    let gw = TestGateway::new().await;
    let a = gw.start("jdoe", "SerialDocumentReview", None).await;
    gw.start("jdoe", "ParallelDocumentReview", None).await;
    gw.start("asmith", "SerialDocumentReview", None).await;
    let mine = gw.get("/api/v1/workflow", "jdoe").await.expect(200).json();
    assert_eq!(mine["entity-type"], "workflows");
    assert_eq!(mine["entries"].as_array().unwrap().len(), 2);
    let serial = gw
        .get(
            "/api/v1/workflow?workflowModelName=SerialDocumentReview",
            "jdoe",
        )
        .await
        .expect(200)
        .json();
    assert_eq!(serial["entries"].as_array().unwrap().len(), 1);
    // Blank filter = absent.
    let blank = gw
        .get("/api/v1/workflow?workflowModelName=", "jdoe")
        .await
        .expect(200)
        .json();
    assert_eq!(blank["entries"].as_array().unwrap().len(), 2);
    gw.delete(
        &format!("/api/v1/workflow/{}", a["id"].as_str().unwrap()),
        "jdoe",
    )
    .await
    .expect(204);
    let after = gw.get("/api/v1/workflow", "jdoe").await.expect(200).json();
    assert_eq!(after["entries"].as_array().unwrap().len(), 1);
}

#[actix_web::test]
async fn cancel_answers_204_without_content_type_and_cancels_tasks() {
    let gw = TestGateway::new().await;
    let w = gw.start("jdoe", "SerialDocumentReview", None).await;
    let id = w["id"].as_str().unwrap();
    let t = gw.only_task("jdoe", id).await;
    let r = gw
        .delete(&format!("/api/v1/workflow/{id}"), "jdoe")
        .await
        .expect(204);
    assert!(r.content_type().is_none());
    assert!(r.body.is_empty());
    let w = gw
        .get(&format!("/api/v1/workflow/{id}"), "jdoe")
        .await
        .expect(200)
        .json();
    assert_eq!(w["state"], "canceled");
    let t = gw
        .get(
            &format!("/api/v1/task/{}", t["id"].as_str().unwrap()),
            "jdoe",
        )
        .await
        .expect(200)
        .json();
    assert_eq!(t["state"], "cancelled");
    assert!(gw.tasks_of("jdoe", id).await.is_empty());
}

#[actix_web::test]
async fn instance_graph_marks_the_waiting_node_suspended() {
    let gw = TestGateway::new().await;
    let w = gw.start("jdoe", "SerialDocumentReview", None).await;
    let g = gw
        .get(
            &format!("/api/v1/workflow/{}/graph", w["id"].as_str().unwrap()),
            "jdoe",
        )
        .await
        .expect(200)
        .json();
    assert_eq!(g["entity-type"], "graph");
    let node = g["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["id"] == "Task38e")
        .unwrap();
    assert_eq!(node["state"], "suspended");
}

#[actix_web::test]
async fn workflow_task_alias_lists_open_tasks_of_the_instance() {
    let gw = TestGateway::new().await;
    let w = gw.start("jdoe", "SerialDocumentReview", None).await;
    let id = w["id"].as_str().unwrap();
    let v = gw
        .get(&format!("/api/v1/workflow/{id}/task"), "jdoe")
        .await
        .expect(200)
        .json();
    assert_eq!(v["entity-type"], "tasks");
    assert_eq!(v["entries"].as_array().unwrap().len(), 1);
    let none = gw
        .get("/api/v1/workflow/unknown/task", "jdoe")
        .await
        .expect(200)
        .json();
    assert_eq!(none["entries"], json!([]));
}

#[actix_web::test]
async fn fetch_workflow_initiator_and_documents_resolve_to_entities() {
    let gw = TestGateway::new().await;
    let w = gw
        .post(
            "/api/v1/workflow?fetch.workflow=attachedDocumentIds",
            "jdoe",
            &json!({"entity-type":"workflow","workflowModelName":"SerialDocumentReview","attachedDocumentIds":["d1","d2"]}),
        )
        .await
        .expect(201)
        .json();
    assert_eq!(w["attachedDocumentIds"][0]["entity-type"], "document");
    assert_eq!(w["attachedDocumentIds"][0]["uid"], "d1");
    assert_eq!(w["attachedDocumentIds"][1]["uid"], "d2");
    assert_eq!(w["attachedDocumentIds"][0]["repository"], "default");
    let id = w["id"].as_str().unwrap();
    let v = gw
        .get(
            &format!("/api/v1/workflow/{id}?fetch-workflow=initiator"),
            "jdoe",
        )
        .await
        .expect(200)
        .json();
    assert_eq!(v["initiator"]["entity-type"], "user");
    assert_eq!(v["initiator"]["id"], "jdoe");
}
