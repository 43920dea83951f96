//! The smaller doors: JSON-only writes, read-only tokens, tokens minted only by a
//! password sign-in, the same work for unknown and known user names, forwarded headers
//! that cannot inject links, and error messages that never echo a whole input.

use actix_web::test::TestRequest;
use serde_json::json;

use crate::common::{basic, TestGateway};

fn token_header(t: &str) -> (&'static str, String) {
    ("x-authentication-token", t.to_owned())
}

async fn workflows_of(g: &TestGateway, user: &str) -> usize {
    let v = g.get("/api/v1/workflow", user).await.expect(200).json();
    v["entries"].as_array().map_or(0, Vec::len)
}

#[actix_web::test]
async fn writes_with_a_body_must_be_json() {
    let g = TestGateway::new().await;
    let body = r#"{"entity-type":"workflow","workflowModelName":"SerialDocumentReview"}"#;
    for ct in [
        Some("text/plain"),
        Some("application/x-www-form-urlencoded"),
        Some("multipart/form-data; boundary=x"),
        None,
    ] {
        let mut req = TestRequest::post()
            .uri("/nuxeo/api/v1/workflow")
            .insert_header(("authorization", basic("jdoe")))
            .set_payload(body);
        if let Some(ct) = ct {
            req = req.insert_header(("content-type", ct));
        }
        g.send(req).await.expect_exception(415);
    }
    assert_eq!(workflows_of(&g, "jdoe").await, 0, "nothing was started");
    for ct in [
        "application/json",
        "application/json; charset=utf-8",
        "application/json+nxentity",
    ] {
        let req = TestRequest::post()
            .uri("/nuxeo/api/v1/workflow")
            .insert_header(("authorization", basic("jdoe")))
            .insert_header(("content-type", ct))
            .set_payload(body);
        g.send(req).await.expect(201);
    }
    // Body-less writes need no content type.
    let wf = g.start("jdoe", "SerialDocumentReview", None).await;
    let id = wf["id"].as_str().expect("id");
    g.delete(&format!("/api/v1/workflow/{id}"), "jdoe")
        .await
        .expect(204);
}

async fn token(g: &TestGateway, user: &str, permission: &str) -> String {
    let url = format!(
        "/nuxeo/authentication/token?applicationName=app&deviceId={permission}&permission={permission}"
    );
    g.get(&url, user).await.expect(200).text()
}

#[actix_web::test]
async fn a_read_only_token_reads_but_never_writes() {
    let g = TestGateway::new().await;
    let t = token(&g, "jdoe", "r").await;
    let get = TestRequest::get()
        .uri("/api/v1/workflow")
        .insert_header(token_header(&t));
    g.send(get).await.expect(200);
    let start = TestRequest::post()
        .uri("/api/v1/workflow")
        .insert_header(token_header(&t))
        .insert_header(("content-type", "application/json"))
        .set_payload(r#"{"entity-type":"workflow","workflowModelName":"SerialDocumentReview"}"#);
    g.send(start).await.expect_exception(403);
    assert_eq!(workflows_of(&g, "jdoe").await, 0);
    // A read-write token writes.
    let rw = token(&g, "jdoe", "rw").await;
    let start = TestRequest::post()
        .uri("/api/v1/workflow")
        .insert_header(token_header(&rw))
        .insert_header(("content-type", "application/json"))
        .set_payload(r#"{"entity-type":"workflow","workflowModelName":"SerialDocumentReview"}"#);
    g.send(start).await.expect(201);
}

#[actix_web::test]
async fn tokens_are_minted_only_for_a_password_sign_in() {
    let g = TestGateway::new().await;
    let t = token(&g, "jdoe", "rw").await;
    let mint = TestRequest::get()
        .uri("/nuxeo/authentication/token?applicationName=other&deviceId=d2&permission=rw")
        .insert_header(token_header(&t));
    let r = g.send(mint).await.expect_exception(403);
    assert!(!r.text().contains(&t), "the token is never echoed");
    // The token may still revoke itself.
    let revoke = TestRequest::get()
        .uri("/nuxeo/authentication/token?applicationName=app&deviceId=rw&revoke=true")
        .insert_header(token_header(&t));
    g.send(revoke).await.expect(200);
    let get = TestRequest::get()
        .uri("/api/v1/workflow")
        .insert_header(token_header(&t));
    g.send(get).await.expect(401);
}

#[actix_web::test]
async fn unknown_user_names_cost_a_password_check_too() {
    let g = TestGateway::new().await;
    let (before, _) = g.state.directory.check_counts();
    let r = g
        .send(
            TestRequest::get()
                .uri("/api/v1/me")
                .insert_header(("authorization", basic("nosuchuser"))),
        )
        .await;
    assert_eq!(r.status.as_u16(), 401);
    let (after, _) = g.state.directory.check_counts();
    assert_eq!(
        after,
        before + 1,
        "a decoy hash was checked for the unknown name"
    );
}

#[actix_web::test]
async fn forwarded_headers_cannot_put_anything_but_http_links_to_a_valid_host() {
    let g = TestGateway::with("[server]\ntrust_forwarded_headers = true\n").await;
    for (proto, host) in [
        ("javascript", "x%0aalert(1)//"),
        (
            "javascript://x%0aalert(document.domain)//",
            "wf.example.com",
        ),
        ("https", "evil.example/<script>"),
        ("data", "a b"),
    ] {
        let r = g
            .send(
                TestRequest::get()
                    .uri("/nuxeo/api/v1/workflowModel/SerialDocumentReview")
                    .insert_header(("authorization", basic("jdoe")))
                    .insert_header(("x-forwarded-proto", proto))
                    .insert_header(("x-forwarded-host", host)),
            )
            .await
            .expect(200);
        let link = r.json()["graphResource"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        assert!(
            link.starts_with("http://") || link.starts_with("https://"),
            "{proto} {host}: {link}"
        );
        let authority = link.split('/').nth(2).unwrap_or_default();
        assert!(
            flowgate::nuxeo::valid_host(authority),
            "{proto} {host}: {link}"
        );
        assert!(
            !link.contains("script") && !link.contains("alert"),
            "{link}"
        );
    }
}

#[actix_web::test]
async fn error_messages_echo_only_a_short_prefix_of_the_input() {
    let g = TestGateway::new().await;
    let long = "a".repeat(10_000);
    for path in [
        format!("/api/v1/task/{long}"),
        format!("/api/v1/workflow/{long}"),
        format!("/api/v1/workflowModel/{long}"),
        format!("/api/v1/user/{long}"),
    ] {
        let r = g.get(&path, "jdoe").await;
        assert!(r.status.is_client_error(), "{path}: {}", r.status);
        assert!(
            r.body.len() < 1024,
            "{} bytes for {}",
            r.body.len(),
            &path[..20]
        );
    }
    let body = json!({"entity-type": "task", "id": long, "variables": {}});
    let r = g
        .put(&format!("/api/v1/task/{long}/approve"), "jdoe", Some(&body))
        .await;
    assert!(r.body.len() < 1024, "{} bytes", r.body.len());
}
