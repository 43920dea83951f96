//! Test harness: boots the real application (`flowgate::app`) in process, or on a real
//! socket bound to 127.0.0.1:0, with the shipped models and a fixed set of users.
#![allow(dead_code)]

use std::sync::OnceLock;

use actix_web::dev::Service;
use actix_web::http::header::HeaderMap;
use actix_web::http::{Method, StatusCode};
use actix_web::test::{self, TestRequest};
use actix_web::web;
use argon2::password_hash::{PasswordHasher, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use base64::Engine as _;
use flowgate::settings::{Settings, Sources};
use flowgate::AppState;
use serde_json::Value;

/// Users of the fixture: (name, groups). Every password equals the user name.
pub const USERS: &[(&str, &[&str])] = &[
    ("Administrator", &["administrators"]),
    ("jdoe", &["members"]),
    ("asmith", &["members"]),
    ("bob", &["members", "powerusers"]),
    ("eve", &["members"]),
    ("carol", &["members", "reviewers"]),
    ("dan", &["members"]),
];

/// An argon2id hash with the smallest parameters, so debug-build tests stay fast.
fn cheap_hash(password: &str) -> String {
    let params = Params::new(8, 1, 1, None).expect("argon2 params");
    let argon = Argon2::new(Algorithm::Argon2id, Version::V0x13, params);
    let salt = SaltString::encode_b64(b"flowgate-test-salt").expect("salt");
    argon
        .hash_password(password.as_bytes(), &salt)
        .expect("hash")
        .to_string()
}

/// The fixture's settings as TOML (users, groups, shipped models).
pub fn fixture_toml() -> &'static str {
    static TOML: OnceLock<String> = OnceLock::new();
    TOML.get_or_init(|| {
        let mut s = String::new();
        s.push_str(&format!(
            "[engines.local]\nkind = \"memory\"\nmodels_dir = \"{}/config/models\"\ndefault = true\n",
            env!("CARGO_MANIFEST_DIR")
        ));
        for (name, groups) in USERS {
            let groups: Vec<String> = groups.iter().map(|g| format!("\"{g}\"")).collect();
            s.push_str(&format!(
                "[[auth.users]]\nname = \"{name}\"\npassword_hash = \"{}\"\ngroups = [{}]\nemail = \"{name}@example.com\"\n",
                cheap_hash(name),
                groups.join(", ")
            ));
        }
        s.push_str("[[auth.groups]]\nname = \"members\"\nlabel = \"Members group\"\n");
        s
    })
}

/// Fixture settings plus `extra` TOML (tables the fixture does not use, e.g. `[server]`).
pub fn settings(extra: &str) -> Settings {
    let sources = Sources::from_toml(format!("{extra}\n{}", fixture_toml()));
    Settings::load(&sources).expect("fixture settings are valid")
}

/// `Authorization: Basic` for a fixture user (password = name).
pub fn basic(user: &str) -> String {
    let raw = format!("{user}:{user}");
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(raw)
    )
}

/// A response as seen by a test.
pub struct Resp {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

impl Resp {
    /// The body as JSON (`Null` when empty or not JSON).
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }

    /// The body as text.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The content type, if any.
    pub fn content_type(&self) -> Option<String> {
        self.headers
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    }

    /// Asserts the status, printing the body on mismatch.
    #[track_caller]
    pub fn expect(self, status: u16) -> Self {
        assert_eq!(
            self.status.as_u16(),
            status,
            "unexpected status, body: {}",
            self.text()
        );
        self
    }

    /// Asserts an exception body with this status.
    #[track_caller]
    pub fn expect_exception(self, status: u16) -> Self {
        let s = self.expect(status);
        let v = s.json();
        assert_eq!(v["entity-type"], "exception", "body: {}", s.text());
        assert_eq!(v["status"], status);
        assert!(
            v["message"].as_str().is_some_and(|m| !m.is_empty()),
            "message missing: {}",
            s.text()
        );
        assert_eq!(v.as_object().map(|o| o.len()), Some(3), "{}", s.text());
        assert!(s
            .content_type()
            .is_some_and(|c| c.starts_with("application/json")));
        s
    }
}

type BoxFuture<T> = std::pin::Pin<Box<dyn std::future::Future<Output = T>>>;
type Svc = Box<
    dyn Service<
        actix_http::Request,
        Response = actix_web::dev::ServiceResponse<actix_web::body::BoxBody>,
        Error = actix_web::Error,
        Future = BoxFuture<
            Result<actix_web::dev::ServiceResponse<actix_web::body::BoxBody>, actix_web::Error>,
        >,
    >,
>;

/// Boxes the initialised application so the harness can name its type.
struct Boxed<S>(std::rc::Rc<S>);

impl<S, B> Service<actix_http::Request> for Boxed<S>
where
    S: Service<
            actix_http::Request,
            Response = actix_web::dev::ServiceResponse<B>,
            Error = actix_web::Error,
        > + 'static,
    B: actix_web::body::MessageBody + 'static,
{
    type Response = actix_web::dev::ServiceResponse<actix_web::body::BoxBody>;
    type Error = actix_web::Error;
    type Future = BoxFuture<Result<Self::Response, Self::Error>>;

    actix_web::dev::always_ready!();

    fn call(&self, req: actix_http::Request) -> Self::Future {
        let svc = self.0.clone();
        Box::pin(async move { svc.call(req).await.map(|r| r.map_into_boxed_body()) })
    }
}

/// The application in process, initialised once over shared state.
pub struct TestGateway {
    /// Shared state (engines, users, tokens).
    pub state: web::Data<AppState>,
    svc: Svc,
}

impl TestGateway {
    /// The fixture gateway.
    pub async fn new() -> Self {
        Self::with("").await
    }

    /// The fixture gateway with extra settings.
    pub async fn with(extra: &str) -> Self {
        let state = web::Data::new(AppState::new(settings(extra)).expect("state"));
        let svc = test::init_service(flowgate::app(state.clone())).await;
        Self {
            state,
            svc: Box::new(Boxed(std::rc::Rc::new(svc))),
        }
    }

    /// Sends a request built by the caller.
    pub async fn send(&self, req: TestRequest) -> Resp {
        let (status, headers, body) = match self.svc.call(req.to_request()).await {
            Ok(r) => {
                let status = r.status();
                let headers = r.headers().clone();
                (status, headers, test::read_body(r).await.to_vec())
            }
            // Errors raised by middleware: the server turns them into responses.
            Err(e) => {
                let r = e.error_response();
                let status = r.status();
                let headers = r.headers().clone();
                let body = actix_web::body::to_bytes(r.into_body())
                    .await
                    .map(|b| b.to_vec())
                    .unwrap_or_default();
                (status, headers, body)
            }
        };
        Resp {
            status,
            headers,
            body,
        }
    }

    /// A request as `user` (None: anonymous) with an optional JSON body.
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        user: Option<&str>,
        body: Option<&Value>,
    ) -> Resp {
        let mut req = TestRequest::default().method(method).uri(path);
        if let Some(u) = user {
            req = req.insert_header(("authorization", basic(u)));
        }
        if let Some(b) = body {
            req = req
                .insert_header(("content-type", "application/json"))
                .set_payload(serde_json::to_vec(b).expect("json"));
        }
        self.send(req).await
    }

    pub async fn get(&self, path: &str, user: &str) -> Resp {
        self.call(Method::GET, path, Some(user), None).await
    }

    pub async fn post(&self, path: &str, user: &str, body: &Value) -> Resp {
        self.call(Method::POST, path, Some(user), Some(body)).await
    }

    pub async fn put(&self, path: &str, user: &str, body: Option<&Value>) -> Resp {
        self.call(Method::PUT, path, Some(user), body).await
    }

    pub async fn delete(&self, path: &str, user: &str) -> Resp {
        self.call(Method::DELETE, path, Some(user), None).await
    }

    /// Starts `model` on `doc` as `user`; returns the workflow entity.
    pub async fn start(&self, user: &str, model: &str, doc: Option<&str>) -> Value {
        let body = serde_json::json!({"entity-type": "workflow", "workflowModelName": model});
        let path = match doc {
            Some(d) => format!("/api/v1/id/{d}/@workflow"),
            None => "/api/v1/workflow".to_owned(),
        };
        self.post(&path, user, &body).await.expect(201).json()
    }

    /// Open tasks of a workflow as seen by `user`.
    pub async fn tasks_of(&self, user: &str, wf: &str) -> Vec<Value> {
        let v = self
            .get(&format!("/api/v1/task?workflowInstanceId={wf}"), user)
            .await
            .expect(200)
            .json();
        v["entries"].as_array().cloned().unwrap_or_default()
    }

    /// The single open task of a workflow visible to `user`.
    pub async fn only_task(&self, user: &str, wf: &str) -> Value {
        let t = self.tasks_of(user, wf).await;
        assert_eq!(t.len(), 1, "expected one task, got {t:?}");
        t.into_iter().next().expect("one task")
    }

    /// Completes `task` with `action` as `user`.
    pub async fn complete(&self, user: &str, task: &str, action: &str, variables: Value) -> Resp {
        let body = serde_json::json!({"entity-type": "task", "id": task, "variables": variables});
        self.put(&format!("/api/v1/task/{task}/{action}"), user, Some(&body))
            .await
    }
}

/// Actor ids of a task entity.
pub fn actor_ids(task: &Value) -> Vec<String> {
    task["actors"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|x| x["id"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

/// Action names of a task entity.
pub fn action_names(task: &Value) -> Vec<String> {
    task["taskInfo"]["taskActions"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|x| x["name"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}
