//! Bad input gets the right status, an exception body, and changes nothing.

use actix_web::http::Method;
use actix_web::test::TestRequest;
use serde_json::json;

use crate::common::{basic, TestGateway};

async fn first_task(gw: &TestGateway) -> (String, String) {
    let wf = gw
        .start("Administrator", "SerialDocumentReview", None)
        .await;
    let wf = wf["id"].as_str().unwrap().to_owned();
    let t = gw.only_task("Administrator", &wf).await;
    (wf, t["id"].as_str().unwrap().to_owned())
}

fn raw_put(path: &str, body: &'static [u8]) -> TestRequest {
    TestRequest::put()
        .uri(path)
        .insert_header(("authorization", basic("Administrator")))
        .insert_header(("content-type", "application/json"))
        .set_payload(body)
}

#[actix_web::test]
async fn malformed_json_is_400_and_the_task_stays_open() {
    let gw = TestGateway::new().await;
    let (wf, t) = first_task(&gw).await;
    gw.send(raw_put(
        &format!("/api/v1/task/{t}/start_review"),
        b"{\"entity-type\":",
    ))
    .await
    .expect_exception(400);
    gw.send(raw_put(&format!("/api/v1/task/{t}/start_review"), b""))
        .await
        .expect_exception(400);
    gw.send(raw_put(&format!("/api/v1/task/{t}/start_review"), b"[1,2]"))
        .await
        .expect_exception(400);
    // Malformed bodies are rejected even for unknown tasks (the body is read first).
    gw.send(raw_put("/api/v1/task/nope/start_review", b"{"))
        .await
        .expect_exception(400);
    assert_eq!(gw.only_task("Administrator", &wf).await["state"], "opened");
}

#[actix_web::test]
async fn missing_or_wrong_entity_type_is_400() {
    let gw = TestGateway::new().await;
    let (_, t) = first_task(&gw).await;
    let r = gw
        .put(
            &format!("/api/v1/task/{t}/cancel"),
            "Administrator",
            Some(&json!({"entity-type": "workflow"})),
        )
        .await
        .expect_exception(400);
    assert_eq!(
        r.json()["message"],
        "Json object entity-type is wrong. Expected is task but was workflow"
    );
    let r = gw
        .post(
            "/api/v1/workflow",
            "Administrator",
            &json!({"workflowModelName": "SerialDocumentReview"}),
        )
        .await
        .expect_exception(400);
    assert_eq!(
        r.json()["message"],
        "Json object does not contain an entity-type field as expected"
    );
    gw.post(
        "/api/v1/workflow",
        "Administrator",
        &json!({"entity-type": "workflow"}),
    )
    .await
    .expect_exception(400);
}

#[actix_web::test]
async fn unknown_action_is_400_and_changes_nothing() {
    let gw = TestGateway::new().await;
    let (wf, t) = first_task(&gw).await;
    gw.complete("Administrator", &t, "approve", json!({}))
        .await
        .expect_exception(400);
    let still = gw.only_task("Administrator", &wf).await;
    assert_eq!(still["id"], t);
    assert_eq!(still["state"], "opened");
    assert_eq!(still["comments"], json!([]));
}

#[actix_web::test]
async fn ill_typed_variable_is_400() {
    let gw = TestGateway::new().await;
    let (wf, t) = first_task(&gw).await;
    gw.complete(
        "Administrator",
        &t,
        "start_review",
        json!({"participants": {"not": "a list"}}),
    )
    .await
    .expect_exception(400);
    assert_eq!(gw.only_task("Administrator", &wf).await["id"], t);
}

#[actix_web::test]
async fn body_over_the_limit_is_413_from_content_length_and_changes_nothing() {
    let gw = TestGateway::with("[server]\nmax_body_bytes = 64\n").await;
    let big = format!(
        "{{\"entity-type\":\"workflow\",\"workflowModelName\":\"SerialDocumentReview\",\"x\":\"{}\"}}",
        "y".repeat(100)
    );
    let r = gw
        .send(
            TestRequest::post()
                .uri("/api/v1/workflow")
                .insert_header(("authorization", basic("Administrator")))
                .insert_header(("content-type", "application/json"))
                .set_payload(big),
        )
        .await
        .expect_exception(413);
    assert!(r.json()["message"].as_str().unwrap().contains("64"));
    // A declared length alone is enough: the body is never read.
    gw.send(
        TestRequest::post()
            .uri("/api/v1/workflow")
            .insert_header(("authorization", basic("Administrator")))
            .insert_header(("content-length", "1000000")),
    )
    .await
    .expect_exception(413);
    let v = gw
        .get("/api/v1/workflow", "Administrator")
        .await
        .expect(200)
        .json();
    assert_eq!(v["entries"], json!([]));
}

#[actix_web::test]
async fn unknown_ids_are_404_with_nuxeo_messages() {
    let gw = TestGateway::new().await;
    let r = gw
        .get(
            "/api/v1/workflow/6b1e0c2a-0d55-4d8b-9d36-6f1f5c9f2a10",
            "Administrator",
        )
        .await
        .expect_exception(404);
    assert!(r.json()["message"].as_str().unwrap().starts_with(
        "Can not get workflow instance with id: 6b1e0c2a-0d55-4d8b-9d36-6f1f5c9f2a10"
    ));
    gw.get("/api/v1/workflow/nope/graph", "Administrator")
        .await
        .expect_exception(404);
    let r = gw
        .get("/api/v1/task/nope", "Administrator")
        .await
        .expect_exception(404);
    assert_eq!(
        r.json()["message"],
        "Can not get task with id: nope, nope",
        "a clear message names what was not found"
    );
    gw.get("/api/v1/task/x~y~z", "Administrator")
        .await
        .expect_exception(404);
    gw.delete("/api/v1/workflow/nope", "Administrator")
        .await
        .expect_exception(404);
    let r = gw
        .complete("Administrator", "nope", "approve", json!({}))
        .await
        .expect_exception(404);
    assert!(r.json()["message"]
        .as_str()
        .unwrap()
        .starts_with("Can not get task with id: nope"));
    gw.put(
        "/api/v1/task/nope/reassign?actors=jdoe",
        "Administrator",
        None,
    )
    .await
    .expect_exception(404);
    gw.get("/api/v1/nosuchresource", "Administrator")
        .await
        .expect_exception(404);
    gw.call(Method::GET, "/elsewhere", None, None)
        .await
        .expect_exception(404);
}

#[actix_web::test]
async fn unsupported_methods_are_405() {
    let gw = TestGateway::new().await;
    gw.call(Method::PATCH, "/api/v1/task/x", Some("jdoe"), None)
        .await
        .expect_exception(405);
    gw.call(Method::DELETE, "/api/v1/task", Some("jdoe"), None)
        .await
        .expect_exception(405);
    gw.call(Method::POST, "/api/v1/workflowModel", Some("jdoe"), None)
        .await
        .expect_exception(405);
    gw.call(Method::GET, "/api/v1/task/x/approve", Some("jdoe"), None)
        .await
        .expect_exception(405);
    gw.call(Method::PUT, "/nuxeo/api/v1/workflow/x", Some("jdoe"), None)
        .await
        .expect_exception(405);
}

#[actix_web::test]
async fn id_routes_match_whole_segments_and_decode_captures() {
    let gw = TestGateway::new().await;
    // One segment per capture: more segments, or an empty one, is no resource.
    for path in [
        "/api/v1/task/x/approve/extra",
        "/api/v1/workflow/x/graph/more",
        "/api/v1/workflowModel/SerialDocumentReview/graph/x",
        "/api/v1/id/doc/@task/t/approve/x",
        "/api/v1/id/doc/@tasks",
    ] {
        let r = gw.get(path, "Administrator").await.expect_exception(404);
        assert_eq!(r.json()["message"], format!("No resource at {path}"));
    }
    // Captures reach the handler percent-decoded, as with actix's own patterns.
    let r = gw
        .get("/api/v1/task/a%20b", "Administrator")
        .await
        .expect_exception(404);
    assert_eq!(r.json()["message"], "Can not get task with id: a b, a b");
    let r = gw
        .get("/api/v1/workflowModel/No%20Such", "Administrator")
        .await
        .expect_exception(404);
    assert!(r.json()["message"].as_str().unwrap().contains("No Such"));
    // Literal segments are matched exactly, before captures registered after them.
    gw.call(Method::GET, "/api/v1/task/x/reassign", Some("jdoe"), None)
        .await
        .expect_exception(405);
    gw.call(Method::POST, "/api/v1/id/doc/@task", Some("jdoe"), None)
        .await
        .expect_exception(405);
    gw.call(Method::PUT, "/api/v1/workflow/x/task", Some("jdoe"), None)
        .await
        .expect_exception(405);
    // A real model by name, under another mount and with a trailing slash.
    gw.get(
        "/nuxeo/site/api/v1/workflowModel/SerialDocumentReview/",
        "jdoe",
    )
    .await
    .expect(200);
}

#[actix_web::test]
async fn completing_twice_is_409() {
    let gw = TestGateway::new().await;
    let (_, t) = first_task(&gw).await;
    gw.complete("Administrator", &t, "cancel", json!({}))
        .await
        .expect(200);
    let r = gw
        .complete("Administrator", &t, "cancel", json!({}))
        .await
        .expect_exception(409);
    assert!(r.json()["message"]
        .as_str()
        .unwrap()
        .contains("is not active"));
}

#[actix_web::test]
async fn reassign_on_a_node_that_forbids_it_is_409() {
    let gw = TestGateway::new().await;
    let (wf, t) = first_task(&gw).await;
    gw.put(
        &format!("/api/v1/task/{t}/reassign?actors=jdoe"),
        "Administrator",
        None,
    )
    .await
    .expect_exception(409);
    assert_eq!(
        crate::common::actor_ids(&gw.only_task("Administrator", &wf).await),
        vec!["Administrator"]
    );
}

#[actix_web::test]
async fn reassign_without_actors_is_400() {
    let gw = TestGateway::new().await;
    let (_, t) = first_task(&gw).await;
    gw.put(
        &format!("/api/v1/task/{t}/reassign?actors="),
        "Administrator",
        None,
    )
    .await
    .expect_exception(400);
}

#[actix_web::test]
async fn cancelling_a_canceled_workflow_is_400() {
    let gw = TestGateway::new().await;
    let (wf, _) = first_task(&gw).await;
    gw.delete(&format!("/api/v1/workflow/{wf}"), "Administrator")
        .await
        .expect(204);
    gw.delete(&format!("/api/v1/workflow/{wf}"), "Administrator")
        .await
        .expect_exception(400);
}

#[actix_web::test]
async fn unknown_repository_is_404() {
    let gw = TestGateway::new().await;
    gw.get("/api/v1/repo/other/workflowModel", "jdoe")
        .await
        .expect_exception(404);
    gw.send(
        TestRequest::get()
            .uri("/api/v1/workflowModel")
            .insert_header(("authorization", basic("jdoe")))
            .insert_header(("x-nxrepository", "other")),
    )
    .await
    .expect_exception(404);
}

#[actix_web::test]
async fn development_mode_adds_stacktrace_and_exception() {
    let gw = TestGateway::with("[errors]\nstacktrace = true\n").await;
    let v = gw.get("/api/v1/task/nope", "jdoe").await.expect(404).json();
    assert_eq!(v["entity-type"], "exception");
    assert_eq!(v["status"], 404);
    assert!(v["stacktrace"].as_str().unwrap().contains("not_found"));
    assert_eq!(v["exception"]["className"], "flowgate.error.not_found");
    // Off by default: exactly three fields (checked by expect_exception).
    TestGateway::new()
        .await
        .get("/api/v1/task/nope", "jdoe")
        .await
        .expect_exception(404);
}
