//! [`CqEngine`]: the `WorkflowEngine` implementation over the CQ / AEM workflow API.
//! The engine's state and construction are here, the work by concern in the submodules.

mod access;
mod events;
mod instances;
mod models;
mod start;
mod tasks;
mod write;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use chrono::{DateTime, Utc};
use flowgate_core::{
    CallContext, Capabilities, Comment, Completion, DocLocator, Document, EngineError, EngineInfo,
    ErrorKind, Event, EventQuery, Graph, Health, NodeState, Page, Result, StartWorkflow, Task,
    TaskAction, TaskInfo, TaskQuery, TaskState, Variables, WorkflowEngine, WorkflowInstance,
    WorkflowModel, WorkflowQuery, WorkflowState,
};
use flowgate_http::Upstream;
use futures::stream::{self, StreamExt, TryStreamExt};
use parking_lot::Mutex;
use serde_json::{Map, Value};

use crate::cache::{Actions, Cache, Scope};
use crate::client::Client;
use crate::config::CqConfig;
use crate::convert::{self, ModelInfo, META_COMMENT, META_INITIATOR, META_START_ID, META_TITLE};
use crate::ids;
use crate::ledger::{Ledger, StartRecord};
use crate::profile::{model_name_of, MODEL_NODE_SUFFIX};
use crate::wire::{
    Backroutes, Choice, Delegatees, EngineStatus, History, InboxRow, InstanceDoc, ModelDoc, Routes,
    UriRow, WorkItemDoc,
};

/// Instance states listed when only active workflows are wanted.
const ACTIVE_STATES: [&str; 2] = ["RUNNING", "SUSPENDED"];
/// Form fields a start request must not take from client variables.
const RESERVED_FIELDS: [&str; 5] = ["model", "payload", "payloadType", "_charset_", "state"];

/// A CQ / AEM workflow engine reached over HTTP.
///
/// Native ids are JCR paths; the ids this engine hands out are their base64url
/// encodings. With a service account (Basic or bearer) the engine enforces the caller's
/// visibility itself; with pass-through auth CQ's own ACLs apply.
#[derive(Debug)]
pub struct CqEngine {
    info: EngineInfo,
    config: CqConfig,
    client: Client,
    models: Mutex<HashMap<String, Arc<ModelInfo>>>,
    /// Instances and work item routes reused for `cache_ttl_ms` (see [`crate::cache`]).
    cache: Cache,
    /// The scope of the service account's entries (shared by all callers).
    service_scope: Scope,
    /// Starts and delegations made through this engine (see [`crate::ledger`]).
    ledger: Ledger,
    /// Events derived by polling (`events_poll_secs`), when on.
    feed: Option<Arc<flowgate_poll::EventFeed>>,
}

/// What a task needs from its work item.
struct ItemFacts {
    assignee: Option<String>,
    created: DateTime<Utc>,
    variables: Variables,
    actions: Vec<TaskAction>,
    state: TaskState,
}

/// Work items read together with their instance, by path.
type Prefetched = HashMap<String, Result<WorkItemDoc>>;

/// A work item a task list considers: its path, its (fresh) instance, the item itself
/// when it was already read, and the assignee its inbox row named (pass-through).
type Candidate = (
    String,
    Arc<InstanceDoc>,
    Option<Result<WorkItemDoc>>,
    Option<String>,
);

/// What a task needs from its instance and model.
struct TaskContext<'a> {
    inst: &'a InstanceDoc,
    model: &'a ModelInfo,
    inst_title: String,
}

impl CqEngine {
    /// Builds the engine `name` from its configuration. Fails when the configuration is
    /// invalid (the message names the key) or the HTTP client cannot be built.
    pub fn new(name: &str, config: CqConfig) -> Result<CqEngine> {
        let problems = config.validate(&format!("engines.{name}"));
        if !problems.is_empty() {
            return Err(EngineError::bad_request(problems.join("; ")));
        }
        let auth = config.resolve_auth()?;
        let up = Upstream::new(name, config.base_url.clone(), config.http.clone())?;
        let feed = events::open_feed(name, &config)?;
        let client = Client::new(
            up,
            config.profile,
            auth,
            Duration::from_secs(config.csrf_ttl_secs),
        );
        Ok(CqEngine {
            info: EngineInfo {
                name: name.to_owned(),
                kind: "cq",
                capabilities: Capabilities {
                    reassign: false,
                    delegate: true,
                    suspend_resume: true,
                    model_graph: true,
                    workflow_graph: true,
                    document_paths: true,
                    document_store: true,
                },
            },
            cache: Cache::new(Duration::from_millis(config.cache_ttl_ms)),
            service_scope: Arc::from(""),
            ledger: Ledger::default(),
            feed,
            config,
            client,
            models: Mutex::new(HashMap::new()),
        })
    }

    /// The configuration this engine was built from (document mount, id prefix).
    pub fn config(&self) -> &CqConfig {
        &self.config
    }

    fn name(&self) -> &str {
        &self.info.name
    }

    /// Whether the adapter must filter what the caller sees (service account, non-admin).
    fn restricted(&self, cx: &CallContext) -> bool {
        self.client.is_service_account() && !cx.admin
    }

    /// Whose cache entries a caller may use: the service account's, or with
    /// pass-through only the caller's own (CQ's ACLs decided what they got).
    fn scope(&self, cx: &CallContext) -> Scope {
        if self.client.is_service_account() {
            self.service_scope.clone()
        } else if self.client.lacks_bearer(cx) {
            // Never filled: every upstream call of such a caller is refused first, so
            // entries a bearer sign-in of the same name left are not reachable.
            Arc::from("refused")
        } else {
            Arc::from(format!("u:{}", cx.user).as_str())
        }
    }

    /// Test and diagnostics view of the cache size.
    #[doc(hidden)]
    pub fn cached_entries(&self) -> usize {
        self.cache.len()
    }

    /// Drops what a write may have changed: the instance (as addressed by `inst` and,
    /// when it differs, by the item's own path) with all its work items' routes.
    fn forget(&self, inst: &str, item: Option<&str>) {
        self.cache.invalidate(inst);
        if let Some((from_item, _)) = item.and_then(|i| i.split_once("/workItems/")) {
            if from_item != inst {
                self.cache.invalidate(from_item);
            }
        }
    }

    fn root(&self) -> &'static str {
        self.config.profile.instance_root()
    }

    // ----- models -------------------------------------------------------------------

    /// Accepts a model name or the path-safe id of a name containing `/`.
    fn model_name_arg(name: &str) -> String {
        if !name.contains('/') {
            if let Some(decoded) = URL_SAFE_NO_PAD
                .decode(name.as_bytes())
                .ok()
                .and_then(|b| String::from_utf8(b).ok())
                .filter(|d| {
                    d.contains('/')
                        && d.chars()
                            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '/' | '_' | '-'))
                })
            {
                return decoded;
            }
        }
        name.to_owned()
    }

    // ----- instances ----------------------------------------------------------------

    // ----- tasks --------------------------------------------------------------------
}

/// Who can act on an open task now: the delegated actor if any, else the actor.
fn effective_assignee(t: &Task) -> Option<&str> {
    t.delegated_actors
        .last()
        .or(t.actors.first())
        .map(String::as_str)
}

/// Task actions from routes: named by their label when the labels are unique (stable
/// and readable), by route id otherwise.
fn action_list(choices: &[Choice], prefix: &str) -> Vec<TaskAction> {
    let unique = |l: &str| {
        choices
            .iter()
            .filter(|c| c.label.as_deref() == Some(l))
            .count()
            == 1
    };
    choices
        .iter()
        .map(|c| {
            let label = c.label.clone().filter(|l| !l.is_empty());
            let name = match &label {
                Some(l) if unique(l) && !l.starts_with("back:") => l.clone(),
                _ => c.rid.clone(),
            };
            TaskAction {
                name: [prefix, name.as_str()].concat(),
                label: label.unwrap_or_else(|| c.rid.clone()),
                validate: false,
            }
        })
        .collect()
}

/// Outcomes where a write may or may not have happened.
fn ambiguous(e: &EngineError) -> bool {
    matches!(
        e,
        EngineError::Timeout(_) | EngineError::Upstream { status: None, .. }
    )
}

/// Keeps the kind but replaces a NotFound message with a client-facing one.
fn not_found_as(e: EngineError, msg: String) -> EngineError {
    match e {
        EngineError::NotFound(_) => EngineError::NotFound(msg),
        other => other,
    }
}

/// Strips `user:` / `group:` prefixes (CQ principals are bare).
fn bare(principal: &str) -> &str {
    principal
        .strip_prefix("user:")
        .or_else(|| principal.strip_prefix("group:"))
        .unwrap_or(principal)
}

/// A scalar variable as a form value; structured values are not sent.
fn scalar(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

#[async_trait]
impl WorkflowEngine for CqEngine {
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
        self.start_instance(cx, req).await
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

    async fn workflow_graph(&self, cx: &CallContext, id: &str) -> Result<Graph> {
        self.graph_of_workflow(cx, id).await
    }

    async fn task(&self, cx: &CallContext, id: &str) -> Result<Task> {
        self.task_by_id(cx, id).await
    }

    async fn tasks(&self, cx: &CallContext, q: TaskQuery) -> Result<Page<Task>> {
        self.list_tasks(cx, q).await
    }

    async fn complete(&self, cx: &CallContext, id: &str, c: Completion) -> Result<Task> {
        self.complete_task(cx, id, c).await
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

    async fn cancel(&self, cx: &CallContext, id: &str) -> Result<()> {
        self.change_state(cx, id, "cancel", "ABORTED").await
    }

    async fn reassign(
        &self,
        _cx: &CallContext,
        _id: &str,
        _actors: Vec<String>,
        _comment: Option<String>,
    ) -> Result<()> {
        // CQ work items can be delegated but not reassigned (Capabilities.reassign = false).
        Err(EngineError::unsupported("reassign", self.name()))
    }

    async fn suspend(&self, cx: &CallContext, id: &str) -> Result<()> {
        self.change_state(cx, id, "suspend", "SUSPENDED").await
    }

    async fn resume(&self, cx: &CallContext, id: &str) -> Result<()> {
        self.change_state(cx, id, "resume", "RUNNING").await
    }

    async fn health(&self) -> Health {
        let cx = CallContext::admin("flowgate-health").with_timeout(Duration::from_secs(3));
        if !self.client.is_service_account() {
            return match self.client.probe(&cx).await {
                Ok(s) if s < 500 => Health::Up,
                Ok(s) => Health::Down(format!("engine '{}' answered {s}", self.name())),
                Err(e) => Health::Down(e.message()),
            };
        }
        match self
            .client
            .get_json::<EngineStatus>(&cx, "health", "/etc/workflow", ".json", &[])
            .await
        {
            Ok(s) if s.state.as_deref() == Some("ACTIVE") => Health::Up,
            Ok(s) => Health::Degraded(format!(
                "workflow engine state is {}",
                s.state.unwrap_or_else(|| "unknown".into())
            )),
            Err(e) => Health::Down(e.message()),
        }
    }
}
