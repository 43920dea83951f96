use actix_web::http::Method;
use actix_web::test::TestRequest;

use crate::common::TestGateway;

#[actix_web::test]
async fn cmis_reports_a_parsable_product_version_under_both_roots() {
    let gw = TestGateway::new().await;
    for path in ["/nuxeo/json/cmis", "/json/cmis"] {
        let r = gw.get(path, "jdoe").await.expect(200);
        let v = r.json();
        assert_eq!(v["default"]["productVersion"], "2023.10", "{path}");
        assert_eq!(v["default"]["repositoryId"], "default");
    }
}

#[actix_web::test]
async fn login_returns_the_authenticated_user() {
    let gw = TestGateway::new().await;
    let r = gw
        .call(
            Method::POST,
            "/nuxeo/api/v1/automation/login",
            Some("Administrator"),
            None,
        )
        .await
        .expect(200);
    let v = r.json();
    assert_eq!(v["entity-type"], "login");
    assert_eq!(v["username"], "Administrator");
    assert_eq!(v["isAdministrator"], true);
    assert_eq!(v["groups"], serde_json::json!(["administrators"]));
}

#[actix_web::test]
async fn user_and_me_are_minimal_user_entities_without_password() {
    let gw = TestGateway::new().await;
    let r = gw
        .send(
            TestRequest::get()
                .uri("/nuxeo/api/v1/user/jdoe")
                .insert_header(("authorization", crate::common::basic("Administrator")))
                .insert_header(("enrichers-user", "userprofile")),
        )
        .await
        .expect(200);
    let v = r.json();
    assert_eq!(v["entity-type"], "user");
    assert_eq!(v["id"], "jdoe");
    assert_eq!(v["properties"]["username"], "jdoe");
    assert_eq!(v["properties"]["groups"], serde_json::json!(["members"]));
    assert!(v["properties"].get("password").is_none());
    assert_eq!(v["extendedGroups"][0]["label"], "Members group");
    assert_eq!(v["isAdministrator"], false);
    let me = gw
        .get("/nuxeo/site/api/v1/me", "asmith")
        .await
        .expect(200)
        .json();
    assert_eq!(me["id"], "asmith");
    gw.get("/api/v1/user/nobody", "jdoe")
        .await
        .expect_exception(404);
}

#[actix_web::test]
async fn runningstatus_is_ok_without_credentials() {
    let gw = TestGateway::new().await;
    for path in ["/nuxeo/runningstatus", "/runningstatus"] {
        let r = gw.call(Method::GET, path, None, None).await.expect(200);
        assert_eq!(r.json()["engines"]["local"]["status"], "up");
    }
}
