use actix_web::http::Method;
use actix_web::test::TestRequest;

use crate::common::{basic, TestGateway};

#[actix_web::test]
async fn missing_credentials_get_401_with_a_basic_challenge() {
    let gw = TestGateway::new().await;
    let r = gw
        .call(Method::GET, "/api/v1/task", None, None)
        .await
        .expect_exception(401);
    assert_eq!(
        r.headers.get("www-authenticate").unwrap(),
        "Basic realm=\"Nuxeo\""
    );
}

#[actix_web::test]
async fn wrong_password_and_unknown_user_get_401() {
    let gw = TestGateway::new().await;
    let bad = TestRequest::get()
        .uri("/api/v1/me")
        .insert_header(("authorization", "Basic amRvZTpub3Bl")); // jdoe:nope
    gw.send(bad).await.expect_exception(401);
    let unknown = TestRequest::get()
        .uri("/api/v1/me")
        .insert_header(("authorization", basic("mallory")));
    gw.send(unknown).await.expect_exception(401);
    let garbage = TestRequest::get()
        .uri("/api/v1/me")
        .insert_header(("authorization", "Basic !!!"));
    gw.send(garbage).await.expect_exception(401);
    let bearer = TestRequest::get()
        .uri("/api/v1/me")
        .insert_header(("authorization", "Bearer abc"));
    gw.send(bearer).await.expect_exception(401);
}

#[actix_web::test]
async fn cors_preflight_succeeds_without_credentials() {
    let gw = TestGateway::with("[cors]\nallowed_origins = [\"http://playground.example\"]\n").await;
    let r = gw
        .send(
            TestRequest::default()
                .method(Method::OPTIONS)
                .uri("/nuxeo/api/v1/task")
                .insert_header(("origin", "http://playground.example"))
                .insert_header(("access-control-request-method", "PUT"))
                .insert_header((
                    "access-control-request-headers",
                    "authorization,x-nxfetch.task,content-type",
                )),
        )
        .await;
    assert!(r.status.is_success(), "{}", r.status);
    assert_eq!(
        r.headers.get("access-control-allow-origin").unwrap(),
        "http://playground.example"
    );
    assert_eq!(
        r.headers.get("access-control-allow-credentials").unwrap(),
        "true"
    );
    let allowed = r
        .headers
        .get("access-control-allow-headers")
        .unwrap()
        .to_str()
        .unwrap()
        .to_ascii_lowercase();
    assert!(allowed.contains("x-nxfetch.task"), "{allowed}");
}

#[actix_web::test]
async fn token_flow_issues_uses_and_revokes_a_token() {
    let gw = TestGateway::new().await;
    let url = "/nuxeo/authentication/token?applicationName=py&deviceId=dev-1&deviceDescription=laptop&permission=rw";
    let r = gw.get(url, "jdoe").await.expect(200);
    assert!(r.content_type().unwrap().starts_with("text/plain"));
    let token = r.text();
    assert!(!token.is_empty() && !token.contains('\n'));
    // Asking again for the same application and device replaces the token (tokens are
    // kept hashed, so the first one cannot be given back).
    let first = token;
    let token = gw.get(url, "jdoe").await.expect(200).text();
    assert_ne!(token, first);
    gw.send(
        TestRequest::get()
            .uri("/api/v1/me")
            .insert_header(("x-authentication-token", first.as_str())),
    )
    .await
    .expect_exception(401);

    let me = gw
        .send(
            TestRequest::get()
                .uri("/api/v1/me")
                .insert_header(("x-authentication-token", token.as_str())),
        )
        .await
        .expect(200)
        .json();
    assert_eq!(me["id"], "jdoe");

    gw.get(&format!("{url}&revoke=true"), "jdoe")
        .await
        .expect(200);
    gw.send(
        TestRequest::get()
            .uri("/api/v1/me")
            .insert_header(("x-authentication-token", token.as_str())),
    )
    .await
    .expect_exception(401);
}

#[actix_web::test]
async fn token_endpoint_needs_basic_auth_and_parameters() {
    let gw = TestGateway::new().await;
    gw.call(
        Method::GET,
        "/authentication/token?applicationName=a&deviceId=d&permission=rw",
        None,
        None,
    )
    .await
    .expect_exception(401);
    gw.get("/authentication/token?applicationName=a", "jdoe")
        .await
        .expect_exception(400);
}

#[actix_web::test]
async fn unknown_token_is_401() {
    let gw = TestGateway::new().await;
    gw.send(
        TestRequest::get()
            .uri("/api/v1/task")
            .insert_header(("x-authentication-token", "not-a-token")),
    )
    .await
    .expect_exception(401);
}

#[actix_web::test]
async fn non_admin_asking_for_someone_elses_tasks_gets_200_with_nothing_foreign() {
    let gw = TestGateway::new().await;
    gw.start("jdoe", "SerialDocumentReview", None).await;
    let mine = gw
        .get("/api/v1/task?userId=jdoe", "jdoe")
        .await
        .expect(200)
        .json();
    assert_eq!(mine["entries"].as_array().unwrap().len(), 1);
    let theirs = gw
        .get("/api/v1/task?userId=jdoe", "eve")
        .await
        .expect(200)
        .json();
    assert_eq!(theirs["entries"], serde_json::json!([]));
    let all = gw.get("/api/v1/task", "eve").await.expect(200).json();
    assert_eq!(all["entries"], serde_json::json!([]));
    // The administrator sees everything.
    let admin = gw
        .get("/api/v1/task?userId=jdoe", "Administrator")
        .await
        .expect(200)
        .json();
    assert_eq!(admin["entries"].as_array().unwrap().len(), 1);
}

#[actix_web::test]
async fn foreign_task_and_workflow_are_403() {
    let gw = TestGateway::new().await;
    let wf = gw.start("jdoe", "SerialDocumentReview", None).await;
    let wf = wf["id"].as_str().unwrap();
    let t = gw.only_task("jdoe", wf).await;
    let tid = t["id"].as_str().unwrap();
    gw.get(&format!("/api/v1/task/{tid}"), "eve")
        .await
        .expect_exception(403);
    gw.get(&format!("/api/v1/workflow/{wf}"), "eve")
        .await
        .expect_exception(403);
    let r = gw
        .complete("eve", tid, "cancel", serde_json::json!({}))
        .await
        .expect_exception(403);
    assert!(r.json()["message"].as_str().unwrap().contains("eve"));
    gw.put(
        &format!("/api/v1/task/{tid}/delegate?delegatedActors=eve"),
        "eve",
        None,
    )
    .await
    .expect_exception(403);
    // Nothing changed.
    assert_eq!(gw.only_task("jdoe", wf).await["state"], "opened");
}

#[actix_web::test]
async fn cancel_is_for_initiator_admin_and_powerusers_only() {
    let gw = TestGateway::new().await;
    let a = gw.start("jdoe", "SerialDocumentReview", None).await;
    let a = a["id"].as_str().unwrap();
    let r = gw
        .delete(&format!("/api/v1/workflow/{a}"), "eve")
        .await
        .expect_exception(403);
    assert!(r.json()["message"]
        .as_str()
        .unwrap()
        .contains("permission to cancel"));
    // bob is in powerusers.
    gw.delete(&format!("/api/v1/workflow/{a}"), "bob")
        .await
        .expect(204);
    let b = gw.start("jdoe", "SerialDocumentReview", None).await;
    gw.delete(
        &format!("/api/v1/workflow/{}", b["id"].as_str().unwrap()),
        "jdoe",
    )
    .await
    .expect(204);
    let c = gw.start("jdoe", "SerialDocumentReview", None).await;
    gw.delete(
        &format!("/api/v1/workflow/{}", c["id"].as_str().unwrap()),
        "Administrator",
    )
    .await
    .expect(204);
}
