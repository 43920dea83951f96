//! Bearer JWTs (`[auth.jwt]`): keys generated here, served by a loopback JWKS server
//! started here, tokens signed here and sent to the real application.

#[path = "common/mod.rs"]
mod common;

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use actix_web::http::Method;
use actix_web::test::TestRequest;
use base64::Engine as _;
use jsonwebtoken::jwk::{Jwk, JwkSet};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::common::{Resp, TestGateway};

const ISSUER: &str = "https://idp.example.com/realms/acme";
const AUDIENCE: &str = "flowgate";
/// Bound of every wait in these tests.
const BOUND: Duration = Duration::from_secs(20);

/// A signing key made for the test, with its public JWK.
struct TestKey {
    kid: String,
    alg: Algorithm,
    signing: EncodingKey,
    jwk: Jwk,
    public_pem: String,
}

impl TestKey {
    fn new(kid: &str, alg: Algorithm) -> TestKey {
        let (rcgen_alg, pem_key) = match alg {
            Algorithm::RS256 => (&rcgen::PKCS_RSA_SHA256, true),
            Algorithm::ES256 => (&rcgen::PKCS_ECDSA_P256_SHA256, false),
            other => panic!("no test key for {other:?}"),
        };
        let pair = rcgen::KeyPair::generate_for(rcgen_alg).expect("key generation");
        let pem = pair.serialize_pem();
        let signing = if pem_key {
            EncodingKey::from_rsa_pem(pem.as_bytes())
        } else {
            EncodingKey::from_ec_pem(pem.as_bytes())
        }
        .expect("signing key");
        let mut jwk = Jwk::from_encoding_key(&signing, alg).expect("jwk");
        jwk.common.key_id = Some(kid.to_owned());
        TestKey {
            kid: kid.to_owned(),
            alg,
            signing,
            jwk,
            public_pem: pair.public_key_pem(),
        }
    }

    fn sign(&self, claims: &Value) -> String {
        let mut h = Header::new(self.alg);
        h.kid = Some(self.kid.clone());
        jsonwebtoken::encode(&h, claims, &self.signing).expect("signing")
    }
}

fn key_set(keys: &[&TestKey]) -> String {
    let set = JwkSet {
        keys: keys.iter().map(|k| k.jwk.clone()).collect(),
    };
    serde_json::to_string(&set).expect("jwks json")
}

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

/// Claims of a valid token for `user`.
fn claims(user: &str, groups: &[&str]) -> Value {
    json!({
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": format!("id-{user}"),
        "preferred_username": user,
        "groups": groups,
        "iat": now(),
        "exp": now() + 300,
    })
}

/// A loopback JWKS server: serves `body`, counts requests, and when `hang` is set
/// accepts connections without ever answering.
#[derive(Clone)]
struct JwksServer {
    url: String,
    body: Arc<Mutex<String>>,
    hits: Arc<AtomicUsize>,
    hang: Arc<AtomicBool>,
}

impl JwksServer {
    async fn start(body: String) -> JwksServer {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("address");
        let server = JwksServer {
            url: format!("http://{addr}/realms/acme/protocol/openid-connect/certs"),
            body: Arc::new(Mutex::new(body)),
            hits: Arc::default(),
            hang: Arc::default(),
        };
        let s = server.clone();
        actix_web::rt::spawn(async move {
            while let Ok((mut conn, _)) = listener.accept().await {
                let s = s.clone();
                actix_web::rt::spawn(async move {
                    let mut head = Vec::new();
                    let mut buf = [0u8; 1024];
                    while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < 16384 {
                        match conn.read(&mut buf).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => head.extend_from_slice(&buf[..n]),
                        }
                    }
                    s.hits.fetch_add(1, Ordering::SeqCst);
                    if s.hang.load(Ordering::SeqCst) {
                        tokio::time::sleep(Duration::from_secs(60)).await;
                        return;
                    }
                    let body = s.body.lock().expect("body").clone();
                    let answer = format!(
                        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                        body.len()
                    );
                    let _ = conn.write_all(answer.as_bytes()).await;
                    let _ = conn.shutdown().await;
                });
            }
        });
        server
    }

    fn serve(&self, body: String) {
        *self.body.lock().expect("body") = body;
    }
}

fn jwt_settings(source: &str, extra: &str) -> String {
    format!(
        "[auth.jwt]\nissuer = \"{ISSUER}\"\naudience = [\"other\", \"{AUDIENCE}\"]\n{source}\n\
         fetch_timeout_ms = 500\n{extra}\n"
    )
}

async fn gateway_with_url(url: &str, extra: &str) -> TestGateway {
    TestGateway::with(&jwt_settings(&format!("jwks_url = \"{url}\""), extra)).await
}

async fn bearer(gw: &TestGateway, method: Method, path: &str, token: &str) -> Resp {
    let req = TestRequest::default()
        .method(method)
        .uri(path)
        .insert_header(("authorization", format!("Bearer {token}")));
    tokio::time::timeout(BOUND, gw.send(req))
        .await
        .expect("answered in time")
}

async fn login(gw: &TestGateway, token: &str) -> Resp {
    bearer(gw, Method::POST, "/api/v1/automation/login", token).await
}

/// Asserts a 401 whose challenge and message name `reason`, without the token.
#[track_caller]
fn assert_refused(r: Resp, token: &str, reason: &str) {
    let r = r.expect_exception(401);
    let challenge = r
        .headers
        .get("www-authenticate")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    assert!(
        challenge.starts_with("Bearer error=\"invalid_token\", error_description=\""),
        "{challenge}"
    );
    assert!(challenge.contains(reason), "{challenge} lacks {reason}");
    let message = r.json()["message"].as_str().unwrap_or_default().to_owned();
    assert!(message.contains(reason), "{message} lacks {reason}");
    assert!(!r.text().contains(token) && !challenge.contains(token));
}

#[actix_web::test]
async fn valid_tokens_sign_in_their_user_with_groups_and_admin_flag() {
    let rsa = TestKey::new("rsa-1", Algorithm::RS256);
    let ec = TestKey::new("ec-1", Algorithm::ES256);
    let idp = JwksServer::start(key_set(&[&rsa, &ec])).await;
    let gw = gateway_with_url(
        &idp.url,
        "groups_claim = \"realm_access.roles\"\nadmin_groups = [\"flowgate-admin\"]\n",
    )
    .await;

    // Not in [[auth.users]]; groups from realm_access.roles.
    let mut c = claims("kc-alice", &[]);
    c["realm_access"] = json!({"roles": ["reviewers", "members"]});
    let v = login(&gw, &rsa.sign(&c)).await.expect(200).json();
    assert_eq!(v["username"], "kc-alice");
    assert_eq!(v["isAdministrator"], false);
    assert_eq!(v["groups"], json!(["reviewers", "members"]));

    let mut c = claims("kc-root", &[]);
    c["realm_access"] = json!({"roles": ["flowgate-admin"]});
    c["email"] = json!("root@example.com");
    let token = ec.sign(&c);
    let v = login(&gw, &token).await.expect(200).json();
    assert_eq!(v["username"], "kc-root");
    assert_eq!(v["isAdministrator"], true);
    let me = bearer(&gw, Method::GET, "/api/v1/me", &token)
        .await
        .expect(200)
        .json();
    assert_eq!(me["id"], "kc-root");
    assert_eq!(me["properties"]["email"], "root@example.com");
    assert_eq!(me["isAdministrator"], true);
    // The JS client's connect() reads the caller's user entity by name; other users
    // known only to their own tokens are not found.
    let own = bearer(&gw, Method::GET, "/api/v1/user/kc-root", &token)
        .await
        .expect(200)
        .json();
    assert_eq!(own["id"], "kc-root");
    bearer(&gw, Method::GET, "/api/v1/user/kc-alice", &token)
        .await
        .expect_exception(404);

    // Without preferred_username, `sub` names the user.
    let mut c = claims("ignored", &[]);
    c.as_object_mut()
        .expect("object")
        .remove("preferred_username");
    let v = login(&gw, &rsa.sign(&c)).await.expect(200).json();
    assert_eq!(v["username"], "id-ignored");

    // A bearer user starts a workflow and is its initiator.
    let req = TestRequest::post()
        .uri("/api/v1/workflow")
        .insert_header((
            "authorization",
            format!("Bearer {}", rsa.sign(&claims("kc-bob", &[]))),
        ))
        .insert_header(("content-type", "application/json"))
        .set_payload(
            json!({"entity-type": "workflow", "workflowModelName": "SerialDocumentReview"})
                .to_string(),
        );
    let wf = gw.send(req).await.expect(201).json();
    assert_eq!(wf["initiator"], "kc-bob");
    assert_eq!(
        idp.hits.load(Ordering::SeqCst),
        1,
        "the key set is fetched once"
    );
}

#[actix_web::test]
async fn refused_tokens_get_401_naming_the_reason() {
    let rsa = TestKey::new("rsa-1", Algorithm::RS256);
    let idp = JwksServer::start(key_set(&[&rsa])).await;
    let gw = gateway_with_url(&idp.url, "").await;
    let b64 = |v: &Value| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string());

    let mut c = claims("kc-alice", &[]);
    c["exp"] = json!(now() - 120);
    let t = rsa.sign(&c);
    assert_refused(login(&gw, &t).await, &t, "the token has expired");

    // Within the 30 s leeway: accepted.
    let mut c = claims("kc-alice", &[]);
    c["exp"] = json!(now() - 5);
    login(&gw, &rsa.sign(&c)).await.expect(200);

    let mut c = claims("kc-alice", &[]);
    c["nbf"] = json!(now() + 600);
    let t = rsa.sign(&c);
    assert_refused(login(&gw, &t).await, &t, "the token is not valid yet");

    let mut c = claims("kc-alice", &[]);
    c["iss"] = json!("https://evil.example.com/realms/acme");
    let t = rsa.sign(&c);
    assert_refused(login(&gw, &t).await, &t, "issuer is not accepted");

    let mut c = claims("kc-alice", &[]);
    c["aud"] = json!(["account"]);
    let t = rsa.sign(&c);
    assert_refused(login(&gw, &t).await, &t, "audience is not accepted");

    let mut c = claims("kc-alice", &[]);
    c.as_object_mut().expect("object").remove("exp");
    let t = rsa.sign(&c);
    assert_refused(login(&gw, &t).await, &t, "lacks the required claim exp");

    // Tampered payload: claims of another user under the original signature.
    let good = rsa.sign(&claims("kc-alice", &[]));
    let parts: Vec<&str> = good.split('.').collect();
    let forged = format!(
        "{}.{}.{}",
        parts[0],
        b64(&claims("Administrator", &["administrators"])),
        parts[2]
    );
    assert_refused(login(&gw, &forged).await, &forged, "signature is invalid");

    // `alg: none`, unsigned.
    let none = format!(
        "{}.{}.",
        b64(&json!({"alg": "none", "typ": "JWT", "kid": "rsa-1"})),
        b64(&claims("Administrator", &["administrators"]))
    );
    assert_refused(
        login(&gw, &none).await,
        &none,
        "algorithm none is not allowed",
    );

    // HS256 keyed with the public key, which anyone can read.
    let mut h = Header::new(Algorithm::HS256);
    h.kid = Some("rsa-1".into());
    let hs = jsonwebtoken::encode(
        &h,
        &claims("Administrator", &["administrators"]),
        &EncodingKey::from_secret(rsa.public_pem.as_bytes()),
    )
    .expect("hs256");
    assert_refused(login(&gw, &hs).await, &hs, "algorithm HS256 is not allowed");

    assert_refused(login(&gw, "not-a-jwt").await, "not-a-jwt", "malformed");

    // Signed by a key the provider does not have (same kid).
    let stranger = TestKey::new("rsa-1", Algorithm::RS256);
    let t = stranger.sign(&claims("kc-alice", &[]));
    assert_refused(login(&gw, &t).await, &t, "signature is invalid");
}

#[actix_web::test]
async fn an_unknown_key_is_fetched_again_and_a_rotated_key_set_is_used() {
    let old = TestKey::new("2024", Algorithm::RS256);
    let new = TestKey::new("2025", Algorithm::ES256);
    let idp = JwksServer::start(key_set(&[&old])).await;
    let gw = gateway_with_url(&idp.url, "refetch_min_interval_ms = 0").await;

    login(&gw, &old.sign(&claims("kc-alice", &[])))
        .await
        .expect(200);
    let t = new.sign(&claims("kc-alice", &[]));
    assert_refused(login(&gw, &t).await, &t, "signed with an unknown key");
    assert_eq!(
        idp.hits.load(Ordering::SeqCst),
        2,
        "refetched on the unknown kid"
    );

    idp.serve(key_set(&[&old, &new]));
    let v = login(&gw, &t).await.expect(200).json();
    assert_eq!(v["username"], "kc-alice");
    assert_eq!(idp.hits.load(Ordering::SeqCst), 3);
    // Both keys are cached now: no further fetch.
    login(&gw, &old.sign(&claims("kc-bob", &[])))
        .await
        .expect(200);
    login(&gw, &t).await.expect(200);
    assert_eq!(idp.hits.load(Ordering::SeqCst), 3);
}

#[actix_web::test]
async fn an_old_key_set_is_refreshed_in_the_background_and_dropped_keys_stop_working() {
    let old = TestKey::new("old", Algorithm::RS256);
    let new = TestKey::new("new", Algorithm::RS256);
    let idp = JwksServer::start(key_set(&[&old])).await;
    let gw = gateway_with_url(&idp.url, "refresh_secs = 1\nrefetch_min_interval_ms = 0").await;
    let t = old.sign(&claims("kc-alice", &[]));
    login(&gw, &t).await.expect(200);
    idp.serve(key_set(&[&new]));
    tokio::time::sleep(Duration::from_millis(1100)).await;
    // Still cached: answered at once, and a refresh starts behind it.
    login(&gw, &t).await.expect(200);
    let deadline = Instant::now() + BOUND;
    while idp.hits.load(Ordering::SeqCst) < 2 {
        assert!(Instant::now() < deadline, "no background refresh");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // Once the refresh has stored what it fetched, the dropped key is unknown.
    loop {
        let r = login(&gw, &t).await;
        if r.status.as_u16() == 401 {
            assert_refused(r, &t, "unknown key");
            break;
        }
        assert!(Instant::now() < deadline, "the dropped key still works");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    login(&gw, &new.sign(&claims("kc-alice", &[])))
        .await
        .expect(200);
}

#[actix_web::test]
async fn unknown_keys_cannot_make_the_gateway_hammer_the_provider() {
    let key = TestKey::new("k1", Algorithm::RS256);
    let idp = JwksServer::start(key_set(&[&key])).await;
    let gw = gateway_with_url(&idp.url, "refetch_min_interval_ms = 60000").await;
    login(&gw, &key.sign(&claims("kc-alice", &[])))
        .await
        .expect(200);
    for i in 0..5 {
        let made_up = TestKey::new(&format!("made-up-{i}"), Algorithm::ES256);
        let t = made_up.sign(&claims("kc-alice", &[]));
        assert_refused(login(&gw, &t).await, &t, "unknown key");
    }
    assert_eq!(idp.hits.load(Ordering::SeqCst), 1, "one fetch per interval");
}

#[actix_web::test]
async fn a_provider_that_does_not_answer_keeps_cached_keys_and_answers_503_in_time() {
    let key = TestKey::new("k1", Algorithm::RS256);
    let rotated = TestKey::new("k2", Algorithm::RS256);
    let idp = JwksServer::start(key_set(&[&key])).await;
    let gw = gateway_with_url(&idp.url, "refetch_min_interval_ms = 0").await;
    login(&gw, &key.sign(&claims("kc-alice", &[])))
        .await
        .expect(200);

    idp.hang.store(true, Ordering::SeqCst);
    login(&gw, &key.sign(&claims("kc-alice", &[])))
        .await
        .expect(200);
    let started = Instant::now();
    let r = login(&gw, &rotated.sign(&claims("kc-alice", &[])))
        .await
        .expect_exception(503);
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "answered after {:?}",
        started.elapsed()
    );
    assert!(
        r.text().contains("signing keys cannot be fetched"),
        "{}",
        r.text()
    );
    // Cached keys still work while the provider hangs.
    login(&gw, &key.sign(&claims("kc-alice", &[])))
        .await
        .expect(200);
}

#[actix_web::test]
async fn an_unreachable_provider_gives_503_without_hanging() {
    let key = TestKey::new("k1", Algorithm::RS256);
    // A loopback port nobody listens on.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port();
    let gw = gateway_with_url(&format!("http://127.0.0.1:{port}/certs"), "").await;
    let t = key.sign(&claims("kc-alice", &[]));
    let started = Instant::now();
    login(&gw, &t).await.expect_exception(503);
    // Within the refetch interval the provider is not asked again.
    login(&gw, &t).await.expect_exception(503);
    assert!(started.elapsed() < Duration::from_secs(5));
    // Other sign-ins are unaffected.
    gw.call(Method::POST, "/api/v1/automation/login", Some("jdoe"), None)
        .await
        .expect(200);
}

#[actix_web::test]
async fn a_jwks_file_is_read_at_start() {
    let key = TestKey::new("file-key", Algorithm::ES256);
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("jwks.json");
    std::fs::write(&path, key_set(&[&key])).expect("write jwks");
    let gw = TestGateway::with(&jwt_settings(
        &format!("jwks_file = \"{}\"", path.display()),
        "",
    ))
    .await;
    let v = login(&gw, &key.sign(&claims("kc-file", &["members"])))
        .await
        .expect(200)
        .json();
    assert_eq!(v["username"], "kc-file");
    let other = TestKey::new("other", Algorithm::ES256);
    let t = other.sign(&claims("kc-file", &[]));
    assert_refused(login(&gw, &t).await, &t, "unknown key");
}

#[actix_web::test]
async fn basic_and_nuxeo_tokens_keep_working_beside_bearer_tokens() {
    let key = TestKey::new("k1", Algorithm::RS256);
    let idp = JwksServer::start(key_set(&[&key])).await;
    let gw = gateway_with_url(&idp.url, "").await;
    let v = gw
        .call(Method::POST, "/api/v1/automation/login", Some("jdoe"), None)
        .await
        .expect(200)
        .json();
    assert_eq!(v["username"], "jdoe");
    let token = gw
        .get(
            "/nuxeo/authentication/token?applicationName=a&deviceId=d&permission=rw",
            "jdoe",
        )
        .await
        .expect(200)
        .text();
    let r = gw
        .send(
            TestRequest::get()
                .uri("/api/v1/me")
                .insert_header(("x-authentication-token", token)),
        )
        .await
        .expect(200);
    assert_eq!(r.json()["id"], "jdoe");
    // A bearer token does not mint lasting Nuxeo tokens.
    let t = key.sign(&claims("kc-alice", &[]));
    bearer(
        &gw,
        Method::GET,
        "/nuxeo/authentication/token?applicationName=a&deviceId=d",
        &t,
    )
    .await
    .expect_exception(403);
}

#[actix_web::test]
async fn bearer_tokens_without_jwt_settings_are_refused_with_a_clear_message() {
    let gw = TestGateway::new().await;
    let r = login(&gw, "eyJhbGciOiJSUzI1NiJ9.e30.c2ln")
        .await
        .expect_exception(401);
    assert!(
        r.json()["message"]
            .as_str()
            .is_some_and(|m| m.contains("Bearer tokens are not configured")),
        "{}",
        r.text()
    );
    assert_eq!(
        r.headers
            .get("www-authenticate")
            .and_then(|v| v.to_str().ok()),
        Some("Basic realm=\"Nuxeo\"")
    );
    // Basic still works.
    gw.call(Method::POST, "/api/v1/automation/login", Some("jdoe"), None)
        .await
        .expect(200);
}
