//! What the webhook tests share: a loopback HTTP/1.1 receiver on its own threads that
//! records each request and answers as told ([`Mode`]), signature checks as Standard
//! Webhooks states them, a gateway started in-process with `[[webhooks]]` tables, and
//! the API calls that run a Serial review.
#![allow(dead_code)]

use std::collections::{HashMap, HashSet};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use flowgate::AppState;
use hmac::{Hmac, KeyInit, Mac};
use parking_lot::Mutex;
use serde_json::{json, Value};
use sha2::Sha256;

use crate::common::settings;

/// An example secret for these tests only (32 bytes of 0x2a).
pub const SECRET: &str = "whsec_KioqKioqKioqKioqKioqKioqKioqKioqKioqKio=";

pub const LIMIT: Duration = Duration::from_secs(30);

pub const SERIAL: [&str; 6] = [
    "afterWorkflowStarted",
    "afterWorkflowTaskCreated",
    "afterWorkflowTaskEnded",
    "afterWorkflowTaskCreated",
    "afterWorkflowTaskEnded",
    "afterWorkflowFinish",
];

/// What the receiver answers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// 200.
    Ok,
    /// This status.
    Status(u16),
    /// Nothing for a long while (then 200).
    Hang,
}

/// One request the receiver got.
#[derive(Clone, Debug)]
pub struct Hit {
    pub headers: HashMap<String, String>,
    pub body: String,
    pub answered: u16,
}

impl Hit {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).expect("the body is JSON")
    }

    pub fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .map(String::as_str)
            .unwrap_or_default()
    }
}

#[derive(Default)]
pub struct Book {
    pub mode: Option<Mode>,
    pub hits: Vec<Hit>,
}

/// A webhook receiver on a loopback port: one thread accepting, one per connection.
#[derive(Clone)]
pub struct Receiver {
    pub addr: SocketAddr,
    pub book: Arc<Mutex<Book>>,
}

impl Receiver {
    pub fn start(mode: Mode) -> Receiver {
        Self::start_on("127.0.0.1:0".parse().expect("addr"), mode)
    }

    pub fn start_on(addr: SocketAddr, mode: Mode) -> Receiver {
        let listener = TcpListener::bind(addr).expect("bind the receiver");
        let addr = listener.local_addr().expect("addr");
        let book = Arc::new(Mutex::new(Book {
            mode: Some(mode),
            hits: Vec::new(),
        }));
        let b = book.clone();
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                let Ok(conn) = conn else { continue };
                let b = b.clone();
                std::thread::spawn(move || serve(conn, &b));
            }
        });
        Receiver { addr, book }
    }

    pub fn url(&self) -> String {
        format!("http://{}/hooks", self.addr)
    }

    pub fn set(&self, mode: Mode) {
        self.book.lock().mode = Some(mode);
    }

    pub fn hits(&self) -> Vec<Hit> {
        self.book.lock().hits.clone()
    }

    /// Requests answered 2xx, in arrival order.
    pub fn delivered(&self) -> Vec<Hit> {
        self.hits()
            .into_iter()
            .filter(|h| (200..300).contains(&h.answered))
            .collect()
    }

    /// Waits until `f` holds for the hits.
    pub async fn wait(&self, what: &str, f: impl Fn(&[Hit]) -> bool) -> Vec<Hit> {
        let end = Instant::now() + LIMIT;
        loop {
            let hits = self.hits();
            if f(&hits) {
                return hits;
            }
            assert!(
                Instant::now() < end,
                "timed out waiting for {what}; got {:#?}",
                hits.iter()
                    .map(|h| (h.answered, h.json()["data"]["id"].clone()))
                    .collect::<Vec<_>>()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Waits until `n` distinct events were answered 2xx; returns the 2xx hits.
    pub async fn wait_delivered(&self, n: usize) -> Vec<Hit> {
        self.wait(&format!("{n} delivered events"), |hits| {
            distinct_events(hits.iter().filter(|h| (200..300).contains(&h.answered))) >= n
        })
        .await;
        self.delivered()
    }
}

pub fn distinct_events<'a>(hits: impl Iterator<Item = &'a Hit>) -> usize {
    hits.map(|h| {
        h.json()["data"]["id"]
            .as_str()
            .unwrap_or_default()
            .to_owned()
    })
    .collect::<HashSet<_>>()
    .len()
}

/// Reads one request and answers it as the book's mode says.
pub fn serve(mut c: TcpStream, book: &Mutex<Book>) {
    let _ = c.set_read_timeout(Some(Duration::from_secs(10)));
    let mut buf = Vec::new();
    let mut chunk = [0u8; 8192];
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
    let answered = {
        let mut b = book.lock();
        let answered = match b.mode {
            Some(Mode::Ok) | None => 200,
            Some(Mode::Status(s)) => s,
            // Recorded as 0: the gateway gives up before any answer.
            Some(Mode::Hang) => 0,
        };
        b.hits.push(Hit {
            headers,
            body,
            answered,
        });
        answered
    };
    let answered = if answered == 0 {
        std::thread::sleep(Duration::from_secs(10));
        200
    } else {
        answered
    };
    let _ = c.write_all(
        format!("HTTP/1.1 {answered} X\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
            .as_bytes(),
    );
}

/// Checks a hit's Standard Webhooks signature with HMAC-SHA256 computed here.
pub fn assert_signed(h: &Hit) {
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

/// A `[[webhooks]]` table with fast retries.
pub fn hook(name: &str, url: &str, extra: &str) -> String {
    format!(
        "[[webhooks]]\nname = \"{name}\"\nurl = \"{url}\"\nsecret = \"{SECRET}\"\n\
         allow_plain_http = true\nbackoff_base = \"50ms\"\nbackoff_cap = \"200ms\"\n{extra}\n"
    )
}

pub async fn start(hooks: &str) -> flowgate::Running {
    let toml = format!("[server]\nbind = \"127.0.0.1:0\"\nshutdown_timeout_secs = 1\n{hooks}");
    let state = AppState::new(settings(&toml)).expect("state");
    flowgate::spawn(state).await.expect("spawn")
}

/// The gateway's API as its clients call it.
pub struct Api {
    pub http: reqwest::Client,
    pub base: String,
    pub user: &'static str,
    pub password: &'static str,
}

impl Api {
    pub fn new(addr: &str, user: &'static str, password: &'static str) -> Api {
        Api {
            http: reqwest::Client::new(),
            base: format!("http://{addr}/api/v1"),
            user,
            password,
        }
    }

    pub async fn call(&self, b: reqwest::RequestBuilder) -> (u16, Value) {
        let r = b
            .basic_auth(self.user, Some(self.password))
            .send()
            .await
            .expect("send");
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or(Value::Null))
    }

    pub async fn ok(&self, b: reqwest::RequestBuilder) -> Value {
        let (status, v) = self.call(b).await;
        assert!((200..300).contains(&status), "{status}: {v}");
        v
    }

    pub async fn get(&self, path: &str) -> (u16, Value) {
        self.call(self.http.get(format!("{}{path}", self.base)))
            .await
    }

    pub async fn start(&self, doc: &str) -> String {
        let body = json!({"entity-type": "workflow", "workflowModelName": "SerialDocumentReview"});
        let url = format!("{}/id/{doc}/@workflow", self.base);
        let v = self.ok(self.http.post(url).json(&body)).await;
        v["id"].as_str().expect("id").to_owned()
    }

    pub async fn complete_only_task(&self, wf: &str, action: &str, vars: Value) {
        let url = format!("{}/task?workflowInstanceId={wf}", self.base);
        let v = self.ok(self.http.get(url)).await;
        let id = v["entries"][0]["id"].as_str().expect("task").to_owned();
        let body = json!({"entity-type": "task", "id": id, "variables": vars});
        let url = format!("{}/task/{id}/{action}", self.base);
        self.ok(self.http.put(url).json(&body)).await;
    }

    /// A whole Serial review by this user, reviewed by `reviewer` (given with the
    /// reviewer's own API).
    pub async fn serial_review(&self, reviewer: &Api, doc: &str) -> String {
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

/// Sequence numbers are increasing and the types are `kinds`.
pub fn assert_in_order(hits: &[Hit], kinds: &[&str]) {
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

/// `hits` are `kinds`, each exactly once, in order, each signed with its own
/// `webhook-id`.
pub fn assert_once_in_order_signed(hits: &[Hit], kinds: &[&str]) {
    assert_eq!(
        hits.len(),
        kinds.len(),
        "each event exactly once: {hits:#?}"
    );
    assert_in_order(hits, kinds);
    let mut ids = HashSet::new();
    for h in hits {
        assert_signed(h);
        assert!(
            ids.insert(h.header("webhook-id").to_owned()),
            "one id per event"
        );
    }
}
