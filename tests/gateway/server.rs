//! actix-web's `HttpServer` with the `[server]` settings, on a real socket: keep-alive,
//! the time a client has to send a request head, a graceful stop with idle connections
//! open, and the removed `batch_writes` key.

use std::time::{Duration, Instant};

use flowgate::settings::{Settings, Sources};
use flowgate::AppState;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::common::{basic, settings};

async fn start(extra: &str) -> flowgate::Running {
    let toml = format!("[server]\nbind = \"127.0.0.1:0\"\n{extra}");
    let state = AppState::new(settings(&toml)).expect("state");
    flowgate::spawn(state).await.expect("spawn")
}

/// Reads one response with a `content-length` body; returns its head.
async fn read_response(s: &mut TcpStream) -> String {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        let n = s.read(&mut chunk).await.expect("read");
        assert!(n > 0, "connection closed before a whole response");
        buf.extend_from_slice(&chunk[..n]);
        let text = String::from_utf8_lossy(&buf).into_owned();
        if let Some((head, body)) = text.split_once("\r\n\r\n") {
            let length: usize = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length: "))
                .and_then(|v| v.trim().parse().ok())
                .unwrap_or(0);
            if body.len() >= length {
                return head.to_owned();
            }
        }
    }
}

/// Waits until the server closes `s` (read returns 0); returns the bytes it sent.
async fn until_closed(s: &mut TcpStream, within: Duration) -> Option<String> {
    let mut out = Vec::new();
    let read = tokio::time::timeout(within, s.read_to_end(&mut out)).await;
    match read {
        Ok(Ok(_)) | Ok(Err(_)) => Some(String::from_utf8_lossy(&out).into_owned()),
        Err(_) => None,
    }
}

fn get_models(host: &str) -> String {
    format!(
        "GET /api/v1/workflowModel HTTP/1.1\r\nHost: {host}\r\nAuthorization: {}\r\n\r\n",
        basic("Administrator")
    )
}

#[actix_web::test]
async fn idle_keep_alive_connections_close_after_keep_alive_secs() {
    let running = start("keep_alive_secs = 1\n").await;
    let addr = running.addr;
    let mut s = TcpStream::connect(addr).await.expect("connect");
    s.write_all(get_models(&addr.to_string()).as_bytes())
        .await
        .expect("write");
    let head = read_response(&mut s).await;
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    let idle = Instant::now();
    let rest = until_closed(&mut s, Duration::from_secs(10))
        .await
        .expect("the idle connection is closed");
    assert!(rest.is_empty(), "{rest}");
    let waited = idle.elapsed();
    assert!(
        waited >= Duration::from_millis(500),
        "closed after {waited:?}"
    );
    running.stop().await;
}

#[actix_web::test]
async fn keep_alive_zero_closes_every_connection_after_its_response() {
    let running = start("keep_alive_secs = 0\n").await;
    let addr = running.addr;
    let mut s = TcpStream::connect(addr).await.expect("connect");
    s.write_all(get_models(&addr.to_string()).as_bytes())
        .await
        .expect("write");
    let text = until_closed(&mut s, Duration::from_secs(5))
        .await
        .expect("closed after the response");
    assert!(text.starts_with("HTTP/1.1 200"), "{text}");
    assert!(
        text.to_ascii_lowercase().contains("connection: close"),
        "{text}"
    );
    running.stop().await;
}

#[actix_web::test]
async fn a_request_head_slower_than_client_request_timeout_ends_the_connection() {
    let running = start("client_request_timeout_ms = 300\n").await;
    let mut s = TcpStream::connect(running.addr).await.expect("connect");
    // Half a request line, then nothing.
    s.write_all(b"GET /api/v1/workflowModel HT")
        .await
        .expect("write");
    let started = Instant::now();
    let text = until_closed(&mut s, Duration::from_secs(10))
        .await
        .expect("the connection is ended");
    assert!(
        text.is_empty() || text.starts_with("HTTP/1.1 408"),
        "{text}"
    );
    assert!(started.elapsed() < Duration::from_secs(5));
    running.stop().await;
}

#[actix_web::test]
async fn a_generous_client_request_timeout_waits_for_the_head() {
    let running = start("client_request_timeout_ms = 10000\n").await;
    let addr = running.addr;
    let mut s = TcpStream::connect(addr).await.expect("connect");
    let request = get_models(&addr.to_string());
    let (first, second) = request.split_at(20);
    s.write_all(first.as_bytes()).await.expect("write");
    tokio::time::sleep(Duration::from_millis(800)).await;
    s.write_all(second.as_bytes()).await.expect("write");
    let head = read_response(&mut s).await;
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    running.stop().await;
}

#[actix_web::test]
async fn a_graceful_stop_does_not_wait_for_idle_connections() {
    let running = start("keep_alive_secs = 60\nshutdown_timeout_secs = 30\n").await;
    let addr = running.addr;
    let mut s = TcpStream::connect(addr).await.expect("connect");
    s.write_all(get_models(&addr.to_string()).as_bytes())
        .await
        .expect("write");
    let head = read_response(&mut s).await;
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    let started = Instant::now();
    tokio::time::timeout(Duration::from_secs(20), running.stop())
        .await
        .expect("stopped well before shutdown_timeout_secs");
    assert!(started.elapsed() < Duration::from_secs(20));
}

#[test]
fn the_removed_batch_writes_key_is_refused_by_name() {
    let err = Settings::load(&Sources::from_toml("[server]\nbatch_writes = true\n"))
        .expect_err("refused");
    assert!(err.to_string().contains("server.batch_writes"), "{err}");
}

#[test]
fn server_timeouts_are_read_from_settings() {
    let s = Settings::load(&Sources::from_toml(
        "[server]\nkeep_alive_secs = 7\nclient_request_timeout_ms = 1234\nshutdown_timeout_secs = 3\nworkers = 3\n",
    ))
    .expect("valid");
    assert_eq!(s.server.keep_alive_secs, 7);
    assert_eq!(s.server.client_request_timeout_ms, 1234);
    assert_eq!(s.server.shutdown_timeout_secs, 3);
    assert_eq!(s.server.workers, 3);
}
