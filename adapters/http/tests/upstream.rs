//! Behaviour of the upstream layer against a scripted loopback server.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use flowgate_core::{CallContext, ErrorKind};
use flowgate_http::{BreakerState, HttpSettings, Idempotency, Upstream};
use parking_lot::Mutex;
use reqwest::Method;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

#[derive(Clone)]
enum Step {
    Reply(u16, &'static str, &'static str),
    Slow(u64, u16),
    Drop,
}

struct Script {
    steps: Mutex<VecDeque<Step>>,
    fallback: Step,
    hits: AtomicUsize,
    in_flight: AtomicUsize,
    max_in_flight: AtomicUsize,
}

async fn serve(steps: Vec<Step>, fallback: Step) -> (url::Url, Arc<Script>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let script = Arc::new(Script {
        steps: Mutex::new(steps.into()),
        fallback,
        hits: AtomicUsize::new(0),
        in_flight: AtomicUsize::new(0),
        max_in_flight: AtomicUsize::new(0),
    });
    let s = script.clone();
    tokio::spawn(async move {
        loop {
            let Ok((mut sock, _)) = listener.accept().await else {
                return;
            };
            let s = s.clone();
            tokio::spawn(async move {
                let mut buf = vec![0u8; 4096];
                let mut got = Vec::new();
                while !got.windows(4).any(|w| w == b"\r\n\r\n") {
                    match sock.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => got.extend_from_slice(&buf[..n]),
                    }
                }
                s.hits.fetch_add(1, Ordering::SeqCst);
                let now = s.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
                s.max_in_flight.fetch_max(now, Ordering::SeqCst);
                let step = s
                    .steps
                    .lock()
                    .pop_front()
                    .unwrap_or_else(|| s.fallback.clone());
                let (status, headers, body) = match step {
                    Step::Reply(st, h, b) => (st, h, b),
                    Step::Slow(ms, st) => {
                        tokio::time::sleep(Duration::from_millis(ms)).await;
                        (st, "", "{}")
                    }
                    Step::Drop => {
                        s.in_flight.fetch_sub(1, Ordering::SeqCst);
                        return;
                    }
                };
                let resp = format!(
                    "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\n{headers}content-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = sock.write_all(resp.as_bytes()).await;
                s.in_flight.fetch_sub(1, Ordering::SeqCst);
            });
        }
    });
    (format!("http://{addr}/api/").parse().unwrap(), script)
}

fn settings() -> HttpSettings {
    HttpSettings {
        request_timeout_ms: 300,
        retry_min_delay_ms: 5,
        retry_max_delay_ms: 20,
        breaker_failures: 3,
        breaker_cooldown_ms: 200,
        ..HttpSettings::default()
    }
}

fn cx() -> CallContext {
    CallContext::admin("admin").with_timeout(Duration::from_secs(5))
}

async fn get(
    up: &Upstream,
    idem: Idempotency,
) -> Result<flowgate_http::Response, flowgate_core::EngineError> {
    let url = up.url(&["things", "1"]).unwrap();
    let method = if idem == Idempotency::Idempotent {
        Method::GET
    } else {
        Method::POST
    };
    up.send(&cx(), "test", idem, up.request(method, url)).await
}

#[tokio::test]
async fn idempotent_call_is_retried_on_503_then_succeeds() {
    let (base, script) = serve(
        vec![Step::Reply(503, "", "{}"), Step::Reply(503, "", "{}")],
        Step::Reply(200, "", r#"{"ok":true}"#),
    )
    .await;
    let up = Upstream::new("t", base, settings()).unwrap();
    let resp = get(&up, Idempotency::Idempotent).await.unwrap();
    assert_eq!(resp.status(), 200);
    let v: serde_json::Value = up.read_json(resp).unwrap();
    assert_eq!(v["ok"], true);
    assert_eq!(script.hits.load(Ordering::SeqCst), 3);
}

#[tokio::test]
async fn retry_after_zero_is_honoured_and_attempts_are_bounded() {
    let (base, script) = serve(vec![], Step::Reply(429, "retry-after: 0\r\n", "{}")).await;
    let up = Upstream::new("t", base, settings()).unwrap();
    let resp = get(&up, Idempotency::Idempotent).await.unwrap();
    assert_eq!(resp.status(), 429);
    assert_eq!(
        script.hits.load(Ordering::SeqCst),
        3,
        "max_attempts bounds retries"
    );
}

#[tokio::test]
async fn non_idempotent_call_is_not_retried_on_503() {
    let (base, script) = serve(vec![], Step::Reply(503, "", "{}")).await;
    let up = Upstream::new("t", base, settings()).unwrap();
    let resp = get(&up, Idempotency::NonIdempotent).await.unwrap();
    assert_eq!(resp.status(), 503);
    assert_eq!(script.hits.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn non_idempotent_timeout_is_reported_once_with_unknown_outcome() {
    let (base, script) = serve(vec![], Step::Slow(2_000, 200)).await;
    let up = Upstream::new("t", base, settings()).unwrap();
    let started = Instant::now();
    let err = get(&up, Idempotency::NonIdempotent).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Timeout);
    assert!(err.message().contains("outcome is unknown"), "{err}");
    assert!(started.elapsed() < Duration::from_millis(1_500));
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(script.hits.load(Ordering::SeqCst), 1, "never replayed");
}

#[tokio::test]
async fn caller_deadline_caps_the_attempt() {
    let (base, _script) = serve(vec![], Step::Slow(2_000, 200)).await;
    let mut s = settings();
    s.request_timeout_ms = 10_000;
    let up = Upstream::new("t", base, s).unwrap();
    let cx = CallContext::admin("a").with_timeout(Duration::from_millis(150));
    let started = Instant::now();
    let url = up.url(&["x"]).unwrap();
    let err = up
        .send(
            &cx,
            "t",
            Idempotency::Idempotent,
            up.request(Method::GET, url),
        )
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Timeout);
    assert!(started.elapsed() < Duration::from_millis(1_000));
}

#[tokio::test]
async fn dropped_connection_maps_to_upstream_error() {
    let (base, _script) = serve(vec![], Step::Drop).await;
    let mut s = settings();
    s.max_attempts = 1;
    let up = Upstream::new("t", base, s).unwrap();
    let err = get(&up, Idempotency::Idempotent).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Upstream, "{err}");
}

#[tokio::test]
async fn malformed_json_maps_to_upstream_error() {
    let (base, _script) = serve(vec![], Step::Reply(200, "", "{not json")).await;
    let up = Upstream::new("t", base, settings()).unwrap();
    let resp = get(&up, Idempotency::Idempotent).await.unwrap();
    let err = up.read_json::<serde_json::Value>(resp).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Upstream);
    assert!(
        !err.message().contains("not json"),
        "no upstream body in messages"
    );
}

#[tokio::test]
async fn refused_connection_opens_the_breaker_then_fails_fast_then_recovers() {
    // Bind then drop a listener to get a port nobody listens on.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let base: url::Url = format!("http://127.0.0.1:{port}/").parse().unwrap();
    let mut s = settings();
    s.max_attempts = 1;
    let up = Upstream::new("dead", base, s).unwrap();
    for _ in 0..3 {
        let e = get(&up, Idempotency::Idempotent).await.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Unavailable);
    }
    assert_eq!(up.breaker_state(), BreakerState::Open);
    let started = Instant::now();
    let e = get(&up, Idempotency::Idempotent).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Unavailable);
    assert!(e.message().contains("circuit open"));
    assert!(
        started.elapsed() < Duration::from_millis(50),
        "open breaker fails fast"
    );

    tokio::time::sleep(Duration::from_millis(250)).await;
    assert_eq!(up.breaker_state(), BreakerState::HalfOpen);
}

#[tokio::test]
async fn concurrency_limit_is_respected() {
    let (base, script) = serve(vec![], Step::Slow(100, 200)).await;
    let mut s = settings();
    s.max_concurrency = 2;
    let up = Upstream::new("t", base, s).unwrap();
    let calls: Vec<_> = (0..6)
        .map(|_| {
            let up = up.clone();
            tokio::spawn(async move { get(&up, Idempotency::Idempotent).await.map(|r| r.status()) })
        })
        .collect();
    for c in calls {
        assert_eq!(c.await.unwrap().unwrap(), 200);
    }
    assert_eq!(script.hits.load(Ordering::SeqCst), 6);
    assert!(script.max_in_flight.load(Ordering::SeqCst) <= 2);
}

#[tokio::test]
async fn a_slow_read_is_reported_once_not_retried() {
    let (base, script) = serve(vec![], Step::Slow(1_000, 200)).await;
    let up = Upstream::new("t", base, settings()).unwrap();
    let started = Instant::now();
    let err = get(&up, Idempotency::Idempotent).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Timeout, "{err}");
    assert!(started.elapsed() < Duration::from_millis(900));
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(
        script.hits.load(Ordering::SeqCst),
        1,
        "a timeout is not retried"
    );
}

#[tokio::test]
async fn a_refused_write_is_retried_because_it_was_never_sent() {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let base: url::Url = format!("http://127.0.0.1:{port}/").parse().unwrap();
    let mut s = settings();
    s.breaker_failures = 0;
    let up = Upstream::new("refused-write", base, s).unwrap();
    let err = get(&up, Idempotency::NonIdempotent).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unavailable, "{err}");
}

#[tokio::test]
async fn breaker_state_is_observable_by_engine_and_base_url() {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let base: url::Url = format!("http://127.0.0.1:{port}/").parse().unwrap();
    let mut s = settings();
    s.max_attempts = 1;
    s.breaker_failures = 1;
    let up = Upstream::new("observed", base.clone(), s).unwrap();
    assert_eq!(
        flowgate_http::breaker_state("observed", &base),
        Some(BreakerState::Closed)
    );
    get(&up, Idempotency::Idempotent).await.unwrap_err();
    assert_eq!(
        flowgate_http::breaker_state("observed", &base),
        Some(BreakerState::Open)
    );
    assert_eq!(flowgate_http::breaker_state("other", &base), None);
    drop(up);
    assert_eq!(flowgate_http::breaker_state("observed", &base), None);
}

/// A keep-alive server on a thread of its own: answers every request on a connection
/// with `200 {}` and counts the connections it accepted.
fn keep_alive_server() -> (url::Url, Arc<AtomicUsize>) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let addr = listener.local_addr().unwrap();
    let accepted = Arc::new(AtomicUsize::new(0));
    let count = accepted.clone();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let listener = TcpListener::from_std(listener).unwrap();
            // Bounded: the test process ends long before, but never serve forever.
            let deadline = tokio::time::sleep(Duration::from_secs(30));
            tokio::pin!(deadline);
            loop {
                let (mut sock, _) = tokio::select! {
                    r = listener.accept() => match r { Ok(c) => c, Err(_) => return },
                    _ = &mut deadline => return,
                };
                count.fetch_add(1, Ordering::SeqCst);
                tokio::spawn(async move {
                    let mut buf = vec![0u8; 4096];
                    let mut got = Vec::new();
                    loop {
                        while !got.windows(4).any(|w| w == b"\r\n\r\n") {
                            match sock.read(&mut buf).await {
                                Ok(0) | Err(_) => return,
                                Ok(n) => got.extend_from_slice(&buf[..n]),
                            }
                        }
                        got.clear();
                        let resp = "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 2\r\n\r\n{}";
                        if sock.write_all(resp.as_bytes()).await.is_err() {
                            return;
                        }
                    }
                });
            }
        });
    });
    (format!("http://{addr}/").parse().unwrap(), accepted)
}

/// One GET through `up` on a fresh current-thread runtime kept alive by the caller.
fn get_on(rt: &tokio::runtime::Runtime, up: &Upstream) -> u16 {
    rt.block_on(async {
        let cx = CallContext::admin("admin").with_timeout(Duration::from_secs(10));
        let url = up.url(&["x"]).unwrap();
        let resp = up
            .send(
                &cx,
                "get",
                Idempotency::Idempotent,
                up.request(Method::GET, url),
            )
            .await
            .expect("answer");
        let status = resp.status().as_u16();
        let _ = up.read_text(resp);
        status
    })
}

/// One client serves every runtime: connections are pooled and reused, and a runtime
/// that goes away (with the connections it drove) does not break the next calls.
#[test]
fn one_client_pools_connections_across_runtimes() {
    let (base, accepted) = keep_alive_server();
    let up = Upstream::new("e", base, HttpSettings::default()).unwrap();
    let rt = || {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
    };
    let a = rt();
    assert_eq!(get_on(&a, &up), 200);
    assert_eq!(get_on(&a, &up), 200);
    assert_eq!(
        accepted.load(Ordering::SeqCst),
        1,
        "the connection is reused"
    );
    drop(a);
    let b = rt();
    assert_eq!(get_on(&b, &up), 200);
    assert_eq!(get_on(&b, &up), 200);
}

/// The caller's request id and trace context go upstream.
#[tokio::test]
async fn request_id_and_traceparent_are_forwarded() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base: url::Url = format!("http://{}/", listener.local_addr().unwrap())
        .parse()
        .unwrap();
    let seen = tokio::spawn(async move {
        let (mut sock, _) = listener.accept().await.unwrap();
        let mut got = Vec::new();
        let mut buf = vec![0u8; 4096];
        while !got.windows(4).any(|w| w == b"\r\n\r\n") {
            match sock.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => got.extend_from_slice(&buf[..n]),
            }
        }
        let _ = sock
            .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\n{}")
            .await;
        String::from_utf8_lossy(&got).to_ascii_lowercase()
    });
    let up = Upstream::new("ids", base, settings()).unwrap();
    let tp = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    let cx = cx().with_request_id("req-42").with_traceparent(tp);
    let url = up.url(&["x"]).unwrap();
    up.send(
        &cx,
        "t",
        Idempotency::Idempotent,
        up.request(Method::GET, url),
    )
    .await
    .unwrap();
    let head = tokio::time::timeout(Duration::from_secs(5), seen)
        .await
        .unwrap()
        .unwrap();
    assert!(head.contains("x-request-id: req-42\r\n"), "{head}");
    assert!(head.contains(&format!("traceparent: {tp}\r\n")), "{head}");
}
