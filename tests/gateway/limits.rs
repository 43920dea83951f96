//! Request limits (`[limits]`): each at its bound and one past it, with a 400 in the
//! Nuxeo exception format naming the limit and nothing changed.

use serde_json::{json, Value};

use crate::common::TestGateway;

const DOC: &str = "0c0a1c2e-58e4-4c8e-9d7e-1f1b2c3d4e5f";

/// A parallel review started by jdoe, with its "choose participants" task id.
async fn choose(g: &TestGateway) -> (String, String) {
    let wf = g.start("jdoe", "ParallelDocumentReview", Some(DOC)).await;
    let wf = wf["id"].as_str().expect("id").to_owned();
    let t = g.only_task("jdoe", &wf).await;
    (wf, t["id"].as_str().expect("id").to_owned())
}

fn users(n: usize) -> Vec<String> {
    (0..n).map(|i| format!("user:reviewer{i}")).collect()
}

fn start_review(participants: Value) -> Value {
    json!({"participants": participants, "end_date": "2031-01-01T00:00:00.000Z"})
}

#[actix_web::test]
async fn participants_per_request_are_bounded_in_both_spellings() {
    let g = TestGateway::with("[limits]\nmax_actors_per_request = 4\n").await;
    let (wf, t) = choose(&g).await;
    for past in [
        json!(users(5)),
        json!(serde_json::to_string(&users(5)).expect("json")),
    ] {
        let r = g
            .complete("jdoe", &t, "start_review", start_review(past))
            .await;
        let r = r.expect_exception(400);
        assert!(r.text().contains("max_actors_per_request"), "{}", r.text());
        assert_eq!(
            g.only_task("jdoe", &wf).await["id"],
            t.as_str(),
            "still choosing"
        );
    }
    let r = g
        .complete("jdoe", &t, "start_review", start_review(json!(users(4))))
        .await;
    r.expect(200);
    assert_eq!(g.tasks_of("Administrator", &wf).await.len(), 4);
}

#[actix_web::test]
async fn tasks_created_by_one_step_are_bounded() {
    let g = TestGateway::with("[limits]\nmax_tasks_per_step = 3\n").await;
    let (wf, t) = choose(&g).await;
    let r = g
        .complete("jdoe", &t, "start_review", start_review(json!(users(4))))
        .await;
    let r = r.expect_exception(400);
    assert!(r.text().contains("max_tasks_per_step"), "{}", r.text());
    assert_eq!(
        g.only_task("jdoe", &wf).await["id"],
        t.as_str(),
        "nothing changed"
    );
    g.complete("jdoe", &t, "start_review", start_review(json!(users(3))))
        .await
        .expect(200);
    assert_eq!(g.tasks_of("Administrator", &wf).await.len(), 3);
}

#[actix_web::test]
async fn variables_per_request_and_value_size_are_bounded() {
    let g = TestGateway::with("[limits]\nmax_variables_per_request = 3\nmax_variable_bytes = 64\n")
        .await;
    let (_, t) = choose(&g).await;
    let mut vars = start_review(json!(["user:asmith"]));
    vars["comment"] = json!("c");
    vars["extra"] = json!(1);
    let r = g
        .complete("jdoe", &t, "start_review", vars)
        .await
        .expect_exception(400);
    assert!(
        r.text().contains("max_variables_per_request"),
        "{}",
        r.text()
    );
    let mut vars = start_review(json!(["user:asmith"]));
    vars["comment"] = json!("x".repeat(63));
    let r = g
        .complete("jdoe", &t, "start_review", vars)
        .await
        .expect_exception(400);
    assert!(r.text().contains("max_variable_bytes"), "{}", r.text());
    // 62 characters + the quotes: 64 bytes, at the bound.
    let mut vars = start_review(json!(["user:asmith"]));
    vars["comment"] = json!("x".repeat(62));
    g.complete("jdoe", &t, "start_review", vars)
        .await
        .expect(200);
    // Start variables pass the same checks.
    let body = json!({"entity-type": "workflow", "workflowModelName": "SerialDocumentReview",
                      "variables": {"a": 1, "b": 2, "c": 3, "d": 4}});
    g.post("/api/v1/workflow", "jdoe", &body)
        .await
        .expect_exception(400);
}

#[actix_web::test]
async fn actors_per_reassign_delegate_and_per_task_are_bounded() {
    let g =
        TestGateway::with("[limits]\nmax_actors_per_request = 3\nmax_actors_per_task = 4\n").await;
    let (wf, t) = choose(&g).await;
    g.complete(
        "jdoe",
        &t,
        "start_review",
        start_review(json!(["user:asmith"])),
    )
    .await
    .expect(200);
    let review = g.only_task("asmith", &wf).await;
    let id = review["id"].as_str().expect("id");
    let list = |n: usize| users(n).join(",");
    let r = g
        .put(
            &format!("/api/v1/task/{id}/delegate?delegatedActors={}", list(4)),
            "asmith",
            None,
        )
        .await
        .expect_exception(400);
    assert!(r.text().contains("max_actors_per_request"), "{}", r.text());
    g.put(
        &format!("/api/v1/task/{id}/reassign?actors={}", list(4)),
        "jdoe",
        None,
    )
    .await
    .expect_exception(400);
    // 1 actor + 3 delegates = 4: at the bound; one more delegate is past it.
    g.put(
        &format!("/api/v1/task/{id}/delegate?delegatedActors={}", list(3)),
        "asmith",
        None,
    )
    .await
    .expect(200);
    let r = g
        .put(
            &format!("/api/v1/task/{id}/delegate?delegatedActors=user:eve"),
            "asmith",
            None,
        )
        .await
        .expect_exception(400);
    assert!(r.text().contains("max_actors_per_task"), "{}", r.text());
    let t = g.get(&format!("/api/v1/task/{id}"), "asmith").await.json();
    assert_eq!(t["delegatedActors"].as_array().map(Vec::len), Some(3));
}

#[actix_web::test]
async fn long_unpaginated_lists_are_answered_one_page_at_a_time() {
    let g = TestGateway::with("[limits]\nmax_page_size = 3\n").await;
    for _ in 0..5 {
        g.start("jdoe", "SerialDocumentReview", Some(DOC)).await;
    }
    // Unpaginated: the first page, in the paginated form, saying more follows.
    let v = g
        .get("/api/v1/task?userId=jdoe", "jdoe")
        .await
        .expect(200)
        .json();
    assert_eq!(v["entity-type"], "tasks");
    assert_eq!(v["entries"].as_array().map(Vec::len), Some(3));
    assert_eq!(v["isNextPageAvailable"], true);
    assert_eq!(v["resultsCount"], 5);
    assert_eq!(v["maxPageSize"], 3);
    // Asked pages are capped at the maximum, and paging reaches the rest.
    let v = g
        .get(
            "/api/v1/task?userId=jdoe&isPaginated=true&pageSize=50&currentPageIndex=1",
            "jdoe",
        )
        .await
        .expect(200)
        .json();
    assert_eq!(v["pageSize"], 3);
    assert_eq!(v["entries"].as_array().map(Vec::len), Some(2));
    assert_eq!(v["isNextPageAvailable"], false);
    // The same bound for workflows and the document adapters.
    for path in [
        "/api/v1/workflow",
        &format!("/api/v1/id/{DOC}/@workflow"),
        &format!("/api/v1/id/{DOC}/@task"),
    ] {
        let v = g.get(path, "jdoe").await.expect(200).json();
        assert_eq!(v["entries"].as_array().map(Vec::len), Some(3), "{path}");
        assert_eq!(v["isNextPageAvailable"], true, "{path}");
    }
    // At the bound: the plain form, as before.
    let g = TestGateway::with("[limits]\nmax_page_size = 5\n").await;
    for _ in 0..5 {
        g.start("jdoe", "SerialDocumentReview", Some(DOC)).await;
    }
    let v = g
        .get("/api/v1/task?userId=jdoe", "jdoe")
        .await
        .expect(200)
        .json();
    assert_eq!(v["entries"].as_array().map(Vec::len), Some(5));
    assert!(v.get("isNextPageAvailable").is_none(), "{v}");
}
