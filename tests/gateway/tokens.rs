//! Nuxeo's `token` resource: list the caller's tokens, create one, revoke one.

use actix_web::http::Method;
use actix_web::test::TestRequest;

use crate::common::TestGateway;

fn with_token(req: TestRequest, token: &str) -> TestRequest {
    req.insert_header(("x-authentication-token", token))
}

async fn create(gw: &TestGateway, user: &str, query: &str) -> String {
    let r = gw
        .call(
            Method::POST,
            &format!("/api/v1/token?{query}"),
            Some(user),
            None,
        )
        .await
        .expect(201);
    assert!(r.content_type().unwrap().starts_with("text/plain"));
    assert_eq!(r.headers.get("cache-control").unwrap(), "no-store");
    r.text()
}

#[actix_web::test]
async fn post_creates_a_token_that_signs_in() {
    let gw = TestGateway::new().await;
    let t = create(
        &gw,
        "jdoe",
        "application=drive&deviceId=laptop-1&deviceDescription=My%20laptop&permission=rw",
    )
    .await;
    assert!(!t.is_empty() && !t.contains('\n'));
    let me = gw
        .send(with_token(TestRequest::get().uri("/api/v1/me"), &t))
        .await
        .expect(200)
        .json();
    assert_eq!(me["id"], "jdoe");
    // Missing parameters: 400, as an exception entity.
    gw.call(
        Method::POST,
        "/api/v1/token?application=drive",
        Some("jdoe"),
        None,
    )
    .await
    .expect_exception(400);
    gw.call(
        Method::POST,
        "/api/v1/token?application=%20&deviceId=d",
        Some("jdoe"),
        None,
    )
    .await
    .expect_exception(400);
}

#[actix_web::test]
async fn get_lists_only_the_callers_tokens_as_nuxeo_entities() {
    let gw = TestGateway::new().await;
    create(
        &gw,
        "jdoe",
        "application=drive&deviceId=d1&deviceDescription=Laptop&permission=rw",
    )
    .await;
    create(&gw, "jdoe", "application=web&deviceId=d2").await;
    create(&gw, "bob", "application=drive&deviceId=d9&permission=rw").await;

    let list = gw.get("/api/v1/token", "jdoe").await.expect(200).json();
    assert_eq!(list["entity-type"], "tokens");
    let entries = list["entries"].as_array().unwrap();
    assert_eq!(entries.len(), 2, "{list}");
    let drive = &entries[0];
    assert_eq!(drive["entity-type"], "token");
    assert_eq!(drive["username"], "jdoe");
    assert_eq!(drive["application"], "drive");
    assert_eq!(drive["deviceId"], "d1");
    assert_eq!(drive["deviceDescription"], "Laptop");
    assert_eq!(drive["permission"], "rw");
    assert!(drive["id"].as_str().is_some_and(|s| !s.is_empty()));
    let created = drive["creationDate"].as_str().unwrap();
    assert!(
        chrono::DateTime::parse_from_rfc3339(created).is_ok(),
        "{created}"
    );
    assert_eq!(entries[1]["permission"], "r");
    assert!(entries[1]["deviceDescription"].is_null());
    assert!(entries.iter().all(|e| e["username"] == "jdoe"));

    let only_web = gw
        .get("/api/v1/token?application=web", "jdoe")
        .await
        .expect(200)
        .json();
    assert_eq!(only_web["entries"].as_array().unwrap().len(), 1);
    assert_eq!(only_web["entries"][0]["application"], "web");

    let none = gw.get("/api/v1/token", "eve").await.expect(200).json();
    assert_eq!(none["entries"].as_array().unwrap().len(), 0);
}

#[actix_web::test]
async fn delete_revokes_the_callers_token_by_token_or_id() {
    let gw = TestGateway::new().await;
    let t1 = create(&gw, "jdoe", "application=a&deviceId=d1&permission=rw").await;
    let t2 = create(&gw, "jdoe", "application=a&deviceId=d2&permission=rw").await;
    let bobs = create(&gw, "bob", "application=a&deviceId=d1&permission=rw").await;

    // Another user's token, by token or by id: 404, and it keeps working.
    let r = gw
        .delete(&format!("/api/v1/token/{bobs}"), "jdoe")
        .await
        .expect_exception(404);
    assert!(!r.text().contains(&bobs), "the token is never echoed");
    let bob_id = gw.get("/api/v1/token", "bob").await.expect(200).json()["entries"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    gw.delete(&format!("/api/v1/token/{bob_id}"), "jdoe")
        .await
        .expect_exception(404);
    gw.send(with_token(TestRequest::get().uri("/api/v1/me"), &bobs))
        .await
        .expect(200);

    // By the token itself.
    gw.delete(&format!("/api/v1/token/{t1}"), "jdoe")
        .await
        .expect(204);
    gw.send(with_token(TestRequest::get().uri("/api/v1/me"), &t1))
        .await
        .expect_exception(401);
    gw.delete(&format!("/api/v1/token/{t1}"), "jdoe")
        .await
        .expect_exception(404);

    // By its id in the listing.
    let list = gw.get("/api/v1/token", "jdoe").await.expect(200).json();
    let id = list["entries"][0]["id"].as_str().unwrap().to_owned();
    gw.delete(&format!("/api/v1/token/{id}"), "jdoe")
        .await
        .expect(204);
    gw.send(with_token(TestRequest::get().uri("/api/v1/me"), &t2))
        .await
        .expect_exception(401);
    let list = gw.get("/api/v1/token", "jdoe").await.expect(200).json();
    assert_eq!(list["entries"].as_array().unwrap().len(), 0);
}

#[actix_web::test]
async fn read_only_tokens_list_but_neither_create_nor_delete() {
    let gw = TestGateway::new().await;
    let ro = create(&gw, "jdoe", "application=a&deviceId=ro&permission=r").await;
    let rw = create(&gw, "jdoe", "application=a&deviceId=rw&permission=rw").await;
    let list = gw
        .send(with_token(TestRequest::get().uri("/api/v1/token"), &ro))
        .await
        .expect(200)
        .json();
    assert_eq!(list["entries"].as_array().unwrap().len(), 2);
    gw.send(with_token(
        TestRequest::delete().uri(&format!("/api/v1/token/{rw}")),
        &ro,
    ))
    .await
    .expect_exception(403);
    // A token (even read-write) cannot mint tokens; it may revoke one.
    gw.send(with_token(
        TestRequest::post().uri("/api/v1/token?application=x&deviceId=y&permission=rw"),
        &rw,
    ))
    .await
    .expect_exception(403);
    gw.send(with_token(
        TestRequest::delete().uri(&format!("/api/v1/token/{ro}")),
        &rw,
    ))
    .await
    .expect(204);
    gw.send(with_token(TestRequest::get().uri("/api/v1/me"), &ro))
        .await
        .expect_exception(401);
}

#[actix_web::test]
async fn expired_tokens_get_401_and_leave_the_listing() {
    let gw = TestGateway::with("[auth]\ntoken_ttl = \"1s\"\n").await;
    let t = create(&gw, "jdoe", "application=a&deviceId=d&permission=rw").await;
    gw.send(with_token(TestRequest::get().uri("/api/v1/me"), &t))
        .await
        .expect(200);
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    gw.send(with_token(TestRequest::get().uri("/api/v1/me"), &t))
        .await
        .expect_exception(401);
    let list = gw.get("/api/v1/token", "jdoe").await.expect(200).json();
    assert_eq!(list["entries"].as_array().unwrap().len(), 0);
}
