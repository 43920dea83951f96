//! The OpenAPI description says what the server really reads and answers: the request
//! body names are the ones the server accepts, the documented example starts a workflow,
//! bad query values get an exception, and every 405 names the allowed methods in `Allow`,
//! the same methods the description lists for that path.

mod common;

use std::collections::BTreeSet;

use actix_web::http::Method;
use common::TestGateway;
use serde_json::{json, Value};

async fn spec(gw: &TestGateway) -> Value {
    gw.call(Method::GET, "/api/v1/openapi.json", None, None)
        .await
        .expect(200)
        .json()
}

fn schema<'a>(doc: &'a Value, name: &str) -> &'a Value {
    let s = &doc["components"]["schemas"][name];
    assert!(s.is_object(), "schema {name} missing");
    s
}

fn property_names(schema: &Value) -> BTreeSet<String> {
    schema["properties"]
        .as_object()
        .map(|p| p.keys().cloned().collect())
        .unwrap_or_default()
}

/// The only value a constant schema allows (`enum` of one, possibly inside a `oneOf` of
/// one that carries a description beside it).
fn one_value(schema: &Value) -> Option<Value> {
    let s = match schema["oneOf"].as_array() {
        Some(one) if one.len() == 1 => &one[0],
        _ => schema,
    };
    match s["enum"].as_array() {
        Some(v) if v.len() == 1 => Some(v[0].clone()),
        _ => s.get("const").cloned(),
    }
}

#[actix_web::test]
async fn workflow_request_names_are_the_ones_the_server_reads() {
    let gw = TestGateway::new().await;
    let doc = spec(&gw).await;
    let req = schema(&doc, "WorkflowRequest");
    let names = property_names(req);
    let want: BTreeSet<String> = [
        "entity-type",
        "workflowModelName",
        "attachedDocumentIds",
        "variables",
    ]
    .into_iter()
    .map(str::to_owned)
    .collect();
    assert_eq!(names, want);
    let required: BTreeSet<&str> = req["required"]
        .as_array()
        .map(|r| r.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    assert_eq!(
        required,
        BTreeSet::from(["entity-type", "workflowModelName"])
    );
    assert_eq!(
        one_value(&req["properties"]["entity-type"]),
        Some(json!("workflow"))
    );
    let completion = property_names(schema(&doc, "TaskCompletionRequest"));
    assert!(
        completion.iter().all(|n| !n.contains('_')),
        "{completion:?}"
    );

    // The snake_case spelling the description used to advertise is refused.
    gw.post(
        "/api/v1/workflow",
        "Administrator",
        &json!({"entity-type": "workflow", "workflow_model_name": "SerialDocumentReview"}),
    )
    .await
    .expect_exception(400);
}

#[actix_web::test]
async fn the_documented_example_starts_a_workflow() {
    let gw = TestGateway::new().await;
    let doc = spec(&gw).await;
    let example = schema(&doc, "WorkflowRequest")["example"].clone();
    assert!(example.is_object(), "WorkflowRequest has no example");
    let op = &doc["paths"]["/api/v1/workflow"]["post"];
    assert_eq!(
        op["requestBody"]["content"]["application/json"]["schema"]["$ref"],
        "#/components/schemas/WorkflowRequest"
    );
    let started = gw
        .post("/api/v1/workflow", "Administrator", &example)
        .await
        .expect(201)
        .json();
    assert_eq!(started["entity-type"], "workflow");
    assert_eq!(started["workflowModelName"], example["workflowModelName"]);
    let id = started["id"].as_str().unwrap_or_default();
    assert!(!id.is_empty(), "{started}");

    // The links of the answer lead to operations that know the started workflow.
    let links = &op["responses"]["201"]["links"];
    assert_eq!(links["GetWorkflow"]["operationId"], "getWorkflow");
    assert_eq!(
        links["GetWorkflow"]["parameters"]["workflowInstanceId"],
        "$response.body#/id"
    );
    gw.get(&format!("/api/v1/workflow/{id}"), "Administrator")
        .await
        .expect(200);
    let tasks = gw
        .get(&format!("/api/v1/workflow/{id}/task"), "Administrator")
        .await
        .expect(200)
        .json();
    assert_eq!(tasks["entity-type"], "tasks");
}

#[actix_web::test]
async fn bad_query_values_get_an_exception() {
    let gw = TestGateway::new().await;
    for path in [
        "/api/v1/task?isPaginated=true&pageSize=-1",
        "/api/v1/task?isPaginated=maybe",
        "/api/v1/task/some-task/reassign?actors=",
        "/api/v1/task/some-task/delegate?delegatedActors=,",
    ] {
        let method = if path.contains("reassign") || path.contains("delegate") {
            Method::PUT
        } else {
            Method::GET
        };
        gw.call(method, path, Some("Administrator"), None)
            .await
            .expect_exception(400);
    }
}

#[actix_web::test]
async fn method_not_allowed_answers_name_the_allowed_methods() {
    let gw = TestGateway::new().await;
    let doc = spec(&gw).await;
    for (method, path, spec_path, allow) in [
        (
            Method::PATCH,
            "/api/v1/workflow",
            "/api/v1/workflow",
            "GET, POST",
        ),
        (
            Method::PUT,
            "/api/v1/workflow/w1",
            "/api/v1/workflow/{workflowInstanceId}",
            "GET, DELETE",
        ),
        (
            Method::DELETE,
            "/api/v1/task/t1",
            "/api/v1/task/{taskId}",
            "GET",
        ),
        (
            Method::GET,
            "/api/v1/task/t1/reassign",
            "/api/v1/task/{taskId}/reassign",
            "PUT",
        ),
        (
            Method::POST,
            "/api/v1/path/a/b/@task",
            "/api/v1/path/{docPath}/@task",
            "GET",
        ),
        (
            Method::DELETE,
            "/api/v1/openapi.json",
            "/api/v1/openapi.json",
            "GET",
        ),
    ] {
        let r = gw
            .call(method.clone(), path, Some("Administrator"), None)
            .await
            .expect_exception(405);
        let got = r
            .headers
            .get("allow")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        assert_eq!(got, allow, "{method} {path}");
        let described: BTreeSet<String> = doc["paths"][spec_path]
            .as_object()
            .map(|ops| ops.keys().map(|m| m.to_ascii_uppercase()).collect())
            .unwrap_or_default();
        let allowed: BTreeSet<String> = got.split(", ").map(str::to_owned).collect();
        assert_eq!(allowed, described, "{spec_path}");
    }
}
