//! Engine selection: which engine owns an id, a document or a model, and fan-out of
//! queries that span engines.
//!
//! Ids leaving the gateway carry their engine: the default engine's ids are passed
//! through unchanged, every other engine's ids (and document ids) become
//! `<prefix>~<native id>`. An id whose prefix names no engine is a 404 without any engine
//! call. Model names are plain unless two engines have a model of the same name: the
//! higher-priority engine (the default, then configuration order) keeps the plain name
//! and the others' copies are listed as `<prefix>~<name>`, which is accepted everywhere a
//! model name is.
//!
//! Queries that span engines ("my tasks", "my workflows", the model list) ask every
//! engine concurrently, each under its own fan-out deadline, merge the answers in a
//! stable order and page them here. Engines that fail are reported in [`Fanned::failures`]
//! while the others' results are still returned; only when every engine fails is the
//! query an error (503, 504 or 502).
//!
//! Remote engines never see an id from a URL or a document path that could leave their
//! API: see [`check_remote_id`] and [`check_remote_path`] (plain document references in a
//! start body go to the model's engine, whose adapter checks them before building any
//! URL). Every engine call runs under the request deadline and inside an `engine.call`
//! span.
//!
//! One file per concern: `ids.rs` (ids, documents and model names in and out),
//! `remote.rs` (what a remote engine may see), `models.rs`, `workflows.rs`, `tasks.rs`
//! (the calls), `fanout.rs` (merging several engines' answers, readiness) and
//! `events.rs` (the engines' event logs and live feeds).

use std::borrow::Cow;
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use flowgate_core::{CallContext, EngineError, Limits, Result, WorkflowEngine};
use serde::Serialize;
use tracing::Instrument;

mod events;
mod fanout;
mod ids;
mod models;
mod remote;
mod tasks;
mod workflows;

pub use events::LiveSource;
pub use remote::{basic_credentials, bearer_credentials, check_remote_id, check_remote_path};

/// How the router treats one engine, beyond its name, prefix and mounts.
#[derive(Debug, Clone)]
pub struct EngineOptions {
    /// Reached over the network: ids and paths are checked before any call, and the
    /// upstream breaker is reported by readiness checks.
    pub remote: bool,
    /// Document paths reach the engine without the matched mount (`/alfresco/Sites/x`
    /// becomes `/Sites/x`).
    pub strip_mount: bool,
    /// The engine forwards each caller's own credentials; only such engines see them.
    pub passthrough: bool,
    /// Deadline of this engine inside a fan-out (capped by the request deadline).
    pub fanout_timeout: Duration,
    /// Upstream base URL of a remote engine (to read its breaker state).
    pub base_url: Option<url::Url>,
}

impl Default for EngineOptions {
    fn default() -> Self {
        Self {
            remote: false,
            strip_mount: false,
            passthrough: false,
            fanout_timeout: Duration::from_secs(5),
            base_url: None,
        }
    }
}

/// One configured engine.
#[derive(Debug, Clone)]
pub struct EngineEntry {
    /// Configured name.
    pub name: String,
    /// Id prefix; `None` for the default engine.
    pub prefix: Option<String>,
    /// Document path mounts (the default engine implicitly has `/`).
    pub mounts: Vec<String>,
    /// The engine.
    pub engine: Arc<dyn WorkflowEngine>,
    /// Routing options.
    pub options: EngineOptions,
}

/// Separator between an engine prefix and a native id (or model name).
pub const PREFIX_SEP: char = '~';

/// Longest id (after the engine prefix) passed to a remote engine, in bytes.
pub const MAX_REMOTE_ID: usize = 512;

/// Longest document path passed to a remote engine, in bytes.
pub const MAX_REMOTE_PATH: usize = 2048;

/// An engine that did not answer its part of a fan-out.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct EngineFailure {
    /// Engine name.
    pub engine: String,
    /// Stable error code (`unavailable`, `timeout`, `upstream`, ...).
    pub code: &'static str,
    /// Client-safe message.
    pub message: String,
}

impl EngineFailure {
    fn of(e: &EngineEntry, err: &EngineError) -> Self {
        Self {
            engine: e.name.clone(),
            code: err.kind().code(),
            message: err.message(),
        }
    }
}

/// The answer of a query that may span engines, with the engines that failed.
#[derive(Debug, Clone)]
pub struct Fanned<T> {
    /// The merged answer of the engines that answered.
    pub value: T,
    /// Engines that failed or missed their deadline (empty when all answered).
    pub failures: Vec<EngineFailure>,
}

impl<T> Fanned<T> {
    fn whole(value: T) -> Self {
        Self {
            value,
            failures: Vec::new(),
        }
    }
}

/// Readiness of one engine as seen by `/health/ready`.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct EngineHealth {
    /// Engine name.
    pub engine: String,
    /// Engine kind (`memory`, `alfresco`, `cq`).
    pub kind: &'static str,
    /// Whether this is the default engine.
    pub default: bool,
    /// `up`, `degraded` or `down`.
    pub status: &'static str,
    /// Upstream circuit breaker: `closed`, `open` or `half_open`; absent for local engines.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub breaker: Option<&'static str>,
    /// Why the engine is not up.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// How long the check took, in milliseconds.
    pub duration_ms: f64,
}

/// Picks engines for ids, documents and models.
#[derive(Debug)]
pub struct Router {
    engines: Vec<EngineEntry>,
    default: usize,
    keeps_credentials: bool,
    limits: Limits,
}

/// How long after the caller's deadline an engine call is cut off (see [`call`]).
const DEADLINE_GRACE: Duration = Duration::from_millis(25);

/// Runs one engine call under the caller's deadline, in an `engine.call` span.
pub(super) async fn call<T>(
    e: &EngineEntry,
    op: &'static str,
    cx: &CallContext,
    fut: impl Future<Output = Result<T>>,
) -> Result<T> {
    let span = tracing::debug_span!("engine.call", engine = %e.name, op);
    let fut = fut.instrument(span);
    match cx.remaining() {
        None => fut.await,
        // A little after the deadline: remote engines honour it themselves and report
        // their own timeout (which their circuit breaker counts); cutting them off at
        // the same instant would sometimes drop that report. This timer only catches
        // engines that overrun.
        Some(left) => tokio::time::timeout(left + DEADLINE_GRACE, fut)
            .await
            .unwrap_or_else(|_| {
                Err(EngineError::Timeout(format!(
                    "engine '{}' did not answer '{op}' in time",
                    e.name
                )))
            }),
    }
}

/// The caller's context as engine `e` may see it: credentials only for pass-through
/// engines.
pub(super) fn scoped<'a>(e: &EngineEntry, cx: &'a CallContext) -> Cow<'a, CallContext> {
    if cx.credentials.is_some() && !e.options.passthrough {
        let mut c = cx.clone();
        c.credentials = None;
        Cow::Owned(c)
    } else {
        Cow::Borrowed(cx)
    }
}

/// The caller's context for engine `e` inside a fan-out: its own, shorter deadline.
pub(super) fn fanout_cx(e: &EngineEntry, cx: &CallContext) -> CallContext {
    let mut c = scoped(e, cx).into_owned();
    let own = Instant::now() + e.options.fanout_timeout;
    c.deadline = Some(c.deadline.map_or(own, |d| d.min(own)));
    c
}

impl Router {
    /// A router over `engines`; `default` indexes the default engine.
    ///
    /// # Panics
    /// Never: an empty list or an out-of-range default is rejected with `Err`.
    pub fn new(engines: Vec<EngineEntry>, default: usize) -> std::result::Result<Self, String> {
        if default >= engines.len() {
            return Err("no default engine configured".into());
        }
        let keeps_credentials = engines.iter().any(|e| e.options.passthrough);
        Ok(Self {
            engines,
            default,
            keeps_credentials,
            limits: Limits::default(),
        })
    }

    /// The same router enforcing other request limits.
    pub fn with_limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }

    /// The request limits every call passes.
    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// The configured engines.
    pub fn engines(&self) -> &[EngineEntry] {
        &self.engines
    }

    /// The default engine.
    pub fn default_entry(&self) -> &EngineEntry {
        &self.engines[self.default]
    }

    /// Whether some engine forwards callers' credentials (so the gateway keeps them in
    /// the call context; the router hands them to those engines only).
    pub fn keeps_credentials(&self) -> bool {
        self.keeps_credentials
    }

    /// Engines in model-name priority: the default first, then configuration order.
    pub(super) fn by_priority(&self) -> impl Iterator<Item = &EngineEntry> {
        std::iter::once(self.default_entry()).chain(
            self.engines
                .iter()
                .enumerate()
                .filter(move |(i, _)| *i != self.default)
                .map(|(_, e)| e),
        )
    }

    pub(super) fn by_prefix(&self, prefix: &str) -> Option<&EngineEntry> {
        self.engines
            .iter()
            .find(|e| e.prefix.as_deref() == Some(prefix))
    }
}
