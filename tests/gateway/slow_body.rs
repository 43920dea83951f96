//! Request bodies on a real socket: a body sent too slowly is answered 408 and its
//! connection closed; many such senders cannot hold the server.

use std::time::Duration;

use flowgate::AppState;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::common::{basic, settings};

const HEAD: &str = "POST /api/v1/workflow HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 200\r\n";

/// Sends complete headers, then one body byte every 100 ms until the server answers;
/// returns what it answered and whether it then closed the connection.
async fn trickle(addr: std::net::SocketAddr) -> (String, bool) {
    let mut s = TcpStream::connect(addr).await.expect("connect");
    let head = format!("{HEAD}Authorization: {}\r\n\r\n", basic("jdoe"));
    s.write_all(head.as_bytes()).await.expect("headers");
    let mut buf = vec![0u8; 4096];
    let mut got = Vec::new();
    for _ in 0..100 {
        // The server may already have closed its side; later writes then fail.
        let _ = s.write_all(b" ").await;
        match tokio::time::timeout(Duration::from_millis(100), s.read(&mut buf)).await {
            Ok(Ok(0)) => return (String::from_utf8_lossy(&got).into_owned(), true),
            Ok(Ok(n)) => got.extend_from_slice(&buf[..n]),
            Ok(Err(_)) => return (String::from_utf8_lossy(&got).into_owned(), true),
            Err(_) => {}
        }
    }
    (String::from_utf8_lossy(&got).into_owned(), false)
}

#[actix_web::test]
async fn a_slow_body_is_cut_off_with_408_and_the_connection_closed() {
    let state = AppState::new(settings(
        "[server]\nbind = \"127.0.0.1:0\"\nbody_timeout_ms = 500\nrequest_timeout_ms = 30000\n",
    ))
    .expect("state");
    let running = flowgate::spawn(state).await.expect("spawn");
    let addr = running.addr;
    let test = async {
        let started = std::time::Instant::now();
        let (answer, closed) = trickle(addr).await;
        assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
        assert!(answer.contains("\"entity-type\":\"exception\""), "{answer}");
        assert!(closed, "the connection stays open after the 408");
        assert!(started.elapsed() < Duration::from_secs(5));
        // Many slow senders at once are all cut, and the server still answers others.
        let all = futures::future::join_all((0..50).map(|_| trickle(addr))).await;
        assert!(all.iter().all(|(a, c)| a.starts_with("HTTP/1.1 408") && *c));
        let mut s = TcpStream::connect(addr).await.expect("connect");
        let req = format!(
            "GET /api/v1/workflow HTTP/1.1\r\nHost: x\r\nAuthorization: {}\r\nConnection: close\r\n\r\n",
            basic("jdoe")
        );
        s.write_all(req.as_bytes()).await.expect("write");
        let mut out = String::new();
        s.read_to_string(&mut out).await.expect("read");
        assert!(out.starts_with("HTTP/1.1 200"), "{out}");
    };
    tokio::time::timeout(Duration::from_secs(60), test)
        .await
        .expect("bounded");
    running.stop().await;
}

#[actix_web::test]
async fn a_refused_body_closes_its_connection() {
    let state = AppState::new(settings("[server]\nbind = \"127.0.0.1:0\"\n")).expect("state");
    let running = flowgate::spawn(state).await.expect("spawn");
    let addr = running.addr;
    let test = async {
        let mut s = TcpStream::connect(addr).await.expect("connect");
        let body = "entity-type=workflow&workflowModelName=SerialDocumentReview";
        let req = format!(
            "POST /api/v1/workflow HTTP/1.1\r\nHost: x\r\nAuthorization: {}\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{body}",
            basic("jdoe"),
            body.len()
        );
        s.write_all(req.as_bytes()).await.expect("write");
        let mut out = String::new();
        s.read_to_string(&mut out).await.expect("read until closed");
        assert!(out.starts_with("HTTP/1.1 415"), "{out}");
        assert!(
            out.to_ascii_lowercase().contains("connection: close"),
            "{out}"
        );
    };
    tokio::time::timeout(Duration::from_secs(30), test)
        .await
        .expect("bounded");
    running.stop().await;
}
