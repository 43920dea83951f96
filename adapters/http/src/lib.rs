//! # flowgate-http
//!
//! The upstream HTTP layer shared by flowgate's remote adapters (Alfresco, CQ). One
//! [`Upstream`] per engine wraps pooled keep-alive connections with, from the outside in:
//!
//! 1. a concurrency limit (calls beyond it wait, within the caller's deadline);
//! 2. a circuit breaker (opens after N consecutive failures; while open, calls fail in
//!    microseconds with `Unavailable`; after a cool-down one probe is let through);
//! 3. a per-attempt timeout (the smaller of the configured request timeout and the time
//!    left before the [`CallContext`](flowgate_core::CallContext) deadline);
//! 4. retries with jittered exponential backoff (backon), never past the deadline: a
//!    refused connection is retried for every call (the request was never sent); answers
//!    429, 502, 503 and 504 are retried only for idempotent calls, honouring
//!    `Retry-After`; so is a connection dropped before any answer. A timeout is never
//!    retried (a slow upstream would only be hit again): a read reports it, and a start,
//!    completion or cancel whose outcome is unknown fails with `Timeout` (504).
//!
//! Every call, `http` or `https`, goes through one `reqwest::Client` per engine: its
//! connection pool, rustls with the system's roots plus the engine's `ca_file`, an
//! optional client certificate, and the engine's proxy (or the standard `HTTPS_PROXY` /
//! `HTTP_PROXY` / `NO_PROXY` variables). TLS refusals are not retried and are reported
//! as such (an untrusted upstream certificate, a refused client certificate). An answer
//! is read in full, bounded by `max_body_bytes`, within the attempt's timeout, and
//! handed over as a [`Response`]. The caller's request id and W3C `traceparent` are sent
//! upstream as `X-Request-Id` and `traceparent`.
//!
//! [`breaker_state`] lets readiness checks read an engine's breaker without a handle on
//! its client.
//!
//! URLs are built from segments with [`Upstream::url`] and [`Upstream::url_with_path`],
//! which percent-encode every client-supplied piece and refuse anything that could leave
//! the engine's API (dot segments, control characters, over-long values).
//!
//! ```no_run
//! # async fn demo() -> Result<(), flowgate_core::EngineError> {
//! use flowgate_http::{HttpSettings, Idempotency, Upstream};
//! let base = "https://alfresco.example/alfresco/".parse().unwrap();
//! let up = Upstream::new("alfresco", base, HttpSettings::default())?;
//! let cx = flowgate_core::CallContext::admin("admin");
//! let url = up.url(&["api", "-default-", "public", "workflow", "versions", "1", "tasks", "42"])?;
//! let resp = up.send(&cx, "get_task", Idempotency::Idempotent, up.request(reqwest::Method::GET, url)).await?;
//! let body: serde_json::Value = up.read_json(resp)?;
//! # let _ = body; Ok(()) }
//! ```

mod breaker;
mod request;
mod settings;
mod transport;
mod upstream;
mod urls;

pub use breaker::BreakerState;
pub use request::{basic_auth_value, bearer_auth_value, RequestBuilder, Target};
pub use settings::{validate_base_url, HttpSettings};
pub use transport::{build_client, Response};
pub use upstream::{breaker_state, snippet, Idempotency, Upstream};
