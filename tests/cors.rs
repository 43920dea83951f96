//! CORS for browser clients: nothing by default, configured origins (exact, any port, or
//! `*` without credentials), preflights answered without credentials and never with 401,
//! and the request headers the Nuxeo clients send echoed back.

mod common;

use actix_web::http::Method;
use actix_web::test::TestRequest;
use common::{basic, Resp, TestGateway};
use flowgate::settings::{Settings, Sources};

/// Headers a Nuxeo client in a browser asks to send (spec §6.25).
const CLIENT_HEADERS: &str = "authorization,content-type,accept,x-authentication-token,x-nxproperties,x-nxdocumentproperties,x-nxrepository,x-nxfetch.task,x-nxfetch.workflow,x-nxenrichers.document,properties,depth,enrichers-document,fetch-task,translate-directoryentry,nuxeo-transaction-timeout,x-application-name,x-client-version";

async fn preflight(gw: &TestGateway, origin: &str, method: &str) -> Resp {
    gw.send(
        TestRequest::default()
            .method(Method::OPTIONS)
            .uri("/nuxeo/api/v1/task/some-task/approve")
            .insert_header(("origin", origin))
            .insert_header(("access-control-request-method", method))
            .insert_header(("access-control-request-headers", CLIENT_HEADERS)),
    )
    .await
}

fn header(r: &Resp, name: &str) -> Option<String> {
    r.headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

#[actix_web::test]
async fn without_configured_origins_no_cors_headers_are_sent() {
    let gw = TestGateway::new().await;
    let r = preflight(&gw, "http://localhost:3000", "PUT").await;
    assert_ne!(r.status.as_u16(), 401);
    assert!(header(&r, "access-control-allow-origin").is_none());
    let r = gw
        .send(
            TestRequest::get()
                .uri("/api/v1/me")
                .insert_header(("origin", "http://localhost:3000"))
                .insert_header(("authorization", basic("jdoe"))),
        )
        .await
        .expect(200);
    assert!(header(&r, "access-control-allow-origin").is_none());
}

#[actix_web::test]
async fn allowed_origin_preflight_is_answered_without_credentials() {
    let gw =
        TestGateway::with("[cors]\nallowed_origins = [\"https://playground.example\"]\n").await;
    let r = preflight(&gw, "https://playground.example", "PUT").await;
    assert!(r.status.is_success(), "{}: {}", r.status, r.text());
    assert_eq!(
        header(&r, "access-control-allow-origin").as_deref(),
        Some("https://playground.example")
    );
    assert_eq!(
        header(&r, "access-control-allow-credentials").as_deref(),
        Some("true")
    );
    let methods = header(&r, "access-control-allow-methods").unwrap_or_default();
    for m in ["GET", "POST", "PUT", "DELETE", "OPTIONS"] {
        assert!(methods.contains(m), "{m} missing in {methods}");
    }
    let allowed = header(&r, "access-control-allow-headers")
        .unwrap_or_default()
        .to_ascii_lowercase();
    for h in CLIENT_HEADERS.split(',') {
        assert!(allowed.contains(h), "{h} missing in {allowed}");
    }
    assert!(header(&r, "access-control-max-age").is_some());
    assert!(header(&r, "vary").is_some_and(|v| v.to_ascii_lowercase().contains("origin")));
}

#[actix_web::test]
async fn cross_origin_calls_carry_cors_headers_and_still_need_credentials() {
    let gw = TestGateway::with("[cors]\nallowed_origins = [\"http://localhost:*\"]\n").await;
    let anonymous = gw
        .send(
            TestRequest::get()
                .uri("/api/v1/me")
                .insert_header(("origin", "http://localhost:5173")),
        )
        .await
        .expect_exception(401);
    assert_eq!(
        header(&anonymous, "access-control-allow-origin").as_deref(),
        Some("http://localhost:5173")
    );
    let r = gw
        .send(
            TestRequest::get()
                .uri("/api/v1/me")
                .insert_header(("origin", "http://localhost:5173"))
                .insert_header(("authorization", basic("jdoe"))),
        )
        .await
        .expect(200);
    assert_eq!(
        header(&r, "access-control-allow-origin").as_deref(),
        Some("http://localhost:5173")
    );
    assert_eq!(
        header(&r, "access-control-allow-credentials").as_deref(),
        Some("true")
    );
    let exposed = header(&r, "access-control-expose-headers")
        .unwrap_or_default()
        .to_ascii_lowercase();
    assert!(exposed.contains("x-request-id"), "{exposed}");
}

#[actix_web::test]
async fn other_origins_get_no_cors_headers_and_no_401() {
    let gw = TestGateway::with("[cors]\nallowed_origins = [\"http://localhost:*\"]\n").await;
    for origin in [
        "http://evil.example",
        "http://localhost.evil.example:80",
        "https://localhost:5173",
    ] {
        let r = preflight(&gw, origin, "PUT").await;
        assert_ne!(r.status.as_u16(), 401, "{origin}");
        assert!(!r.status.is_success(), "{origin}: {}", r.status);
        assert!(
            header(&r, "access-control-allow-origin").is_none(),
            "{origin}"
        );
    }
}

#[actix_web::test]
async fn wildcard_origin_never_allows_credentials() {
    let gw = TestGateway::with("[cors]\nallowed_origins = [\"*\"]\n").await;
    let r = preflight(&gw, "https://anywhere.example", "GET").await;
    assert!(r.status.is_success(), "{}", r.status);
    assert_eq!(
        header(&r, "access-control-allow-origin").as_deref(),
        Some("*")
    );
    assert!(header(&r, "access-control-allow-credentials").is_none());
}

#[test]
fn origins_come_from_the_environment_as_a_list_and_bad_ones_are_refused() {
    let env = |v: &str| Sources {
        file: None,
        toml: None,
        env: Some(
            [("FLOWGATE__CORS__ALLOWED_ORIGINS".to_owned(), v.to_owned())]
                .into_iter()
                .collect(),
        ),
    };
    let s = Settings::load(&env("https://a.example,http://localhost:*")).expect("valid");
    assert_eq!(
        s.cors.allowed_origins,
        vec!["https://a.example", "http://localhost:*"]
    );
    let err = Settings::load(&env("https://a.example/app")).unwrap_err();
    assert!(err.to_string().contains("cors.allowed_origins[0]"), "{err}");
    let s = Settings::load(&Sources::from_toml("")).expect("defaults");
    assert!(s.cors.allowed_origins.is_empty());
    let old = Settings::load(&Sources::from_toml("[server]\ncors = true\n"));
    assert!(old.is_err(), "the old server.cors flag is gone");
}

#[actix_web::test]
async fn credentials_are_allowed_only_on_answers_to_an_allowed_origin() {
    let gw = TestGateway::with("[cors]\nallowed_origins = [\"http://localhost:*\"]\n").await;
    // No Origin: not a cross-origin request, no CORS headers at all.
    let r = gw
        .send(
            TestRequest::get()
                .uri("/api/v1/me")
                .insert_header(("authorization", basic("jdoe"))),
        )
        .await
        .expect(200);
    assert!(header(&r, "access-control-allow-credentials").is_none());
    assert!(header(&r, "access-control-allow-origin").is_none());
    // An allowed origin gets both.
    let r = gw
        .send(
            TestRequest::get()
                .uri("/api/v1/me")
                .insert_header(("origin", "http://localhost:5173"))
                .insert_header(("authorization", basic("jdoe"))),
        )
        .await
        .expect(200);
    assert_eq!(
        header(&r, "access-control-allow-credentials").as_deref(),
        Some("true")
    );
}

#[actix_web::test]
async fn preflights_offer_only_methods_the_api_answers() {
    let gw = TestGateway::with("[cors]\nallowed_origins = [\"http://localhost:*\"]\n").await;
    let r = preflight(&gw, "http://localhost:5173", "PUT").await;
    let methods = header(&r, "access-control-allow-methods").unwrap_or_default();
    assert!(methods.contains("PUT"), "{methods}");
    assert!(!methods.contains("HEAD"), "{methods}");
}
