//! # flowgate-http
//!
//! The upstream HTTP layer shared by flowgate's remote adapters (Alfresco, CQ). One
//! [`Upstream`] per engine wraps a pooled `reqwest` client with, from the outside in:
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
//! Connections are pooled per Tokio runtime: in a thread-per-core server (one
//! current-thread runtime per worker) each worker sends over connections its own runtime
//! drives, instead of waking another worker for every call (and waiting when it is busy).
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
//! let up = Upstream::new("alfresco", HttpSettings::new("http://127.0.0.1:8081/alfresco/".parse().unwrap()))?;
//! let cx = flowgate_core::CallContext::admin("admin");
//! let url = up.url(&["api", "-default-", "public", "workflow", "versions", "1", "tasks", "42"])?;
//! let resp = up.send(&cx, "get_task", Idempotency::Idempotent, up.request(reqwest::Method::GET, url)).await?;
//! let body: serde_json::Value = up.read_json(resp).await?;
//! # let _ = body; Ok(()) }
//! ```

mod breaker;
mod settings;
mod upstream;
mod urls;

pub use breaker::BreakerState;
pub use settings::HttpSettings;
pub use upstream::{breaker_state, snippet, Idempotency, Upstream};
