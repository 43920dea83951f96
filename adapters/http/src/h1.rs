//! A small HTTP/1.1 client for plain-`http` upstreams.
//!
//! A gateway call is one request and one bounded answer. reqwest's general-purpose
//! stack spends several times the work of that exchange around it: tower layers for
//! redirects and retries, the URL parsed again per request, a proxy match, and a
//! connection task per connection that the caller talks to over channels. Here a call
//! takes an idle keep-alive connection from its runtime's pool (or opens one), writes
//! the request in one piece, reads the answer in the calling task and puts the
//! connection back when the answer ended cleanly and the server keeps it open.
//!
//! Framing follows RFC 9112 §6.3: no body after `HEAD`, 1xx, 204 and 304; a
//! `Transfer-Encoding` ending in `chunked` is decoded; otherwise `Content-Length`
//! (several values must agree); otherwise the body runs to the end of the connection.
//! Interim 1xx answers are skipped. Heads are bounded in size; bodies by the caller's
//! limit. Time is bounded by the caller (the whole exchange runs under its timeout).

use std::io;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::{Buf, Bytes, BytesMut};
use reqwest::header::HeaderMap;
use reqwest::StatusCode;
use tokio::io::{AsyncReadExt, AsyncWriteExt, Interest};
use tokio::net::TcpStream;

use crate::request::RequestBuilder;

/// Largest answer head (status line and headers) accepted.
const MAX_HEAD: usize = 64 * 1024;
/// Most header fields in one answer head.
const MAX_HEADERS: usize = 100;
/// Longest chunk-size line or trailer section accepted in a chunked body.
const MAX_CHUNK_LINE: usize = 4 * 1024;
const MAX_TRAILERS: usize = 16 * 1024;
/// Bytes asked of the socket per read.
const READ_SIZE: usize = 16 * 1024;

/// Why an exchange failed.
#[derive(Debug)]
pub(crate) enum Failure {
    /// No connection could be made: nothing was sent.
    Connect(io::Error),
    /// The connection broke, or the answer was not well-formed HTTP/1.1.
    Broken(&'static str),
    /// The answer's body is larger than the caller's limit.
    TooLarge(StatusCode),
}

/// One complete answer.
#[derive(Debug)]
pub(crate) struct Answer {
    pub status: StatusCode,
    pub fields: Fields,
    pub body: Bytes,
}

/// An answer's header fields, kept as the bytes they arrived in: callers look up one or
/// two of them, which costs less than building a map of all.
#[derive(Debug, Default)]
pub(crate) struct Fields {
    bytes: Bytes,
    /// (name, value) byte ranges in `bytes`.
    spans: Vec<(std::ops::Range<usize>, std::ops::Range<usize>)>,
}

impl Fields {
    /// The first field named `name` (case-insensitive), if its value is text.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.spans
            .iter()
            .find(|(n, _)| self.bytes[n.clone()].eq_ignore_ascii_case(name.as_bytes()))
            .and_then(|(_, v)| std::str::from_utf8(&self.bytes[v.clone()]).ok())
    }

    /// The fields of an answer read by reqwest.
    pub fn from_map(map: &HeaderMap) -> Self {
        let mut bytes = Vec::new();
        let mut spans = Vec::with_capacity(map.len());
        for (name, value) in map {
            let n = bytes.len()..bytes.len() + name.as_str().len();
            bytes.extend_from_slice(name.as_str().as_bytes());
            let v = bytes.len()..bytes.len() + value.len();
            bytes.extend_from_slice(value.as_bytes());
            spans.push((n, v));
        }
        Self {
            bytes: bytes.into(),
            spans,
        }
    }
}

/// The server every request of a pool goes to.
#[derive(Debug, Clone)]
pub(crate) struct Origin {
    /// Host name or address literal, as written in URLs (`[::1]` for IPv6).
    host: String,
    port: u16,
    /// `Host` header value: the host, and the port unless it is 80.
    authority: String,
}

impl Origin {
    /// The origin of a plain-`http` URL; `None` for any other scheme.
    pub fn of(url: &url::Url) -> Option<Self> {
        if url.scheme() != "http" {
            return None;
        }
        let host = url.host_str()?.to_owned();
        let port = url.port_or_known_default()?;
        let authority = if port == 80 {
            host.clone()
        } else {
            format!("{host}:{port}")
        };
        Some(Self {
            host,
            port,
            authority,
        })
    }

    async fn connect(&self) -> io::Result<TcpStream> {
        // Address literals connect directly; names are resolved per new connection.
        let host = self.host.trim_start_matches('[').trim_end_matches(']');
        let stream = TcpStream::connect((host, self.port)).await?;
        stream.set_nodelay(true)?;
        Ok(stream)
    }
}

/// Writes the request line, header fields and body of `request` for `origin` into one
/// buffer.
pub(crate) fn encode(origin: &Origin, request: &RequestBuilder, user_agent: &str) -> Vec<u8> {
    let body = request.body.as_deref();
    let method = request.method.as_str();
    let target = request.target.as_str();
    let mut out = Vec::with_capacity(256 + target.len() + body.map_or(0, <[u8]>::len));
    out.extend_from_slice(method.as_bytes());
    out.push(b' ');
    out.extend_from_slice(target.as_bytes());
    out.extend_from_slice(b" HTTP/1.1\r\nhost: ");
    out.extend_from_slice(origin.authority.as_bytes());
    out.extend_from_slice(b"\r\n");
    let (mut agent, mut accept) = (false, false);
    for (name, value) in &request.headers {
        // Framing and routing are this client's to write.
        if matches!(
            name.as_str(),
            "host" | "content-length" | "transfer-encoding" | "connection"
        ) {
            continue;
        }
        agent |= name == reqwest::header::USER_AGENT;
        accept |= name == reqwest::header::ACCEPT;
        out.extend_from_slice(name.as_str().as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(value.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    if !agent {
        out.extend_from_slice(b"user-agent: ");
        out.extend_from_slice(user_agent.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    if !accept {
        out.extend_from_slice(b"accept: */*\r\n");
    }
    if body.is_some() || matches!(method, "POST" | "PUT" | "PATCH") {
        out.extend_from_slice(b"content-length: ");
        out.extend_from_slice(body.map_or(0, <[u8]>::len).to_string().as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"\r\n");
    if let Some(b) = body {
        out.extend_from_slice(b);
    }
    out
}

/// Idle keep-alive connections to one origin, for the tasks of one Tokio runtime (a
/// socket is driven by the reactor of the runtime that opened it).
#[derive(Debug)]
pub(crate) struct Pool {
    origin: Origin,
    idle: parking_lot::Mutex<Vec<Idle>>,
    max_idle: usize,
    idle_timeout: Duration,
    connect_timeout: Duration,
}

#[derive(Debug)]
struct Idle {
    conn: Conn,
    since: Instant,
}

impl Pool {
    pub fn new(
        origin: Origin,
        max_idle: usize,
        idle_timeout: Duration,
        connect_timeout: Duration,
    ) -> Self {
        Self {
            origin,
            idle: parking_lot::Mutex::new(Vec::new()),
            max_idle: max_idle.max(1),
            idle_timeout,
            connect_timeout,
        }
    }

    pub fn origin(&self) -> &Origin {
        &self.origin
    }

    /// Sends `request` (from [`encode`]) and reads the whole answer, its body at most
    /// `limit` bytes. `head_only` marks a `HEAD` request (no body follows its answer).
    ///
    /// A pooled connection may have been closed by the server since its last answer
    /// (an idle timeout) without this client having noticed yet: the request then fails
    /// before a byte of answer arrives. A repeatable request (`idempotent`) is sent once
    /// more on a new connection; any other is sent only on a connection checked with a
    /// system call just before, and its failure is reported, as its outcome is unknown.
    pub async fn exchange(
        &self,
        request: &[u8],
        idempotent: bool,
        head_only: bool,
        limit: usize,
    ) -> Result<Answer, Failure> {
        if let Some(mut conn) = self.checkout(!idempotent) {
            let result = conn.round_trip(request, head_only, limit).await;
            match result {
                Err(Failure::Broken(_)) if idempotent && conn.received == 0 => {}
                other => return self.finish(conn, other),
            }
        }
        let stream = match tokio::time::timeout(self.connect_timeout, self.origin.connect()).await {
            Ok(Ok(s)) => s,
            Ok(Err(e)) => return Err(Failure::Connect(e)),
            Err(_) => {
                return Err(Failure::Connect(io::Error::new(
                    io::ErrorKind::TimedOut,
                    "connect timed out",
                )))
            }
        };
        let mut conn = Conn::new(stream);
        let result = conn.round_trip(request, head_only, limit).await;
        self.finish(conn, result)
    }

    fn finish(
        &self,
        conn: Conn,
        result: Result<(Answer, bool), Failure>,
    ) -> Result<Answer, Failure> {
        let (answer, reusable) = result?;
        if reusable {
            self.checkin(conn);
        }
        Ok(answer)
    }

    /// The most recently used idle connection still open, if any.
    /// `probe` asks the socket itself rather than the runtime's last word on it.
    fn checkout(&self, probe: bool) -> Option<Conn> {
        let now = Instant::now();
        loop {
            let idle = self.idle.lock().pop()?;
            if now.saturating_duration_since(idle.since) < self.idle_timeout
                && idle.conn.is_open(probe)
            {
                return Some(idle.conn);
            }
        }
    }

    fn checkin(&self, conn: Conn) {
        conn.forget_readiness();
        let now = Instant::now();
        let mut idle = self.idle.lock();
        // The longest-idle connections sit at the front: close those past the timeout.
        let stale = idle
            .iter()
            .take_while(|i| now.saturating_duration_since(i.since) >= self.idle_timeout)
            .count();
        idle.drain(..stale);
        if idle.len() < self.max_idle {
            idle.push(Idle { conn, since: now });
        }
    }

    #[cfg(test)]
    fn idle_count(&self) -> usize {
        self.idle.lock().len()
    }
}

#[derive(Debug)]
struct Conn {
    stream: TcpStream,
    buf: BytesMut,
    /// Bytes of answer read since the current request was written.
    received: usize,
}

/// How an answer's body is delimited.
enum Framing {
    Empty,
    Length(usize),
    Chunked,
    UntilClose,
}

struct Head {
    status: StatusCode,
    /// Byte ranges of the header fields within the head.
    spans: Vec<(std::ops::Range<usize>, std::ops::Range<usize>)>,
    framing: Framing,
    keep_alive: bool,
}

impl Conn {
    fn new(stream: TcpStream) -> Self {
        Self {
            stream,
            buf: BytesMut::new(),
            received: 0,
        }
    }

    /// Writes `request` and reads its answer: the answer and whether the connection can
    /// carry another request.
    async fn round_trip(
        &mut self,
        request: &[u8],
        head_only: bool,
        limit: usize,
    ) -> Result<(Answer, bool), Failure> {
        self.received = 0;
        if self.stream.write_all(request).await.is_err() {
            return Err(Failure::Broken(
                "the connection closed while the request was written",
            ));
        }
        self.read_answer(head_only, limit).await
    }

    /// Reads more bytes into the buffer; `Ok(0)` at the end of the connection.
    async fn fill(&mut self) -> Result<usize, Failure> {
        if self.buf.capacity() - self.buf.len() < READ_SIZE / 4 {
            self.buf.reserve(READ_SIZE);
        }
        let n = self
            .stream
            .read_buf(&mut self.buf)
            .await
            .map_err(|_| Failure::Broken("the connection failed while reading the answer"))?;
        self.received += n;
        Ok(n)
    }

    async fn read_answer(
        &mut self,
        head_only: bool,
        limit: usize,
    ) -> Result<(Answer, bool), Failure> {
        self.buf.clear();
        let head = loop {
            match parse_head(&self.buf, head_only)? {
                Some((head, used)) => {
                    if head.status.is_informational() {
                        self.buf.advance(used);
                        continue;
                    }
                    let bytes = self.buf.split_to(used).freeze();
                    break (head, bytes);
                }
                None if self.buf.len() > MAX_HEAD => {
                    return Err(Failure::Broken("the answer head is too large"))
                }
                None => {
                    if self.fill().await? == 0 {
                        return Err(Failure::Broken("the connection closed before an answer"));
                    }
                }
            }
        };
        let (head, head_bytes) = head;
        let mut keep_alive = head.keep_alive;
        let body = match head.framing {
            Framing::Empty => Bytes::new(),
            Framing::Length(n) => {
                if n > limit {
                    return Err(Failure::TooLarge(head.status));
                }
                while self.buf.len() < n {
                    if self.fill().await? == 0 {
                        return Err(Failure::Broken("the connection closed inside the answer"));
                    }
                }
                self.buf.split_to(n).freeze()
            }
            Framing::Chunked => self.read_chunked(head.status, limit).await?,
            Framing::UntilClose => {
                keep_alive = false;
                loop {
                    if self.buf.len() > limit {
                        return Err(Failure::TooLarge(head.status));
                    }
                    if self.fill().await? == 0 {
                        break;
                    }
                }
                self.buf.split().freeze()
            }
        };
        // Bytes past the answer mean the server and this client disagree on framing.
        let reusable = keep_alive && self.buf.is_empty();
        Ok((
            Answer {
                status: head.status,
                fields: Fields {
                    bytes: head_bytes,
                    spans: head.spans,
                },
                body,
            },
            reusable,
        ))
    }

    async fn read_chunked(&mut self, status: StatusCode, limit: usize) -> Result<Bytes, Failure> {
        let mut body = BytesMut::new();
        loop {
            // chunk-size [; extensions] CRLF
            let line_end = loop {
                if let Some(i) = find_crlf(&self.buf) {
                    break i;
                }
                if self.buf.len() > MAX_CHUNK_LINE {
                    return Err(Failure::Broken("a chunk-size line is too long"));
                }
                if self.fill().await? == 0 {
                    return Err(Failure::Broken("the connection closed inside the answer"));
                }
            };
            let size = chunk_size(&self.buf[..line_end])?;
            self.buf.advance(line_end + 2);
            if size == 0 {
                break;
            }
            if body.len().saturating_add(size) > limit {
                return Err(Failure::TooLarge(status));
            }
            // chunk-data CRLF
            while self.buf.len() < size + 2 {
                if self.fill().await? == 0 {
                    return Err(Failure::Broken("the connection closed inside the answer"));
                }
            }
            body.extend_from_slice(&self.buf[..size]);
            if &self.buf[size..size + 2] != b"\r\n" {
                return Err(Failure::Broken("a chunk does not end with CRLF"));
            }
            self.buf.advance(size + 2);
        }
        // trailer-section CRLF: skipped.
        let mut seen = 0usize;
        loop {
            match find_crlf(&self.buf) {
                Some(0) => {
                    self.buf.advance(2);
                    return Ok(body.freeze());
                }
                Some(i) => {
                    seen += i + 2;
                    self.buf.advance(i + 2);
                }
                None => {
                    if self.fill().await? == 0 {
                        return Err(Failure::Broken("the connection closed inside the answer"));
                    }
                }
            }
            if seen + self.buf.len() > MAX_TRAILERS {
                return Err(Failure::Broken("the trailer section is too large"));
            }
        }
    }

    /// Whether an idle connection can still be used: nothing, not even the end of the
    /// stream, has arrived on it since its last answer. Without `probe` this trusts the
    /// runtime's readiness (no system call unless something arrived); with it, the
    /// socket is asked directly.
    fn is_open(&self, probe: bool) -> bool {
        let mut cx = Context::from_waker(std::task::Waker::noop());
        let ready = self.stream.poll_read_ready(&mut cx);
        match ready {
            Poll::Ready(Err(_)) => false,
            Poll::Pending if !probe => true,
            _ => {
                let mut byte = [std::mem::MaybeUninit::<u8>::uninit()];
                matches!(
                    socket2::SockRef::from(&self.stream).peek(&mut byte),
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock
                )
            }
        }
    }

    /// Drops the read readiness left over from the answer just read, so that
    /// [`Conn::is_open`] sees only what arrives while the connection is idle (a close
    /// by the server) without a system call in the common case.
    fn forget_readiness(&self) {
        let _ = self.stream.try_io(Interest::READABLE, || {
            Err::<(), _>(io::Error::from(io::ErrorKind::WouldBlock))
        });
    }
}

fn find_crlf(buf: &[u8]) -> Option<usize> {
    buf.windows(2).position(|w| w == b"\r\n")
}

fn chunk_size(line: &[u8]) -> Result<usize, Failure> {
    let digits = line
        .split(|&b| b == b';')
        .next()
        .unwrap_or_default()
        .trim_ascii();
    if digits.is_empty() || digits.len() > 15 {
        return Err(Failure::Broken("a chunk size is not valid"));
    }
    let mut size = 0usize;
    for &d in digits {
        let v = match d {
            b'0'..=b'9' => d - b'0',
            b'a'..=b'f' => d - b'a' + 10,
            b'A'..=b'F' => d - b'A' + 10,
            _ => return Err(Failure::Broken("a chunk size is not valid")),
        };
        size = size * 16 + usize::from(v);
    }
    Ok(size)
}

/// Parses an answer head at the start of `buf`: the head and its length, or `None`
/// when more bytes are needed.
fn parse_head(buf: &[u8], head_only: bool) -> Result<Option<(Head, usize)>, Failure> {
    let mut fields = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut resp = httparse::Response::new(&mut fields);
    let used = match resp.parse(buf) {
        Ok(httparse::Status::Complete(n)) => n,
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(_) => return Err(Failure::Broken("the answer is not HTTP/1.1")),
    };
    let code = resp.code.unwrap_or_default();
    let status = StatusCode::from_u16(code)
        .map_err(|_| Failure::Broken("the answer has an invalid status"))?;
    if code == 101 {
        return Err(Failure::Broken("the server switched protocols unasked"));
    }
    let mut spans = Vec::with_capacity(resp.headers.len());
    let mut length: Option<usize> = None;
    let mut chunked = None::<bool>;
    let mut close = resp.version != Some(1);
    let start = buf.as_ptr() as usize;
    for h in resp.headers.iter() {
        // httparse has checked the name is a token and the value has no line breaks.
        let name = h.name.as_bytes();
        if name.eq_ignore_ascii_case(b"content-length") {
            for part in h.value.split(|&b| b == b',') {
                let n = std::str::from_utf8(part.trim_ascii())
                    .ok()
                    .filter(|s| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()))
                    .and_then(|s| s.parse::<usize>().ok())
                    .ok_or(Failure::Broken("the answer has an invalid Content-Length"))?;
                if length.is_some_and(|l| l != n) {
                    return Err(Failure::Broken(
                        "the answer has conflicting Content-Lengths",
                    ));
                }
                length = Some(n);
            }
        } else if name.eq_ignore_ascii_case(b"transfer-encoding") {
            // The last coding applied decides; only `chunked` delimits the body.
            let last = h.value.rsplit(|&b| b == b',').next().unwrap_or_default();
            chunked = Some(last.trim_ascii().eq_ignore_ascii_case(b"chunked"));
        } else if name.eq_ignore_ascii_case(b"connection")
            && h.value
                .split(|&b| b == b',')
                .any(|t| t.trim_ascii().eq_ignore_ascii_case(b"close"))
        {
            close = true;
        }
        // Both slices point into `buf`.
        let n = name.as_ptr() as usize - start;
        let v = h.value.as_ptr() as usize - start;
        spans.push((n..n + name.len(), v..v + h.value.len()));
    }
    let framing = if head_only
        || status.is_informational()
        || status == StatusCode::NO_CONTENT
        || status == StatusCode::NOT_MODIFIED
    {
        Framing::Empty
    } else if let Some(is_chunked) = chunked {
        // Transfer-Encoding overrides Content-Length; a message carrying both is not
        // trusted with another request afterwards.
        if length.is_some() {
            close = true;
        }
        if is_chunked {
            Framing::Chunked
        } else {
            Framing::UntilClose
        }
    } else if let Some(n) = length {
        Framing::Length(n)
    } else {
        Framing::UntilClose
    };
    Ok(Some((
        Head {
            status,
            spans,
            framing,
            keep_alive: !close,
        },
        used,
    )))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;
    use tokio::net::TcpListener;

    /// A server that answers each request on a connection with the next canned answer
    /// (raw bytes), then closes the connection when the list is used up. Counts
    /// accepted connections and keeps every request it read.
    async fn server(
        answers: Vec<Vec<&'static [u8]>>,
    ) -> (
        url::Url,
        Arc<AtomicUsize>,
        Arc<parking_lot::Mutex<Vec<String>>>,
    ) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let accepted = Arc::new(AtomicUsize::new(0));
        let seen = Arc::new(parking_lot::Mutex::new(Vec::new()));
        let (a, s) = (accepted.clone(), seen.clone());
        tokio::spawn(async move {
            let mut per_conn = answers.into_iter();
            loop {
                let Ok((mut sock, _)) = listener.accept().await else {
                    return;
                };
                a.fetch_add(1, Ordering::SeqCst);
                let script = per_conn.next().unwrap_or_default();
                let s = s.clone();
                tokio::spawn(async move {
                    for answer in script {
                        let mut got = Vec::new();
                        let mut buf = [0u8; 4096];
                        while !got.windows(4).any(|w| w == b"\r\n\r\n") {
                            match sock.read(&mut buf).await {
                                Ok(0) | Err(_) => return,
                                Ok(n) => got.extend_from_slice(&buf[..n]),
                            }
                        }
                        s.lock().push(String::from_utf8_lossy(&got).into_owned());
                        for piece in answer.chunks(7) {
                            if sock.write_all(piece).await.is_err() {
                                return;
                            }
                        }
                    }
                });
            }
        });
        (
            format!("http://{addr}/base/").parse().unwrap(),
            accepted,
            seen,
        )
    }

    fn pool(url: &url::Url) -> Pool {
        Pool::new(
            Origin::of(url).unwrap(),
            8,
            Duration::from_secs(60),
            Duration::from_secs(1),
        )
    }

    fn request(method: reqwest::Method, url: &url::Url, path: &str) -> RequestBuilder {
        let target = crate::urls::join(url, &[path], None).unwrap();
        RequestBuilder::new(method, target)
    }

    fn get(url: &url::Url, path: &str) -> Vec<u8> {
        let req = request(reqwest::Method::GET, url, path).header("authorization", "Basic eDp5");
        encode(&Origin::of(url).unwrap(), &req, "flowgate/test")
    }

    async fn exchange(p: &Pool, req: &[u8]) -> Result<Answer, Failure> {
        tokio::time::timeout(Duration::from_secs(5), p.exchange(req, true, false, 1024))
            .await
            .expect("bounded")
    }

    #[tokio::test]
    async fn requests_are_written_with_host_agent_and_length() {
        let (url, _, seen) = server(vec![vec![
            b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok",
        ]])
        .await;
        let p = pool(&url);
        let req = request(reqwest::Method::POST, &url, "things")
            .query(&[("x", "1 2")])
            .json(&serde_json::json!({"a": 1}));
        let bytes = encode(p.origin(), &req, "flowgate/test");
        let a = exchange(&p, &bytes).await.unwrap();
        assert_eq!((a.status.as_u16(), &a.body[..]), (200, &b"ok"[..]));
        let text = seen.lock()[0].clone();
        let port = url.port().unwrap();
        assert!(
            text.starts_with("POST /base/things?x=1+2 HTTP/1.1\r\n"),
            "{text}"
        );
        assert!(
            text.contains(&format!("\r\nhost: 127.0.0.1:{port}\r\n")),
            "{text}"
        );
        assert!(text.contains("\r\nuser-agent: flowgate/test\r\n"), "{text}");
        assert!(
            text.contains("\r\ncontent-type: application/json\r\n"),
            "{text}"
        );
        assert!(text.contains("\r\ncontent-length: 7\r\n"), "{text}");
    }

    #[tokio::test]
    async fn keep_alive_connections_are_reused_and_close_is_honoured() {
        let (url, accepted, _) = server(vec![
            vec![
                b"HTTP/1.1 200 OK\r\ncontent-length: 1\r\n\r\na",
                b"HTTP/1.1 200 OK\r\nconnection: close\r\ncontent-length: 1\r\n\r\nb",
            ],
            vec![b"HTTP/1.1 200 OK\r\ncontent-length: 1\r\n\r\nc"],
        ])
        .await;
        let p = pool(&url);
        let req = get(&url, "x");
        for want in [b"a", b"b", b"c"] {
            assert_eq!(&exchange(&p, &req).await.unwrap().body[..], want);
        }
        assert_eq!(accepted.load(Ordering::SeqCst), 2);
        assert_eq!(p.idle_count(), 1);
    }

    #[tokio::test]
    async fn header_fields_are_found_by_name_in_any_case() {
        let (url, _, _) = server(vec![vec![
            b"HTTP/1.1 201 Created\r\nLocation: /x/1\r\nX-Twice: first\r\nx-twice: second\r\nContent-Length: 0\r\n\r\n",
        ]])
        .await;
        let p = pool(&url);
        let a = exchange(&p, &get(&url, "x")).await.unwrap();
        assert_eq!(a.status.as_u16(), 201);
        assert_eq!(a.fields.get("location"), Some("/x/1"));
        assert_eq!(a.fields.get("X-TWICE"), Some("first"));
        assert_eq!(a.fields.get("content-length"), Some("0"));
        assert_eq!(a.fields.get("missing"), None);
        let mut map = HeaderMap::new();
        map.insert("retry-after", "3".parse().unwrap());
        assert_eq!(Fields::from_map(&map).get("Retry-After"), Some("3"));
    }

    #[tokio::test]
    async fn chunked_bodies_are_decoded_with_extensions_and_trailers() {
        let (url, _, _) = server(vec![vec![
            b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n5;ext=1\r\nhello\r\nA\r\n, world!!!\r\n0\r\nx-trailer: 1\r\n\r\n",
            b"HTTP/1.1 200 OK\r\ncontent-length: 4\r\n\r\nnext",
        ]])
        .await;
        let p = pool(&url);
        let req = get(&url, "x");
        assert_eq!(
            &exchange(&p, &req).await.unwrap().body[..],
            b"hello, world!!!"
        );
        // The connection ended cleanly after the trailers and carries the next answer.
        assert_eq!(&exchange(&p, &req).await.unwrap().body[..], b"next");
    }

    #[tokio::test]
    async fn interim_answers_are_skipped_and_bodiless_statuses_have_no_body() {
        let (url, _, _) = server(vec![vec![
            b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n",
            b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok",
        ]])
        .await;
        let p = pool(&url);
        let req = get(&url, "x");
        let a = exchange(&p, &req).await.unwrap();
        assert_eq!((a.status.as_u16(), a.body.len()), (204, 0));
        assert_eq!(&exchange(&p, &req).await.unwrap().body[..], b"ok");
    }

    #[tokio::test]
    async fn a_body_without_length_runs_to_the_end_of_the_connection() {
        let (url, accepted, _) = server(vec![
            vec![b"HTTP/1.1 200 OK\r\n\r\nuntil close"],
            vec![b"HTTP/1.1 200 OK\r\ncontent-length: 1\r\n\r\nz"],
        ])
        .await;
        let p = pool(&url);
        let req = get(&url, "x");
        assert_eq!(&exchange(&p, &req).await.unwrap().body[..], b"until close");
        assert_eq!(&exchange(&p, &req).await.unwrap().body[..], b"z");
        assert_eq!(accepted.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn malformed_or_oversized_answers_fail_cleanly() {
        let cases: Vec<(&'static [u8], &str)> = vec![
            (b"this is not http\r\n\r\n", "broken"),
            (b"HTTP/1.1 200 OK\r\ncontent-length: x\r\n\r\n", "broken"),
            (
                b"HTTP/1.1 200 OK\r\ncontent-length: 1, 2\r\n\r\nab",
                "broken",
            ),
            (
                b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\nzz\r\n",
                "broken",
            ),
            (
                b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n3\r\nabcXY",
                "broken",
            ),
            (
                b"HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\nshort",
                "broken",
            ),
            (b"HTTP/1.1 502 Bad\r\ncontent-length: 5000\r\n\r\n", "large"),
            (
                b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n800\r\n",
                "large",
            ),
            (b"HTTP/1.1 101 Switching Protocols\r\n\r\n", "broken"),
            (b"", "broken"),
        ];
        for (raw, want) in cases {
            let (url, _, _) = server(vec![vec![raw]]).await;
            let p = pool(&url);
            let got = exchange(&p, &get(&url, "x")).await;
            let kind = match &got {
                Err(Failure::Broken(_)) => "broken",
                Err(Failure::TooLarge(s)) => {
                    assert!(s.as_u16() == 502 || s.as_u16() == 200);
                    "large"
                }
                Err(Failure::Connect(_)) => "connect",
                Ok(_) => "ok",
            };
            assert_eq!(kind, want, "{}", String::from_utf8_lossy(raw));
            assert_eq!(p.idle_count(), 0, "a failed connection is not kept");
        }
    }

    #[tokio::test]
    async fn a_connection_the_server_closed_while_idle_is_not_used() {
        // The first connection answers once and then closes; the next request must go
        // out on a fresh connection instead of failing on the closed one.
        let (url, accepted, _) = server(vec![
            vec![b"HTTP/1.1 200 OK\r\ncontent-length: 1\r\n\r\na"],
            vec![b"HTTP/1.1 200 OK\r\ncontent-length: 1\r\n\r\nb"],
        ])
        .await;
        let p = pool(&url);
        let req = get(&url, "x");
        assert_eq!(&exchange(&p, &req).await.unwrap().body[..], b"a");
        assert_eq!(p.idle_count(), 1);
        // Let the server's close arrive.
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert_eq!(&exchange(&p, &req).await.unwrap().body[..], b"b");
        assert_eq!(accepted.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn a_read_on_a_connection_closed_under_it_goes_out_again_but_a_write_does_not() {
        // The server reads the second request on the first connection and closes it
        // without answering, as a server whose idle timeout fired at that moment does.
        let script = || {
            vec![
                vec![
                    &b"HTTP/1.1 200 OK\r\ncontent-length: 1\r\n\r\na"[..],
                    &b""[..],
                ],
                vec![&b"HTTP/1.1 200 OK\r\ncontent-length: 1\r\n\r\nb"[..]],
            ]
        };
        let (url, accepted, _) = server(script()).await;
        let p = pool(&url);
        let req = get(&url, "x");
        assert_eq!(&exchange(&p, &req).await.unwrap().body[..], b"a");
        assert_eq!(&exchange(&p, &req).await.unwrap().body[..], b"b");
        assert_eq!(accepted.load(Ordering::SeqCst), 2);

        let (url, accepted, _) = server(script()).await;
        let p = pool(&url);
        let req = get(&url, "x");
        assert_eq!(&exchange(&p, &req).await.unwrap().body[..], b"a");
        let once =
            tokio::time::timeout(Duration::from_secs(5), p.exchange(&req, false, false, 1024))
                .await
                .expect("bounded");
        assert!(matches!(once, Err(Failure::Broken(_))), "{once:?}");
        assert_eq!(accepted.load(Ordering::SeqCst), 1, "not sent again");
    }

    #[tokio::test]
    async fn refused_connections_are_connect_failures() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url: url::Url = format!("http://{}/", listener.local_addr().unwrap())
            .parse()
            .unwrap();
        drop(listener);
        let p = pool(&url);
        assert!(matches!(
            exchange(&p, &get(&url, "x")).await,
            Err(Failure::Connect(_))
        ));
    }

    #[test]
    fn origins_are_plain_http_only() {
        let o = Origin::of(&"http://example.test/alfresco/".parse().unwrap()).unwrap();
        assert_eq!(o.authority, "example.test");
        let o = Origin::of(&"http://example.test:8080/alfresco/".parse().unwrap()).unwrap();
        assert_eq!(o.authority, "example.test:8080");
        assert!(Origin::of(&"https://example.test/".parse().unwrap()).is_none());
        let v6 = Origin::of(&"http://[::1]:4502/".parse().unwrap()).unwrap();
        assert_eq!(v6.authority, "[::1]:4502");
    }
}
