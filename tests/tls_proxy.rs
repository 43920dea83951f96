//! The gateway as users deploy it: the real binary behind nginx terminating TLS (a
//! certificate of a private CA the client trusts), clients speaking https only.
//!
//! - A review runs to its end over https, and the links in the entities name the
//!   public https address the proxy announces (`X-Forwarded-Proto`, trusted by
//!   `server.trust_forwarded_headers`).
//! - The event stream goes through the proxy unbuffered: with nginx's default response
//!   buffering on, each event reaches the client while the stream stays open (the
//!   stream answers `X-Accel-Buffering: no`), and a client resumes after a disconnect
//!   with `Last-Event-ID` through the proxy.

use std::path::{Path, PathBuf};
use std::time::Duration;

use flowgate_testkit::peers;
use flowgate_testkit::tls::Ca;
use serde_json::{json, Value};

mod process;
use process::{Server, ADMIN_HASH};

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

/// The gateway, the proxy in front of it and an https-only client trusting the
/// proxy's CA.
struct Deployment {
    _gateway: Server,
    proxy: peers::Peer,
    client: reqwest::Client,
    _dir: tempfile::TempDir,
}

impl Deployment {
    /// `None` when nginx is not installed (outside CI).
    fn start() -> Option<Deployment> {
        let dir = tempfile::tempdir().expect("tempdir");
        let cfg = write_config(dir.path());
        let gateway = Server::start(&cfg, &dir.path().join("flowgate.log"));
        let ca = Ca::new("flowgate test proxy CA").expect("CA");
        let (cert, key) = ca.server_leaf().expect("server leaf");
        let (cert_file, key_file) = (dir.path().join("proxy.crt"), dir.path().join("proxy.key"));
        std::fs::write(&cert_file, cert).expect("write cert");
        std::fs::write(&key_file, key).expect("write key");
        let proxy = peers::tls_reverse_proxy(dir.path(), &gateway.addr, &cert_file, &key_file)?;
        let client = reqwest::Client::builder()
            .add_root_certificate(
                reqwest::Certificate::from_pem(ca.pem().as_bytes()).expect("CA certificate"),
            )
            .https_only(true)
            .timeout(Duration::from_secs(20))
            .build()
            .expect("client");
        Some(Deployment {
            _gateway: gateway,
            proxy,
            client,
            _dir: dir,
        })
    }

    /// The public API base, `https://127.0.0.1:<proxy>/nuxeo/api/v1`.
    fn api(&self) -> String {
        format!("https://127.0.0.1:{}/nuxeo/api/v1", self.proxy.port)
    }

    async fn send(&self, rb: reqwest::RequestBuilder) -> (u16, Value) {
        let r = rb
            .basic_auth("Administrator", Some("Administrator"))
            .send()
            .await
            .unwrap_or_else(|e| {
                panic!("request through the proxy: {e}\n{}", self.proxy.log_text())
            });
        let status = r.status().as_u16();
        let text = r.text().await.unwrap_or_default();
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    /// Starts a serial review on `doc`; the workflow entity.
    async fn start_review(&self, doc: &str) -> Value {
        let (status, wf) = self
            .send(
                self.client
                    .post(format!("{}/id/{doc}/@workflow", self.api()))
                    .json(&json!({"entity-type": "workflow",
                                  "workflowModelName": "SerialDocumentReview"})),
            )
            .await;
        assert_eq!(status, 201, "{wf}");
        wf
    }

    /// The stream of `GET /events` (after `last_event_id` when given), opened.
    async fn stream(&self, last_event_id: Option<&str>) -> reqwest::Response {
        let mut rb = self
            .client
            .get(format!("{}/events", self.api()))
            .basic_auth("Administrator", Some("Administrator"))
            .header("Accept", "text/event-stream")
            // The stream is open for good: only the reads below are bounded.
            .timeout(Duration::from_secs(300));
        if let Some(id) = last_event_id {
            rb = rb.header("Last-Event-ID", id);
        }
        let r = tokio::time::timeout(Duration::from_secs(10), rb.send())
            .await
            .unwrap_or_else(|_| {
                panic!(
                    "the stream's head did not pass the proxy within 10 s\n{}",
                    self.proxy.log_text()
                )
            })
            .expect("stream");
        assert_eq!(r.status().as_u16(), 200);
        r
    }
}

fn write_config(dir: &Path) -> PathBuf {
    let cfg = dir.join("flowgate.toml");
    let text = format!(
        "[server]\ntrust_forwarded_headers = true\n\
         [log]\nlevel = \"info\"\n\
         [engines.local]\nkind = \"embedded\"\nmodels_dir = \"{ROOT}/config/models\"\ndefault = true\n\
         storage = \"memory\"\n\
         [[auth.users]]\nname = \"Administrator\"\npassword_hash = \"{ADMIN_HASH}\"\ngroups = [\"administrators\"]\n",
    );
    std::fs::write(&cfg, text).expect("write config");
    cfg
}

/// Reads `stream` until `done` holds for what arrived, at most `within`; what arrived.
async fn read_until(
    stream: &mut reqwest::Response,
    within: Duration,
    done: impl Fn(&str) -> bool,
) -> (bool, String) {
    let mut seen = String::new();
    let found = tokio::time::timeout(within, async {
        while let Ok(Some(chunk)) = stream.chunk().await {
            seen.push_str(&String::from_utf8_lossy(&chunk));
            if done(&seen) {
                return true;
            }
        }
        false
    })
    .await;
    (found == Ok(true), seen)
}

/// The `id:` of the last message in `text` that names `needle`.
fn id_of_message_with(text: &str, needle: &str) -> Option<String> {
    text.split("\n\n")
        .filter(|m| m.contains(needle))
        .filter_map(|m| m.lines().find_map(|l| l.strip_prefix("id: ")))
        .last()
        .map(str::to_owned)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_review_runs_over_https_and_its_links_name_the_public_address() {
    let Some(d) = Deployment::start() else {
        return;
    };
    let wf = d.start_review("doc-tls").await;
    let id = wf["id"].as_str().expect("workflow id").to_owned();
    let public = format!("https://127.0.0.1:{}/nuxeo/api/v1/", d.proxy.port);
    let graph = wf["graphResource"].as_str().unwrap_or_default();
    assert!(
        graph.starts_with(&public),
        "{graph} should start with {public}"
    );
    // Through both tasks of the review, over https.
    for (button, body) in [
        (
            "start_review",
            json!({"entity-type": "task", "comment": "go",
                   "variables": {"participants": ["user:Administrator"]}}),
        ),
        (
            "validate",
            json!({"entity-type": "task", "comment": "fine"}),
        ),
    ] {
        let (status, list) = d
            .send(
                d.client
                    .get(format!("{}/task?workflowInstanceId={id}", d.api())),
            )
            .await;
        assert_eq!(status, 200, "{list}");
        let task = list["entries"][0]["id"]
            .as_str()
            .expect("open task")
            .to_owned();
        let (status, done) = d
            .send(
                d.client
                    .put(format!("{}/task/{task}/{button}", d.api()))
                    .json(&body),
            )
            .await;
        assert_eq!(status, 200, "{button}: {done}");
    }
    let (status, ended) = d
        .send(d.client.get(format!("{}/workflow/{id}", d.api())))
        .await;
    assert_eq!(status, 200, "{ended}");
    assert_eq!(ended["state"], "done", "{ended}");
    // Plain http to the TLS port is refused by the proxy, never passed on.
    let plain = reqwest::Client::new()
        .get(format!(
            "http://127.0.0.1:{}/nuxeo/api/v1/workflow",
            d.proxy.port
        ))
        .basic_auth("Administrator", Some("Administrator"))
        .send()
        .await
        .expect("plain request");
    assert_eq!(
        plain.status().as_u16(),
        400,
        "nginx answers plain http on a TLS port"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_pass_the_tls_proxy_unbuffered_and_resume_after_a_disconnect() {
    let Some(d) = Deployment::start() else {
        return;
    };
    let mut stream = d.stream(None).await;
    assert_eq!(
        stream
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok()),
        Some("text/event-stream")
    );
    let (opened, seen) = read_until(&mut stream, Duration::from_secs(10), |s| {
        s.contains(": connected")
    })
    .await;
    assert!(
        opened,
        "the opening comment did not pass the proxy: {seen:?}"
    );
    // One event of about a kilobyte: far less than nginx's response buffers, so it
    // reaches the client only if the proxy does not buffer the stream.
    let first = d.start_review("doc-stream-1").await;
    let first = first["id"].as_str().expect("workflow id").to_owned();
    // A start commits two events: the workflow's and its first task's.
    let of_first = format!("\"workflowId\":\"{first}\"");
    let (arrived, seen) = read_until(&mut stream, Duration::from_secs(10), |s| {
        s.contains("event: afterWorkflowStarted") && s.matches(&of_first).count() == 2
    })
    .await;
    assert!(
        arrived,
        "the event did not come through the open stream within 10 s: {seen:?}\n{}",
        d.proxy.log_text()
    );
    let last = id_of_message_with(&seen, &first).expect("an id: line");
    drop(stream);
    // Meanwhile, another review; the resumed stream replays it from the stored log.
    let second = d.start_review("doc-stream-2").await;
    let second = second["id"].as_str().expect("workflow id").to_owned();
    let mut resumed = d.stream(Some(&last)).await;
    let (replayed, seen) = read_until(&mut resumed, Duration::from_secs(10), |s| {
        s.contains(&second) && s.contains("afterWorkflowTaskCreated")
    })
    .await;
    assert!(replayed, "not replayed after {last}: {seen:?}");
    assert!(
        !seen.contains(&of_first),
        "the events up to {last} came again: {seen:?}"
    );
}
