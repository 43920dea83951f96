use actix_web::test::TestRequest;
use serde_json::json;

use crate::common::{actor_ids, basic, TestGateway};

async fn serial_review_task(
    gw: &TestGateway,
    participants: serde_json::Value,
) -> (String, serde_json::Value) {
    let wf = gw
        .start("Administrator", "SerialDocumentReview", Some("doc-t"))
        .await;
    let wf = wf["id"].as_str().unwrap().to_owned();
    let t1 = gw.only_task("Administrator", &wf).await;
    gw.complete(
        "Administrator",
        t1["id"].as_str().unwrap(),
        "start_review",
        json!({"participants": participants}),
    )
    .await
    .expect(200);
    let t = gw.tasks_of("Administrator", &wf).await.remove(0);
    (wf, t)
}

#[actix_web::test]
async fn completion_returns_the_ended_task_with_its_comment() {
    let gw = TestGateway::new().await;
    let wf = gw.start("jdoe", "SerialDocumentReview", None).await;
    let t = gw.only_task("jdoe", wf["id"].as_str().unwrap()).await;
    let id = t["id"].as_str().unwrap();
    let body = json!({"entity-type":"task","id":id,"comment":"Please review","variables":{"participants":["user:asmith"]}});
    let r = gw
        .put(
            &format!("/api/v1/task/{id}/start_review"),
            "jdoe",
            Some(&body),
        )
        .await
        .expect(200);
    let v = r.json();
    assert_eq!(v["entity-type"], "task");
    assert_eq!(v["id"], id);
    assert_eq!(v["state"], "ended");
    assert_eq!(v["comments"][0]["text"], "Please review");
    assert_eq!(v["comments"][0]["author"], "jdoe");
}

#[actix_web::test]
async fn posting_back_the_whole_task_entity_completes_it() {
    let gw = TestGateway::new().await;
    let wf = gw.start("jdoe", "SerialDocumentReview", None).await;
    let mut t = gw.only_task("jdoe", wf["id"].as_str().unwrap()).await;
    let id = t["id"].as_str().unwrap().to_owned();
    t["variables"]["participants"] = json!(["user:asmith"]);
    t["variables"]["comment"] = json!("from variables");
    let v = gw
        .put(&format!("/api/v1/task/{id}/start_review"), "jdoe", Some(&t))
        .await
        .expect(200)
        .json();
    assert_eq!(v["state"], "ended");
    assert_eq!(v["comments"][0]["text"], "from variables");
}

#[actix_web::test]
async fn task_query_filters_by_user_instance_and_model() {
    let gw = TestGateway::new().await;
    let (wf, _) = serial_review_task(&gw, json!(["user:jdoe"])).await;
    gw.start("asmith", "ParallelDocumentReview", None).await;
    let by_user = gw
        .get("/api/v1/task?userId=jdoe", "Administrator")
        .await
        .expect(200)
        .json();
    assert_eq!(by_user["entity-type"], "tasks");
    assert_eq!(by_user["entries"].as_array().unwrap().len(), 1);
    assert!(by_user.get("resultsCount").is_none());
    let by_wf = gw
        .get(
            &format!("/api/v1/task?workflowInstanceId={wf}&userId="),
            "Administrator",
        )
        .await
        .expect(200)
        .json();
    assert_eq!(by_wf["entries"].as_array().unwrap().len(), 1);
    let by_model = gw
        .get(
            "/api/v1/task?workflowModelName=ParallelDocumentReview",
            "Administrator",
        )
        .await
        .expect(200)
        .json();
    assert_eq!(by_model["entries"].as_array().unwrap().len(), 1);
    for q in [
        "userId=leela",
        "workflowModelName=foo",
        "workflowInstanceId=nope",
    ] {
        let v = gw
            .get(&format!("/api/v1/task?{q}"), "Administrator")
            .await
            .expect(200)
            .json();
        assert_eq!(v["entries"], json!([]), "{q}");
    }
    // The Python client sends the whole workflow as query parameters; `id` is ignored.
    let v = gw
        .get(
            &format!("/api/v1/task?entity-type=workflow&id={wf}&workflowModelName=SerialDocumentReview&state=running"),
            "jdoe",
        )
        .await
        .expect(200)
        .json();
    assert_eq!(v["entries"].as_array().unwrap().len(), 1);
}

#[actix_web::test]
async fn group_actors_match_user_id_queries() {
    let gw = TestGateway::new().await;
    serial_review_task(&gw, json!(["group:members"])).await;
    let v = gw
        .get("/api/v1/task?userId=eve", "eve")
        .await
        .expect(200)
        .json();
    assert_eq!(v["entries"].as_array().unwrap().len(), 1);
}

#[actix_web::test]
async fn pagination_fields_appear_only_when_asked() {
    let gw = TestGateway::new().await;
    for _ in 0..3 {
        gw.start("jdoe", "SerialDocumentReview", None).await;
    }
    let v = gw
        .get("/api/v1/task?isPaginated=true&pageSize=2", "jdoe")
        .await
        .expect(200)
        .json();
    assert_eq!(v["isPaginable"], true);
    assert_eq!(v["resultsCount"], 3);
    assert_eq!(v["pageSize"], 2);
    assert_eq!(v["currentPageSize"], 2);
    assert_eq!(v["numberOfPages"], 2);
    assert_eq!(v["isNextPageAvailable"], true);
    assert_eq!(v["entries"].as_array().unwrap().len(), 2);
    let p2 = gw
        .get(
            "/api/v1/task?isPaginated=true&pageSize=2&currentPageIndex=1",
            "jdoe",
        )
        .await
        .expect(200)
        .json();
    assert_eq!(p2["currentPageIndex"], 1);
    assert_eq!(p2["entries"].as_array().unwrap().len(), 1);
    assert_eq!(p2["isPreviousPageAvailable"], true);
    let off = gw
        .get("/api/v1/task?isPaginated=true&offset=1", "jdoe")
        .await
        .expect(200)
        .json();
    assert_eq!(off["entries"].as_array().unwrap().len(), 2);
    assert_eq!(off["currentPageOffset"], 1);
    // A model filter forces the plain list.
    let plain = gw
        .get(
            "/api/v1/task?isPaginated=true&workflowModelName=SerialDocumentReview",
            "jdoe",
        )
        .await
        .expect(200)
        .json();
    assert!(plain.get("isPaginable").is_none());
    assert_eq!(plain["entries"].as_array().unwrap().len(), 3);
}

#[actix_web::test]
async fn blank_text_parameters_are_absent_but_blank_numbers_and_flags_are_refused() {
    let gw = TestGateway::new().await;
    gw.start("jdoe", "SerialDocumentReview", None).await;
    // `userId=` and `workflowModelName=` read as absent: the caller's tasks.
    let v = gw
        .get("/api/v1/task?userId=&workflowModelName=%20", "jdoe")
        .await
        .expect(200)
        .json();
    assert_eq!(v["entries"].as_array().unwrap().len(), 1, "{v}");
    for query in [
        "pageSize=",
        "pageSize=%20",
        "currentPageIndex=",
        "offset=&offset=",
        "isPaginated=",
        "pageSize=ten",
    ] {
        let r = gw
            .get(&format!("/api/v1/task?{query}"), "jdoe")
            .await
            .expect_exception(400);
        let m = r.json()["message"].as_str().unwrap_or_default().to_owned();
        assert!(m.starts_with("Invalid query parameters"), "{query}: {m}");
    }
    // A blank flag on the token endpoint names the flag's problem, not the names.
    let r = gw
        .get(
            "/authentication/token?applicationName=a&deviceId=d&revoke=",
            "jdoe",
        )
        .await
        .expect_exception(400);
    let m = r.json()["message"].as_str().unwrap_or_default().to_owned();
    assert!(m.starts_with("Invalid query parameters"), "{m}");
}

#[actix_web::test]
async fn reassign_replaces_actors_and_answers_empty_200() {
    let gw = TestGateway::new().await;
    let (wf, t) = serial_review_task(&gw, json!(["user:jdoe"])).await;
    let id = t["id"].as_str().unwrap();
    let r = gw
        .put(
            &format!("/api/v1/task/{id}/reassign?actors=user:asmith&comment=over%20to%20you"),
            "jdoe",
            None,
        )
        .await
        .expect(200);
    assert!(r.body.is_empty());
    assert!(r.content_type().is_none());
    let t = gw.only_task("asmith", &wf).await;
    assert_eq!(actor_ids(&t), vec!["asmith"]);
    assert_eq!(t["comments"][0]["text"], "over to you");
    assert!(gw.tasks_of("jdoe", &wf).await.is_empty());
}

#[actix_web::test]
async fn delegate_appends_delegated_actors_from_either_parameter_name() {
    let gw = TestGateway::new().await;
    let (wf, t) = serial_review_task(&gw, json!(["user:jdoe"])).await;
    let id = t["id"].as_str().unwrap();
    gw.put(
        &format!(
            "/api/v1/task/{id}/delegate?delegatedActors=members&delegatedActors=Administrator"
        ),
        "jdoe",
        None,
    )
    .await
    .expect(200);
    // Java client style: `actors`, comma-joined.
    gw.put(
        &format!("/api/v1/task/{id}/delegate?actors=user:eve,bob"),
        "jdoe",
        None,
    )
    .await
    .expect(200);
    let t = gw
        .get(&format!("/api/v1/task/{id}"), "Administrator")
        .await
        .expect(200)
        .json();
    assert_eq!(
        t["delegatedActors"],
        json!([{"id":"members"},{"id":"Administrator"},{"id":"eve"},{"id":"bob"}])
    );
    assert_eq!(actor_ids(&t), vec!["user:jdoe"]);
    // A delegated actor can complete it.
    gw.complete("eve", id, "validate", json!({}))
        .await
        .expect(200);
    assert_eq!(
        gw.get(&format!("/api/v1/workflow/{wf}"), "Administrator")
            .await
            .expect(200)
            .json()["state"],
        "done"
    );
}

#[actix_web::test]
async fn fetch_task_resolves_actors_documents_and_initiator_in_every_spelling() {
    let gw = TestGateway::new().await;
    let (_, t) = serial_review_task(&gw, json!(["user:jdoe"])).await;
    let id = t["id"].as_str().unwrap();
    gw.put(
        &format!("/api/v1/task/{id}/delegate?delegatedActors=group:members"),
        "jdoe",
        None,
    )
    .await
    .expect(200);
    for (name, value) in [
        ("X-NXfetch.task", "targetDocumentIds,actors"),
        ("fetch-task", "actors, targetDocumentIds"),
        ("x-nxfetch-task", "actors,targetDocumentIds"),
    ] {
        let v = gw
            .send(
                TestRequest::get()
                    .uri(&format!("/api/v1/task/{id}"))
                    .insert_header(("authorization", basic("jdoe")))
                    .insert_header((name, value)),
            )
            .await
            .expect(200)
            .json();
        assert_eq!(v["actors"][0]["entity-type"], "user", "{name}");
        assert_eq!(v["actors"][0]["id"], "jdoe");
        assert_eq!(v["delegatedActors"][0]["entity-type"], "group");
        assert_eq!(v["delegatedActors"][0]["id"], "members");
        assert_eq!(v["targetDocumentIds"][0]["entity-type"], "document");
        assert_eq!(v["targetDocumentIds"][0]["uid"], "doc-t");
    }
    let v = gw
        .get(
            &format!("/api/v1/task/{id}?fetch.task=workflowInitiator"),
            "jdoe",
        )
        .await
        .expect(200)
        .json();
    assert_eq!(v["workflowInitiator"]["entity-type"], "user");
    assert_eq!(v["workflowInitiator"]["id"], "Administrator");
    assert_eq!(v["actors"], json!([{"id": "user:jdoe"}]));
}
