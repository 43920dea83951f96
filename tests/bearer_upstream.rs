//! Identity upstream: an Alfresco engine in `bearer_passthrough` mode behind the real
//! application. A caller signed in with a bearer JWT acts upstream as the token's user;
//! a caller signed in with Basic gets the documented 403 without any upstream request;
//! the token shows neither in answers nor in logs.

#[path = "common/mod.rs"]
mod common;

use flowgate_testkit::logs::Captured;
use std::time::Duration;

use actix_web::http::Method;
use actix_web::test::TestRequest;
use flowgate_alfresco::sim::{Sim, SimHandle, SimOptions};
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{json, Value};

use crate::common::{Resp, TestGateway};

const ISSUER: &str = "https://idp.example.com/realms/acme";
const AUDIENCE: &str = "flowgate";
const ALF_DOC: &str = "/api/v1/path/alfresco/Sites/finance/documentLibrary/contract.pdf";

/// An RS256 key made here; its JWKS is written to a file the gateway reads.
struct Idp {
    signing: EncodingKey,
    _dir: tempfile::TempDir,
    jwks_file: std::path::PathBuf,
}

impl Idp {
    fn new() -> Idp {
        let pair = rcgen::KeyPair::generate_for(&rcgen::PKCS_RSA_SHA256).expect("key");
        let signing = EncodingKey::from_rsa_pem(pair.serialize_pem().as_bytes()).expect("pem");
        let mut jwk =
            jsonwebtoken::jwk::Jwk::from_encoding_key(&signing, Algorithm::RS256).expect("jwk");
        jwk.common.key_id = Some("k1".into());
        let dir = tempfile::tempdir().expect("tempdir");
        let jwks_file = dir.path().join("jwks.json");
        let set = JwkSet { keys: vec![jwk] };
        std::fs::write(&jwks_file, serde_json::to_string(&set).expect("json")).expect("write");
        Idp {
            signing,
            _dir: dir,
            jwks_file,
        }
    }

    fn token(&self, user: &str) -> String {
        let now = chrono::Utc::now().timestamp();
        let claims = json!({"iss": ISSUER, "aud": AUDIENCE, "sub": format!("id-{user}"),
            "preferred_username": user, "iat": now, "exp": now + 300});
        let mut h = Header::new(Algorithm::RS256);
        h.kid = Some("k1".into());
        jsonwebtoken::encode(&h, &claims, &self.signing).expect("signing")
    }
}

async fn gateway(idp: &Idp, alf: &SimHandle) -> TestGateway {
    TestGateway::with(&format!(
        "[auth.jwt]\nissuer = \"{ISSUER}\"\naudience = \"{AUDIENCE}\"\njwks_file = \"{}\"\n\
         [engines.alf]\nkind = \"alfresco\"\nbase_url = \"{}\"\nid_prefix = \"alf\"\n\
         mounts = [\"/alfresco\"]\n[engines.alf.http]\nrequest_timeout_ms = 3000\n\
         [engines.alf.auth]\nmode = \"bearer_passthrough\"\n",
        idp.jwks_file.display(),
        alf.base_url
    ))
    .await
}

async fn as_bearer(
    gw: &TestGateway,
    method: Method,
    path: &str,
    token: &str,
    body: Option<&Value>,
) -> Resp {
    let mut req = TestRequest::default()
        .method(method)
        .uri(path)
        .insert_header(("authorization", format!("Bearer {token}")));
    if let Some(b) = body {
        req = req
            .insert_header(("content-type", "application/json"))
            .set_payload(serde_json::to_vec(b).expect("json"));
    }
    tokio::time::timeout(Duration::from_secs(20), gw.send(req))
        .await
        .expect("answered in time")
}

#[actix_web::test]
async fn a_bearer_signed_in_caller_acts_upstream_as_the_tokens_user() {
    let logs = Captured::default();
    let _guard = tracing::subscriber::set_default(logs.clone());
    let idp = Idp::new();
    let (dave, jdoe) = (idp.token("dave"), idp.token("jdoe"));
    let alf = Sim::spawn(SimOptions {
        bearer_tokens: vec![(dave.clone(), "dave".into()), (jdoe.clone(), "jdoe".into())],
        ..SimOptions::default()
    })
    .expect("simulator");
    let gw = gateway(&idp, &alf).await;

    let start = json!({"entity-type": "workflow", "workflowModelName": "activitiReview",
                       "variables": {"assignee": "jdoe"}});
    let path = format!("{ALF_DOC}/@workflow");
    let wf = as_bearer(&gw, Method::POST, &path, &dave, Some(&start))
        .await
        .expect(201)
        .json();
    let wf_id = wf["id"].as_str().unwrap_or_default().to_owned();
    assert!(wf_id.starts_with("alf~"), "{wf}");
    assert_eq!(wf["initiator"], "dave", "{wf}");
    let reqs = alf.requests();
    assert!(!reqs.is_empty());
    assert!(
        reqs.iter().all(|r| r.user.as_deref() == Some("dave")),
        "{reqs:?}"
    );

    alf.clear_requests();
    let v = as_bearer(&gw, Method::GET, "/api/v1/task?userId=jdoe", &jdoe, None)
        .await
        .expect(200)
        .json();
    assert!(v.get("engineFailures").is_none(), "{v}");
    let task = v["entries"][0]["id"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(task.starts_with("alf~"), "{v}");
    let body = json!({"entity-type": "task", "id": task, "variables": {}});
    let done = as_bearer(
        &gw,
        Method::PUT,
        &format!("/api/v1/task/{task}/approve"),
        &jdoe,
        Some(&body),
    )
    .await
    .expect(200)
    .json();
    assert_eq!(done["state"], "ended", "{done}");
    let reqs = alf.requests();
    assert!(reqs.iter().any(|r| r.method == "PUT"));
    assert!(
        reqs.iter().all(|r| r.user.as_deref() == Some("jdoe")),
        "{reqs:?}"
    );

    // An upstream error on a bearer call: neither the answer nor a log line carries it.
    let r = as_bearer(&gw, Method::GET, "/api/v1/workflow/alf~999999", &dave, None)
        .await
        .expect(404);
    assert!(!r.text().contains(&dave));
    let text = logs.text();
    assert!(!text.is_empty(), "logs were captured");
    assert!(!text.contains(&dave) && !text.contains(&jdoe));
    alf.stop();
}

#[actix_web::test]
async fn a_basic_signed_in_caller_is_refused_without_any_upstream_request() {
    let idp = Idp::new();
    let alf = Sim::spawn(SimOptions::default()).expect("simulator");
    let gw = gateway(&idp, &alf).await;
    let start = json!({"entity-type": "workflow", "workflowModelName": "activitiReview",
                       "variables": {"assignee": "jdoe"}});
    let r = gw
        .post(&format!("{ALF_DOC}/@workflow"), "bob", &start)
        .await
        .expect_exception(403);
    let message = r.json()["message"].as_str().unwrap_or_default().to_owned();
    assert!(message.contains("Authorization: Bearer"), "{message}");
    // In a fan-out the engine is reported, the others still answer.
    let v = gw
        .get("/api/v1/task?userId=bob", "bob")
        .await
        .expect(200)
        .json();
    assert_eq!(v["engineFailures"][0]["engine"], "alf", "{v}");
    assert!(alf.requests().is_empty(), "{:?}", alf.requests());
    assert_eq!(alf.process_count(), 0);
    alf.stop();
}
