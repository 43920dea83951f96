use serde_json::Value;

use crate::common::TestGateway;

#[actix_web::test]
async fn workflow_models_are_listed_sorted_by_name() {
    let gw = TestGateway::new().await;
    let v = gw
        .get("/api/v1/workflowModel", "jdoe")
        .await
        .expect(200)
        .json();
    assert_eq!(v["entity-type"], "workflows");
    let names: Vec<&str> = v["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        vec!["ParallelDocumentReview", "SerialDocumentReview"]
    );
    // Starting an instance does not add a model.
    gw.start("jdoe", "SerialDocumentReview", None).await;
    let v = gw
        .get("/api/v1/workflowModel", "jdoe")
        .await
        .expect(200)
        .json();
    assert_eq!(v["entries"].as_array().unwrap().len(), 2);
}

#[actix_web::test]
async fn one_model_renders_as_a_validated_workflow() {
    let gw = TestGateway::new().await;
    let v = gw
        .get("/api/v1/workflowModel/ParallelDocumentReview", "jdoe")
        .await
        .expect(200)
        .json();
    assert_eq!(v["entity-type"], "workflow");
    assert_eq!(v["state"], "validated");
    assert_eq!(v["workflowModelName"], "ParallelDocumentReview");
    assert_eq!(
        v["title"],
        "wf.parallelDocumentReview.ParallelDocumentReview"
    );
    assert_eq!(v["initiator"], Value::Null);
    assert_eq!(v["attachedDocumentIds"], serde_json::json!([]));
    assert!(v["variables"]
        .as_object()
        .unwrap()
        .contains_key("participants"));
    assert_eq!(
        v["graphResource"],
        "http://localhost:8080/nuxeo/api/v1/workflowModel/ParallelDocumentReview/graph"
    );
}

#[actix_web::test]
async fn model_graph_has_validated_nodes_and_transitions() {
    let gw = TestGateway::new().await;
    let v = gw
        .get("/api/v1/workflowModel/SerialDocumentReview/graph", "jdoe")
        .await
        .expect(200)
        .json();
    assert_eq!(v["entity-type"], "graph");
    let nodes = v["nodes"].as_array().unwrap();
    assert!(nodes.iter().any(|n| n["id"] == "Task6d8"));
    assert!(nodes.iter().all(|n| n["state"] == "validated"));
    assert!(v["transitions"]
        .as_array()
        .unwrap()
        .iter()
        .any(|t| t["nodeSourceId"] == "Task38e" && t["nodeTargetId"] == "Task6d8"));
}

#[actix_web::test]
async fn unknown_model_is_404_for_model_graph_and_start() {
    let gw = TestGateway::new().await;
    gw.get("/api/v1/workflowModel/Nope", "jdoe")
        .await
        .expect_exception(404);
    let r = gw
        .get("/api/v1/workflowModel/Nope/graph", "jdoe")
        .await
        .expect_exception(404);
    assert!(r.json()["message"]
        .as_str()
        .unwrap()
        .starts_with("Can not get workflow model graph with name: Nope"));
    gw.post(
        "/api/v1/workflow",
        "jdoe",
        &serde_json::json!({"entity-type":"workflow","workflowModelName":"Nope"}),
    )
    .await
    .expect_exception(404);
}
