//! Wire conventions: mount points, content types, JSON shape, links, request ids.

use actix_web::test::TestRequest;
use serde_json::json;

use crate::common::{basic, TestGateway};

#[actix_web::test]
async fn api_answers_under_every_mount_point_and_repo_variant() {
    let gw = TestGateway::new().await;
    for p in [
        "/api/v1/workflowModel",
        "/nuxeo/api/v1/workflowModel",
        "/nuxeo/site/api/v1/workflowModel",
        "/api/v1/repo/default/workflowModel",
        "/nuxeo/api/v1/repo/default/workflowModel",
        "/nuxeo/site/api/v1/repo/default/workflowModel",
        "/api/v1/workflowModel/",
        "/nuxeo/api/v1/task/?",
        "/api/v1/task?",
    ] {
        let v = gw.get(p, "jdoe").await.expect(200).json();
        assert!(v["entity-type"].is_string(), "{p}");
    }
}

#[actix_web::test]
async fn rewritten_mounts_keep_their_repository_slashes_and_original_path() {
    let gw = TestGateway::new().await;
    // Repeated slashes anywhere, trailing slash, any mount.
    for p in [
        "/nuxeo//site/api/v1//workflowModel",
        "//api/v1/repo/default//workflowModel/",
    ] {
        gw.get(p, "jdoe").await.expect(200);
    }
    // The repository of a `/repo/{name}` segment wins over the header, under every mount.
    for p in [
        "/nuxeo/site/api/v1/repo/other/workflowModel",
        "/nuxeo/api/v1/repo/other/workflowModel",
    ] {
        gw.send(
            TestRequest::get()
                .uri(p)
                .insert_header(("authorization", basic("jdoe")))
                .insert_header(("x-nxrepository", "default")),
        )
        .await
        .expect_exception(404);
    }
    // A path no resource knows is quoted as the client sent it.
    let v = gw
        .get("/nuxeo/site/api/v1/repo/default/nothing/here", "jdoe")
        .await
        .expect_exception(404)
        .json();
    assert_eq!(
        v["message"], "No resource at /nuxeo/site/api/v1/repo/default/nothing/here",
        "{v}"
    );
}

#[actix_web::test]
async fn json_is_compact_with_entity_type_then_id_and_a_json_content_type() {
    let gw = TestGateway::new().await;
    let r = gw
        .post(
            "/api/v1/workflow",
            "jdoe",
            &json!({"entity-type":"workflow","workflowModelName":"SerialDocumentReview"}),
        )
        .await
        .expect(201);
    assert!(r.content_type().unwrap().starts_with("application/json"));
    let text = r.text();
    assert!(
        text.starts_with("{\"entity-type\":\"workflow\",\"id\":\""),
        "{text}"
    );
    assert!(!text.contains('\n') && !text.contains(": "));
    let wf = r.json()["id"].as_str().unwrap().to_owned();
    let t = gw
        .get(&format!("/api/v1/task?workflowInstanceId={wf}"), "jdoe")
        .await
        .expect(200);
    assert!(t.text().starts_with(
        "{\"entity-type\":\"tasks\",\"entries\":[{\"entity-type\":\"task\",\"id\":\""
    ));
    let task = &t.json()["entries"][0];
    let keys: Vec<&String> = task.as_object().unwrap().keys().collect();
    assert_eq!(
        keys,
        vec![
            "entity-type",
            "id",
            "name",
            "workflowInstanceId",
            "workflowModelName",
            "workflowInitiator",
            "workflowTitle",
            "workflowLifeCycleState",
            "graphResource",
            "state",
            "directive",
            "created",
            "dueDate",
            "nodeName",
            "targetDocumentIds",
            "actors",
            "delegatedActors",
            "comments",
            "variables",
            "taskInfo"
        ]
    );
    let created = task["created"].as_str().unwrap();
    assert_eq!(created.len(), 24, "{created}");
    assert!(created.ends_with('Z') && created.as_bytes()[19] == b'.');
}

#[actix_web::test]
async fn links_follow_forwarded_headers_or_the_configured_base() {
    let gw = TestGateway::with("[server]\ntrust_forwarded_headers = true\n").await;
    let r = gw
        .send(
            TestRequest::get()
                .uri("/nuxeo/api/v1/workflowModel/SerialDocumentReview")
                .insert_header(("authorization", basic("jdoe")))
                .insert_header(("x-forwarded-proto", "https"))
                .insert_header(("x-forwarded-host", "wf.example.com")),
        )
        .await
        .expect(200);
    assert_eq!(
        r.json()["graphResource"],
        "https://wf.example.com/nuxeo/api/v1/workflowModel/SerialDocumentReview/graph"
    );
    let gw =
        TestGateway::with("[server]\npublic_base_url = \"https://gw.example.org/base/\"\n").await;
    let w = gw.start("jdoe", "SerialDocumentReview", None).await;
    let id = w["id"].as_str().unwrap();
    assert_eq!(
        w["graphResource"],
        format!("https://gw.example.org/base/api/v1/workflow/{id}/graph")
    );
    let t = gw.only_task("jdoe", id).await;
    assert!(t["taskInfo"]["taskActions"][0]["url"]
        .as_str()
        .unwrap()
        .starts_with("https://gw.example.org/base/api/v1/task/"));
}

#[actix_web::test]
async fn request_id_is_echoed_or_generated() {
    let gw = TestGateway::new().await;
    let r = gw
        .send(
            TestRequest::get()
                .uri("/api/v1/workflowModel")
                .insert_header(("authorization", basic("jdoe")))
                .insert_header(("x-request-id", "trace-42")),
        )
        .await
        .expect(200);
    assert_eq!(r.headers.get("x-request-id").unwrap(), "trace-42");
    let r = gw.get("/api/v1/workflowModel", "jdoe").await.expect(200);
    assert_eq!(r.headers.get("x-request-id").unwrap().len(), 36);
    // Errors carry one too.
    let r = gw.get("/api/v1/task/nope", "jdoe").await.expect(404);
    assert!(r.headers.get("x-request-id").is_some());
}

#[actix_web::test]
async fn json_content_type_on_get_and_bodyless_put_is_accepted() {
    let gw = TestGateway::new().await;
    gw.send(
        TestRequest::get()
            .uri("/api/v1/task")
            .insert_header(("authorization", basic("jdoe")))
            .insert_header(("content-type", "application/json")),
    )
    .await
    .expect(200);
    let w = gw.start("jdoe", "SerialDocumentReview", None).await;
    let t = gw.only_task("jdoe", w["id"].as_str().unwrap()).await;
    // Python's transfer: no body, JSON content type, actors in the query.
    let r = gw
        .send(
            TestRequest::put()
                .uri(&format!(
                    "/api/v1/task/{}/delegate?delegatedActors=asmith",
                    t["id"].as_str().unwrap()
                ))
                .insert_header(("authorization", basic("jdoe")))
                .insert_header(("content-type", "application/json")),
        )
        .await;
    assert_eq!(r.status.as_u16(), 200, "{}", r.text());
    // Start with the nxentity content type.
    gw.send(
        TestRequest::post()
            .uri("/api/v1/workflow")
            .insert_header(("authorization", basic("jdoe")))
            .insert_header(("content-type", "application/json+nxentity"))
            .set_payload(
                r#"{"entity-type":"workflow","workflowModelName":"SerialDocumentReview"}"#,
            ),
    )
    .await
    .expect(201);
}

#[actix_web::test]
async fn repo_variant_reaches_id_addressed_resources() {
    let gw = TestGateway::new().await;
    let w = gw
        .start("jdoe", "SerialDocumentReview", Some("doc-r"))
        .await;
    let wf = w["id"].as_str().unwrap();
    let t = gw.only_task("jdoe", wf).await;
    let tid = t["id"].as_str().unwrap();
    for p in [
        format!("/api/v1/repo/default/workflow/{wf}"),
        format!("/nuxeo/api/v1/repo/default/task/{tid}"),
        "/nuxeo/api/v1/repo/default/id/doc-r/@workflow".to_owned(),
        format!("/nuxeo/api/v1/repo/default/id/doc-r/@workflow/{wf}/task"),
        "/api/v1/repo/default/workflowModel/SerialDocumentReview/graph".to_owned(),
    ] {
        gw.get(&p, "jdoe").await.expect(200);
    }
    gw.complete("jdoe", tid, "cancel", json!({}))
        .await
        .expect(200);
}
