//! On a real socket: concurrent completions of one task (exactly one wins), pipelined
//! and concurrent requests, links for a request that names no host.

use std::time::Duration;

use flowgate::AppState;
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::common::{basic, settings, TestGateway};

/// One HTTP/1.1 request on a fresh connection; returns (status, body).
async fn raw(
    addr: std::net::SocketAddr,
    method: &str,
    path: &str,
    user: &str,
    body: &str,
) -> (u16, String) {
    let mut s = TcpStream::connect(addr).await.expect("connect");
    let req = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        basic(user),
        body.len()
    );
    s.write_all(req.as_bytes()).await.expect("write");
    let mut out = Vec::new();
    s.read_to_end(&mut out).await.expect("read");
    let text = String::from_utf8_lossy(&out).into_owned();
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    (status, body)
}

/// Starts a SerialDocumentReview as Administrator; returns the instance id.
async fn start_review(addr: std::net::SocketAddr) -> String {
    let (status, body) = raw(
        addr,
        "POST",
        "/api/v1/workflow",
        "Administrator",
        r#"{"entity-type":"workflow","workflowModelName":"SerialDocumentReview"}"#,
    )
    .await;
    assert_eq!(status, 201, "{body}");
    let wf: serde_json::Value = serde_json::from_str(&body).expect("json");
    wf["id"].as_str().expect("id").to_owned()
}

#[actix_web::test]
async fn twenty_concurrent_completions_of_one_task_yield_one_200_and_nineteen_409() {
    let state = AppState::new(settings("[server]\nbind = \"127.0.0.1:0\"\n")).expect("state");
    let running = flowgate::spawn(state).await.expect("spawn");
    let addr = running.addr;
    let test = async {
        let wf = start_review(addr).await;
        let (_, body) = raw(
            addr,
            "GET",
            &format!("/api/v1/task?workflowInstanceId={wf}"),
            "Administrator",
            "",
        )
        .await;
        let tasks: serde_json::Value = serde_json::from_str(&body).unwrap();
        let t = tasks["entries"][0]["id"].as_str().unwrap().to_owned();
        let body = json!({"entity-type":"task","id":t,"variables":{"participants":["user:jdoe"]}})
            .to_string();
        let path = format!("/api/v1/task/{t}/start_review");
        let results = futures::future::join_all(
            (0..20).map(|_| raw(addr, "PUT", &path, "Administrator", &body)),
        )
        .await;
        let ok = results.iter().filter(|(s, _)| *s == 200).count();
        let conflict = results.iter().filter(|(s, _)| *s == 409).count();
        assert_eq!((ok, conflict), (1, 19), "{results:?}");
        // The workflow advanced exactly once: one review task for jdoe.
        let (_, body) = raw(
            addr,
            "GET",
            &format!("/api/v1/task?workflowInstanceId={wf}"),
            "Administrator",
            "",
        )
        .await;
        let tasks: serde_json::Value = serde_json::from_str(&body).unwrap();
        let entries = tasks["entries"].as_array().unwrap();
        assert_eq!(entries.len(), 1);
        assert_eq!(entries[0]["nodeName"], "Task6d8");
    };
    let outcome = tokio::time::timeout(Duration::from_secs(30), test).await;
    running.stop().await;
    outcome.expect("test finished in time");
}

#[actix_web::test]
async fn in_process_concurrent_completions_also_have_one_winner() {
    let gw = TestGateway::new().await;
    let wf = gw.start("jdoe", "SerialDocumentReview", None).await;
    let t = gw.only_task("jdoe", wf["id"].as_str().unwrap()).await;
    let id = t["id"].as_str().unwrap();
    let results =
        futures::future::join_all((0..10).map(|_| gw.complete("jdoe", id, "cancel", json!({}))))
            .await;
    let ok = results.iter().filter(|r| r.status.as_u16() == 200).count();
    let conflict = results.iter().filter(|r| r.status.as_u16() == 409).count();
    assert_eq!((ok, conflict), (1, 9));
}

/// Sends `request` bytes as they are and reads until the server closes.
async fn exchange(addr: std::net::SocketAddr, request: &[u8]) -> String {
    let mut s = TcpStream::connect(addr).await.expect("connect");
    s.write_all(request).await.expect("write");
    let mut out = Vec::new();
    s.read_to_end(&mut out).await.expect("read");
    String::from_utf8_lossy(&out).into_owned()
}

async fn served<F: std::future::Future<Output = ()>>(
    extra: &str,
    test: impl FnOnce(std::net::SocketAddr) -> F,
) {
    let toml = format!("[server]\nbind = \"127.0.0.1:0\"\n{extra}");
    let state = AppState::new(settings(&toml)).expect("state");
    let running = flowgate::spawn(state).await.expect("spawn");
    let outcome = tokio::time::timeout(Duration::from_secs(30), test(running.addr)).await;
    running.stop().await;
    outcome.expect("test finished in time");
}

/// Ten requests written at once on one connection, then eight connections doing the
/// same at the same time: every response arrives whole, in request order.
async fn pipelined_and_concurrent(addr: std::net::SocketAddr) {
    let auth = basic("Administrator");
    let wf = start_review(addr).await;
    let mut request = String::new();
    for n in 0..10 {
        let close = if n == 9 { "Connection: close\r\n" } else { "" };
        let path = if n % 2 == 0 {
            format!("/api/v1/workflow/{wf}")
        } else {
            format!("/api/v1/task?workflowInstanceId={wf}&n={n}")
        };
        request.push_str(&format!(
            "GET {path} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: {auth}\r\n{close}\r\n"
        ));
    }
    let answers =
        futures::future::join_all((0..8).map(|_| exchange(addr, request.as_bytes()))).await;
    for text in answers {
        let mut rest = text.as_str();
        for n in 0..10 {
            let (head, after) = rest.split_once("\r\n\r\n").expect("a response head");
            assert!(head.starts_with("HTTP/1.1 200"), "response {n}: {head}");
            let length: usize = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length: "))
                .and_then(|v| v.parse().ok())
                .expect("content-length");
            let body: serde_json::Value =
                serde_json::from_str(&after[..length]).expect("json body");
            if n % 2 == 0 {
                assert_eq!(body["entity-type"], "workflow", "response {n}");
                assert_eq!(body["id"], wf.as_str());
            } else {
                assert_eq!(body["entity-type"], "tasks", "response {n}");
                assert_eq!(body["entries"][0]["workflowInstanceId"], wf.as_str());
            }
            rest = &after[length..];
        }
        assert!(
            rest.is_empty(),
            "nothing after the tenth response: {rest:?}"
        );
    }
}

#[actix_web::test]
async fn pipelined_and_concurrent_requests_are_answered_whole_and_in_order() {
    served("", pipelined_and_concurrent).await;
}

#[actix_web::test]
async fn links_of_a_request_naming_no_host_use_the_listening_address() {
    served("", |addr| async move {
        let auth = basic("Administrator");
        let text = exchange(
            addr,
            format!("GET /nuxeo/api/v1/workflowModel/SerialDocumentReview HTTP/1.0\r\nAuthorization: {auth}\r\n\r\n")
                .as_bytes(),
        )
        .await;
        let (head, body) = text.split_once("\r\n\r\n").expect("a response");
        assert!(head.starts_with("HTTP/1.0 200"), "{head}");
        let model: serde_json::Value = serde_json::from_str(body).expect("json");
        let graph = model["graphResource"].as_str().expect("graphResource");
        assert_eq!(
            graph,
            format!("http://{addr}/nuxeo/api/v1/workflowModel/SerialDocumentReview/graph")
        );
    })
    .await;
}
