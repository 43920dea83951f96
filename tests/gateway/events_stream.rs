//! `GET /api/v1/events` over a real socket: order and ids, what a non-administrator
//! sees, resuming with `Last-Event-ID`, heartbeats, slow consumers, authentication.

use std::net::SocketAddr;
use std::time::Duration;

use flowgate::AppState;
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};
use tokio::time::timeout;

use crate::common::{basic, settings};
use crate::sse_support::Msg;

/// Workflows started while a stream is not read: two events each, more bytes than
/// the largest send buffer Linux grows a socket to (4 MiB by default) plus the small
/// receive buffer, so the server cannot write them all and the stream falls behind.
const SLOW_STARTS: usize = 4000;

const LIMIT: Duration = Duration::from_secs(20);

async fn start(extra: &str) -> flowgate::Running {
    // Open streams would hold a graceful stop for its whole grace period.
    let toml = format!("[server]\nbind = \"127.0.0.1:0\"\nshutdown_timeout_secs = 1\n{extra}");
    let state = AppState::new(settings(&toml)).expect("state");
    flowgate::spawn(state).await.expect("spawn")
}

/// A stream read from a raw HTTP/1.1 connection (chunked body decoded here).
struct Sse {
    s: TcpStream,
    raw: Vec<u8>,
    body: String,
    status: u16,
    head: String,
}

impl Sse {
    async fn open(addr: SocketAddr, user: Option<&str>, query: &str, last: Option<&str>) -> Sse {
        Self::open_on(
            TcpStream::connect(addr).await.expect("connect"),
            user,
            query,
            last,
        )
        .await
    }

    async fn open_on(mut s: TcpStream, user: Option<&str>, query: &str, last: Option<&str>) -> Sse {
        let mut req = format!("GET /api/v1/events{query} HTTP/1.1\r\nHost: x\r\n");
        if let Some(u) = user {
            req.push_str(&format!("Authorization: {}\r\n", basic(u)));
        }
        if let Some(l) = last {
            req.push_str(&format!("Last-Event-ID: {l}\r\n"));
        }
        req.push_str("\r\n");
        s.write_all(req.as_bytes()).await.expect("write");
        let mut sse = Sse {
            s,
            raw: Vec::new(),
            body: String::new(),
            status: 0,
            head: String::new(),
        };
        loop {
            if let Some(i) = find(&sse.raw, b"\r\n\r\n") {
                sse.head = String::from_utf8_lossy(&sse.raw[..i]).into_owned();
                sse.raw.drain(..i + 4);
                break;
            }
            assert!(sse.fill().await, "closed before the head");
        }
        sse.status = sse.head[9..12].parse().expect("status");
        sse
    }

    /// Reads more bytes; false at the end of the connection.
    async fn fill(&mut self) -> bool {
        let mut chunk = [0u8; 8192];
        let n = self.s.read(&mut chunk).await.expect("read");
        self.raw.extend_from_slice(&chunk[..n]);
        n > 0
    }

    /// Moves whole chunks of `raw` into `body`; false once the last chunk came.
    fn decode(&mut self) -> bool {
        loop {
            let Some(eol) = find(&self.raw, b"\r\n") else {
                return true;
            };
            let size_text = String::from_utf8_lossy(&self.raw[..eol]).into_owned();
            let size = usize::from_str_radix(size_text.trim(), 16).expect("chunk size");
            if size == 0 {
                return false;
            }
            if self.raw.len() < eol + 2 + size + 2 {
                return true;
            }
            let data = self.raw[eol + 2..eol + 2 + size].to_vec();
            self.raw.drain(..eol + 2 + size + 2);
            self.body.push_str(&String::from_utf8_lossy(&data));
        }
    }

    /// The next message, `None` at the end of the stream.
    async fn next(&mut self) -> Option<Msg> {
        loop {
            let more = self.decode();
            if let Some(m) = Msg::take(&mut self.body) {
                return Some(m);
            }
            if !more || !self.fill().await {
                return None;
            }
        }
    }

    /// Every message until the end of the stream.
    async fn rest(&mut self) -> Vec<Msg> {
        let mut out = Vec::new();
        while let Some(m) = self.next().await {
            out.push(m);
        }
        out
    }

    /// The next `n` event messages (comments skipped).
    async fn events(&mut self, n: usize) -> Vec<Msg> {
        let mut out = Vec::new();
        while out.len() < n {
            let m = self.next().await.expect("stream ended early");
            if m.event.is_some() {
                out.push(m);
            }
        }
        out
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// Workflow calls over HTTP.
struct Client {
    http: reqwest::Client,
    base: String,
}

impl Client {
    fn new(r: &flowgate::Running) -> Self {
        Client {
            http: reqwest::Client::new(),
            base: format!("http://{}/api/v1", r.addr),
        }
    }

    async fn send(&self, user: &str, b: reqwest::RequestBuilder) -> Value {
        let r = b.basic_auth(user, Some(user)).send().await.expect("send");
        assert!(r.status().is_success(), "{}", r.status());
        r.json().await.expect("json")
    }

    async fn start(&self, user: &str, doc: &str) -> String {
        let body = json!({"entity-type": "workflow", "workflowModelName": "SerialDocumentReview"});
        let url = format!("{}/id/{doc}/@workflow", self.base);
        let v = self.send(user, self.http.post(url).json(&body)).await;
        v["id"].as_str().expect("id").to_owned()
    }

    async fn complete_only_task(&self, user: &str, wf: &str, action: &str, vars: Value) {
        let url = format!("{}/task?workflowInstanceId={wf}", self.base);
        let v = self.send(user, self.http.get(url)).await;
        let id = v["entries"][0]["id"].as_str().expect("task").to_owned();
        let body = json!({"entity-type": "task", "id": id, "variables": vars});
        let url = format!("{}/task/{id}/{action}", self.base);
        self.send(user, self.http.put(url).json(&body)).await;
    }

    /// A whole Serial review started by `user`, reviewed by asmith.
    async fn serial_review(&self, user: &str, doc: &str) -> String {
        let wf = self.start(user, doc).await;
        let vars = json!({"participants": ["user:asmith"], "comment": "please"});
        self.complete_only_task(user, &wf, "start_review", vars)
            .await;
        self.complete_only_task("asmith", &wf, "validate", json!({}))
            .await;
        wf
    }
}

const SERIAL: [&str; 6] = [
    "afterWorkflowStarted",
    "afterWorkflowTaskCreated",
    "afterWorkflowTaskEnded",
    "afterWorkflowTaskCreated",
    "afterWorkflowTaskEnded",
    "afterWorkflowFinish",
];

#[tokio::test]
async fn serial_review_events_arrive_in_order_with_ids() {
    let r = start("").await;
    let c = Client::new(&r);
    let mut sse = Sse::open(r.addr, Some("Administrator"), "", None).await;
    assert_eq!(sse.status, 200);
    let head = sse.head.to_ascii_lowercase();
    assert!(head.contains("content-type: text/event-stream"), "{head}");
    assert!(head.contains("cache-control: no-store"), "{head}");
    let wf = c.serial_review("jdoe", "doc-sse").await;
    let got = timeout(LIMIT, sse.events(6)).await.expect("in time");
    let kinds: Vec<&str> = got.iter().filter_map(|m| m.event.as_deref()).collect();
    assert_eq!(kinds, SERIAL);
    let seqs: Vec<u64> = got
        .iter()
        .map(|m| {
            let id = m.id.as_deref().expect("id");
            let (engine, seq) = id.split_once(':').expect("engine:seq");
            assert_eq!(engine, "local");
            seq.parse().expect("seq")
        })
        .collect();
    assert!(seqs.windows(2).all(|w| w[1] == w[0] + 1), "{seqs:?}");
    for m in &got {
        let d = m.json();
        assert_eq!(Some(d["id"].as_str().expect("id")), m.id.as_deref());
        assert_eq!(
            Some(d["eventId"].as_str().expect("eventId")),
            m.event.as_deref()
        );
        assert_eq!(d["workflowId"], wf.as_str());
        assert_eq!(d["model"], "SerialDocumentReview");
        assert_eq!(d["documents"], json!(["doc-sse"]));
    }
    assert_eq!(got[2].json()["action"], "start_review");
    assert_eq!(got[2].json()["comment"], "please");
    r.stop().await;
}

#[tokio::test]
async fn a_member_sees_only_events_of_their_workflows_and_tasks() {
    let r = start("").await;
    let c = Client::new(&r);
    let mut sse = Sse::open(r.addr, Some("eve"), "", None).await;
    // Another user's review, eve nowhere in it.
    c.serial_review("jdoe", "doc-other").await;
    // eve's own review: she starts it, asmith reviews.
    let mine = c.serial_review("eve", "doc-eve").await;
    let got = timeout(LIMIT, sse.events(6)).await.expect("in time");
    for m in &got {
        assert_eq!(m.json()["workflowId"], mine.as_str(), "{:?}", m.data);
    }
    // asmith follows only the tasks given to him (created, ended) in both reviews.
    let mut sse = Sse::open(
        r.addr,
        Some("asmith"),
        "?eventId=afterWorkflowTaskCreated",
        None,
    )
    .await;
    let wf = c.serial_review("jdoe", "doc-third").await;
    let got = timeout(LIMIT, sse.events(1)).await.expect("in time");
    let d = got[0].json();
    assert_eq!(d["workflowId"], wf.as_str());
    assert_eq!(d["actors"], json!(["user:asmith"]), "{d}");
    r.stop().await;
}

#[tokio::test]
async fn last_event_id_resumes_without_gap_or_duplicate() {
    let r = start("").await;
    let c = Client::new(&r);
    let mut sse = Sse::open(r.addr, Some("Administrator"), "", None).await;
    c.serial_review("jdoe", "doc-r1").await;
    let first = timeout(LIMIT, sse.events(6)).await.expect("in time");
    let cut = first[2].id.clone().expect("id");
    drop(sse);
    // Events while nobody listens, then a resume from the third event.
    let wf2 = c.serial_review("jdoe", "doc-r2").await;
    let mut sse = Sse::open(r.addr, Some("Administrator"), "", Some(&cut)).await;
    assert_eq!(sse.status, 200);
    let wf3 = c.start("jdoe", "doc-r3").await;
    let got = timeout(LIMIT, sse.events(3 + 6 + 2))
        .await
        .expect("in time");
    let ids: Vec<String> = got.iter().map(|m| m.id.clone().expect("id")).collect();
    let expected: Vec<String> = (4..=6 + 6 + 2).map(|n| format!("local:{n}")).collect();
    assert_eq!(ids, expected);
    assert_eq!(got[3].json()["workflowId"], wf2.as_str());
    assert_eq!(got[10].json()["workflowId"], wf3.as_str());
    // The query parameter does the same; a malformed id is a 400.
    let mut again = Sse::open(r.addr, Some("Administrator"), "?lastEventId=local:12", None).await;
    let got = timeout(LIMIT, again.events(2)).await.expect("in time");
    assert_eq!(got[0].id.as_deref(), Some("local:13"));
    let bad = Sse::open(r.addr, Some("Administrator"), "", Some("nonsense")).await;
    assert_eq!(bad.status, 400);
    r.stop().await;
}

#[tokio::test]
async fn heartbeats_arrive_on_an_idle_stream() {
    let r = start("[events]\nheartbeat_secs = 1\n").await;
    let mut sse = Sse::open(r.addr, Some("jdoe"), "", None).await;
    let mut beats = 0;
    timeout(Duration::from_secs(6), async {
        while beats < 2 {
            let m = sse.next().await.expect("open");
            if m.comment.as_deref() == Some("keep-alive") {
                beats += 1;
            }
        }
    })
    .await
    .expect("two heartbeats within 6 s");
    r.stop().await;
}

#[tokio::test]
async fn a_stream_ends_after_its_maximum_lifetime() {
    let r = start("[events]\nmax_stream_secs = 1\n").await;
    let mut sse = Sse::open(r.addr, Some("jdoe"), "", None).await;
    let ended = timeout(Duration::from_secs(5), async {
        while sse.next().await.is_some() {}
    })
    .await;
    assert!(ended.is_ok(), "the stream ended");
    r.stop().await;
}

#[tokio::test]
async fn stopping_the_gateway_ends_open_streams_with_the_position_to_resume_from() {
    // A grace period longer than the test waits: the stop must not wait for the stream.
    let toml = "[server]\nbind = \"127.0.0.1:0\"\nshutdown_timeout_secs = 120\n";
    let state = AppState::new(settings(toml)).expect("state");
    let r = flowgate::spawn(state).await.expect("spawn");
    let c = Client::new(&r);
    // A member's stream: its position also covers events it does not show.
    let mut sse = Sse::open(r.addr, Some("jdoe"), "", None).await;
    c.start("Administrator", "doc-other").await;
    c.start("jdoe", "doc-mine").await;
    let mine = timeout(LIMIT, sse.events(2)).await.expect("in time");
    let addr = r.addr;
    let stopped = tokio::spawn(r.stop());
    let last = timeout(LIMIT, sse.rest())
        .await
        .expect("the stream ends before the grace period")
        .pop()
        .expect("a final message");
    timeout(LIMIT, stopped)
        .await
        .expect("the stop does not wait for the stream")
        .expect("join");
    assert_eq!(last.event.as_deref(), Some("dropped"), "{last:?}");
    let d = last.json();
    assert_eq!(d["reason"], "the gateway is stopping", "{d}");
    assert_eq!(d["lastEventId"].as_str(), mine[1].id.as_deref(), "{d}");
    assert_eq!(d["lastEventId"], "local:4", "{d}");
    assert!(TcpStream::connect(addr).await.is_err(), "stopped");
}

#[tokio::test]
async fn a_stream_stopped_while_replaying_resumes_where_its_client_stopped_reading() {
    let toml = "[server]\nbind = \"127.0.0.1:0\"\nshutdown_timeout_secs = 120\n\
                [events]\nreplay_batch = 50\n";
    let state = AppState::new(settings(toml)).expect("state");
    let r = flowgate::spawn(state).await.expect("spawn");
    let c = Client::new(&r);
    timeout(LIMIT * 3, async {
        for i in 0..SLOW_STARTS {
            c.start("jdoe", &format!("doc-replay-{i}")).await;
        }
    })
    .await
    .expect("stored events written");
    // A replay larger than the socket buffers: the stream pauses in the middle of it.
    let socket = TcpSocket::new_v4().expect("socket");
    socket.set_recv_buffer_size(1024).expect("rcvbuf");
    let stream = socket.connect(r.addr).await.expect("connect");
    let mut sse = Sse::open_on(stream, Some("Administrator"), "", Some("local:1")).await;
    assert_eq!(sse.status, 200);
    tokio::time::sleep(Duration::from_millis(300)).await;
    // Live events wait in the stream's inbox, newer than the stored ones not sent yet.
    c.start("jdoe", "doc-live").await;
    let stopped = tokio::spawn(r.stop());
    let mut got = timeout(LIMIT, sse.rest()).await.expect("the stream ends");
    timeout(LIMIT, stopped)
        .await
        .expect("stopped")
        .expect("join");
    let last = got.pop().expect("a final message");
    let ids: Vec<String> = got.into_iter().filter_map(|m| m.id).collect();
    assert_eq!(last.event.as_deref(), Some("dropped"), "{last:?}");
    let gap = ids
        .iter()
        .zip(2..)
        .find(|(id, n)| **id != format!("local:{n}"));
    assert!(gap.is_none(), "stored events in order, first gap: {gap:?}");
    assert!(ids.len() < SLOW_STARTS * 2, "stopped during the replay");
    let d = last.json();
    assert_eq!(
        d["lastEventId"].as_str(),
        ids.last().map(String::as_str),
        "resuming from the final position misses nothing: {d}"
    );
}

#[tokio::test]
async fn a_consumer_that_falls_behind_is_dropped_with_a_final_event() {
    let r = start("[events]\nbuffer = 4\n").await;
    let c = Client::new(&r);
    let socket = TcpSocket::new_v4().expect("socket");
    socket.set_recv_buffer_size(1024).expect("rcvbuf");
    let stream = socket.connect(r.addr).await.expect("connect");
    let mut sse = Sse::open_on(stream, Some("Administrator"), "", None).await;
    assert_eq!(sse.status, 200);
    // Not reading while many events are committed: the engine does not wait.
    timeout(LIMIT * 3, async {
        for i in 0..SLOW_STARTS {
            c.start("jdoe", &format!("doc-slow-{i}")).await;
        }
    })
    .await
    .expect("the engine never waits on a stream");
    let last = timeout(LIMIT, sse.rest())
        .await
        .expect("the stream ends")
        .pop()
        .expect("some message");
    assert_eq!(last.event.as_deref(), Some("dropped"), "{last:?}");
    let d = last.json();
    assert!(
        d["lastEventId"]
            .as_str()
            .is_some_and(|s| s.starts_with("local:")),
        "{d}"
    );
    r.stop().await;
}

#[tokio::test]
async fn unauthenticated_and_invalid_requests_are_refused() {
    let r = start("[events]\nmax_streams = 1\n").await;
    let anon = Sse::open(r.addr, None, "", None).await;
    assert_eq!(anon.status, 401);
    let bad = Sse::open(r.addr, Some("jdoe"), "?eventId=documentModified", None).await;
    assert_eq!(bad.status, 400);
    let bad = Sse::open(r.addr, Some("jdoe"), "?engine=nowhere", None).await;
    assert_eq!(bad.status, 400);
    let _open = Sse::open(r.addr, Some("jdoe"), "", None).await;
    let mut full = Sse::open(r.addr, Some("jdoe"), "", None).await;
    assert_eq!(full.status, 503);
    timeout(LIMIT, async {
        loop {
            full.body = String::from_utf8_lossy(&full.raw).into_owned();
            if full.body.contains("max_streams") || !full.fill().await {
                break;
            }
        }
    })
    .await
    .expect("body");
    assert!(full.body.contains("\"entity-type\""), "{}", full.body);
    r.stop().await;
}
