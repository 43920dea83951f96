//! `impl WorkflowEngine for AlfrescoEngine`: the engine's state and construction here,
//! the work by concern in the submodules.

mod access;
mod defs;
mod events;
mod query;
mod read;
mod write;

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use async_trait::async_trait;
use flowgate_core::{
    CallContext, Capabilities, Completion, DocLocator, Document, EngineError, EngineInfo,
    ErrorKind, Event, EventQuery, Graph, Health, Page, Result, StartWorkflow, Task, TaskQuery,
    TaskState, WorkflowEngine, WorkflowInstance, WorkflowModel, WorkflowQuery, WorkflowState,
};
use flowgate_http::{Idempotency, Upstream};
use futures::stream::{self, StreamExt, TryStreamExt};
use parking_lot::Mutex;
use reqwest::Method;
use serde_json::Value;

use crate::cache::{self, PartsCache};
use crate::client::{Auth, Client, Query};
use crate::config::{AlfrescoConfig, AuthMode};
use crate::convert::{self, ProcessInfo, TaskParts};
use crate::wire;

/// Concurrent upstream calls one trait call fans out to (per kind of call).
const FAN_OUT: usize = 8;

/// The Alfresco workflow engine adapter.
#[derive(Debug, Clone)]
pub struct AlfrescoEngine {
    info: EngineInfo,
    inner: Arc<Inner>,
    /// Events derived by polling (`events_poll_secs`), when on.
    feed: Option<Arc<flowgate_poll::EventFeed>>,
}

#[derive(Debug)]
struct Inner {
    client: Client,
    /// Process definitions by id (immutable once deployed).
    defs: Mutex<HashMap<String, wire::ProcessDefinition>>,
    /// Task form models by `formResourceKey` (change only on redeploy of the model).
    /// Shared, not copied, on every read.
    forms: Mutex<HashMap<String, Arc<convert::TaskForm>>>,
    /// Processes as the service account read them, by process id. Identity, model,
    /// initiator and start time never change; an ended process never changes at all.
    /// Used only where the ask's answer cannot depend on who asks (service modes).
    processes: Mutex<HashMap<String, Arc<ProcessInfo>>>,
    /// Items, variables and delegation verdicts of tasks, kept `cache_ttl_ms` (see
    /// `cache.rs` for the staleness bound). Disabled in pass-through mode.
    parts: PartsCache,
}

/// Entries kept in the process cache before it is emptied (bounds memory).
const PROCESS_CACHE_MAX: usize = 10_000;

/// The upstream parts of one task besides its process.
struct Parts {
    form: Arc<convert::TaskForm>,
    vars: convert::TaskVars,
    items: Arc<Vec<wire::Item>>,
    candidates: Vec<wire::Candidate>,
}

fn sq(s: &str) -> String {
    s.replace('\'', "''")
}

impl AlfrescoEngine {
    /// Builds the engine named `name`, reading `password_env` from the process environment.
    pub fn new(name: &str, cfg: AlfrescoConfig) -> Result<Self> {
        Self::with_env(name, cfg, &|k| std::env::var(k).ok())
    }

    /// Like [`AlfrescoEngine::new`] with an explicit environment lookup (for tests).
    pub fn with_env(
        name: &str,
        cfg: AlfrescoConfig,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Self> {
        let problems = cfg.validate(&format!("engines.{name}"));
        if !problems.is_empty() {
            return Err(EngineError::bad_request(problems.join("; ")));
        }
        let password = cfg
            .service_password(env)
            .map_err(|e| EngineError::bad_request(format!("engines.{name}.auth: {e}")))?;
        let user = cfg.auth.user.clone().unwrap_or_default();
        let auth = match (cfg.auth.mode, password) {
            (AuthMode::Passthrough, _) => Auth::Passthrough,
            (AuthMode::BearerPassthrough, _) => Auth::BearerPassthrough,
            (AuthMode::Basic, Some(password)) => Auth::basic(user, &password),
            (AuthMode::Ticket, Some(password)) => Auth::Ticket {
                user,
                password,
                ticket: Mutex::new(None),
            },
            (_, None) => {
                return Err(EngineError::bad_request(format!(
                    "engines.{name}.auth: a service password is required"
                )))
            }
        };
        // In the pass-through modes what a caller may read depends on the caller.
        let ttl = match auth {
            Auth::Passthrough | Auth::BearerPassthrough => 0,
            _ => cfg.cache_ttl_ms,
        };
        let up = Upstream::new(name, cfg.base_url.clone(), cfg.http.clone())?;
        let feed = events::open_feed(name, &cfg)?;
        Ok(Self {
            feed,
            info: EngineInfo {
                name: name.to_owned(),
                kind: "alfresco",
                capabilities: Capabilities {
                    reassign: true,
                    delegate: true,
                    suspend_resume: false,
                    model_graph: true,
                    workflow_graph: true,
                    document_paths: true,
                    document_store: true,
                },
            },
            inner: Arc::new(Inner {
                client: Client {
                    up,
                    auth,
                    page_size: cfg.page_size,
                    max_scan: cfg.max_scan,
                    max_pages: cfg.max_pages,
                },
                defs: Mutex::new(HashMap::new()),
                forms: Mutex::new(HashMap::new()),
                processes: Mutex::new(HashMap::new()),
                parts: PartsCache::new(std::time::Duration::from_millis(ttl), cache::MAX_ENTRIES),
            }),
        })
    }

    fn c(&self) -> &Client {
        &self.inner.client
    }

    /// Whether the adapter itself must enforce the caller's visibility.
    fn filters(&self, cx: &CallContext) -> bool {
        !cx.admin && !self.c().mode().forwards_caller()
    }

    /// Drops what the caches hold about process `pid` after a write on it.
    fn invalidate(&self, pid: &str) {
        self.inner.parts.invalidate_process(pid);
    }
}

fn ensure_open(t: &Task) -> Result<()> {
    if t.state == TaskState::Opened {
        Ok(())
    } else {
        Err(EngineError::conflict(format!(
            "The task '{}' is not active",
            t.name
        )))
    }
}

/// One user taken from actor strings; Alfresco tasks have exactly one assignee.
fn single_user(actors: &[String], op: &str) -> Result<String> {
    match actors {
        [one] => convert::user_of(one).map(str::to_owned).ok_or_else(|| {
            EngineError::bad_request(format!("Alfresco can {op} a task to a user, not a group"))
        }),
        _ => Err(EngineError::bad_request(format!(
            "Alfresco can {op} a task to exactly one user"
        ))),
    }
}

#[async_trait]
impl WorkflowEngine for AlfrescoEngine {
    async fn models(&self, cx: &CallContext) -> Result<Vec<WorkflowModel>> {
        self.list_models(cx).await
    }

    async fn model(&self, cx: &CallContext, name: &str) -> Result<WorkflowModel> {
        self.model_named(cx, name).await
    }

    async fn model_graph(&self, cx: &CallContext, name: &str) -> Result<Graph> {
        self.graph_of_model(cx, name).await
    }

    async fn start(&self, cx: &CallContext, req: StartWorkflow) -> Result<WorkflowInstance> {
        self.start_process(cx, req).await
    }

    async fn workflow(&self, cx: &CallContext, id: &str) -> Result<WorkflowInstance> {
        self.workflow_by_id(cx, id).await
    }

    async fn workflows(
        &self,
        cx: &CallContext,
        q: WorkflowQuery,
    ) -> Result<Page<WorkflowInstance>> {
        self.list_workflows(cx, q).await
    }

    async fn cancel(&self, cx: &CallContext, id: &str) -> Result<()> {
        self.cancel_process(cx, id).await
    }

    async fn workflow_graph(&self, cx: &CallContext, id: &str) -> Result<Graph> {
        self.graph_of_workflow(cx, id).await
    }

    async fn tasks(&self, cx: &CallContext, q: TaskQuery) -> Result<Page<Task>> {
        self.list_tasks(cx, q).await
    }

    async fn complete(&self, cx: &CallContext, id: &str, c: Completion) -> Result<Task> {
        self.complete_task(cx, id, c).await
    }

    async fn reassign(
        &self,
        cx: &CallContext,
        id: &str,
        actors: Vec<String>,
        comment: Option<String>,
    ) -> Result<()> {
        self.reassign_task(cx, id, actors, comment).await
    }

    async fn delegate(
        &self,
        cx: &CallContext,
        id: &str,
        actors: Vec<String>,
        comment: Option<String>,
    ) -> Result<()> {
        self.delegate_task(cx, id, actors, comment).await
    }

    async fn document(&self, cx: &CallContext, loc: &DocLocator) -> Result<Document> {
        self.find_document(cx, loc).await
    }

    fn keeps_events(&self) -> bool {
        self.feed.is_some()
    }

    async fn events(&self, cx: &CallContext, q: EventQuery) -> Result<Page<Event>> {
        match &self.feed {
            Some(feed) => feed.events(cx, &q),
            None => Err(EngineError::unsupported("events", &self.info.name)),
        }
    }

    fn live_events(&self) -> Option<tokio::sync::broadcast::Receiver<Arc<Event>>> {
        self.feed.as_ref().map(|f| f.subscribe())
    }

    fn info(&self) -> &EngineInfo {
        &self.info
    }

    async fn task(&self, cx: &CallContext, id: &str) -> Result<Task> {
        Ok(self.visible_task(cx, id, false).await?.1)
    }

    async fn health(&self) -> Health {
        let cx = CallContext::admin("health").with_timeout(std::time::Duration::from_secs(5));
        if self.c().mode().forwards_caller() {
            // No credentials of our own: an answered 401 still proves the server is up.
            let Ok(url) = self.c().wf(&["process-definitions"]) else {
                return Health::Down("invalid base URL".into());
            };
            let req = self
                .c()
                .up
                .request(Method::GET, url)
                .query(&[("maxItems", "1")]);
            return match self
                .c()
                .up
                .send(&cx, "health", Idempotency::Idempotent, req)
                .await
            {
                Ok(r) if r.status().is_success() || r.status().as_u16() == 401 => Health::Up,
                Ok(r) => {
                    Health::Degraded(format!("Alfresco answered HTTP {}", r.status().as_u16()))
                }
                Err(e) => Health::Down(e.message()),
            };
        }
        let q: Query = vec![("maxItems", "1".into())];
        let url = match self.c().wf(&["process-definitions"]) {
            Ok(u) => u,
            Err(e) => return Health::Down(e.message()),
        };
        match self
            .c()
            .get::<wire::List<wire::ProcessDefinition>>(&cx, "health", url, &q)
            .await
        {
            Ok(_) => Health::Up,
            Err(e) => Health::Down(e.message()),
        }
    }
}
