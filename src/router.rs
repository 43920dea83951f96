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

use std::borrow::Cow;
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine as _;
use flowgate_core::{
    CallContext, Completion, Credentials, DocLocator, Document, EngineError, ErrorKind, Graph,
    Health, Limits, Page, PageRequest, Result, Secret, StartWorkflow, Task, TaskQuery,
    WorkflowEngine, WorkflowInstance, WorkflowModel, WorkflowQuery,
};
use futures::future::join_all;
use serde::Serialize;
use tracing::Instrument;

mod events;
pub use events::LiveSource;

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
async fn call<T>(
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
fn scoped<'a>(e: &EngineEntry, cx: &'a CallContext) -> Cow<'a, CallContext> {
    if cx.credentials.is_some() && !e.options.passthrough {
        let mut c = cx.clone();
        c.credentials = None;
        Cow::Owned(c)
    } else {
        Cow::Borrowed(cx)
    }
}

/// The caller's context for engine `e` inside a fan-out: its own, shorter deadline.
fn fanout_cx(e: &EngineEntry, cx: &CallContext) -> CallContext {
    let mut c = scoped(e, cx).into_owned();
    let own = Instant::now() + e.options.fanout_timeout;
    c.deadline = Some(c.deadline.map_or(own, |d| d.min(own)));
    c
}

/// Refuses an id a remote engine must never see: empty, over-long, control characters,
/// path separators, escapes, query or fragment markers, dot segments, absolute URLs.
pub fn check_remote_id(e: &EngineEntry, id: &str) -> Result<()> {
    match remote_id_problem(id) {
        None => Ok(()),
        Some(why) => Err(EngineError::bad_request(format!(
            "Invalid id for engine '{}': {why}",
            e.name
        ))),
    }
}

/// What is wrong with a remote id, if anything (see [`check_remote_id`]).
fn remote_id_problem(id: &str) -> Option<String> {
    if id.is_empty() {
        return Some("empty".into());
    }
    if id.len() > MAX_REMOTE_ID {
        return Some(format!("longer than {MAX_REMOTE_ID} bytes"));
    }
    if id.chars().any(|c| c.is_control() || c.is_whitespace()) {
        return Some("control or white-space characters".into());
    }
    if id
        .chars()
        .any(|c| matches!(c, '/' | '\\' | '%' | '?' | '#' | '&' | '@'))
    {
        return Some("path, query or escape characters".into());
    }
    // Absolute URLs (`scheme://…`) need a `/`, already refused above.
    if id == "." || id == ".." {
        return Some("relative or absolute location".into());
    }
    None
}

/// Refuses a document path a remote engine must never see: relative, over-long, empty or
/// dot segments, back-slashes, escapes, control characters.
pub fn check_remote_path(e: &EngineEntry, path: &str) -> Result<()> {
    let bad = |why: &str| {
        Err(EngineError::bad_request(format!(
            "Invalid document path for engine '{}': {why}",
            e.name
        )))
    };
    if !path.starts_with('/') {
        return bad("not absolute");
    }
    if path.len() > MAX_REMOTE_PATH {
        return bad(&format!("longer than {MAX_REMOTE_PATH} bytes"));
    }
    if path.chars().any(|c| c.is_control()) {
        return bad("control characters");
    }
    if path.chars().any(|c| matches!(c, '\\' | '%' | '?' | '#')) {
        return bad("escape, query or back-slash characters");
    }
    if path.len() > 1
        && path[1..]
            .split('/')
            .any(|s| s.is_empty() || s == "." || s == "..")
    {
        return bad("empty or dot segments");
    }
    Ok(())
}

/// Parses `Authorization: Basic` into credentials for pass-through engines.
pub fn basic_credentials(header: &str) -> Option<Credentials> {
    let (scheme, rest) = header.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let raw = base64::engine::general_purpose::STANDARD
        .decode(rest.trim())
        .ok()?;
    let s = String::from_utf8(raw).ok()?;
    let (u, p) = s.split_once(':')?;
    Some(Credentials::Basic {
        user: u.to_owned(),
        password: Secret::new(p),
    })
}

/// Parses `Authorization: Bearer` into credentials for pass-through engines.
pub fn bearer_credentials(header: &str) -> Option<Credentials> {
    let (scheme, rest) = header.trim().split_once(' ')?;
    let token = rest.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty())
        .then(|| Credentials::Bearer(Secret::new(token)))
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
    fn by_priority(&self) -> impl Iterator<Item = &EngineEntry> {
        std::iter::once(self.default_entry()).chain(
            self.engines
                .iter()
                .enumerate()
                .filter(move |(i, _)| *i != self.default)
                .map(|(_, e)| e),
        )
    }

    fn by_prefix(&self, prefix: &str) -> Option<&EngineEntry> {
        self.engines
            .iter()
            .find(|e| e.prefix.as_deref() == Some(prefix))
    }

    /// The engine owning `id` and the engine's native id. An id whose prefix names no
    /// engine is a 404; ids a remote engine must not see are a 400.
    pub fn resolve<'a>(&self, id: &'a str) -> Result<(&EngineEntry, &'a str)> {
        let (e, native) = match id.split_once(PREFIX_SEP) {
            // `~abc`: a default engine's own encoded id.
            Some((prefix, rest)) if !prefix.is_empty() => match self.by_prefix(prefix) {
                Some(e) => (e, rest),
                None => {
                    return Err(EngineError::not_found(format!(
                        "No engine is configured for the id prefix '{}'",
                        prefix.chars().take(64).collect::<String>()
                    )))
                }
            },
            _ => (self.default_entry(), id),
        };
        if e.options.remote {
            check_remote_id(e, native)?;
        }
        Ok((e, native))
    }

    /// The engine responsible for a document and the document reference it understands.
    pub fn resolve_document(&self, loc: &DocLocator) -> Result<(&EngineEntry, DocLocator)> {
        match loc {
            DocLocator::Id(id) => {
                let (e, native) = self.resolve(id)?;
                Ok((e, DocLocator::Id(native.to_owned())))
            }
            DocLocator::Path(p) => {
                let (e, mount) = self
                    .engines
                    .iter()
                    .flat_map(|e| e.mounts.iter().map(move |m| (e, m.as_str())))
                    .filter(|(_, m)| mount_matches(m, p))
                    .max_by_key(|(_, m)| m.trim_end_matches('/').len())
                    .unwrap_or((self.default_entry(), "/"));
                let path = if e.options.strip_mount {
                    let m = mount.trim_end_matches('/');
                    let rest = &p[m.len().min(p.len())..];
                    if rest.is_empty() {
                        "/".to_owned()
                    } else {
                        rest.to_owned()
                    }
                } else {
                    p.clone()
                };
                if e.options.remote {
                    check_remote_path(e, &path)?;
                }
                Ok((e, DocLocator::Path(path)))
            }
        }
    }

    fn outward(e: &EngineEntry, id: &str) -> String {
        match &e.prefix {
            Some(p) => {
                // Sized once (every remote task read prefixes two or three ids).
                let mut sep = [0; 4];
                [p.as_str(), PREFIX_SEP.encode_utf8(&mut sep), id].concat()
            }
            None => id.to_owned(),
        }
    }

    fn out_docs(e: &EngineEntry, docs: Vec<String>) -> Vec<String> {
        if e.prefix.is_none() {
            return docs;
        }
        docs.into_iter().map(|d| Self::outward(e, &d)).collect()
    }

    fn out_workflow(e: &EngineEntry, mut w: WorkflowInstance) -> WorkflowInstance {
        if e.prefix.is_none() {
            // The default engine's ids go out as they are.
            return w;
        }
        w.id = Self::outward(e, &w.id);
        w.attached_documents = Self::out_docs(e, std::mem::take(&mut w.attached_documents));
        w
    }

    fn out_task(e: &EngineEntry, mut t: Task) -> Task {
        if e.prefix.is_none() {
            return t;
        }
        t.id = Self::outward(e, &t.id);
        t.workflow_id = t.workflow_id.map(|w| Self::outward(e, &w));
        t.target_documents = Self::out_docs(e, std::mem::take(&mut t.target_documents));
        t
    }

    /// A model name as the engine knows it, and the engine when the name is qualified
    /// (`<prefix>~<name>`). A qualifier naming no engine is a 404.
    fn model_target<'a>(&self, name: &'a str) -> Result<(Option<&EngineEntry>, &'a str)> {
        match name.split_once(PREFIX_SEP) {
            Some((prefix, rest)) if !prefix.is_empty() && !rest.is_empty() => {
                match self.by_prefix(prefix) {
                    Some(e) => Ok((Some(e), rest)),
                    None => Err(EngineError::not_found(format!(
                        "No engine is configured for the model qualifier '{}'",
                        prefix.chars().take(64).collect::<String>()
                    ))),
                }
            }
            _ => Ok((None, name)),
        }
    }

    /// Every model of every engine, sorted by name; a name shadowed by a higher-priority
    /// engine is qualified with the engine prefix.
    pub async fn models(&self, cx: &CallContext) -> Result<Fanned<Vec<WorkflowModel>>> {
        let order: Vec<&EngineEntry> = self.by_priority().collect();
        let results = join_all(order.iter().map(|e| async move {
            let cx = fanout_cx(e, cx);
            call(e, "models", &cx, e.engine.models(&cx)).await
        }))
        .await;
        let Fanned { value, failures } = merge(&order, results)?;
        let mut seen = std::collections::HashSet::new();
        let mut all = Vec::new();
        for (e, models) in value {
            for mut m in models {
                if !seen.insert(m.name.clone()) {
                    m.name = Self::outward(e, &m.name);
                }
                all.push(m);
            }
        }
        all.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(Fanned {
            value: all,
            failures,
        })
    }

    /// The engine that has model `name`, and the model (named as the client addressed
    /// it). A qualified name asks only its engine; a plain one asks the engines in
    /// priority order.
    pub async fn model(
        &self,
        cx: &CallContext,
        name: &str,
    ) -> Result<(&EngineEntry, WorkflowModel)> {
        self.model_on(cx, name, None).await
    }

    async fn model_on(
        &self,
        cx: &CallContext,
        name: &str,
        preferred: Option<&EngineEntry>,
    ) -> Result<(&EngineEntry, WorkflowModel)> {
        let (target, native) = self.model_target(name)?;
        let candidates: Vec<&EngineEntry> = match target.or(preferred) {
            Some(e) => vec![self.entry(e)],
            None => self.by_priority().collect(),
        };
        let mut not_found = None;
        let mut other = None;
        for e in candidates {
            let ecx = fanout_cx(e, cx);
            match call(e, "model", &ecx, e.engine.model(&ecx, native)).await {
                Ok(mut m) => {
                    if target.is_some() {
                        m.name = name.to_owned();
                    }
                    return Ok((e, m));
                }
                Err(err) if err.kind() == ErrorKind::NotFound => {
                    not_found.get_or_insert(err);
                }
                Err(err) => {
                    tracing::warn!(engine = %e.name, error_code = err.kind().code(), error = %err, "model lookup failed on one engine");
                    other.get_or_insert(err);
                }
            }
        }
        Err(other
            .or(not_found)
            .unwrap_or_else(|| EngineError::not_found(name)))
    }

    /// The entry of this router that `e` points to (identity, for borrowing).
    fn entry(&self, e: &EngineEntry) -> &EngineEntry {
        self.engines
            .iter()
            .find(|x| x.name == e.name)
            .unwrap_or(self.default_entry())
    }

    /// The graph of model `name`.
    pub async fn model_graph(&self, cx: &CallContext, name: &str) -> Result<Graph> {
        let (_, native) = self.model_target(name)?;
        let (e, _) = self.model(cx, name).await?;
        if !e.engine.info().capabilities.model_graph {
            return Err(EngineError::unsupported("model_graph", &e.name));
        }
        let cx = scoped(e, cx);
        call(e, "model_graph", &cx, e.engine.model_graph(&cx, native)).await
    }

    /// Starts an instance on the engine that has the model. Documents prefixed for an
    /// engine pick that engine for a plain model name; a document of another engine than
    /// the model's is a 400.
    pub async fn start(
        &self,
        cx: &CallContext,
        mut req: StartWorkflow,
    ) -> Result<WorkflowInstance> {
        self.limits.check_variables(&req.variables)?;
        let mut doc_engine: Option<&EngineEntry> = None;
        for d in &req.documents {
            if let Some((p, _)) = d.split_once(PREFIX_SEP) {
                if !p.is_empty() {
                    let (e, _) = self.resolve(d)?;
                    doc_engine.get_or_insert(e);
                }
            }
        }
        let (_, native_model) = self.model_target(&req.model)?;
        let native_model = native_model.to_owned();
        let (e, _) = self.model_on(cx, &req.model, doc_engine).await?;
        let mut docs = Vec::with_capacity(req.documents.len());
        for d in &req.documents {
            let native = match d.split_once(PREFIX_SEP) {
                Some((p, _)) if !p.is_empty() => {
                    let (de, native) = self.resolve(d)?;
                    if de.name != e.name {
                        return Err(EngineError::bad_request(format!(
                            "Document '{d}' belongs to engine '{}', workflow model '{}' to engine '{}'",
                            de.name, req.model, e.name
                        )));
                    }
                    native.to_owned()
                }
                // A plain reference goes to the model's engine as given: it may be in a
                // form only that engine understands (`workspace://SpacesStore/<uuid>`), and
                // the adapter checks it before building any URL from it.
                _ => d.clone(),
            };
            docs.push(native);
        }
        req.documents = docs;
        req.model = native_model;
        let cx = scoped(e, cx);
        let w = call(e, "start", &cx, e.engine.start(&cx, req)).await?;
        Ok(Self::out_workflow(e, w))
    }

    /// One instance.
    pub async fn workflow(&self, cx: &CallContext, id: &str) -> Result<WorkflowInstance> {
        let (e, native) = self.resolve(id)?;
        let cx = scoped(e, cx);
        let w = call(e, "workflow", &cx, e.engine.workflow(&cx, native)).await?;
        Ok(Self::out_workflow(e, w))
    }

    /// The graph of an instance.
    pub async fn workflow_graph(&self, cx: &CallContext, id: &str) -> Result<Graph> {
        let (e, native) = self.resolve(id)?;
        if !e.engine.info().capabilities.workflow_graph {
            return Err(EngineError::unsupported("workflow_graph", &e.name));
        }
        let cx = scoped(e, cx);
        call(
            e,
            "workflow_graph",
            &cx,
            e.engine.workflow_graph(&cx, native),
        )
        .await
    }

    /// Cancels an instance.
    pub async fn cancel(&self, cx: &CallContext, id: &str) -> Result<()> {
        let (e, native) = self.resolve(id)?;
        let cx = scoped(e, cx);
        call(e, "cancel", &cx, e.engine.cancel(&cx, native)).await
    }

    /// The engines a query by model name concerns, and the name each one knows.
    fn model_scope(&self, model: Option<&str>) -> Result<(Vec<&EngineEntry>, Option<String>)> {
        match model {
            None => Ok((self.engines.iter().collect(), None)),
            Some(m) => match self.model_target(m)? {
                (Some(e), native) => Ok((vec![e], Some(native.to_owned()))),
                (None, native) => Ok((self.engines.iter().collect(), Some(native.to_owned()))),
            },
        }
    }

    /// Instances matching `q`: one engine for a document query, every concerned engine
    /// otherwise (merged in the query's order, then paged here).
    pub async fn workflows(
        &self,
        cx: &CallContext,
        mut q: WorkflowQuery,
    ) -> Result<Fanned<Page<WorkflowInstance>>> {
        q.page.limit = q.page.limit.min(self.limits.max_page_size);
        if let Some(doc) = q.document.take() {
            let (e, loc) = self.resolve_document(&DocLocator::Id(doc))?;
            let DocLocator::Id(native) = loc else {
                return Ok(Fanned::whole(Page::empty()));
            };
            q.document = Some(native);
            let cx = scoped(e, cx);
            let p = call(e, "workflows", &cx, e.engine.workflows(&cx, q)).await?;
            return Ok(Fanned::whole(p.map(|w| Self::out_workflow(e, w))));
        }
        let (engines, model) = self.model_scope(q.model_name.as_deref())?;
        q.model_name = model;
        let page = q.page;
        let results = join_all(engines.iter().map(|e| {
            let mut q = q.clone();
            q.page = widen(page);
            async move {
                let cx = fanout_cx(e, cx);
                call(e, "workflows", &cx, e.engine.workflows(&cx, q))
                    .await
                    .map(|p| p.map(|w| Self::out_workflow(e, w)))
            }
        }))
        .await;
        merged_page(&engines, results, page, |items| {
            flowgate_core::order::sort_workflows(items, q.sort.as_ref())
        })
    }

    /// One task.
    pub async fn task(&self, cx: &CallContext, id: &str) -> Result<Task> {
        let (e, native) = self.resolve(id)?;
        let cx = scoped(e, cx);
        let t = call(e, "task", &cx, e.engine.task(&cx, native)).await?;
        Ok(Self::out_task(e, t))
    }

    /// Tasks matching `q`: the owning engine for a workflow or document filter, every
    /// concerned engine otherwise (merged in the query's order, then paged).
    pub async fn tasks(&self, cx: &CallContext, mut q: TaskQuery) -> Result<Fanned<Page<Task>>> {
        q.page.limit = q.page.limit.min(self.limits.max_page_size);
        if let Some(wf) = q.workflow_id.take() {
            let (e, native) = match self.resolve(&wf) {
                Ok(r) => r,
                // An unknown workflow has no tasks (never a 404 for a filter).
                Err(err) if err.kind() == ErrorKind::NotFound => {
                    return Ok(Fanned::whole(Page::empty()))
                }
                Err(err) => return Err(err),
            };
            q.workflow_id = Some(native.to_owned());
            if let Some(doc) = q.document.take() {
                let (de, loc) = self.resolve_document(&DocLocator::Id(doc))?;
                if de.name != e.name {
                    return Ok(Fanned::whole(Page::empty()));
                }
                if let DocLocator::Id(d) = loc {
                    q.document = Some(d);
                }
            }
            let cx = scoped(e, cx);
            let p = call(e, "tasks", &cx, e.engine.tasks(&cx, q)).await?;
            return Ok(Fanned::whole(p.map(|t| Self::out_task(e, t))));
        }
        if let Some(doc) = q.document.take() {
            let (e, loc) = self.resolve_document(&DocLocator::Id(doc))?;
            if let DocLocator::Id(d) = loc {
                q.document = Some(d);
            }
            let cx = scoped(e, cx);
            let p = call(e, "tasks", &cx, e.engine.tasks(&cx, q)).await?;
            return Ok(Fanned::whole(p.map(|t| Self::out_task(e, t))));
        }
        let (engines, model) = self.model_scope(q.model_name.as_deref())?;
        q.model_name = model;
        if engines.len() == 1 {
            let e = engines[0];
            let cx = scoped(e, cx);
            let p = call(e, "tasks", &cx, e.engine.tasks(&cx, q)).await?;
            return Ok(Fanned::whole(p.map(|t| Self::out_task(e, t))));
        }
        let page = q.page;
        let results = join_all(engines.iter().map(|e| {
            let mut q = q.clone();
            q.page = widen(page);
            async move {
                let cx = fanout_cx(e, cx);
                call(e, "tasks", &cx, e.engine.tasks(&cx, q))
                    .await
                    .map(|p| p.map(|t| Self::out_task(e, t)))
            }
        }))
        .await;
        merged_page(&engines, results, page, |items| {
            flowgate_core::order::sort_tasks(items, q.sort.as_ref())
        })
    }

    /// Completes a task.
    pub async fn complete(&self, cx: &CallContext, id: &str, c: Completion) -> Result<Task> {
        self.limits.check_variables(&c.variables)?;
        let (e, native) = self.resolve(id)?;
        let cx = scoped(e, cx);
        let t = call(e, "complete", &cx, e.engine.complete(&cx, native, c)).await?;
        Ok(Self::out_task(e, t))
    }

    /// Replaces a task's actors.
    pub async fn reassign(
        &self,
        cx: &CallContext,
        id: &str,
        actors: Vec<String>,
        comment: Option<String>,
    ) -> Result<()> {
        self.limits.check_request_actors(&actors)?;
        let (e, native) = self.resolve(id)?;
        if !e.engine.info().capabilities.reassign {
            return Err(EngineError::unsupported("reassign", &e.name));
        }
        let cx = scoped(e, cx);
        call(
            e,
            "reassign",
            &cx,
            e.engine.reassign(&cx, native, actors, comment),
        )
        .await
    }

    /// Adds delegated actors to a task.
    pub async fn delegate(
        &self,
        cx: &CallContext,
        id: &str,
        actors: Vec<String>,
        comment: Option<String>,
    ) -> Result<()> {
        self.limits.check_request_actors(&actors)?;
        let (e, native) = self.resolve(id)?;
        if !e.engine.info().capabilities.delegate {
            return Err(EngineError::unsupported("delegate", &e.name));
        }
        let cx = scoped(e, cx);
        call(
            e,
            "delegate",
            &cx,
            e.engine.delegate(&cx, native, actors, comment),
        )
        .await
    }

    /// Resolves a document reference on the engine that owns it; the document's id is
    /// returned as clients use it (with the engine prefix).
    pub async fn document(&self, cx: &CallContext, loc: &DocLocator) -> Result<Document> {
        let (e, native) = self.resolve_document(loc)?;
        if matches!(native, DocLocator::Path(_)) && !e.engine.info().capabilities.document_paths {
            return Err(EngineError::unsupported("document_by_path", &e.name));
        }
        let cx = scoped(e, cx);
        let mut d = call(e, "document", &cx, e.engine.document(&cx, &native)).await?;
        d.id = Self::outward(e, &d.id);
        Ok(d)
    }

    /// Readiness of every engine, checked concurrently: an open upstream breaker answers
    /// at once (down), otherwise the engine's own health probe runs within `probe_timeout`.
    pub async fn health(&self, probe_timeout: Duration) -> Vec<EngineHealth> {
        join_all(self.engines.iter().enumerate().map(|(i, e)| async move {
            let started = Instant::now();
            let breaker = e
                .options
                .base_url
                .as_ref()
                .and_then(|u| flowgate_http::breaker_state(&e.name, u));
            let breaker_name = breaker.map(|b| match b {
                flowgate_http::BreakerState::Closed => "closed",
                flowgate_http::BreakerState::Open => "open",
                flowgate_http::BreakerState::HalfOpen => "half_open",
            });
            let health = if breaker == Some(flowgate_http::BreakerState::Open) {
                Health::Down("circuit open after repeated upstream failures".into())
            } else {
                let span = tracing::debug_span!("engine.call", engine = %e.name, op = "health");
                tokio::time::timeout(probe_timeout, e.engine.health().instrument(span))
                    .await
                    .unwrap_or_else(|_| Health::Down("health probe timed out".into()))
            };
            let (status, message) = match health {
                Health::Up => ("up", None),
                Health::Degraded(m) => ("degraded", Some(m)),
                Health::Down(m) => ("down", Some(m)),
            };
            EngineHealth {
                engine: e.name.clone(),
                kind: e.engine.info().kind,
                default: i == self.default,
                status,
                breaker: breaker_name,
                message,
                duration_ms: started.elapsed().as_secs_f64() * 1000.0,
            }
        }))
        .await
    }
}

/// A page wide enough to merge: every engine returns the first `offset + limit` items.
fn widen(p: PageRequest) -> PageRequest {
    PageRequest::new(0, p.offset.saturating_add(p.limit))
}

/// Keeps the successful results of a fan-out with their engine and reports the failed
/// engines; fails only when every engine failed.
/// The page `page` of the engines' answers merged into one list: totals summed, items
/// put in order by `sort`, failed engines listed beside the page.
fn merged_page<T>(
    engines: &[&EngineEntry],
    results: Vec<Result<Page<T>>>,
    page: PageRequest,
    sort: impl FnOnce(&mut Vec<T>),
) -> Result<Fanned<Page<T>>> {
    let Fanned { value, failures } = merge(engines, results)?;
    let total = value.iter().map(|(_, p)| p.total).sum();
    let mut items: Vec<T> = value.into_iter().flat_map(|(_, p)| p.items).collect();
    sort(&mut items);
    Ok(Fanned {
        value: Page {
            items: items
                .into_iter()
                .skip(page.offset)
                .take(page.limit)
                .collect(),
            total,
        },
        failures,
    })
}

fn merge<'e, T>(
    engines: &[&'e EngineEntry],
    results: Vec<Result<T>>,
) -> Result<Fanned<Vec<(&'e EngineEntry, T)>>> {
    let mut ok = Vec::new();
    let mut errors = Vec::new();
    for (e, r) in engines.iter().zip(results) {
        match r {
            Ok(v) => ok.push((*e, v)),
            Err(err) => {
                tracing::warn!(engine = %e.name, error_code = err.kind().code(), error = %err, "engine failed during fan-out");
                errors.push((*e, err));
            }
        }
    }
    if ok.is_empty() && !errors.is_empty() {
        return Err(all_failed(errors));
    }
    Ok(Fanned {
        value: ok,
        failures: errors
            .iter()
            .map(|(e, err)| EngineFailure::of(e, err))
            .collect(),
    })
}

/// The error of a fan-out in which every engine failed: a refusal (4xx kind) is passed
/// on; otherwise 504 when all timed out, 503 when all were unavailable, 502 for a mix.
fn all_failed(errors: Vec<(&EngineEntry, EngineError)>) -> EngineError {
    let transient = |k: ErrorKind| {
        matches!(
            k,
            ErrorKind::Unavailable | ErrorKind::Timeout | ErrorKind::Upstream
        )
    };
    if errors.len() == 1 || errors.iter().any(|(_, e)| !transient(e.kind())) {
        let idx = errors
            .iter()
            .position(|(_, e)| !transient(e.kind()))
            .unwrap_or(0);
        return errors
            .into_iter()
            .nth(idx)
            .map(|(_, e)| e)
            .unwrap_or_else(|| EngineError::Unavailable("no engine answered".into()));
    }
    let summary = errors
        .iter()
        .map(|(e, err)| format!("{}: {}", e.name, err.kind().code()))
        .collect::<Vec<_>>()
        .join(", ");
    let msg = format!("No engine answered ({summary})");
    if errors.iter().all(|(_, e)| e.kind() == ErrorKind::Timeout) {
        EngineError::Timeout(msg)
    } else if errors
        .iter()
        .all(|(_, e)| e.kind() == ErrorKind::Unavailable)
    {
        EngineError::Unavailable(msg)
    } else {
        EngineError::upstream(None, msg)
    }
}

fn mount_matches(mount: &str, path: &str) -> bool {
    let m = mount.trim_end_matches('/');
    m.is_empty()
        || path == m
        || (path.starts_with(m) && path.as_bytes().get(m.len()) == Some(&b'/'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mounts_match_whole_segments() {
        assert!(mount_matches("/", "/a/b"));
        assert!(mount_matches("/alfresco", "/alfresco/x"));
        assert!(mount_matches("/alfresco", "/alfresco"));
        assert!(!mount_matches("/alfresco", "/alfrescox/y"));
    }

    #[test]
    fn widened_page_covers_offset_and_limit() {
        assert_eq!(widen(PageRequest::new(10, 5)), PageRequest::new(0, 15));
        assert_eq!(widen(PageRequest::all()).limit, usize::MAX);
    }

    #[test]
    fn remote_ids_are_judged_the_same_with_or_without_the_ascii_fast_path() {
        // Every character class the checks know, alone and inside a plain id.
        let mut singles: Vec<String> = (0u8..0x80).map(|b| char::from(b).to_string()).collect();
        singles.extend(
            [
                "\u{a0}", "\u{85}", "\u{2028}", "\u{3000}", "é", "中", "\u{feff}", "://", ":/",
                "::", ":",
            ]
            .map(String::from),
        );
        for c in &singles {
            for id in [
                c.clone(),
                format!("abc{c}def"),
                format!("{c}x"),
                format!("x{c}"),
            ] {
                let slow = if id.chars().any(|c| c.is_control() || c.is_whitespace()) {
                    Some("control or white-space characters")
                } else if id
                    .chars()
                    .any(|c| matches!(c, '/' | '\\' | '%' | '?' | '#' | '&' | '@'))
                {
                    Some("path, query or escape characters")
                } else if id == "." || id == ".." || id.contains("://") {
                    Some("relative or absolute location")
                } else {
                    None
                };
                assert_eq!(remote_id_problem(&id).as_deref(), slow, "{id:?}");
            }
        }
        assert_eq!(
            remote_id_problem("..").as_deref(),
            Some("relative or absolute location")
        );
        assert_eq!(remote_id_problem("").as_deref(), Some("empty"));
        assert!(remote_id_problem(&"b".repeat(MAX_REMOTE_ID + 1)).is_some());
        assert!(remote_id_problem("L2NvbnRlbnQvZmxvd2dhdGUvZW4vcGFnZS1h.3").is_none());
    }

    #[test]
    fn basic_header_becomes_redacted_credentials() {
        let c = basic_credentials("Basic amRvZTpzM2NyZXQ=").unwrap();
        assert!(!format!("{c:?}").contains("s3cret"));
        assert!(basic_credentials("Bearer x").is_none());
        assert!(basic_credentials("Basic !!!").is_none());
        let b = bearer_credentials("Bearer  eyJ.payload.sig ").unwrap();
        assert_eq!(b, Credentials::Bearer(Secret::new("eyJ.payload.sig")));
        assert!(!format!("{b:?}").contains("payload"));
        assert!(bearer_credentials("Basic amRvZTpzM2NyZXQ=").is_none());
        assert!(bearer_credentials("Bearer ").is_none());
    }
}
