//! The per-engine upstream client.

use std::sync::Arc;
use std::time::{Duration, Instant};

use backon::{BackoffBuilder, ExponentialBuilder};
use bytes::Bytes;
use flowgate_core::{CallContext, EngineError};
use reqwest::StatusCode;
use serde::de::DeserializeOwned;
use std::cell::RefCell;
use std::sync::atomic::{AtomicU8, Ordering};

use thread_local::ThreadLocal;
use tokio::sync::Semaphore;

use crate::breaker::{Breaker, BreakerState};
use crate::h1;
use crate::request::{RequestBuilder, Target};
use crate::settings::HttpSettings;
use crate::urls;

const USER_AGENT: &str = concat!("flowgate/", env!("CARGO_PKG_VERSION"));

/// How long an idle pooled connection is kept.
const IDLE_TIMEOUT: Duration = Duration::from_secs(60);

/// An upstream's answer, read in full (its body bounded by `max_body_bytes`).
#[derive(Debug)]
pub struct Response {
    status: StatusCode,
    fields: h1::Fields,
    body: Bytes,
}

impl Response {
    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// The value of header field `name` (case-insensitive; the first if repeated), when
    /// it is text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.fields.get(name)
    }

    /// The body.
    pub fn body(&self) -> &[u8] {
        &self.body
    }
}

/// Whether repeating a call is harmless.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Idempotency {
    /// Reads, and writes that set an absolute state: retried on transient failures.
    Idempotent,
    /// Starts, completions, cancellations: retried only when the request was never sent.
    NonIdempotent,
}

/// One remote engine's HTTP client: pooled connections, concurrency limit, circuit
/// breaker, timeouts and retries. Cheap to clone.
#[derive(Clone, Debug)]
pub struct Upstream {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    engine: String,
    /// The engine name as a metric label (cloned per call without allocating).
    label: metrics::SharedString,
    settings: HttpSettings,
    /// The base URL's origin when it is plain `http`: requests to it go through the
    /// built-in HTTP/1.1 client ([`h1`]); others (`https`) through reqwest.
    origin: Option<h1::Origin>,
    /// Builds requests, and sends them outside any Tokio runtime.
    client: reqwest::Client,
    /// What each thread that sent through this upstream keeps: the connection pool of
    /// each of its Tokio runtimes (see [`Inner::local`]) and its metric handles. Per
    /// thread, so that a call takes no lock and clones no handle that the server's
    /// other workers, on other cores, also write.
    here: ThreadLocal<RefCell<Here>>,
    breaker: Breaker,
    limit: Semaphore,
    /// The value last written to `flowgate_breaker_open` (2: none yet); the gauge is
    /// written when it changes, not on every call.
    open_shown: AtomicU8,
}

/// One thread's share of an upstream.
#[derive(Debug, Default)]
struct Here {
    runtimes: Vec<(tokio::runtime::Id, Local)>,
    /// Metric handles, registered on first use (looking a labelled series up in the
    /// recorder on every call costs more than the rest of the bookkeeping).
    metrics: CallMetrics,
}

/// The metric handles of one engine (a few dozen at most: looked up by a scan).
#[derive(Default)]
struct CallMetrics {
    calls: Vec<(&'static str, &'static str, metrics::Counter)>,
    durations: Vec<(&'static str, metrics::Histogram)>,
    breaker_open: Option<metrics::Gauge>,
}

impl std::fmt::Debug for CallMetrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CallMetrics")
            .field("series", &(self.calls.len() + self.durations.len()))
            .finish()
    }
}

/// Runtimes remembered per upstream before the list is started afresh (bounds memory
/// when runtimes come and go, as in tests).
const MAX_RUNTIMES: usize = 64;

/// The connections of one runtime.
#[derive(Clone, Debug)]
struct Local {
    /// Plain-`http` connections to the base URL's origin.
    plain: Option<Arc<h1::Pool>>,
    /// Everything else: built on first use.
    other: Option<reqwest::Client>,
}

fn build_client(engine: &str, settings: &HttpSettings) -> Result<reqwest::Client, EngineError> {
    reqwest::Client::builder()
        .connect_timeout(Duration::from_millis(settings.connect_timeout_ms))
        .pool_idle_timeout(IDLE_TIMEOUT)
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(USER_AGENT)
        .build()
        .map_err(|e| {
            EngineError::Unavailable(format!("engine '{engine}': cannot build HTTP client: {e}"))
        })
}

impl Inner {
    /// The connections that belong to the calling runtime. A socket is driven by the
    /// reactor of the runtime that opened it; a thread-per-core server (one
    /// current-thread runtime per worker) sharing one pool would hand a worker's request
    /// to a connection another worker drives, costing cross-thread wake-ups per call and
    /// waiting on that worker when it is busy. A pool per runtime keeps every call on the
    /// thread that made it.
    fn local(&self) -> Option<Local> {
        let id = tokio::runtime::Handle::try_current().ok()?.id();
        let mut here = self.here.get_or_default().borrow_mut();
        let pools = &mut here.runtimes;
        if let Some((_, local)) = pools.iter().find(|(i, _)| *i == id) {
            return Some(local.clone());
        }
        let local = Local {
            plain: self.origin.clone().map(|origin| {
                Arc::new(h1::Pool::new(
                    origin,
                    self.settings.max_concurrency,
                    IDLE_TIMEOUT,
                    Duration::from_millis(self.settings.connect_timeout_ms),
                ))
            }),
            other: None,
        };
        if pools.len() >= MAX_RUNTIMES {
            pools.clear();
        }
        pools.push((id, local.clone()));
        Some(local)
    }

    /// The reqwest client of the calling runtime (of the process outside a runtime).
    fn reqwest_here(&self) -> reqwest::Client {
        let Ok(handle) = tokio::runtime::Handle::try_current() else {
            return self.client.clone();
        };
        let id = handle.id();
        let mut here = self.here.get_or_default().borrow_mut();
        let Some((_, local)) = here.runtimes.iter_mut().find(|(i, _)| *i == id) else {
            return self.client.clone();
        };
        if let Some(c) = &local.other {
            return c.clone();
        }
        let c = build_client(&self.engine, &self.settings).unwrap_or_else(|_| self.client.clone());
        local.other = Some(c.clone());
        c
    }
}

/// One call's request, ready for every attempt.
enum Prepared {
    /// Written once by the built-in client; each attempt sends the same bytes.
    Plain {
        pool: Arc<h1::Pool>,
        bytes: Vec<u8>,
        head_only: bool,
    },
    /// Sent by reqwest (https): cloned per attempt.
    Other {
        client: reqwest::Client,
        request: Box<reqwest::Request>,
    },
}

/// Sends one attempt through reqwest and reads the whole answer.
async fn fetch(
    client: &reqwest::Client,
    request: reqwest::Request,
    limit: usize,
) -> Result<Response, Failure> {
    let mut resp = client.execute(request).await.map_err(|e| {
        let e = e.without_url();
        tracing::debug!(error = %e, "upstream call failed");
        if e.is_connect() {
            Failure::Connect
        } else if e.is_timeout() {
            Failure::Timeout
        } else {
            Failure::Broken("the connection failed")
        }
    })?;
    let status = resp.status();
    let mut body = Vec::new();
    while let Some(chunk) = resp
        .chunk()
        .await
        .map_err(|_| Failure::Broken("the connection failed while reading the answer"))?
    {
        if body.len() + chunk.len() > limit {
            return Err(Failure::TooLarge(status));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(Response {
        status,
        fields: h1::Fields::from_map(resp.headers()),
        body: body.into(),
    })
}

/// Cuts an upstream body for logs: the first 200 characters on one line. Never put
/// upstream bodies into client-facing messages.
pub fn snippet(body: &str) -> String {
    body.chars()
        .take(200)
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

enum Failure {
    /// The connection could not be made: the request was not sent.
    Connect,
    /// No complete answer in time.
    Timeout,
    /// The connection broke or the answer was not HTTP.
    Broken(&'static str),
    /// The answer's body is over the size limit.
    TooLarge(StatusCode),
}

impl From<h1::Failure> for Failure {
    fn from(f: h1::Failure) -> Self {
        match f {
            h1::Failure::Connect(e) => {
                tracing::debug!(error = %e, "upstream connection failed");
                Failure::Connect
            }
            h1::Failure::Broken(why) => Failure::Broken(why),
            h1::Failure::TooLarge(status) => Failure::TooLarge(status),
        }
    }
}

impl Upstream {
    /// Builds the client. Fails only when the TLS/HTTP stack cannot be initialised.
    pub fn new(engine: &str, settings: HttpSettings) -> Result<Self, EngineError> {
        let client = build_client(engine, &settings)?;
        let origin = h1::Origin::of(&settings.base_url);
        let inner = Arc::new(Inner {
            engine: engine.to_owned(),
            label: metrics::SharedString::from(std::sync::Arc::<str>::from(engine)),
            breaker: Breaker::new(
                settings.breaker_failures,
                Duration::from_millis(settings.breaker_cooldown_ms),
            ),
            limit: Semaphore::new(settings.max_concurrency.max(1)),
            settings,
            origin,
            client,
            here: ThreadLocal::new(),
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

    /// The current circuit-breaker state.
    pub fn breaker_state(&self) -> BreakerState {
        self.inner.breaker.state()
    }

    /// The base URL joined with `segments`, each percent-encoded as exactly one path
    /// segment. Empty, `.`/`..`, control-character and over-long segments are refused
    /// with `BadRequest` before anything is sent.
    pub fn url(&self, segments: &[&str]) -> Result<Target, EngineError> {
        urls::join(&self.inner.settings.base_url, segments, None)
    }

    /// Like [`Upstream::url`], followed by an absolute repository path whose pieces are
    /// encoded one by one (slashes kept). Relative, `..`, `//` and control-character paths
    /// are refused.
    pub fn url_with_path(&self, segments: &[&str], abs_path: &str) -> Result<Target, EngineError> {
        urls::join(&self.inner.settings.base_url, segments, Some(abs_path))
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
        let mut here = self.inner.here.get_or_default().borrow_mut();
        let m = &mut here.metrics;
        match m.calls.iter().find(|(o, c, _)| *o == op && *c == outcome) {
            Some((_, _, counter)) => counter.increment(1),
            None => {
                let counter = metrics::counter!("flowgate_engine_calls_total", "engine" => engine.clone(), "op" => op, "outcome" => outcome);
                counter.increment(1);
                m.calls.push((op, outcome, counter));
            }
        }
        match m.durations.iter().find(|(o, _)| *o == op) {
            Some((_, histogram)) => histogram.record(elapsed),
            None => {
                let histogram = metrics::histogram!("flowgate_engine_call_duration_seconds", "engine" => engine.clone(), "op" => op);
                histogram.record(elapsed);
                m.durations.push((op, histogram));
            }
        }
        // Written, then remembered: a call racing with another that saw the other state
        // can leave the gauge stale, and the next call that differs from what is
        // remembered writes it again.
        if self.inner.open_shown.load(Ordering::Relaxed) != u8::from(open) {
            m.breaker_open
                .get_or_insert_with(
                    || metrics::gauge!("flowgate_breaker_open", "engine" => engine.clone()),
                )
                .set(if open { 1.0 } else { 0.0 });
            self.inner
                .open_shown
                .store(u8::from(open), Ordering::Relaxed);
        }
        drop(here);
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
        let prepared = match inner.local().and_then(|l| l.plain) {
            Some(pool) => Prepared::Plain {
                bytes: h1::encode(pool.origin(), &req, USER_AGENT),
                head_only: req.method == reqwest::Method::HEAD,
                pool,
            },
            None => {
                let client = inner.reqwest_here();
                let request = req
                    .to_reqwest(&client, &settings.base_url)
                    .map_err(|e| {
                        tracing::warn!(engine = %engine, op, error = %e, "could not build upstream request");
                        EngineError::upstream(
                            None,
                            format!("engine '{engine}': could not build the {op} request"),
                        )
                    })?;
                Prepared::Other {
                    client,
                    request: Box::new(request),
                }
            }
        };

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
                match &prepared {
                    Prepared::Plain {
                        pool,
                        bytes,
                        head_only,
                    } => pool
                        .exchange(bytes, idem == Idempotency::Idempotent, *head_only, limit)
                        .await
                        .map(|a| Response {
                            status: a.status,
                            fields: a.fields,
                            body: a.body,
                        })
                        .map_err(Failure::from),
                    Prepared::Other { client, request } => match request.try_clone() {
                        Some(r) => Box::pin(fetch(client, r, limit)).await,
                        None => Err(Failure::Broken("the request body cannot be replayed")),
                    },
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
                    let why = match failure {
                        Failure::Connect => "connection refused or failed",
                        Failure::Broken(why) => why,
                        _ => "timed out",
                    };
                    tracing::warn!(engine = %engine, op, attempt, error = why, "upstream call failed");
                    failure
                }
                Err(_) => {
                    inner.breaker.failure(permit);
                    tracing::warn!(engine = %engine, op, attempt, timeout_ms = budget.as_millis() as u64, "upstream call timed out");
                    Failure::Timeout
                }
            };

            // A refused connection is retried for every call: the request was never sent.
            // A connection dropped without an answer is retried for reads only. A timeout
            // is never retried: a slow upstream would only be hit again, and a write may
            // have taken effect.
            let may_retry = match failure {
                Failure::Connect => true,
                Failure::Broken(_) => idem == Idempotency::Idempotent,
                Failure::Timeout | Failure::TooLarge(_) => false,
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
                Failure::Timeout if idem == Idempotency::NonIdempotent => {
                    EngineError::Timeout(format!(
                        "engine '{engine}' did not answer {op} in time; its outcome is unknown"
                    ))
                }
                Failure::Timeout => {
                    EngineError::Timeout(format!("engine '{engine}' did not answer {op} in time"))
                }
                Failure::Broken(_) | Failure::TooLarge(_) => EngineError::upstream(
                    None,
                    format!("engine '{engine}' dropped the connection during {op}"),
                ),
            });
        }
    }

    /// Parses the body as JSON (with sonic-rs: upstream answers are the largest
    /// documents the gateway reads; a task entity parses in about a fifth less work
    /// than with serde_json).
    pub fn read_json<T: DeserializeOwned>(&self, resp: Response) -> Result<T, EngineError> {
        let status = resp.status.as_u16();
        sonic_rs::from_slice(&resp.body).map_err(|e| {
            tracing::warn!(engine = %self.inner.engine, status, error = %e,
                body = %snippet(&String::from_utf8_lossy(&resp.body)), "malformed upstream JSON");
            EngineError::upstream(
                Some(status),
                format!("engine '{}' returned malformed JSON", self.inner.engine),
            )
        })
    }

    /// The body as text, e.g. an HTML status page.
    pub fn read_text(&self, resp: Response) -> String {
        String::from_utf8_lossy(&resp.body).into_owned()
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
        .filter(|i| i.engine == engine && &i.settings.base_url == base_url)
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
