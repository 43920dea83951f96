//! Signed webhooks over https to a receiver whose certificate comes from a private CA:
//! with the CA given as the endpoint's `ca_file`, a Serial review run through the API
//! reaches the receiver (TLS terminated on loopback by the test kit's front, relaying
//! to a small HTTP/1.1 server on its own threads) once per event, in order, each signed
//! as Standard Webhooks says; without it (system roots only) every handshake is refused,
//! nothing is delivered and the admin API shows the failure naming the certificate.

mod common;

use std::collections::{HashMap, HashSet};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use flowgate::AppState;
use flowgate_testkit::tls::{pem_file, serve_front, Ca, TlsCounters};
use hmac::{Hmac, KeyInit, Mac};
use parking_lot::Mutex;
use serde_json::{json, Value};
use sha2::Sha256;

use common::settings;

/// An example secret for these tests only (32 bytes of 0x2a).
const SECRET: &str = "whsec_KioqKioqKioqKioqKioqKioqKioqKioqKioqKio=";

/// Bound of every wait.
const LIMIT: Duration = Duration::from_secs(30);

const SERIAL: [&str; 6] = [
    "afterWorkflowStarted",
    "afterWorkflowTaskCreated",
    "afterWorkflowTaskEnded",
    "afterWorkflowTaskCreated",
    "afterWorkflowTaskEnded",
    "afterWorkflowFinish",
];

/// One request the receiver got (after TLS was terminated).
#[derive(Clone, Debug)]
struct Hit {
    headers: HashMap<String, String>,
    body: String,
}

impl Hit {
    fn json(&self) -> Value {
        serde_json::from_str(&self.body).expect("the body is JSON")
    }

    fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .map(String::as_str)
            .unwrap_or_default()
    }
}

/// An https webhook receiver on loopback: the test kit's TLS front on a port of its
/// own, relaying to a plain HTTP/1.1 server (one thread accepting, one per connection)
/// that answers 200 and keeps every request.
struct Receiver {
    /// The https address (the TLS front).
    addr: SocketAddr,
    hits: Arc<Mutex<Vec<Hit>>>,
    tls: Arc<TlsCounters>,
    front: tokio::task::JoinHandle<()>,
}

impl Receiver {
    /// Starts the receiver presenting a fresh server leaf of `ca` (127.0.0.1 and
    /// localhost). Must run inside a tokio runtime.
    fn start(ca: &Ca) -> Receiver {
        let plain = TcpListener::bind("127.0.0.1:0").expect("bind the plain receiver");
        let backend = plain.local_addr().expect("backend addr");
        let hits = Arc::new(Mutex::new(Vec::new()));
        let h = hits.clone();
        std::thread::spawn(move || {
            for conn in plain.incoming() {
                let Ok(conn) = conn else { continue };
                let h = h.clone();
                std::thread::spawn(move || serve(conn, &h));
            }
        });
        let config = ca
            .server_tls(None)
            .expect("server certificate")
            .config()
            .expect("rustls server configuration");
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the TLS front");
        let addr = listener.local_addr().expect("front addr");
        let tls = Arc::new(TlsCounters::default());
        let counters = tls.clone();
        let front = tokio::spawn(async move {
            let _ = serve_front(config, listener, backend, counters).await;
        });
        Receiver {
            addr,
            hits,
            tls,
            front,
        }
    }

    fn url(&self) -> String {
        format!("https://{}/hook", self.addr)
    }

    fn hits(&self) -> Vec<Hit> {
        self.hits.lock().clone()
    }

    /// Waits (bounded) until `n` distinct events arrived; returns every request.
    async fn wait_events(&self, n: usize) -> Vec<Hit> {
        let end = Instant::now() + LIMIT;
        loop {
            let hits = self.hits();
            if distinct_events(&hits) >= n {
                return hits;
            }
            assert!(
                Instant::now() < end,
                "timed out waiting for {n} events; got {:#?} (TLS connections {}, failed handshakes {})",
                hits.iter()
                    .map(|h| h.json()["type"].clone())
                    .collect::<Vec<_>>(),
                self.tls.connections(),
                self.tls.failed_handshakes()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.front.abort();
    }
}

fn distinct_events(hits: &[Hit]) -> usize {
    hits.iter()
        .map(|h| {
            h.json()["data"]["id"]
                .as_str()
                .unwrap_or_default()
                .to_owned()
        })
        .collect::<HashSet<_>>()
        .len()
}

/// Reads requests on one connection and answers each 200 (keep-alive honoured, since
/// the gateway's client may reuse the connection).
fn serve(mut c: TcpStream, hits: &Mutex<Vec<Hit>>) {
    let _ = c.set_read_timeout(Some(Duration::from_secs(10)));
    let mut buf = Vec::new();
    let mut chunk = [0u8; 8192];
    loop {
        let head_end = loop {
            if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break i + 4;
            }
            match c.read(&mut chunk) {
                Ok(0) | Err(_) => return,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
        };
        let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
        let headers: HashMap<String, String> = head
            .lines()
            .skip(1)
            .filter_map(|l| l.split_once(':'))
            .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
            .collect();
        let len: usize = headers
            .get("content-length")
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        while buf.len() < head_end + len {
            match c.read(&mut chunk) {
                Ok(0) | Err(_) => return,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
        }
        let body = String::from_utf8_lossy(&buf[head_end..head_end + len]).into_owned();
        buf.drain(..head_end + len);
        hits.lock().push(Hit { headers, body });
        if c.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
            .is_err()
        {
            return;
        }
    }
}

/// Checks a hit's Standard Webhooks signature with HMAC-SHA256 computed here.
fn assert_signed(h: &Hit) {
    let key = STANDARD
        .decode(SECRET.strip_prefix("whsec_").expect("prefix"))
        .expect("base64");
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(&key).expect("key");
    mac.update(
        format!(
            "{}.{}.{}",
            h.header("webhook-id"),
            h.header("webhook-timestamp"),
            h.body
        )
        .as_bytes(),
    );
    let expected = format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes()));
    assert!(
        h.header("webhook-signature")
            .split(' ')
            .any(|s| s == expected),
        "bad signature on {h:?}"
    );
    let ts: i64 = h.header("webhook-timestamp").parse().expect("timestamp");
    assert!((chrono::Utc::now().timestamp() - ts).abs() < 300, "{ts}");
    assert!(h.header("webhook-id").starts_with("msg_"));
    assert!(h.header("content-type").starts_with("application/json"));
}

/// Sequence numbers are increasing and the types are `kinds`.
fn assert_in_order(hits: &[Hit], kinds: &[&str]) {
    let types: Vec<String> = hits
        .iter()
        .map(|h| h.json()["type"].as_str().unwrap_or_default().to_owned())
        .collect();
    assert_eq!(types, kinds);
    let seqs: Vec<u64> = hits
        .iter()
        .map(|h| h.json()["data"]["seq"].as_u64().expect("seq"))
        .collect();
    assert!(seqs.windows(2).all(|w| w[0] < w[1]), "{seqs:?}");
}

/// A path as a TOML basic string's content.
fn toml_path(p: &std::path::Path) -> String {
    p.display().to_string().replace('\\', "/")
}

/// A `[[webhooks]]` table (https: no `allow_plain_http`) with fast retries.
fn hook(name: &str, url: &str, extra: &str) -> String {
    format!(
        "[[webhooks]]\nname = \"{name}\"\nurl = \"{url}\"\nsecret = \"{SECRET}\"\n\
         backoff_base = \"50ms\"\nbackoff_cap = \"200ms\"\n{extra}\n"
    )
}

async fn start(hooks: &str) -> flowgate::Running {
    let toml = format!("[server]\nbind = \"127.0.0.1:0\"\nshutdown_timeout_secs = 1\n{hooks}");
    let state = AppState::new(settings(&toml)).expect("state");
    flowgate::spawn(state).await.expect("spawn")
}

/// The gateway's API as its clients call it.
struct Api {
    http: reqwest::Client,
    base: String,
    user: &'static str,
    password: &'static str,
}

impl Api {
    fn new(addr: &str, user: &'static str, password: &'static str) -> Api {
        Api {
            http: reqwest::Client::new(),
            base: format!("http://{addr}/api/v1"),
            user,
            password,
        }
    }

    async fn call(&self, b: reqwest::RequestBuilder) -> (u16, Value) {
        let r = b
            .basic_auth(self.user, Some(self.password))
            .timeout(LIMIT)
            .send()
            .await
            .expect("send");
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or(Value::Null))
    }

    async fn ok(&self, b: reqwest::RequestBuilder) -> Value {
        let (status, v) = self.call(b).await;
        assert!((200..300).contains(&status), "{status}: {v}");
        v
    }

    async fn get(&self, path: &str) -> (u16, Value) {
        self.call(self.http.get(format!("{}{path}", self.base)))
            .await
    }

    async fn start(&self, doc: &str) -> String {
        let body = json!({"entity-type": "workflow", "workflowModelName": "SerialDocumentReview"});
        let url = format!("{}/id/{doc}/@workflow", self.base);
        let v = self.ok(self.http.post(url).json(&body)).await;
        v["id"].as_str().expect("id").to_owned()
    }

    async fn complete_only_task(&self, wf: &str, action: &str, vars: Value) {
        let url = format!("{}/task?workflowInstanceId={wf}", self.base);
        let v = self.ok(self.http.get(url)).await;
        let id = v["entries"][0]["id"].as_str().expect("task").to_owned();
        let body = json!({"entity-type": "task", "id": id, "variables": vars});
        let url = format!("{}/task/{id}/{action}", self.base);
        self.ok(self.http.put(url).json(&body)).await;
    }

    /// A whole Serial review by this user, reviewed by `reviewer`.
    async fn serial_review(&self, reviewer: &Api, doc: &str) -> String {
        let wf = self.start(doc).await;
        let vars =
            json!({"participants": [format!("user:{}", reviewer.user)], "comment": "please"});
        self.complete_only_task(&wf, "start_review", vars).await;
        reviewer
            .complete_only_task(&wf, "validate", json!({}))
            .await;
        wf
    }
}

/// Runs `f`, failing the test if it takes longer than `secs`.
async fn bounded<F: std::future::Future<Output = ()>>(secs: u64, f: F) {
    tokio::time::timeout(Duration::from_secs(secs), f)
        .await
        .expect("the test finished in time");
}

#[tokio::test]
async fn webhooks_reach_an_https_receiver_trusted_through_ca_file() {
    bounded(90, async {
        let ca = Ca::new("flowgate webhook receiver CA").expect("CA");
        let receiver = Receiver::start(&ca);
        let ca_file = pem_file(&ca.pem()).expect("CA file");
        let hooks = hook(
            "private-ca",
            &receiver.url(),
            &format!("ca_file = \"{}\"", toml_path(ca_file.path())),
        );
        let r = start(&hooks).await;
        let addr = r.addr.to_string();
        let jdoe = Api::new(&addr, "jdoe", "jdoe");
        let asmith = Api::new(&addr, "asmith", "asmith");
        let wf = jdoe.serial_review(&asmith, "doc-hooks-tls").await;

        let hits = receiver.wait_events(6).await;
        assert_eq!(hits.len(), 6, "each event exactly once: {hits:#?}");
        assert_in_order(&hits, &SERIAL);
        let mut ids = HashSet::new();
        for h in &hits {
            assert_signed(h);
            assert!(
                ids.insert(h.header("webhook-id").to_owned()),
                "one id per event"
            );
            let v = h.json();
            assert_eq!(v["data"]["workflowId"], wf.as_str());
            assert_eq!(v["data"]["documents"], json!(["doc-hooks-tls"]));
        }
        assert!(receiver.tls.connections() >= 1);
        assert_eq!(
            receiver.tls.failed_handshakes(),
            0,
            "every handshake passed"
        );

        // The admin view agrees: delivered, no failure.
        let admin = Api::new(&addr, "Administrator", "Administrator");
        let end = Instant::now() + LIMIT;
        loop {
            let (status, v) = admin.get("/admin/webhooks").await;
            assert_eq!(status, 200, "{v}");
            let e = &v["entries"][0];
            assert_eq!(e["name"], "private-ca");
            assert_eq!(e["lastFailure"], Value::Null, "{e}");
            if e["lastSuccess"]["outcome"] == "delivered" && e["lag"] == 0 {
                break;
            }
            assert!(Instant::now() < end, "{v}");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        r.stop().await;
    })
    .await;
}

#[tokio::test]
async fn an_untrusted_receiver_certificate_is_a_recorded_failure_not_a_delivery() {
    bounded(90, async {
        let ca = Ca::new("flowgate unknown webhook CA").expect("CA");
        let receiver = Receiver::start(&ca);
        // No ca_file: the system roots only. max_age stays long (1h) so the event keeps
        // being retried, not dead-lettered, during the test.
        let hooks = hook("untrusted", &receiver.url(), "max_age = \"1h\"");
        let r = start(&hooks).await;
        let addr = r.addr.to_string();
        let jdoe = Api::new(&addr, "jdoe", "jdoe");
        jdoe.start("doc-hooks-untrusted").await;

        let admin = Api::new(&addr, "Administrator", "Administrator");
        let end = Instant::now() + LIMIT;
        let e = loop {
            let (status, v) = admin.get("/admin/webhooks").await;
            assert_eq!(status, 200, "{v}");
            let e = &v["entries"][0];
            // Two failed attempts at least: the first one was retried.
            if e["lastFailure"].is_object() && e["inFlight"]["attempts"].as_u64() >= Some(2) {
                break e.clone();
            }
            assert!(Instant::now() < end, "{v}");
            tokio::time::sleep(Duration::from_millis(20)).await;
        };
        assert_eq!(e["name"], "untrusted");
        assert_eq!(e["lastSuccess"], Value::Null, "nothing delivered: {e}");
        assert_eq!(e["deadLetters"], 0, "{e}");
        let failure = &e["lastFailure"];
        assert_eq!(failure["outcome"], "failed", "{e}");
        assert_eq!(failure["status"], Value::Null, "no answer: {e}");
        // rustls says "invalid peer certificate: UnknownIssuer".
        let error = failure["error"].as_str().expect("an error message");
        assert!(
            error.starts_with("cannot connect: ") && error.contains("certificate"),
            "{error}"
        );
        assert!(
            e["inFlight"]["lastError"]
                .as_str()
                .is_some_and(|m| m.contains("certificate")),
            "{e}"
        );
        assert!(e["lag"].as_u64() >= Some(1), "{e}");

        // The handshakes reached the receiver and were all refused; no request got
        // through.
        assert!(receiver.tls.connections() >= 2);
        assert!(receiver.tls.failed_handshakes() >= 2);
        assert!(receiver.hits().is_empty(), "{:#?}", receiver.hits());

        let (status, d) = admin.get("/admin/webhooks/untrusted/deliveries").await;
        assert_eq!(status, 200, "{d}");
        let entries = d["entries"].as_array().expect("entries");
        assert!(!entries.is_empty(), "{d}");
        assert!(
            entries.iter().all(|a| a["outcome"] == "failed"),
            "no delivery: {d}"
        );
        assert_eq!(d["deadLetters"], json!([]), "{d}");

        // The failures are counted as TLS failures.
        let text = reqwest::get(format!("http://{addr}/metrics"))
            .await
            .expect("metrics")
            .text()
            .await
            .expect("text");
        assert!(
            text.contains("flowgate_webhook_failures_total{endpoint=\"untrusted\",reason=\"tls\"}"),
            "{text}"
        );
        assert!(
            !text.contains(
                "flowgate_webhook_deliveries_total{endpoint=\"untrusted\",outcome=\"delivered\"}"
            ),
            "{text}"
        );
        r.stop().await;
    })
    .await;
}
