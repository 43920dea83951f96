//! The per-engine upstream client: the layers around the engine's one
//! `reqwest::Client` (concurrency limit, circuit breaker, per-attempt deadline, retries).

use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use backon::{BackoffBuilder, ExponentialBuilder};
use flowgate_core::{CallContext, EngineError};
use reqwest::header::{HeaderName, HeaderValue};
use reqwest::StatusCode;
use serde::de::DeserializeOwned;
use tokio::sync::Semaphore;

use crate::breaker::{Breaker, BreakerState};
use crate::request::{RequestBuilder, Target};
use crate::settings::HttpSettings;
use crate::transport::{self, Failure, ProxyRefusal, Response};
use crate::urls;

const X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");
const TRACEPARENT: HeaderName = HeaderName::from_static("traceparent");

/// Whether repeating a call is harmless.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Idempotency {
    /// Reads, and writes that set an absolute state: retried on transient failures.
    Idempotent,
    /// Starts, completions, cancellations: retried only when the request was never sent.
    NonIdempotent,
}

/// One remote engine's HTTP client: one `reqwest::Client` (pooled connections, rustls)
/// wrapped in a concurrency limit, a circuit breaker, per-attempt timeouts and retries.
/// Cheap to clone.
#[derive(Clone, Debug)]
pub struct Upstream {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    engine: String,
    /// The engine name as a metric label (cloned per call without allocating).
    label: metrics::SharedString,
    base_url: url::Url,
    settings: HttpSettings,
    /// Every call to this engine goes through this client and its pool.
    client: reqwest::Client,
    breaker: Breaker,
    limit: Semaphore,
    /// The value last written to `flowgate_breaker_open` (2: none yet); the gauge is
    /// written when it changes, not on every call.
    open_shown: AtomicU8,
}

/// Cuts an upstream body for logs: the first 200 characters on one line. Never put
/// upstream bodies into client-facing messages.
pub fn snippet(body: &str) -> String {
    body.chars()
        .take(200)
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

impl Upstream {
    /// Builds the engine's client from its base URL and settings. Fails with
    /// `Unavailable` when a TLS file named in the settings cannot be read or parsed.
    pub fn new(
        engine: &str,
        base_url: url::Url,
        settings: HttpSettings,
    ) -> Result<Self, EngineError> {
        let client = transport::build_client(engine, &settings)?;
        let inner = Arc::new(Inner {
            engine: engine.to_owned(),
            label: metrics::SharedString::from(std::sync::Arc::<str>::from(engine)),
            breaker: Breaker::new(
                settings.breaker_failures,
                Duration::from_millis(settings.breaker_cooldown_ms),
            ),
            limit: Semaphore::new(settings.max_concurrency.max(1)),
            base_url,
            settings,
            client,
            open_shown: AtomicU8::new(2),
        });
        register(&inner);
        Ok(Self { inner })
    }

    /// The engine name used in messages, logs and metrics.
    pub fn engine(&self) -> &str {
        &self.inner.engine
    }

    /// The settings this client was built with.
    pub fn settings(&self) -> &HttpSettings {
        &self.inner.settings
    }

    /// The base URL every call goes under.
    pub fn base_url(&self) -> &url::Url {
        &self.inner.base_url
    }

    /// The current circuit-breaker state.
    pub fn breaker_state(&self) -> BreakerState {
        self.inner.breaker.state()
    }

    /// The base URL joined with `segments`, each percent-encoded as exactly one path
    /// segment. Empty, `.`/`..`, control-character and over-long segments are refused
    /// with `BadRequest` before anything is sent.
    pub fn url(&self, segments: &[&str]) -> Result<Target, EngineError> {
        urls::join(&self.inner.base_url, segments, None)
    }

    /// Like [`Upstream::url`], followed by an absolute repository path whose pieces are
    /// encoded one by one (slashes kept). Relative, `..`, `//` and control-character paths
    /// are refused.
    pub fn url_with_path(&self, segments: &[&str], abs_path: &str) -> Result<Target, EngineError> {
        urls::join(&self.inner.base_url, segments, Some(abs_path))
    }

    /// A request to fill in and pass to [`Upstream::send`].
    pub fn request(&self, method: reqwest::Method, target: Target) -> RequestBuilder {
        RequestBuilder::new(method, target)
    }

    /// Sends a request through the concurrency limit, the breaker, per-attempt timeouts
    /// and (for idempotent calls) retries. Every status the upstream answered is returned
    /// as `Ok`; the adapter maps error statuses itself.
    pub async fn send(
        &self,
        cx: &CallContext,
        op: &'static str,
        idem: Idempotency,
        req: RequestBuilder,
    ) -> Result<Response, EngineError> {
        let started = Instant::now();
        // Boxed: callers join several calls, and every future holding this one inline
        // would grow by its whole state (and be copied when it is boxed in turn).
        let result = Box::pin(self.send_inner(cx, op, idem, req)).await;
        let outcome = match &result {
            Ok(r) if r.status().is_server_error() => "upstream_error",
            Ok(_) => "ok",
            Err(e) => e.kind().code(),
        };
        let open = matches!(self.breaker_state(), BreakerState::Open);
        let elapsed = started.elapsed().as_secs_f64();
        let engine = &self.inner.label;
        metrics::counter!("flowgate_engine_calls_total", "engine" => engine.clone(), "op" => op, "outcome" => outcome)
            .increment(1);
        metrics::histogram!("flowgate_engine_call_duration_seconds", "engine" => engine.clone(), "op" => op)
            .record(elapsed);
        // Written, then remembered: a call racing with another that saw the other state
        // can leave the gauge stale, and the next call that differs from what is
        // remembered writes it again.
        if self.inner.open_shown.load(Ordering::Relaxed) != u8::from(open) {
            metrics::gauge!("flowgate_breaker_open", "engine" => engine.clone()).set(if open {
                1.0
            } else {
                0.0
            });
            self.inner
                .open_shown
                .store(u8::from(open), Ordering::Relaxed);
        }
        result
    }

    async fn send_inner(
        &self,
        cx: &CallContext,
        op: &'static str,
        idem: Idempotency,
        req: RequestBuilder,
    ) -> Result<Response, EngineError> {
        let inner = &*self.inner;
        let engine = &inner.engine;
        if let Some(e) = &req.error {
            tracing::warn!(engine = %engine, op, error = %e, "could not build upstream request");
            return Err(EngineError::upstream(
                None,
                format!("engine '{engine}': could not build the {op} request"),
            ));
        }

        let _slot = match cx.remaining() {
            Some(left) => tokio::time::timeout(left, inner.limit.acquire())
                .await
                .map_err(|_| {
                    EngineError::Timeout(format!(
                        "engine '{engine}': no free connection slot before the deadline"
                    ))
                })?,
            None => inner.limit.acquire().await,
        }
        .map_err(|_| EngineError::Unavailable(format!("engine '{engine}' is shutting down")))?;

        let settings = &inner.settings;
        let limit = settings.max_body_bytes;
        let request = req
            .to_reqwest(&inner.client, &inner.base_url)
            .map(|mut r| {
                forward_ids(cx, r.headers_mut());
                r
            })
            .map_err(|e| {
                tracing::warn!(engine = %engine, op, error = %e, "could not build upstream request");
                EngineError::upstream(
                    None,
                    format!("engine '{engine}': could not build the {op} request"),
                )
            })?;

        // Built on the first retry only: most calls succeed at once.
        let mut delays = None;
        let mut attempt: u32 = 0;
        loop {
            attempt += 1;
            let Some(permit) = inner.breaker.acquire() else {
                return Err(EngineError::Unavailable(format!(
                    "engine '{engine}' is unavailable (circuit open after repeated failures)"
                )));
            };
            let budget = match cx.remaining() {
                Some(left) if left.is_zero() => {
                    inner.breaker.success(permit);
                    return Err(EngineError::Timeout(format!(
                        "engine '{engine}': deadline passed before {op} was sent"
                    )));
                }
                Some(left) => left.min(settings.request_timeout()),
                None => settings.request_timeout(),
            };
            let exchange = async {
                match request.try_clone() {
                    Some(r) => Box::pin(transport::fetch(&inner.client, r, limit)).await,
                    None => Err(Failure::Broken("the request body cannot be replayed")),
                }
            };
            let failure = match tokio::time::timeout(budget, exchange).await {
                Ok(Ok(resp)) => {
                    let status = resp.status();
                    if status.is_server_error() {
                        inner.breaker.failure(permit);
                    } else {
                        inner.breaker.success(permit);
                    }
                    if idem == Idempotency::Idempotent && retryable_status(status) {
                        let delays = delays.get_or_insert_with(|| backoff(settings));
                        if let Some(delay) = next_delay(delays, retry_after(&resp), cx, budget) {
                            tracing::debug!(engine = %engine, op, attempt, %status, ?delay, "retrying upstream call");
                            tokio::time::sleep(delay).await;
                            continue;
                        }
                    }
                    return Ok(resp);
                }
                Ok(Err(Failure::TooLarge(status))) => {
                    // The upstream answered; the answer is just not one to hold.
                    inner.breaker.success(permit);
                    return Err(EngineError::upstream(
                        Some(status.as_u16()),
                        format!("engine '{engine}' sent an answer larger than {limit} bytes"),
                    ));
                }
                Ok(Err(failure)) => {
                    inner.breaker.failure(permit);
                    match &failure {
                        Failure::Tls(problem) => {
                            tracing::warn!(engine = %engine, op, attempt, error = ?problem, "upstream TLS failure");
                        }
                        other => {
                            let why = match other {
                                Failure::Connect => "connection refused or failed",
                                Failure::Proxy(ProxyRefusal::Credentials) => {
                                    "the proxy asks for credentials"
                                }
                                Failure::Proxy(ProxyRefusal::Refused) => {
                                    "the proxy refused the tunnel"
                                }
                                Failure::Broken(why) => why,
                                _ => "timed out",
                            };
                            tracing::warn!(engine = %engine, op, attempt, error = why, "upstream call failed");
                        }
                    }
                    failure
                }
                Err(_) => {
                    inner.breaker.failure(permit);
                    tracing::warn!(engine = %engine, op, attempt, timeout_ms = budget.as_millis() as u64, "upstream call timed out");
                    Failure::Timeout
                }
            };

            // A refused connection (or tunnel) is retried for every call: the request was
            // never sent. A proxy asking for credentials would only ask again.
            // A connection dropped without an answer is retried for reads only. A timeout
            // is never retried: a slow upstream would only be hit again, and a write may
            // have taken effect. A TLS refusal (an untrusted certificate, a missing client
            // certificate) would only be refused again.
            let may_retry = match failure {
                Failure::Connect | Failure::Proxy(ProxyRefusal::Refused) => true,
                Failure::Broken(_) => idem == Idempotency::Idempotent,
                Failure::Timeout
                | Failure::TooLarge(_)
                | Failure::Tls(_)
                | Failure::Proxy(ProxyRefusal::Credentials) => false,
            };
            if may_retry {
                let delays = delays.get_or_insert_with(|| backoff(settings));
                if let Some(delay) = next_delay(delays, None, cx, budget) {
                    tokio::time::sleep(delay).await;
                    continue;
                }
            }
            return Err(match failure {
                Failure::Connect => {
                    EngineError::Unavailable(format!("engine '{engine}' is unreachable"))
                }
                Failure::Proxy(ProxyRefusal::Refused) => EngineError::Unavailable(format!(
                    "engine '{engine}' is unreachable: the forward proxy refused the tunnel"
                )),
                Failure::Proxy(ProxyRefusal::Credentials) => EngineError::upstream(
                    None,
                    format!(
                        "engine '{engine}': the forward proxy asks for credentials (407); \
                         give them in the proxy URL (http://user:password@host:port)"
                    ),
                ),
                Failure::Timeout if idem == Idempotency::NonIdempotent => {
                    EngineError::Timeout(format!(
                        "engine '{engine}' did not answer {op} in time; its outcome is unknown"
                    ))
                }
                Failure::Timeout => {
                    EngineError::Timeout(format!("engine '{engine}' did not answer {op} in time"))
                }
                Failure::Tls(problem) => EngineError::upstream(None, problem.message(engine)),
                Failure::Broken(_) | Failure::TooLarge(_) => EngineError::upstream(
                    None,
                    format!("engine '{engine}' dropped the connection during {op}"),
                ),
            });
        }
    }

    /// Parses the body as JSON.
    pub fn read_json<T: DeserializeOwned>(&self, resp: Response) -> Result<T, EngineError> {
        let status = resp.status().as_u16();
        serde_json::from_slice(resp.body()).map_err(|e| {
            tracing::warn!(engine = %self.inner.engine, status, error = %e,
                body = %snippet(&String::from_utf8_lossy(resp.body())), "malformed upstream JSON");
            EngineError::upstream(
                Some(status),
                format!("engine '{}' returned malformed JSON", self.inner.engine),
            )
        })
    }

    /// The body as text, e.g. an HTML status page.
    pub fn read_text(&self, resp: Response) -> String {
        String::from_utf8_lossy(resp.body()).into_owned()
    }
}

fn backoff(settings: &HttpSettings) -> impl Iterator<Item = Duration> {
    ExponentialBuilder::default()
        .with_min_delay(Duration::from_millis(settings.retry_min_delay_ms))
        .with_max_delay(Duration::from_millis(settings.retry_max_delay_ms))
        .with_max_times(settings.max_attempts.saturating_sub(1) as usize)
        .with_jitter()
        .build()
}

/// Sends the caller's request id and W3C trace context upstream, unless the adapter set
/// them itself, so that upstream logs can be matched with the gateway's.
fn forward_ids(cx: &CallContext, headers: &mut reqwest::header::HeaderMap) {
    if !cx.request_id.is_empty() && !headers.contains_key(X_REQUEST_ID) {
        if let Ok(v) = HeaderValue::from_str(&cx.request_id) {
            headers.insert(X_REQUEST_ID, v);
        }
    }
    if let Some(tp) = cx.traceparent.as_deref() {
        if !headers.contains_key(TRACEPARENT) {
            if let Ok(v) = HeaderValue::from_str(tp) {
                headers.insert(TRACEPARENT, v);
            }
        }
    }
}

/// Every live upstream client of the process, so that health checks can read breaker
/// states without a handle on the adapter's client. Entries hold weak references and are
/// pruned when clients are dropped.
static BOARD: parking_lot::Mutex<Vec<std::sync::Weak<Inner>>> = parking_lot::Mutex::new(Vec::new());

fn register(inner: &Arc<Inner>) {
    let mut board = BOARD.lock();
    board.retain(|w| w.strong_count() > 0);
    board.push(Arc::downgrade(inner));
}

/// The breaker state of the live upstream client(s) of engine `engine` at `base_url`, as
/// a readiness check sees it: `Open` when any such client is open, `HalfOpen` when any is
/// probing, `Closed` otherwise; `None` when no such client exists.
pub fn breaker_state(engine: &str, base_url: &url::Url) -> Option<BreakerState> {
    let board = BOARD.lock();
    let states: Vec<BreakerState> = board
        .iter()
        .filter_map(std::sync::Weak::upgrade)
        .filter(|i| i.engine == engine && &i.base_url == base_url)
        .map(|i| i.breaker.state())
        .collect();
    drop(board);
    if states.is_empty() {
        return None;
    }
    Some(if states.contains(&BreakerState::Open) {
        BreakerState::Open
    } else if states.contains(&BreakerState::HalfOpen) {
        BreakerState::HalfOpen
    } else {
        BreakerState::Closed
    })
}

fn retryable_status(s: StatusCode) -> bool {
    matches!(
        s,
        StatusCode::TOO_MANY_REQUESTS
            | StatusCode::BAD_GATEWAY
            | StatusCode::SERVICE_UNAVAILABLE
            | StatusCode::GATEWAY_TIMEOUT
    )
}

fn retry_after(resp: &Response) -> Option<Duration> {
    let v = resp.header("retry-after")?;
    if let Ok(secs) = v.trim().parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let at = httpdate::parse_http_date(v.trim()).ok()?;
    Some(
        at.duration_since(std::time::SystemTime::now())
            .unwrap_or_default(),
    )
}

/// The next backoff delay (at least `Retry-After`), or `None` when attempts are used up
/// or the wait plus one more attempt would not fit before the deadline.
fn next_delay(
    delays: &mut impl Iterator<Item = Duration>,
    retry_after: Option<Duration>,
    cx: &CallContext,
    attempt_budget: Duration,
) -> Option<Duration> {
    let backoff = delays.next()?;
    let delay = retry_after.map_or(backoff, |r| r.max(backoff));
    match cx.remaining() {
        Some(left) if delay + attempt_budget.min(left) > left => None,
        _ if delay > Duration::from_secs(60) => None,
        _ => Some(delay),
    }
}
