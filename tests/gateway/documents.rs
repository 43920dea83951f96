use serde_json::json;

use crate::common::TestGateway;

#[actix_web::test]
async fn start_on_a_document_by_id_attaches_only_the_url_document() {
    let gw = TestGateway::new().await;
    let w = gw
        .post(
            "/api/v1/id/doc-a/@workflow",
            "jdoe",
            &json!({"entity-type":"workflow","workflowModelName":"SerialDocumentReview","attachedDocumentIds":["other"]}),
        )
        .await
        .expect(201)
        .json();
    assert_eq!(w["attachedDocumentIds"], json!([{"id": "doc-a"}]));
    let wf = w["id"].as_str().unwrap();
    // The running workflows of a document, as far as the caller may see them.
    let v = gw
        .get("/api/v1/id/doc-a/@workflow", "jdoe")
        .await
        .expect(200)
        .json();
    assert_eq!(v["entity-type"], "workflows");
    assert_eq!(v["entries"][0]["id"], wf);
    let v = gw
        .get("/api/v1/id/doc-a/@workflow", "eve")
        .await
        .expect(200)
        .json();
    assert_eq!(v["entries"], json!([]));
    let untouched = gw
        .get("/api/v1/id/never-seen/@workflow", "eve")
        .await
        .expect(200)
        .json();
    assert_eq!(untouched["entries"], json!([]));
}

#[actix_web::test]
async fn document_task_adapters_list_and_complete_tasks() {
    let gw = TestGateway::new().await;
    let w = gw
        .start("jdoe", "SerialDocumentReview", Some("doc-b"))
        .await;
    let wf = w["id"].as_str().unwrap();
    let v = gw
        .get("/api/v1/id/doc-b/@task", "jdoe")
        .await
        .expect(200)
        .json();
    assert_eq!(v["entity-type"], "tasks");
    assert_eq!(v["entries"].as_array().unwrap().len(), 1);
    let none = gw
        .get("/api/v1/id/doc-b/@task?userId=asmith", "Administrator")
        .await
        .expect(200)
        .json();
    assert_eq!(none["entries"], json!([]));
    let v = gw
        .get(&format!("/api/v1/id/doc-b/@workflow/{wf}/task"), "jdoe")
        .await
        .expect(200)
        .json();
    let t = v["entries"][0]["id"].as_str().unwrap().to_owned();
    let body = json!({"entity-type":"task","variables":{}});
    gw.put(
        &format!("/api/v1/id/doc-b/@task/{t}/cancel"),
        "jdoe",
        Some(&body),
    )
    .await
    .expect(200);
    let v = gw
        .get("/api/v1/id/doc-b/@task", "jdoe")
        .await
        .expect(200)
        .json();
    assert_eq!(v["entries"], json!([]));
    assert_eq!(
        gw.get("/api/v1/id/doc-b/@workflow", "jdoe")
            .await
            .expect(200)
            .json()["entries"],
        json!([])
    );
}

#[actix_web::test]
async fn path_addressing_resolves_nested_and_encoded_paths() {
    let gw = TestGateway::new().await;
    let path = "/api/v1/path/default-domain/workspaces/my%20ws/n%C3%B6te/@workflow";
    let w = gw
        .post(
            path,
            "jdoe",
            &json!({"entity-type":"workflow","workflowModelName":"ParallelDocumentReview"}),
        )
        .await
        .expect(201)
        .json();
    let doc = w["attachedDocumentIds"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let listed = gw.get(path, "jdoe").await.expect(200).json();
    assert_eq!(listed["entries"].as_array().unwrap().len(), 1);
    // The same document by id.
    let by_id = gw
        .get(&format!("/api/v1/id/{doc}/@workflow"), "jdoe")
        .await
        .expect(200)
        .json();
    assert_eq!(by_id["entries"].as_array().unwrap().len(), 1);
    let tasks = gw
        .get(
            "/api/v1/path/default-domain/workspaces/my%20ws/n%C3%B6te/@task",
            "jdoe",
        )
        .await
        .expect(200)
        .json();
    assert_eq!(tasks["entries"].as_array().unwrap().len(), 1);
    // Fetched document shows its path, decoded.
    let t = tasks["entries"][0]["id"].as_str().unwrap();
    let v = gw
        .get(
            &format!("/api/v1/task/{t}?fetch.task=targetDocumentIds"),
            "jdoe",
        )
        .await
        .expect(200)
        .json();
    assert_eq!(
        v["targetDocumentIds"][0]["path"],
        "/default-domain/workspaces/my ws/nöte"
    );
    // The repo variant of the Java client.
    let repo = gw
        .get(
            "/nuxeo/api/v1/repo/default/path/default-domain/workspaces/my%20ws/n%C3%B6te/@workflow",
            "jdoe",
        )
        .await
        .expect(200)
        .json();
    assert_eq!(repo["entries"].as_array().unwrap().len(), 1);
}
