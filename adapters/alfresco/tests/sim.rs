//! The simulator behaves like Alfresco where the adapter does not look: error statuses,
//! the query grammar, content negotiation, task state rules and visibility.

mod common;

use std::time::Duration;

use flowgate_alfresco::sim::nodes;
use serde_json::{json, Value};

const WF: &str = "api/-default-/public/workflow/versions/1";

async fn req(
    sim: &flowgate_alfresco::sim::SimHandle,
    user: &str,
    method: reqwest::Method,
    path: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let mut r = reqwest::Client::new()
        .request(method, format!("{}{WF}{path}", sim.base_url))
        .basic_auth(user, Some(user))
        .timeout(Duration::from_secs(10));
    if let Some(b) = body {
        r = r.json(&b);
    }
    let resp = r.send().await.expect("simulator answers");
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn simulator_answers_like_alfresco_for_refusals() {
    let sim = common::sim();
    let get = reqwest::Method::GET;
    let put = reqwest::Method::PUT;
    let (s, body) = req(
        &sim,
        "admin",
        get.clone(),
        "/tasks?where=(assignee%3D'a'%20OR%20assignee%3D'b')",
        None,
    )
    .await;
    assert_eq!(s, 400);
    assert!(
        body["error"]["briefSummary"]
            .as_str()
            .is_some_and(|b| b.len() > 9),
        "{body}"
    );
    assert_eq!(
        req(
            &sim,
            "admin",
            get.clone(),
            "/tasks?where=(colour%3D'red')",
            None
        )
        .await
        .0,
        400
    );
    assert_eq!(
        req(&sim, "admin", get.clone(), "/tasks?maxItems=0", None)
            .await
            .0,
        400
    );
    assert_eq!(
        req(&sim, "admin", get.clone(), "/tasks?orderBy=colour", None)
            .await
            .0,
        400
    );
    assert_eq!(
        req(
            &sim,
            "admin",
            get.clone(),
            "/tasks?where=(status%3D'completed'%20AND%20candidateUser%3D'jdoe')",
            None
        )
        .await
        .0,
        400
    );
    let (s, _) = req(&sim, "nobody", get.clone(), "/tasks", None).await;
    assert_eq!(s, 401);
    // Unknown start variables are dropped; an unknown key is 400, not 404.
    let (s, _) = req(
        &sim,
        "dave",
        reqwest::Method::POST,
        "/processes",
        Some(json!({"processDefinitionKey": "nope"})),
    )
    .await;
    assert_eq!(s, 400);
    let (s, p) = req(
        &sim,
        "dave",
        reqwest::Method::POST,
        "/processes",
        Some(json!({"processDefinitionKey": "activitiReviewPooled", "variables": {"bpm_groupAssignee": "GROUP_reviewers", "whatever": 1}, "items": [nodes::CONTRACT]})),
    )
    .await;
    assert_eq!(s, 201);
    let pid = p["entry"]["id"].as_str().unwrap().to_owned();
    let (_, vars) = req(
        &sim,
        "admin",
        get.clone(),
        &format!("/processes/{pid}/variables"),
        None,
    )
    .await;
    assert!(!vars.to_string().contains("whatever"));
    let (_, tasks) = req(
        &sim,
        "admin",
        get.clone(),
        &format!("/processes/{pid}/tasks"),
        None,
    )
    .await;
    let tid = tasks["list"]["entries"][0]["entry"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    // Group candidates see it only with a candidate filter.
    let (_, mine) = req(&sim, "bob", get.clone(), "/tasks", None).await;
    assert_eq!(mine["list"]["pagination"]["count"], 0);
    let (_, pooled) = req(
        &sim,
        "bob",
        get.clone(),
        "/tasks?where=(candidateUser%3D'bob')",
        None,
    )
    .await;
    assert_eq!(pooled["list"]["pagination"]["count"], 1);
    // Outsiders are refused; claims conflict; completed tasks are 405.
    assert_eq!(
        req(&sim, "dave", get.clone(), &format!("/tasks/{tid}"), None)
            .await
            .0,
        403
    );
    let claim = json!({"state": "claimed"});
    assert_eq!(
        req(
            &sim,
            "bob",
            put.clone(),
            &format!("/tasks/{tid}?select=state"),
            Some(claim.clone())
        )
        .await
        .0,
        200
    );
    assert_eq!(
        req(
            &sim,
            "jdoe",
            put.clone(),
            &format!("/tasks/{tid}?select=state"),
            Some(claim)
        )
        .await
        .0,
        409
    );
    let complete = json!({"state": "completed", "variables": [{"name": "wf_reviewOutcome", "type": "d_text", "value": "Approve", "scope": "local"}]});
    assert_eq!(
        req(
            &sim,
            "bob",
            put.clone(),
            &format!("/tasks/{tid}?select=state,variables"),
            Some(complete)
        )
        .await
        .0,
        400,
        "d_text is not a type"
    );
    let complete = json!({"state": "completed", "variables": [{"name": "wf_reviewOutcome", "value": "Approve", "scope": "local"}]});
    assert_eq!(
        req(
            &sim,
            "bob",
            put.clone(),
            &format!("/tasks/{tid}?select=state,variables"),
            Some(complete.clone())
        )
        .await
        .0,
        200
    );
    assert_eq!(
        req(
            &sim,
            "bob",
            put.clone(),
            &format!("/tasks/{tid}?select=state,variables"),
            Some(complete)
        )
        .await
        .0,
        405
    );
    // Without a JSON content type: 415.
    let r = reqwest::Client::new()
        .put(format!("{}{WF}/tasks/{tid}?select=state", sim.base_url))
        .basic_auth("admin", Some("admin"))
        .body("state=claimed")
        .timeout(Duration::from_secs(10))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 415);
    // Cancel twice: 204 then 404; the process keeps a delete reason.
    let del = reqwest::Method::DELETE;
    assert_eq!(
        req(
            &sim,
            "dave",
            del.clone(),
            &format!("/processes/{pid}"),
            None
        )
        .await
        .0,
        204
    );
    assert_eq!(
        req(&sim, "dave", del, &format!("/processes/{pid}"), None)
            .await
            .0,
        404
    );
    let (_, p) = req(&sim, "admin", get, &format!("/processes/{pid}"), None).await;
    assert_eq!(p["entry"]["deleteReason"], "deleted through REST API call");
    assert_eq!(p["entry"]["completed"], true);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_follows_the_upstream() {
    let sim = common::sim();
    let e = common::engine(&sim, flowgate_alfresco::AuthMode::Basic);
    use flowgate_core::WorkflowEngine;
    let h = tokio::time::timeout(Duration::from_secs(20), e.health())
        .await
        .unwrap();
    assert!(matches!(h, flowgate_core::Health::Up), "{h:?}");
    sim.stop();
    let h = tokio::time::timeout(Duration::from_secs(20), e.health())
        .await
        .unwrap();
    assert!(matches!(h, flowgate_core::Health::Down(_)), "{h:?}");
}
