//! Failed Basic sign-ins are throttled per (user, address) and per address (429 with
//! `Retry-After`), audited under `flowgate::audit` without secrets; `/metrics` can be
//! kept for administrators.

use std::io::Write;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use actix_web::http::Method;
use actix_web::test::TestRequest;
use base64::Engine as _;

use crate::common::{basic, TestGateway};

fn creds(user: &str, password: &str) -> String {
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"))
    )
}

fn from(addr: &str, authorization: &str) -> TestRequest {
    let peer: SocketAddr = addr.parse().expect("address");
    TestRequest::get()
        .uri("/api/v1/me")
        .peer_addr(peer)
        .insert_header(("authorization", authorization.to_owned()))
}

#[actix_web::test]
async fn wrong_passwords_end_in_429_and_the_right_one_from_elsewhere_still_works() {
    let gw = TestGateway::with(
        "[auth]\nlogin_failures_per_minute = 3\nlogin_failures_per_minute_per_address = 100\n",
    )
    .await;
    let wrong = creds("jdoe", "guess");
    for _ in 0..3 {
        gw.send(from("10.0.0.1:5000", &wrong))
            .await
            .expect_exception(401);
    }
    let r = gw
        .send(from("10.0.0.1:5001", &wrong))
        .await
        .expect_exception(429);
    let retry: u64 = r
        .headers
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .expect("Retry-After in seconds");
    assert!((1..=60).contains(&retry), "{retry}");
    // Throttled before any password check: the right password from the same address
    // is refused too while the block lasts.
    gw.send(from("10.0.0.1:5002", &basic("jdoe")))
        .await
        .expect_exception(429);
    // The right password from another address works, as do other users from the first.
    gw.send(from("10.0.0.2:6000", &basic("jdoe")))
        .await
        .expect(200);
    gw.send(from("10.0.0.1:5003", &basic("asmith")))
        .await
        .expect(200);
}

#[actix_web::test]
async fn successful_sign_ins_are_not_counted_and_verified_credentials_are_not_blocked() {
    let gw = TestGateway::with("[auth]\nlogin_failures_per_minute = 2\n").await;
    for _ in 0..20 {
        gw.send(from("10.0.1.1:1", &basic("jdoe")))
            .await
            .expect(200);
    }
    let wrong = creds("jdoe", "nope");
    for _ in 0..2 {
        gw.send(from("10.0.1.1:1", &wrong))
            .await
            .expect_exception(401);
    }
    gw.send(from("10.0.1.1:1", &wrong))
        .await
        .expect_exception(429);
    // jdoe's credentials were verified before (the cache): they keep working.
    gw.send(from("10.0.1.1:1", &basic("jdoe")))
        .await
        .expect(200);
}

#[actix_web::test]
async fn one_address_trying_many_users_is_throttled() {
    let gw = TestGateway::with(
        "[auth]\nlogin_failures_per_minute = 100\nlogin_failures_per_minute_per_address = 4\n",
    )
    .await;
    for u in ["u1", "u2", "u3", "u4"] {
        gw.send(from("10.0.2.1:1", &creds(u, "x")))
            .await
            .expect_exception(401);
    }
    gw.send(from("10.0.2.1:1", &creds("u5", "x")))
        .await
        .expect_exception(429);
    gw.send(from("10.0.2.2:1", &basic("bob"))).await.expect(200);
}

#[actix_web::test]
async fn the_forwarded_address_counts_only_when_trusted() {
    let wrong = creds("eve", "nope");
    // Untrusted: every attempt comes from the one peer, whatever the header says.
    let gw = TestGateway::with("[auth]\nlogin_failures_per_minute = 2\n").await;
    for i in 0..2 {
        gw.send(
            from("10.0.3.1:1", &wrong).insert_header(("x-forwarded-for", format!("192.0.2.{i}"))),
        )
        .await
        .expect_exception(401);
    }
    gw.send(from("10.0.3.1:1", &wrong).insert_header(("x-forwarded-for", "192.0.2.9")))
        .await
        .expect_exception(429);
    // Trusted: the forwarded client is the address.
    let gw = TestGateway::with(
        "[server]\ntrust_forwarded_headers = true\n[auth]\nlogin_failures_per_minute = 2\n",
    )
    .await;
    for _ in 0..2 {
        gw.send(from("10.0.3.1:1", &wrong).insert_header(("x-forwarded-for", "192.0.2.1")))
            .await
            .expect_exception(401);
    }
    gw.send(from("10.0.3.1:1", &wrong).insert_header(("x-forwarded-for", "192.0.2.1")))
        .await
        .expect_exception(429);
    gw.send(from("10.0.3.1:1", &basic("eve")).insert_header(("x-forwarded-for", "192.0.2.2")))
        .await
        .expect(200);
}

/// A writer shared with the test: what a tracing subscriber writes.
#[derive(Clone, Default)]
struct Buffer(Arc<Mutex<Vec<u8>>>);

impl Write for Buffer {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .map_err(|_| std::io::Error::other("poisoned"))?
            .extend_from_slice(b);
        Ok(b.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Buffer {
    fn events(&self) -> Vec<serde_json::Value> {
        let bytes = self.0.lock().expect("buffer").clone();
        String::from_utf8_lossy(&bytes)
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .filter(|v: &serde_json::Value| v["target"] == "flowgate::audit")
            .collect()
    }
}

#[actix_web::test]
async fn failed_sign_ins_and_tokens_are_audited_without_secrets() {
    let buf = Buffer::default();
    let writer = buf.clone();
    let subscriber = tracing_subscriber::fmt()
        .json()
        .flatten_event(true)
        .with_max_level(tracing::Level::INFO)
        .with_writer(move || writer.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);
    let gw = TestGateway::with("[auth]\nlogin_failures_per_minute = 1\n").await;

    gw.send(from("10.0.4.1:1", &creds("jdoe", "hunter2")))
        .await
        .expect_exception(401);
    gw.send(from("10.0.4.1:1", &creds("jdoe", "hunter3")))
        .await
        .expect_exception(429);
    gw.send(from("10.0.4.1:1", &creds("jdoe", "hunter4")))
        .await
        .expect_exception(429);
    gw.send(from("10.0.4.2:1", &creds("mallory", "pw")))
        .await
        .expect_exception(401);
    gw.send(
        TestRequest::get()
            .uri("/api/v1/me")
            .peer_addr("10.0.4.3:1".parse().expect("addr"))
            .insert_header(("x-authentication-token", "not-a-token")),
    )
    .await
    .expect_exception(401);
    let token = gw
        .send(
            from("10.0.4.4:1", &basic("asmith"))
                .uri("/nuxeo/authentication/token?applicationName=app&deviceId=dev1&permission=rw"),
        )
        .await
        .expect(200)
        .text();
    gw.send(
        from("10.0.4.4:1", &basic("asmith"))
            .uri("/nuxeo/authentication/token?applicationName=app&deviceId=dev1&revoke=true"),
    )
    .await
    .expect(200);

    let events = buf.events();
    let text = serde_json::to_string(&events).expect("json");
    for secret in [
        "hunter2",
        "hunter3",
        "hunter4",
        "not-a-token",
        token.as_str(),
    ] {
        assert!(!text.contains(secret), "{secret} in {text}");
    }
    let kinds: Vec<(&str, &str, &str)> = events
        .iter()
        .map(|e| {
            (
                e["event"].as_str().unwrap_or_default(),
                e["reason"].as_str().unwrap_or_default(),
                e["client"].as_str().unwrap_or_default(),
            )
        })
        .collect();
    assert_eq!(
        kinds,
        vec![
            ("sign_in_failed", "wrong password", "10.0.4.1"),
            ("sign_in_failed", "wrong password", "10.0.4.1"),
            ("sign_in_failed", "throttled", "10.0.4.1"),
            ("sign_in_failed", "unknown user", "10.0.4.2"),
            ("sign_in_failed", "unknown token", "10.0.4.3"),
            ("token_issued", "", "10.0.4.4"),
            ("token_revoked", "", "10.0.4.4"),
        ],
        "{text}"
    );
    assert!(events[0]["user"]
        .as_str()
        .is_some_and(|u| u.contains("jdoe")));
    assert_eq!(events[0]["kind"], "basic");
    assert_eq!(events[4]["kind"], "token");
    assert!(events[5]["application"]
        .as_str()
        .is_some_and(|a| a.contains("app")));
    assert!(events[5]["device"]
        .as_str()
        .is_some_and(|d| d.contains("dev1")));
    assert!(events[5]["user"]
        .as_str()
        .is_some_and(|u| u.contains("asmith")));
}

#[actix_web::test]
async fn metrics_can_be_kept_for_administrators() {
    let open = TestGateway::new().await;
    open.call(Method::GET, "/metrics", None, None)
        .await
        .expect(200);
    let gw = TestGateway::with("[metrics]\nrequire_auth = true\n").await;
    gw.call(Method::GET, "/metrics", None, None)
        .await
        .expect_exception(401);
    gw.call(Method::GET, "/metrics", Some("jdoe"), None)
        .await
        .expect_exception(403);
    let r = gw
        .call(Method::GET, "/metrics", Some("Administrator"), None)
        .await
        .expect(200);
    assert!(
        r.text().contains("flowgate_http_requests_total"),
        "{}",
        r.text()
    );
}

#[actix_web::test]
async fn metrics_on_their_own_address_leave_the_api_address() {
    let gw = TestGateway::with("[metrics]\nbind = \"127.0.0.1:0\"\n").await;
    gw.call(Method::GET, "/metrics", None, None)
        .await
        .expect_exception(404);
}
