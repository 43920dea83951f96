//! [`CqEngine`]: the `WorkflowEngine` implementation over the CQ / AEM workflow API.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use chrono::{DateTime, Utc};
use flowgate_core::{
    CallContext, Capabilities, Comment, Completion, DocLocator, Document, EngineError, EngineInfo,
    ErrorKind, Graph, Health, NodeState, Page, Result, StartWorkflow, Task, TaskAction, TaskInfo,
    TaskQuery, TaskState, Variables, WorkflowEngine, WorkflowInstance, WorkflowModel,
    WorkflowQuery, WorkflowState,
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

/// A work item a task list considers: its path, its (fresh) instance and the item
/// itself when it was already read.
type Candidate = (String, Arc<InstanceDoc>, Option<Result<WorkItemDoc>>);

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

    async fn load_model(&self, cx: &CallContext, name: &str) -> Result<Arc<ModelInfo>> {
        if let Some(m) = self.models.lock().get(name) {
            return Ok(m.clone());
        }
        if name.is_empty() || name.starts_with('/') {
            return Err(EngineError::not_found(format!(
                "unknown workflow model '{name}'"
            )));
        }
        let profile = self.config.profile;
        let runtime = profile.model_id(name);
        let doc: ModelDoc = match self
            .client
            .get_json(cx, "get_model", &runtime, ".json", &[])
            .await
        {
            Ok(d) => d,
            // Very old CQ 5 servers only render the JCR dump of the model page.
            Err(EngineError::NotFound(_)) if !profile.uses_var() => {
                let page = runtime.trim_end_matches(MODEL_NODE_SUFFIX);
                self.client
                    .get_json(cx, "get_model", page, ".tidy.-1.json", &[])
                    .await
                    .map_err(|e| not_found_as(e, format!("unknown workflow model '{name}'")))?
            }
            Err(e) => return Err(not_found_as(e, format!("unknown workflow model '{name}'"))),
        };
        let info = Arc::new(ModelInfo::from_doc(name, doc)?);
        if info.deleted {
            return Err(EngineError::not_found(format!(
                "workflow model '{name}' was deleted"
            )));
        }
        self.models.lock().insert(name.to_owned(), info.clone());
        Ok(info)
    }

    async fn model_names(&self, cx: &CallContext) -> Result<Vec<String>> {
        let rows: Vec<UriRow> = self
            .client
            .get_json(cx, "list_models", "/etc/workflow/models", ".json", &[])
            .await?;
        let mut names: Vec<String> = rows.iter().filter_map(|r| model_name_of(&r.uri)).collect();
        names.sort();
        names.dedup();
        Ok(names)
    }

    // ----- instances ----------------------------------------------------------------

    /// Reads an instance fresh (and offers it to the cache for later task reads).
    async fn instance_doc(&self, cx: &CallContext, path: &str) -> Result<InstanceDoc> {
        Ok(self.instance_arc(cx, path).await?.as_ref().clone())
    }

    /// [`Self::instance_doc`] without the copy.
    async fn instance_arc(&self, cx: &CallContext, path: &str) -> Result<Arc<InstanceDoc>> {
        let g = self.cache.generation();
        let doc: InstanceDoc = self
            .client
            .get_json(cx, "get_workflow", path, ".json", &[])
            .await
            .map_err(|e| {
                not_found_as(
                    e,
                    format!(
                        "Can not get workflow instance with id: {}",
                        ids::encode(path)
                    ),
                )
            })?;
        let doc = Arc::new(doc);
        self.cache
            .put_instance(g, &self.scope(cx), path, doc.clone());
        Ok(doc)
    }

    async fn instance_paths(
        &self,
        cx: &CallContext,
        states: Option<&[&str]>,
    ) -> Result<Vec<String>> {
        let mut out = Vec::new();
        let selectors: Vec<String> = match states {
            Some(s) => s.iter().map(|st| format!(".{st}.json")).collect(),
            None => vec![".json".to_owned()],
        };
        // One list per state, read concurrently (one at a time while the breaker
        // probes), kept in state order.
        let parallel = if self.client.breaker_closed() {
            ACTIVE_STATES.len()
        } else {
            1
        };
        let lists: Vec<Vec<UriRow>> = stream::iter(selectors)
            .map(|sel| async move {
                self.client
                    .get_json(cx, "list_workflows", "/etc/workflow/instances", &sel, &[])
                    .await
            })
            .buffered(parallel)
            .try_collect()
            .await?;
        out.extend(lists.into_iter().flatten().map(|r| r.uri));
        if out.len() > self.config.max_scan {
            tracing::warn!(engine = %self.name(), found = out.len(), cap = self.config.max_scan,
                "instance list truncated; raise max_scan to see more");
            out.truncate(self.config.max_scan);
        }
        Ok(out)
    }

    /// Reads instances concurrently; instances that vanished meanwhile are skipped.
    async fn instance_docs(
        &self,
        cx: &CallContext,
        paths: Vec<String>,
    ) -> Result<Vec<InstanceDoc>> {
        let docs: Vec<Option<InstanceDoc>> = stream::iter(paths)
            .map(|p| async move {
                if ids::check_path(&p).is_err() {
                    return Ok(None);
                }
                match self.instance_doc(cx, &p).await {
                    Ok(d) => Ok(Some(d)),
                    Err(e) if e.kind() == ErrorKind::NotFound => Ok(None),
                    Err(e) => Err(e),
                }
            })
            .buffer_unordered(self.config.scan_concurrency.max(1))
            .try_collect()
            .await?;
        Ok(docs.into_iter().flatten().collect())
    }

    async fn model_title(&self, cx: &CallContext, doc: &InstanceDoc) -> Option<String> {
        let name = model_name_of(&doc.model)?;
        self.load_model(cx, &name)
            .await
            .ok()
            .map(|m| m.title.clone())
    }

    async fn to_instance(&self, cx: &CallContext, doc: &InstanceDoc) -> Result<WorkflowInstance> {
        let title = self.model_title(cx, doc).await;
        convert::instance(doc, title.as_deref())
    }

    /// Whether a restricted caller may see an instance: its initiator, or an assignee of
    /// one of its open items.
    async fn may_see_instance(&self, cx: &CallContext, doc: &InstanceDoc) -> Result<bool> {
        if !self.restricted(cx) || convert::initiator_of(doc).as_deref() == Some(cx.user.as_str()) {
            return Ok(true);
        }
        for item in &doc.work_items {
            match self.item_doc(cx, &item.id).await {
                Ok(w)
                    if w.current_assignee
                        .as_deref()
                        .is_some_and(|a| cx.is_principal(a)) =>
                {
                    return Ok(true)
                }
                Ok(_) => {}
                Err(e) if e.kind() == ErrorKind::NotFound => {}
                Err(e) => return Err(e),
            }
        }
        Ok(false)
    }

    /// Reads an instance the caller may act on as initiator (or admin).
    async fn owned_instance(
        &self,
        cx: &CallContext,
        id: &str,
        op: &str,
    ) -> Result<(String, InstanceDoc)> {
        let path = ids::workflow_path(id, self.root())?;
        // Always GET before POSTing to an instance: a POST to a missing path would let
        // Sling create a junk node and answer 201.
        let doc = self.instance_doc(cx, &path).await?;
        let initiator = convert::initiator_of(&doc);
        let allowed = match op {
            "cancel" => flowgate_core::access::may_cancel_workflow(cx, initiator.as_deref()),
            _ => initiator.as_deref() == Some(cx.user.as_str()),
        };
        if self.restricted(cx) && !allowed {
            return Err(EngineError::forbidden(format!(
                "User with id '{}' cannot {op} workflow {id}",
                cx.user
            )));
        }
        Ok((path, doc))
    }

    /// POSTs `state=<target>`; an ambiguous outcome is settled by reading the state back.
    async fn change_state(
        &self,
        cx: &CallContext,
        id: &str,
        op: &'static str,
        target: &str,
    ) -> Result<()> {
        let (path, doc) = self.owned_instance(cx, id, op).await?;
        if target == "ABORTED" && matches!(doc.state.as_str(), "ABORTED" | "COMPLETED") {
            // Same answer as the other engines for canceling an ended workflow.
            return Err(EngineError::bad_request(format!(
                "workflow {id} has already ended ({})",
                convert::workflow_state(&doc.state).as_str()
            )));
        }
        let mut fields = vec![("state".to_owned(), target.to_owned())];
        if target == "ABORTED" {
            fields.push((
                "terminateComment".to_owned(),
                format!("{op} by {}", cx.user),
            ));
        }
        let outcome = self.client.post_form(cx, op, &path, &fields).await;
        // Whatever the answer, the state may have changed.
        self.forget(&path, None);
        match outcome {
            Ok(posted) => {
                if posted.status == 201 || posted.page.message.as_deref() == Some("Created") {
                    return Err(EngineError::upstream(
                        Some(posted.status),
                        format!(
                            "engine '{}' created content instead of changing the workflow state",
                            self.name()
                        ),
                    ));
                }
                Ok(())
            }
            Err(e) if ambiguous(&e) => {
                let doc = self.instance_doc(cx, &path).await.map_err(|_| e.clone())?;
                if doc.state == target {
                    tracing::info!(engine = %self.name(), op, "ambiguous state change settled by reading it back");
                    Ok(())
                } else {
                    Err(e)
                }
            }
            Err(e) => Err(e),
        }
    }

    /// After an ambiguous start, finds the instance carrying our start id.
    async fn reconcile_start(
        &self,
        cx: &CallContext,
        start_id: &str,
    ) -> Result<Option<InstanceDoc>> {
        let paths = self.instance_paths(cx, None).await?;
        let docs = self.instance_docs(cx, paths).await?;
        Ok(docs
            .into_iter()
            .find(|d| d.meta.get(META_START_ID).and_then(Value::as_str) == Some(start_id)))
    }

    // ----- tasks --------------------------------------------------------------------

    async fn item_doc(&self, cx: &CallContext, path: &str) -> Result<WorkItemDoc> {
        self.client
            .get_json(cx, "get_task", path, ".json", &[])
            .await
    }

    async fn choices<T: serde::de::DeserializeOwned>(
        &self,
        cx: &CallContext,
        item: &str,
        sel: &str,
    ) -> Result<T> {
        self.client
            .get_json(cx, "task_actions", item, sel, &[])
            .await
    }

    async fn actions(&self, cx: &CallContext, item: &str) -> Result<(Vec<Choice>, Vec<Choice>)> {
        let (routes, back) = futures::try_join!(
            self.choices::<Routes>(cx, item, ".routes.json"),
            self.choices::<Backroutes>(cx, item, ".backroutes.json")
        )?;
        Ok((routes.routes, back.backroutes))
    }

    fn task_from(
        &self,
        item_path: &str,
        node_id: &str,
        tc: &TaskContext<'_>,
        f: ItemFacts,
    ) -> Task {
        let ItemFacts {
            assignee,
            created,
            variables,
            actions,
            state,
        } = f;
        let node = tc.model.node(node_id);
        // CQ replaces the assignee on delegation; the model's participant stays the actor
        // and a different current assignee is shown as the delegated actor.
        let participant = node.and_then(|n| n.participant.clone());
        let (actors, delegated_actors): (Vec<String>, Vec<String>) = match (participant, assignee) {
            (Some(p), Some(a)) if p != a => (vec![p], vec![a]),
            (Some(p), _) => (vec![p], Vec::new()),
            (None, a) => (a.into_iter().collect(), Vec::new()),
        };
        Task {
            id: ids::encode(item_path),
            name: node
                .map(|n| n.title.clone())
                .unwrap_or_else(|| node_id.to_owned()),
            workflow_id: Some(ids::encode(&tc.inst.id)),
            workflow_model_name: Some(tc.model.name.clone()),
            workflow_initiator: convert::initiator_of(tc.inst),
            workflow_title: Some(tc.inst_title.clone()),
            workflow_state: Some(convert::workflow_state(&tc.inst.state)),
            state,
            directive: node.and_then(|n| n.description.clone()),
            created,
            due_date: None,
            node_id: node_id.to_owned(),
            target_documents: tc.inst.payload.iter().map(|p| ids::encode(p)).collect(),
            actors,
            delegated_actors,
            comments: Vec::new(),
            variables,
            info: TaskInfo {
                allow_reassignment: false,
                actions,
                schemas: vec![["var_", node_id].concat()],
            },
            initiator: None,
        }
    }

    /// An open task from its work item, with actions.
    async fn open_task(
        &self,
        cx: &CallContext,
        item: &WorkItemDoc,
        tc: &TaskContext<'_>,
    ) -> Result<Task> {
        let actions = self.actions(cx, &item.id).await?;
        self.open_task_with(item, tc, &actions)
    }

    /// Routes and back-routes of a work item from the cache, else read (and cached).
    async fn cached_actions(
        &self,
        cx: &CallContext,
        scope: &Scope,
        item: &str,
    ) -> Result<Arc<Actions>> {
        if let Some(a) = self.cache.actions(scope, item) {
            return Ok(a);
        }
        let g = self.cache.generation();
        let a = Arc::new(self.actions(cx, item).await?);
        self.cache.put_actions(g, scope, item, a.clone());
        Ok(a)
    }

    /// An open task from its work item and its already read routes and back-routes.
    fn open_task_with(
        &self,
        item: &WorkItemDoc,
        tc: &TaskContext<'_>,
        (routes, back): &Actions,
    ) -> Result<Task> {
        let node_id = item
            .node
            .clone()
            .or_else(|| ids::node_of_item(&item.id, &tc.inst.id))
            .ok_or_else(|| {
                EngineError::upstream(None, "CQ/AEM returned a work item without node")
            })?;
        let created = match item.start_time.as_deref() {
            Some(t) => convert::required_date(Some(t), "work item start time")?,
            None => convert::required_date(tc.inst.start_time.as_deref(), "workflow start time")?,
        };
        let variables: Variables = item
            .properties
            .iter()
            .map(|p| (p.key.clone(), p.value.clone()))
            .collect();
        let actions = action_list(routes, "")
            .into_iter()
            .chain(action_list(back, "back:"))
            .collect();
        let facts = ItemFacts {
            assignee: item.current_assignee.clone(),
            created,
            variables,
            actions,
            state: TaskState::Opened,
        };
        Ok(self.task_from(&item.id, &node_id, tc, facts))
    }

    async fn context<'a>(
        &self,
        cx: &CallContext,
        inst: &'a InstanceDoc,
        model: &'a ModelInfo,
    ) -> TaskContext<'a> {
        let _ = cx;
        let title = inst
            .meta
            .get(META_TITLE)
            .and_then(Value::as_str)
            .filter(|t| !t.is_empty())
            .map(str::to_owned)
            .unwrap_or_else(|| model.title.clone());
        TaskContext {
            inst,
            model,
            inst_title: title,
        }
    }

    async fn instance_model(&self, cx: &CallContext, inst: &InstanceDoc) -> Result<Arc<ModelInfo>> {
        let name = convert::model_name(inst)?;
        self.load_model(cx, &name).await
    }

    /// A task whose work item is gone: ended (or cancelled with its workflow), rebuilt
    /// from the instance, the model and the history.
    async fn past_task(&self, cx: &CallContext, item: &str, inst: &InstanceDoc) -> Result<Task> {
        let node_id = ids::node_of_item(item, &inst.id).ok_or_else(|| {
            EngineError::not_found(format!("unknown task id '{}'", ids::encode(item)))
        })?;
        let model = self.instance_model(cx, inst).await?;
        if model.node(&node_id).is_none() {
            return Err(EngineError::not_found(format!(
                "unknown task id '{}'",
                ids::encode(item)
            )));
        }
        let history: Vec<crate::wire::HistoryRow> = match self
            .client
            .get_json::<History>(
                cx,
                "task_history",
                "/libs/cq/workflow/content/console/history",
                ".json",
                &[("workflow", inst.id.as_str())],
            )
            .await
        {
            Ok(h) => h.items,
            Err(e) => {
                tracing::info!(engine = %self.name(), error = %e, "history unavailable; ended task without comments");
                Vec::new()
            }
        };
        let rows: Vec<_> = history
            .iter()
            .filter(|h| h.work_item.as_deref() == Some(item))
            .collect();
        let completed = rows.iter().any(|h| h.status == "Completed");
        if !completed && inst.state == "RUNNING" && rows.is_empty() {
            return Err(EngineError::not_found(format!(
                "unknown task id '{}'",
                ids::encode(item)
            )));
        }
        let state = if completed || inst.state != "ABORTED" {
            TaskState::Ended
        } else {
            TaskState::Cancelled
        };
        let comments = rows
            .iter()
            .filter_map(|h| {
                let text = h.comment.clone().filter(|c| !c.is_empty())?;
                let date = h
                    .end_time
                    .as_deref()
                    .or(h.start_time.as_deref())
                    .and_then(convert::parse_java_date)?;
                Some(Comment {
                    author: h.user.clone().unwrap_or_default(),
                    text: Some(text),
                    date,
                })
            })
            .collect();
        let created = rows
            .first()
            .and_then(|h| h.start_time.as_deref())
            .and_then(convert::parse_java_date)
            .map_or_else(
                || convert::required_date(inst.start_time.as_deref(), "workflow start time"),
                Ok,
            )?;
        let tc = self.context(cx, inst, &model).await;
        let facts = ItemFacts {
            assignee: None,
            created,
            variables: Variables::new(),
            actions: Vec::new(),
            state,
        };
        let mut t = self.task_from(item, &node_id, &tc, facts);
        t.comments = comments;
        Ok(t)
    }

    /// Whether a restricted caller may see a task.
    fn may_see_task(&self, cx: &CallContext, t: &Task) -> bool {
        !self.restricted(cx)
            || t.actors
                .iter()
                .chain(&t.delegated_actors)
                .any(|a| cx.is_principal(a))
            || t.workflow_initiator.as_deref() == Some(cx.user.as_str())
    }

    /// Reads instances concurrently, each together with the work items it is expected
    /// to have (only while the cache is on and the breaker closed); instances that
    /// vanished meanwhile are skipped. The fresh instance still decides which items are
    /// open: a guessed item it no longer lists is dropped, one it newly lists is read
    /// afterwards.
    async fn instances_with_items(
        &self,
        cx: &CallContext,
        paths: Vec<(String, Vec<String>)>,
    ) -> Result<Vec<(Arc<InstanceDoc>, Prefetched)>> {
        let prefetch = self.cache.enabled() && self.client.breaker_closed();
        let docs: Vec<Option<(Arc<InstanceDoc>, Prefetched)>> = stream::iter(paths)
            .map(|(p, guess)| async move {
                if ids::check_path(&p).is_err() {
                    return Ok(None);
                }
                let mine = format!("{p}/workItems/");
                let guess: Vec<String> = if prefetch {
                    guess.into_iter().filter(|i| i.starts_with(&mine)).collect()
                } else {
                    Vec::new()
                };
                let (doc, items) = futures::join!(
                    self.instance_arc(cx, &p),
                    futures::future::join_all(
                        guess
                            .into_iter()
                            .map(|i| async move { (i.clone(), self.item_doc(cx, &i).await) })
                    )
                );
                match doc {
                    Ok(d) => Ok(Some((d, items.into_iter().collect()))),
                    Err(e) if e.kind() == ErrorKind::NotFound => Ok(None),
                    Err(e) => Err(e),
                }
            })
            .buffer_unordered(self.config.scan_concurrency.max(1))
            .try_collect()
            .await?;
        Ok(docs.into_iter().flatten().collect())
    }

    /// Open work item paths (with their instances, and the item itself when it was
    /// read together with its instance) for a task query.
    async fn candidate_items(&self, cx: &CallContext, q: &TaskQuery) -> Result<Vec<Candidate>> {
        let scope = self.scope(cx);
        let docs = if let Some(wf) = &q.workflow_id {
            let path = match ids::workflow_path(wf, self.root()) {
                Ok(p) => p,
                Err(e) if e.kind() == ErrorKind::NotFound => return Ok(Vec::new()),
                Err(e) => return Err(e),
            };
            let guess = self.cache.last_items(&scope, &path);
            self.instances_with_items(cx, vec![(path, guess)]).await?
        } else if !self.client.is_service_account() {
            // Pass-through: the caller's own inbox is exactly what CQ lets them act on;
            // its rows name the items, which are read together with their instances.
            let rows: Vec<InboxRow> = self
                .client
                .get_json(cx, "list_tasks", "/bin/workflow/inbox", ".json", &[])
                .await?;
            let mut by_instance: std::collections::BTreeMap<String, Vec<String>> =
                Default::default();
            for r in rows
                .into_iter()
                .filter(|r| r.ty.as_deref().unwrap_or("WorkItem") == "WorkItem")
            {
                if let Some((i, _)) = r.uri.split_once("/workItems/") {
                    by_instance
                        .entry(i.to_owned())
                        .or_default()
                        .push(r.uri.clone());
                }
            }
            self.instances_with_items(cx, by_instance.into_iter().collect())
                .await?
        } else {
            // A service account's inbox holds only its own items: scan active instances,
            // each with the items it had when last read.
            let paths = self.instance_paths(cx, Some(&ACTIVE_STATES)).await?;
            let paths = paths
                .into_iter()
                .map(|p| {
                    let guess = self.cache.last_items(&scope, &p);
                    (p, guess)
                })
                .collect();
            self.instances_with_items(cx, paths).await?
        };
        let doc_filter = match &q.document {
            Some(d) => match ids::document_path(d) {
                Ok(p) => Some(p),
                Err(_) => return Ok(Vec::new()),
            },
            None => None,
        };
        let mut out = Vec::new();
        for (d, mut pre) in docs {
            if let Some(m) = &q.model_name {
                if model_name_of(&d.model).as_deref() != Some(m.as_str()) {
                    continue;
                }
            }
            if doc_filter.is_some() && d.payload != doc_filter {
                continue;
            }
            for item in &d.work_items {
                let read = pre.remove(&item.id);
                out.push((item.id.clone(), d.clone(), read));
            }
        }
        Ok(out)
    }

    /// Resolves a completion action to `(field, rid)`: a route by id or label, or a
    /// back-route written `back:<id or label>`.
    fn resolve_action(
        action: &str,
        routes: &[Choice],
        back: &[Choice],
    ) -> Option<(&'static str, String)> {
        let find = |list: &[Choice], a: &str| {
            list.iter()
                .find(|c| c.rid == a)
                .or_else(|| list.iter().find(|c| c.label.as_deref() == Some(a)))
                .map(|c| c.rid.clone())
        };
        if let Some(b) = action.strip_prefix("back:") {
            return find(back, b).map(|rid| ("backroute", rid));
        }
        find(routes, action).map(|rid| ("route", rid))
    }

    /// Loads an open item for an action, or says why it cannot be acted on.
    async fn open_item(
        &self,
        cx: &CallContext,
        id: &str,
    ) -> Result<(WorkItemDoc, InstanceDoc, Arc<ModelInfo>)> {
        let (item_path, inst_path) = ids::task_path(id, self.root())?;
        let inst = self
            .instance_doc(cx, &inst_path)
            .await
            .map_err(|e| not_found_as(e, format!("Can not get task with id: {id}")))?;
        let item = match self.item_doc(cx, &item_path).await {
            Ok(i) => i,
            Err(e) if e.kind() == ErrorKind::NotFound => {
                let past = self.past_task(cx, &item_path, &inst).await?;
                return Err(EngineError::conflict(format!(
                    "The task '{}' is not active",
                    past.name
                )));
            }
            Err(e) => return Err(e),
        };
        let model = self.instance_model(cx, &inst).await?;
        Ok((item, inst, model))
    }

    fn ensure_running(inst: &InstanceDoc, task_name: &str) -> Result<()> {
        match inst.state.as_str() {
            "RUNNING" => Ok(()),
            "SUSPENDED" => Err(EngineError::conflict(format!(
                "The task '{task_name}' belongs to a suspended workflow"
            ))),
            _ => Err(EngineError::conflict(format!(
                "The task '{task_name}' is not active"
            ))),
        }
    }

    async fn item_still_open(&self, cx: &CallContext, inst_path: &str, item: &str) -> Result<bool> {
        let doc = self.instance_doc(cx, inst_path).await?;
        Ok(doc.work_items.iter().any(|w| w.id == item))
    }
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
    fn info(&self) -> &EngineInfo {
        &self.info
    }

    async fn models(&self, cx: &CallContext) -> Result<Vec<WorkflowModel>> {
        let names = self.model_names(cx).await?;
        let loaded: Vec<Option<WorkflowModel>> = stream::iter(names)
            .map(|n| async move {
                match self.load_model(cx, &n).await {
                    Ok(m) => Ok(Some(m.to_model())),
                    // Deleted models answer 200 with a flag; listed models may vanish.
                    Err(e) if e.kind() == ErrorKind::NotFound => Ok(None),
                    Err(e) => Err(e),
                }
            })
            .buffered(self.config.scan_concurrency.max(1))
            .try_collect()
            .await?;
        Ok(loaded.into_iter().flatten().collect())
    }

    async fn model(&self, cx: &CallContext, name: &str) -> Result<WorkflowModel> {
        let name = Self::model_name_arg(name);
        Ok(self.load_model(cx, &name).await?.to_model())
    }

    async fn model_graph(&self, cx: &CallContext, name: &str) -> Result<Graph> {
        let name = Self::model_name_arg(name);
        Ok(self
            .load_model(cx, &name)
            .await?
            .graph(&[], NodeState::Validated))
    }

    async fn start(&self, cx: &CallContext, req: StartWorkflow) -> Result<WorkflowInstance> {
        let name = Self::model_name_arg(&req.model);
        let model = self.load_model(cx, &name).await?;
        let [doc] = req.documents.as_slice() else {
            return Err(EngineError::bad_request(format!(
                "a CQ workflow runs on exactly one payload; {} documents were given",
                req.documents.len()
            )));
        };
        let payload = ids::document_path(doc)?;
        let runtime = self.config.profile.model_id(&name);
        let start_id = uuid::Uuid::new_v4().to_string();
        let mut fields: Vec<(String, String)> = vec![
            ("model".into(), runtime.clone()),
            ("payloadType".into(), "JCR_PATH".into()),
            ("payload".into(), payload.clone()),
            (META_INITIATOR.into(), cx.user.clone()),
            (META_START_ID.into(), start_id.clone()),
        ];
        let var = |keys: &[&str]| {
            keys.iter()
                .find_map(|k| req.variables.get(*k).and_then(scalar))
        };
        if let Some(t) = var(&["title", META_TITLE]) {
            fields.push((META_TITLE.into(), t));
        }
        if let Some(c) = var(&["comment", META_COMMENT, "initiatorComment"]) {
            fields.push((META_COMMENT.into(), c));
        }
        for (k, v) in &req.variables {
            let taken = matches!(
                k.as_str(),
                "title" | "comment" | "initiatorComment" | META_TITLE | META_COMMENT
            );
            if taken
                || RESERVED_FIELDS.contains(&k.as_str())
                || k.starts_with(':')
                || k.starts_with("flowgate")
                || k.chars().any(char::is_control)
            {
                continue;
            }
            if let Some(s) = scalar(v) {
                fields.push((k.clone(), s));
            }
        }
        let outcome = self
            .client
            .post_form(cx, "start_workflow", "/etc/workflow/instances", &fields)
            .await;
        // Nothing cached can describe a new instance; reads in flight are refused anyway.
        self.cache.bump();
        let posted = match outcome {
            Ok(p) => p,
            Err(e) if ambiguous(&e) => {
                // Never re-POST a start: look for the instance carrying our start id.
                tracing::warn!(engine = %self.name(), error = %e, "start outcome unknown; reconciling");
                return match self.reconcile_start(cx, &start_id).await {
                    Ok(Some(doc)) => convert::instance(&doc, Some(&model.title)),
                    Ok(None) => Err(EngineError::upstream(
                        None,
                        format!("engine '{}' did not confirm the start and no new workflow was found; it may be retried", self.name()),
                    )),
                    Err(_) => Err(e),
                };
            }
            Err(e) => return Err(e),
        };
        if posted.status != 201 {
            tracing::warn!(engine = %self.name(), status = posted.status, "start answered without 201 Created");
        }
        let path = posted
            .location
            .as_deref()
            .and_then(|l| self.client.location_path(l))
            .or_else(|| {
                posted
                    .page
                    .location
                    .as_deref()
                    .and_then(|l| self.client.location_path(l))
            })
            .or_else(|| posted.page.path.clone())
            .ok_or_else(|| {
                EngineError::upstream(
                    Some(posted.status),
                    format!(
                        "engine '{}' answered {} to the start but created no workflow instance",
                        self.name(),
                        posted.status
                    ),
                )
            })?;
        let unverified = |why: &str| {
            EngineError::upstream(
                Some(posted.status),
                format!(
                    "engine '{}' answered {} to the start but {why}",
                    self.name(),
                    posted.status
                ),
            )
        };
        if ids::check_path(&path).is_err()
            || !path.starts_with(self.root()) && !path.starts_with("/etc/workflow/instances/")
        {
            return Err(unverified("named no workflow instance"));
        }
        let doc = match self.instance_doc(cx, &path).await {
            Ok(d) => d,
            Err(e) if e.kind() == ErrorKind::NotFound => {
                return Err(unverified("created no workflow instance"))
            }
            Err(e) => return Err(e),
        };
        let same_model = model_name_of(&doc.model).as_deref() == Some(name.as_str());
        if !same_model || doc.payload.as_deref() != Some(payload.as_str()) {
            if doc.state == "RUNNING" {
                let abort = vec![("state".to_owned(), "ABORTED".to_owned())];
                let outcome = self
                    .client
                    .post_form(cx, "abort_unverified", &doc.id, &abort)
                    .await;
                self.forget(&path, None);
                self.forget(&doc.id, None);
                if let Err(e) = outcome {
                    tracing::warn!(engine = %self.name(), error = %e, "could not abort an unverified start");
                }
            }
            return Err(unverified("the new instance does not match the request"));
        }
        convert::instance(&doc, Some(&model.title))
    }

    async fn workflow(&self, cx: &CallContext, id: &str) -> Result<WorkflowInstance> {
        let path = ids::workflow_path(id, self.root())?;
        let doc = self.instance_doc(cx, &path).await?;
        if !self.may_see_instance(cx, &doc).await? {
            return Err(EngineError::forbidden(format!(
                "User with id '{}' cannot see workflow {id}",
                cx.user
            )));
        }
        self.to_instance(cx, &doc).await
    }

    async fn workflows(
        &self,
        cx: &CallContext,
        q: WorkflowQuery,
    ) -> Result<Page<WorkflowInstance>> {
        let states: Option<&[&str]> = if q.running_only {
            Some(&ACTIVE_STATES)
        } else {
            None
        };
        let paths = self.instance_paths(cx, states).await?;
        let doc_filter = match &q.document {
            Some(d) => match ids::document_path(d) {
                Ok(p) => Some(p),
                Err(_) => return Ok(Page::empty()),
            },
            None => None,
        };
        let docs = self.instance_docs(cx, paths).await?;
        let mut out = Vec::new();
        for d in docs {
            let initiator = convert::initiator_of(&d);
            if self.restricted(cx) && initiator.as_deref() != Some(cx.user.as_str()) {
                continue;
            }
            if q.initiator
                .as_ref()
                .is_some_and(|i| initiator.as_ref() != Some(i))
            {
                continue;
            }
            if q.model_name
                .as_ref()
                .is_some_and(|m| model_name_of(&d.model).as_ref() != Some(m))
            {
                continue;
            }
            if doc_filter.is_some() && d.payload != doc_filter {
                continue;
            }
            out.push(self.to_instance(cx, &d).await?);
        }
        out.sort_by(|a, b| a.created.cmp(&b.created).then_with(|| a.id.cmp(&b.id)));
        Ok(q.page.slice(out))
    }

    async fn cancel(&self, cx: &CallContext, id: &str) -> Result<()> {
        self.change_state(cx, id, "cancel", "ABORTED").await
    }

    async fn workflow_graph(&self, cx: &CallContext, id: &str) -> Result<Graph> {
        let path = ids::workflow_path(id, self.root())?;
        let doc = self.instance_doc(cx, &path).await?;
        if !self.may_see_instance(cx, &doc).await? {
            return Err(EngineError::forbidden(format!(
                "User with id '{}' cannot see workflow {id}",
                cx.user
            )));
        }
        let model = self.instance_model(cx, &doc).await?;
        let active: Vec<String> = doc
            .work_items
            .iter()
            .filter_map(|w| w.node.clone().or_else(|| ids::node_of_item(&w.id, &doc.id)))
            .collect();
        let rest = if convert::workflow_state(&doc.state) == WorkflowState::Canceled {
            NodeState::Canceled
        } else {
            NodeState::Ready
        };
        Ok(model.graph(&active, rest))
    }

    async fn task(&self, cx: &CallContext, id: &str) -> Result<Task> {
        let (item_path, inst_path) = ids::task_path(id, self.root())?;
        let scope = self.scope(cx);
        // The work item is always read fresh: it decides whether the task is open, who
        // holds it and at which node. Its instance (while the item exists, a running or
        // suspended one) and its routes come from the cache when they are there.
        let cached_inst = self
            .cache
            .instance(&scope, &inst_path)
            .filter(|d| matches!(d.state.as_str(), "RUNNING" | "SUSPENDED"));
        let cached_actions = self.cache.actions(&scope, &item_path);
        // Everything below is addressed by the id alone: one concurrent wave. The
        // instance's answer decides first, then the item's, then its actions'.
        // While the breaker probes, the deciding request goes alone and the rest follow.
        let probe = !self.client.breaker_closed();
        let inst_first = if probe && cached_inst.is_none() {
            Some(self.instance_arc(cx, &inst_path).await)
        } else {
            None
        };
        let item_first = if probe && cached_inst.is_some() {
            Some(self.item_doc(cx, &item_path).await)
        } else {
            None
        };
        let (inst, item, actions) = futures::join!(
            async {
                match (&cached_inst, inst_first) {
                    (Some(d), _) => Ok(d.clone()),
                    (None, Some(r)) => r,
                    (None, None) => self.instance_arc(cx, &inst_path).await,
                }
            },
            async {
                match item_first {
                    Some(r) => r,
                    None => self.item_doc(cx, &item_path).await,
                }
            },
            async {
                match &cached_actions {
                    Some(a) => Ok(a.clone()),
                    None => self.cached_actions(cx, &scope, &item_path).await,
                }
            }
        );
        let inst = inst.map_err(|e| not_found_as(e, format!("Can not get task with id: {id}")))?;
        let task = match item {
            Ok(item) => {
                let model = self.instance_model(cx, &inst).await?;
                let tc = self.context(cx, &inst, &model).await;
                self.open_task_with(&item, &tc, actions?.as_ref())?
            }
            Err(e) if e.kind() == ErrorKind::NotFound => {
                // An ended task is rebuilt from its instance's current state: a cached
                // copy (taken while the item was open) is not good enough.
                let inst = if cached_inst.is_some() {
                    self.instance_arc(cx, &inst_path)
                        .await
                        .map_err(|e| not_found_as(e, format!("Can not get task with id: {id}")))?
                } else {
                    inst
                };
                self.past_task(cx, &item_path, &inst).await?
            }
            Err(e) => return Err(e),
        };
        if !self.may_see_task(cx, &task) {
            return Err(EngineError::forbidden(format!(
                "User with id '{}' cannot see task {id}",
                cx.user
            )));
        }
        Ok(task)
    }

    async fn tasks(&self, cx: &CallContext, q: TaskQuery) -> Result<Page<Task>> {
        let candidates = self.candidate_items(cx, &q).await?;
        let scope = self.scope(cx);
        let tasks: Vec<Option<Task>> = stream::iter(candidates)
            .map(|(item_path, inst, read)| {
                let scope = scope.clone();
                async move {
                    // The item (unless read with its instance) and its actions (unless
                    // cached) are independent reads: one wave per item.
                    let (item, actions, model) = futures::join!(
                        async {
                            match read {
                                Some(r) => r,
                                None => self.item_doc(cx, &item_path).await,
                            }
                        },
                        self.cached_actions(cx, &scope, &item_path),
                        self.instance_model(cx, &inst)
                    );
                    let item = match item {
                        Ok(i) => i,
                        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(None),
                        Err(e) => return Err(e),
                    };
                    let model = model?;
                    let tc = self.context(cx, &inst, &model).await;
                    match actions.and_then(|a| self.open_task_with(&item, &tc, &a)) {
                        Ok(t) => Ok(Some(t)),
                        // Completed while the list was being read.
                        Err(e) if e.kind() == ErrorKind::NotFound => Ok(None),
                        Err(e) => Err(e),
                    }
                }
            })
            .buffer_unordered(self.config.scan_concurrency.max(1))
            .try_collect()
            .await?;
        let mut out: Vec<Task> = tasks
            .into_iter()
            .flatten()
            .filter(|t| self.may_see_task(cx, t))
            .filter(|t| {
                q.actor.as_ref().is_none_or(|f| {
                    t.actors
                        .iter()
                        .chain(&t.delegated_actors)
                        .any(|a| f.matches(a))
                })
            })
            .collect();
        out.sort_by(|a, b| a.created.cmp(&b.created).then_with(|| a.id.cmp(&b.id)));
        Ok(q.page.slice(out))
    }

    async fn complete(&self, cx: &CallContext, id: &str, c: Completion) -> Result<Task> {
        let (item, inst, model) = self.open_item(cx, id).await?;
        let tc = self.context(cx, &inst, &model).await;
        let gone = |e: EngineError, name: &str| match e.kind() {
            // The item vanished after it was read: someone else completed it.
            ErrorKind::NotFound => {
                EngineError::conflict(format!("The task '{name}' is not active"))
            }
            _ => e,
        };
        let node_title = item
            .node
            .as_deref()
            .and_then(|n| model.node(n))
            .map(|n| n.title.clone())
            .unwrap_or_default();
        let mut task = self
            .open_task(cx, &item, &tc)
            .await
            .map_err(|e| gone(e, &node_title))?;
        if self.restricted(cx) && !effective_assignee(&task).is_some_and(|a| cx.is_principal(a)) {
            return Err(EngineError::forbidden(format!(
                "User with id '{}' cannot end this task",
                cx.user
            )));
        }
        Self::ensure_running(&inst, &task.name)?;
        // Route ids are opaque and may change: read them right before completing.
        let (routes, back) = self
            .actions(cx, &item.id)
            .await
            .map_err(|e| gone(e, &task.name))?;
        let Some((field, rid)) = Self::resolve_action(&c.action, &routes, &back) else {
            let known: Vec<&str> = task.info.actions.iter().map(|a| a.name.as_str()).collect();
            return Err(EngineError::bad_request(format!(
                "unknown action '{}' for task '{}'; known actions: {}",
                c.action,
                task.name,
                known.join(", ")
            )));
        };
        if !c.variables.is_empty() {
            tracing::info!(engine = %self.name(), "CQ work items take no variables on completion; ignored");
        }
        let comment = c
            .comment
            .clone()
            .filter(|s| !s.trim().is_empty())
            .or_else(|| {
                c.variables
                    .get("comment")
                    .and_then(Value::as_str)
                    .map(str::to_owned)
                    .filter(|s| !s.trim().is_empty())
            });
        let mut fields = vec![
            ("item".to_owned(), item.id.clone()),
            (field.to_owned(), rid),
        ];
        if let Some(text) = &comment {
            fields.push(("comment".into(), text.clone()));
            if self.config.profile.has_touch_inbox() {
                fields.push((format!("comment-{}", item.id), text.clone()));
            }
        }
        let outcome = self
            .client
            .post_form(cx, "complete_task", "/bin/workflow/inbox", &fields)
            .await;
        // Whatever the answer, the instance may have moved on.
        self.forget(&inst.id, Some(&item.id));
        match outcome {
            Ok(_) => {}
            Err(e) if ambiguous(&e) => {
                if self
                    .item_still_open(cx, &inst.id, &item.id)
                    .await
                    .unwrap_or(true)
                {
                    return Err(e);
                }
                tracing::info!(engine = %self.name(), "ambiguous completion settled: the item is gone");
            }
            Err(e)
                if matches!(
                    e.kind(),
                    ErrorKind::NotFound | ErrorKind::Conflict | ErrorKind::Upstream
                ) =>
            {
                // A concurrent completion wins the race: the item is gone, this one lost.
                if !self
                    .item_still_open(cx, &inst.id, &item.id)
                    .await
                    .unwrap_or(true)
                {
                    return Err(EngineError::conflict(format!(
                        "The task '{}' is not active",
                        task.name
                    )));
                }
                return Err(e);
            }
            Err(e) => return Err(e),
        }
        let after = self.instance_doc(cx, &inst.id).await?;
        if after.work_items.iter().any(|w| w.id == item.id) {
            return Err(EngineError::upstream(
                Some(200),
                format!(
                    "engine '{}' accepted the completion but the task is still open",
                    self.name()
                ),
            ));
        }
        task.state = TaskState::Ended;
        task.workflow_state = Some(convert::workflow_state(&after.state));
        if let Some(text) = comment {
            task.comments.push(Comment {
                author: cx.user.clone(),
                text: Some(text),
                date: Utc::now(),
            });
        }
        Ok(task)
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

    async fn delegate(
        &self,
        cx: &CallContext,
        id: &str,
        actors: Vec<String>,
        comment: Option<String>,
    ) -> Result<()> {
        let [actor] = actors.as_slice() else {
            return Err(EngineError::bad_request(
                "a CQ work item has one assignee: delegate to exactly one principal",
            ));
        };
        let target = bare(actor).to_owned();
        let (item, inst, model) = self.open_item(cx, id).await?;
        let tc = self.context(cx, &inst, &model).await;
        let assignee = item.current_assignee.clone().or_else(|| {
            item.node
                .as_deref()
                .and_then(|n| model.node(n))
                .and_then(|n| n.participant.clone())
        });
        if assignee.as_deref() == Some(target.as_str()) {
            // Already delegated there: nothing to do (CQ would refuse the self-delegation).
            return Ok(());
        }
        let is_actor = assignee.as_deref().is_some_and(|a| cx.is_principal(a));
        let is_initiator = convert::initiator_of(&inst).as_deref() == Some(cx.user.as_str());
        if self.restricted(cx) && !is_actor && !is_initiator {
            return Err(EngineError::forbidden(format!(
                "User with id '{}' cannot delegate task {id}",
                cx.user
            )));
        }
        let node_title = item
            .node
            .as_deref()
            .and_then(|n| model.node(n))
            .map_or_else(|| tc.inst_title.clone(), |n| n.title.clone());
        Self::ensure_running(&inst, &node_title)?;
        let allowed: Delegatees = self.choices(cx, &item.id, ".delegatees.json").await?;
        if !allowed.delegatees.iter().any(|d| d.rid == target) {
            return Err(EngineError::bad_request(format!(
                "'{target}' is not a valid delegatee for task '{node_title}'"
            )));
        }
        let mut fields = vec![
            ("item".to_owned(), item.id.clone()),
            ("delegatee".to_owned(), target.clone()),
        ];
        if let Some(text) = comment.filter(|c| !c.trim().is_empty()) {
            fields.push(("comment".into(), text.clone()));
            if self.config.profile.has_touch_inbox() {
                fields.push((format!("comment-{}", item.id), text));
            }
        }
        let outcome = self
            .client
            .post_form(cx, "delegate_task", "/bin/workflow/inbox", &fields)
            .await;
        self.forget(&inst.id, Some(&item.id));
        outcome?;
        if let Ok(after) = self.item_doc(cx, &item.id).await {
            if after
                .current_assignee
                .as_deref()
                .is_some_and(|a| a != target)
            {
                return Err(EngineError::upstream(
                    Some(200),
                    format!(
                        "engine '{}' accepted the delegation but the assignee did not change",
                        self.name()
                    ),
                ));
            }
        }
        Ok(())
    }

    async fn document(&self, cx: &CallContext, loc: &DocLocator) -> Result<Document> {
        let path = match loc {
            DocLocator::Path(p) => {
                ids::check_payload(p)?;
                p.clone()
            }
            DocLocator::Id(id) => ids::document_path(id)?,
        };
        let mounted = self.config.mounts.iter().any(|m| {
            let m = m.trim_end_matches('/');
            path == m || path.starts_with(&format!("{m}/"))
        });
        if !mounted {
            return Err(EngineError::not_found(format!("no document at {path}")));
        }
        // `<path>/jcr:content.json` also works for assets whose names contain a dot.
        let content: Map<String, Value> = self
            .client
            .get_json(
                cx,
                "get_document",
                &format!("{path}/jcr:content"),
                ".json",
                &[],
            )
            .await
            .map_err(|e| not_found_as(e, format!("no document at {path}")))?;
        let text = |k: &str| content.get(k).and_then(Value::as_str).map(str::to_owned);
        let doc_type = text("jcr:primaryType").map(|t| match t.as_str() {
            "cq:PageContent" => "cq:Page".to_owned(),
            "dam:AssetContent" => "dam:Asset".to_owned(),
            _ => t,
        });
        Ok(Document {
            id: ids::encode(&path),
            path: Some(path),
            title: text("jcr:title").or_else(|| text("dc:title")),
            doc_type,
            state: None,
        })
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
