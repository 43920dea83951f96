//! `impl WorkflowEngine for AlfrescoEngine`.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use async_trait::async_trait;
use flowgate_core::{
    CallContext, Capabilities, Completion, DocLocator, Document, EngineError, EngineInfo,
    ErrorKind, Graph, Health, Page, Result, StartWorkflow, Task, TaskQuery, TaskState,
    WorkflowEngine, WorkflowInstance, WorkflowModel, WorkflowQuery, WorkflowState,
};
use flowgate_http::{Idempotency, Upstream};
use futures::stream::{self, StreamExt, TryStreamExt};
use parking_lot::Mutex;
use reqwest::Method;
use serde_json::{json, Value};

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
        // In pass-through mode what a caller may read depends on the caller.
        let ttl = match auth {
            Auth::Passthrough => 0,
            _ => cfg.cache_ttl_ms,
        };
        let up = Upstream::new(name, cfg.base_url.clone(), cfg.http.clone())?;
        Ok(Self {
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

    /// Whether the circuit breaker lets every call through; while it does not, one
    /// request goes before any concurrent ones (a half-open breaker passes one probe).
    fn breaker_closed(&self) -> bool {
        self.c().up.breaker_state() == flowgate_http::BreakerState::Closed
    }

    /// Whether the adapter itself must enforce the caller's visibility.
    fn filters(&self, cx: &CallContext) -> bool {
        !cx.admin && self.c().mode() != AuthMode::Passthrough
    }

    // ---------- definitions and forms ----------

    async fn latest_definition(
        &self,
        cx: &CallContext,
        key: &str,
    ) -> Result<wire::ProcessDefinition> {
        let q: Query = vec![
            ("where", format!("(key='{}')", sq(key))),
            ("orderBy", "version DESC".into()),
            ("maxItems", "1".into()),
        ];
        let page: wire::List<wire::ProcessDefinition> = self
            .c()
            .get(cx, "model", self.c().wf(&["process-definitions"])?, &q)
            .await?;
        page.list
            .entries
            .into_iter()
            .next()
            .map(|e| e.entry)
            .filter(|d| d.key == key)
            .ok_or_else(|| EngineError::not_found(format!("no workflow model named '{key}'")))
    }

    async fn definition(&self, cx: &CallContext, id: &str) -> Result<wire::ProcessDefinition> {
        if let Some(d) = self.inner.defs.lock().get(id) {
            return Ok(d.clone());
        }
        let d: wire::ProcessDefinition = self
            .c()
            .entry(
                cx,
                "definition",
                self.c().wf(&["process-definitions", id])?,
                &Vec::new(),
            )
            .await?;
        self.inner.defs.lock().insert(id.to_owned(), d.clone());
        Ok(d)
    }

    async fn start_form(&self, cx: &CallContext, def_id: &str) -> Result<Vec<wire::FormElement>> {
        self.c()
            .sub_list(
                cx,
                "start_form",
                self.c()
                    .wf(&["process-definitions", def_id, "start-form-model"])?,
            )
            .await
    }

    async fn task_form(&self, cx: &CallContext, t: &wire::Task) -> Result<Arc<convert::TaskForm>> {
        let key = t.form_resource_key.as_deref().unwrap_or("");
        if !key.is_empty() {
            if let Some(f) = self.inner.forms.lock().get(key) {
                return Ok(f.clone());
            }
        }
        let f: Vec<wire::FormElement> = self
            .c()
            .sub_list(
                cx,
                "task_form",
                self.c().wf(&["tasks", &t.id, "task-form-model"])?,
            )
            .await?;
        let f = Arc::new(convert::TaskForm::new(f));
        if !key.is_empty() {
            self.inner.forms.lock().insert(key.to_owned(), f.clone());
        }
        Ok(f)
    }

    // ---------- processes ----------

    async fn process_info(&self, cx: &CallContext, p: &wire::Process) -> Result<ProcessInfo> {
        let title = match self.definition(cx, &p.process_definition_id).await {
            Ok(d) => d.title.or(d.name),
            Err(_) => None,
        };
        ProcessInfo::new(p, title)
    }

    async fn get_process(&self, cx: &CallContext, native: &str) -> Result<wire::Process> {
        self.c()
            .entry(
                cx,
                "workflow",
                self.c().wf(&["processes", native])?,
                &Vec::new(),
            )
            .await
    }

    async fn process_items(&self, cx: &CallContext, native: &str) -> Result<Vec<wire::Item>> {
        self.c()
            .sub_list(
                cx,
                "workflow_items",
                self.c().wf(&["processes", native, "items"])?,
            )
            .await
    }

    async fn instance_of(&self, cx: &CallContext, p: &wire::Process) -> Result<WorkflowInstance> {
        let info = self.process_info(cx, p).await?;
        let items = self.process_items(cx, &p.id).await?;
        let vars: Vec<wire::Variable> = self
            .c()
            .sub_list(
                cx,
                "workflow_variables",
                self.c().wf(&["processes", &p.id, "variables"])?,
            )
            .await?;
        Ok(convert::instance(&info, &items, &vars))
    }

    /// Raw tasks of a process (`status` = active | any).
    async fn process_tasks(
        &self,
        cx: &CallContext,
        native: &str,
        status: &str,
    ) -> Result<Vec<wire::Task>> {
        self.c()
            .list_all(
                cx,
                "workflow_tasks",
                self.c().wf(&["processes", native, "tasks"])?,
                &vec![("status", status.to_owned())],
            )
            .await
    }

    /// Whether the caller may see a process (service-account mode; admins always may).
    async fn may_see_process(
        &self,
        cx: &CallContext,
        p: &wire::Process,
        info: &ProcessInfo,
    ) -> Result<bool> {
        if !self.filters(cx) || info.initiator.as_deref() == Some(cx.user.as_str()) {
            return Ok(true);
        }
        for t in self.process_tasks(cx, &p.id, "any").await? {
            let task = self.build_task(cx, t, Some(info), false).await?;
            if self.is_actor(cx, &task) {
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// Actor or delegate: may act on the task.
    fn is_actor(&self, cx: &CallContext, t: &Task) -> bool {
        self.names(cx, t.actors.iter().chain(t.delegated_actors.iter()))
    }

    /// Actor, not delegate: may manage (reassign, delegate) the task, as
    /// [`flowgate_core::access::may_manage_task`] says.
    fn is_owner(&self, cx: &CallContext, t: &Task) -> bool {
        self.names(cx, t.actors.iter())
    }

    /// Whether one of `principals` designates the caller (Alfresco spells groups
    /// `GROUP_x`).
    fn names<'a>(
        &self,
        cx: &CallContext,
        mut principals: impl Iterator<Item = &'a String>,
    ) -> bool {
        principals.any(|a| match a.strip_prefix("group:") {
            Some(g) => cx
                .groups
                .iter()
                .any(|mine| convert::alf_group(mine) == convert::alf_group(g)),
            None => convert::user_of(a) == Some(cx.user.as_str()),
        })
    }

    fn may_see_task(&self, cx: &CallContext, t: &Task) -> bool {
        !self.filters(cx)
            || self.is_actor(cx, t)
            || t.workflow_initiator.as_deref() == Some(cx.user.as_str())
    }

    // ---------- tasks ----------

    /// The process of a task, or `None` when the caller may not read it. `task_open`
    /// allows a cached running process: while one of its tasks is open a process runs.
    async fn process_of(
        &self,
        cx: &CallContext,
        pid: &str,
        task_open: bool,
    ) -> Result<Option<Arc<ProcessInfo>>> {
        let cacheable = self.c().mode() != AuthMode::Passthrough;
        if cacheable {
            // While a task of the process is open the process runs; once the task has
            // ended, only a process known to have ended is still known right.
            let cached = self
                .inner
                .processes
                .lock()
                .get(pid)
                .filter(|p| task_open || p.ended.is_some())
                .cloned();
            if cached.is_some() {
                return Ok(cached);
            }
        }
        let p = match self.get_process(cx, pid).await {
            Ok(p) => p,
            Err(e) if matches!(e.kind(), ErrorKind::Forbidden | ErrorKind::NotFound) => {
                return Ok(None)
            }
            Err(e) => return Err(e),
        };
        let (title, settled) = match self.definition(cx, &p.process_definition_id).await {
            Ok(d) => (d.title.or(d.name), true),
            Err(_) => (None, false),
        };
        let info = Arc::new(ProcessInfo::new(&p, title)?);
        // Kept only with its definition's title: a fallback title is not remembered.
        if cacheable && settled {
            let mut cache = self.inner.processes.lock();
            if cache.len() >= PROCESS_CACHE_MAX {
                cache.clear();
            }
            cache.insert(pid.to_owned(), info.clone());
        }
        Ok(Some(info))
    }

    /// Candidates of a task when its actors come from them (pooled or delegated).
    async fn candidates_of(
        &self,
        cx: &CallContext,
        t: &wire::Task,
    ) -> Result<Vec<wire::Candidate>> {
        if t.ended_at.is_none() && (t.assignee.is_none() || convert::is_delegated(t)) {
            let c = self.c();
            c.sub_list(
                cx,
                "task_candidates",
                c.wf(&["tasks", &t.id, "candidates"])?,
            )
            .await
        } else {
            Ok(Vec::new())
        }
    }

    /// Package items of a task (none for a task outside any process): the items of its
    /// process, which the parts cache keeps per process.
    async fn items_of(&self, cx: &CallContext, t: &wire::Task) -> Result<Arc<Vec<wire::Item>>> {
        match &t.process_id {
            Some(pid) => {
                let cache = &self.inner.parts;
                cache.put_task_pid(&t.id, pid);
                if let Some(items) = cache.items(pid) {
                    return Ok(items);
                }
                let ticket = cache.ticket();
                let c = self.c();
                let items: Vec<wire::Item> = c
                    .sub_list(cx, "task_items", c.wf(&["tasks", &t.id, "items"])?)
                    .await?;
                let items = Arc::new(items);
                cache.put_items(ticket, pid, &items);
                Ok(items)
            }
            None => Ok(Arc::default()),
        }
    }

    /// Drops what the caches hold about process `pid` after a write on it.
    fn invalidate(&self, pid: &str) {
        self.inner.parts.invalidate_process(pid);
    }

    /// What a raw task needs besides its process, fetched concurrently.
    async fn task_parts(
        &self,
        cx: &CallContext,
        t: &wire::Task,
        fetch_vars: bool,
    ) -> Result<Parts> {
        let c = self.c();
        let vars = async {
            match (&t.variables, fetch_vars) {
                (Some(v), _) => Ok(v.clone()),
                (None, true) => {
                    c.sub_list(cx, "task_variables", c.wf(&["tasks", &t.id, "variables"])?)
                        .await
                }
                (None, false) => Ok(Vec::new()),
            }
        };
        let (form, vars, items, candidates) = futures::try_join!(
            self.task_form(cx, t),
            vars,
            self.items_of(cx, t),
            self.candidates_of(cx, t)
        )?;
        Ok(Parts {
            form,
            vars: convert::TaskVars::new(vars),
            items,
            candidates,
        })
    }

    /// Builds a neutral task from a raw one. Everything it still needs is independent,
    /// so it is fetched in one concurrent wave.
    async fn build_task(
        &self,
        cx: &CallContext,
        t: wire::Task,
        process: Option<&ProcessInfo>,
        fetch_vars: bool,
    ) -> Result<Task> {
        let own_process = async {
            match (process, &t.process_id) {
                (None, Some(pid)) => self.process_of(cx, pid, t.ended_at.is_none()).await,
                _ => Ok(None),
            }
        };
        let (p, owned) = futures::try_join!(self.task_parts(cx, &t, fetch_vars), own_process)?;
        let owned = owned.as_deref();
        convert::task(TaskParts {
            task: &t,
            vars: &p.vars,
            items: &p.items,
            candidates: &p.candidates,
            form: &p.form,
            process: process.or(owned),
            service_user: self.c().service_user(),
        })
    }

    /// Loads one task with everything its neutral form needs. Wave one: the task and
    /// its items (they only need the id). Wave two: its variables — read through the
    /// runtime list of its process when only that list can tell a pending delegation —
    /// with its candidates, process and form (the last two usually cached). A third
    /// request only for a delegated task that had no candidates read yet.
    ///
    /// Unless `fresh`, items, variables and a "not delegated" verdict come from the
    /// parts cache when it has them: a warm read of an assigned task is the task's own
    /// `GET` alone. `fresh` (used before writes) reads everything from Alfresco.
    async fn load_task(
        &self,
        cx: &CallContext,
        native: &str,
        fresh: bool,
    ) -> Result<(wire::Task, Task)> {
        let c = self.c();
        let cache = &self.inner.parts;
        let use_cache = !fresh && cache.enabled();
        // Taken before any request: what is read from here on may be stored.
        let snapshot = cache.snapshot(native, use_cache);
        let ticket = snapshot.ticket;
        let no_query: Query = Vec::new();
        let task_url = c.wf(&["tasks", native])?;
        let cached_items = snapshot.items.clone();
        let items_fetched = cached_items.is_none();
        let (raw, items) = match cached_items {
            Some(items) => (
                c.entry::<wire::Task>(cx, "task", task_url, &no_query).await,
                Ok(items),
            ),
            None => {
                let items_url = c.wf(&["tasks", native, "items"])?;
                if self.breaker_closed() {
                    let (raw, items) = futures::join!(
                        c.entry::<wire::Task>(cx, "task", task_url, &no_query),
                        c.sub_list::<wire::Item>(cx, "task_items", items_url),
                    );
                    (raw, items.map(Arc::new))
                } else {
                    // A half-open breaker lets one probe through: the rest follow its answer.
                    let raw = c.entry::<wire::Task>(cx, "task", task_url, &no_query).await;
                    (
                        raw,
                        c.sub_list::<wire::Item>(cx, "task_items", items_url)
                            .await
                            .map(Arc::new),
                    )
                }
            }
        };
        // The task's own answer decides (e.g. its 404 or 403), before its parts'.
        let raw = raw?;
        let items = match &raw.process_id {
            Some(pid) => {
                let items = items?;
                if use_cache && items_fetched {
                    cache.put_task_pid(native, pid);
                    cache.put_items(ticket, pid, &items);
                }
                items
            }
            None => Arc::default(),
        };
        let open = raw.ended_at.is_none();
        let runtime_and_vars = async {
            let pid = match &raw.process_id {
                Some(pid) => pid,
                None => return Ok((None, Arc::new(self.shown_vars(cx, native).await?))),
            };
            if !self.may_be_delegated(&raw) {
                if let Some(vars) = snapshot.vars(cache, !open) {
                    return Ok((None, vars));
                }
                let vars = Arc::new(self.shown_vars(cx, native).await?);
                if use_cache {
                    cache.put_vars(ticket, native, pid, !open, &vars);
                }
                return Ok((None, vars));
            }
            if use_cache {
                // Same owner and assignee as when the runtime list said "not delegated".
                let verdict = cache.verdict(native, raw.owner.as_deref(), raw.assignee.as_deref());
                if let (Some(state), Some(vars)) = (verdict, snapshot.vars(cache, false)) {
                    let mut rt = raw.clone();
                    rt.state = state;
                    return Ok((Some(rt), vars));
                }
            }
            let list = self
                .tasks_where(cx, format!("(processId='{}')", sq(pid)))
                .await?;
            if use_cache {
                // The runtime list shows every open task of the process: keep them all.
                for r in &list {
                    if let Some(v) = &r.variables {
                        cache.put_vars(
                            ticket,
                            &r.id,
                            pid,
                            false,
                            &Arc::new(convert::TaskVars::new(v.clone())),
                        );
                    }
                    if !convert::is_delegated(r) {
                        cache.put_verdict(ticket, pid, r);
                    }
                }
            }
            match list.into_iter().find(|r| r.id == raw.id) {
                Some(mut rt) => match rt.variables.take() {
                    Some(v) => Ok((Some(rt), Arc::new(convert::TaskVars::new(v)))),
                    None => Ok((Some(rt), Arc::new(self.shown_vars(cx, native).await?))),
                },
                None => Ok((None, Arc::new(self.shown_vars(cx, native).await?))),
            }
        };
        let process = async {
            match &raw.process_id {
                Some(pid) => self.process_of(cx, pid, open).await,
                None => Ok(None),
            }
        };
        let ((runtime, vars), form, candidates, process) = futures::try_join!(
            runtime_and_vars,
            self.task_form(cx, &raw),
            self.candidates_of(cx, &raw),
            process
        )?;
        let t = runtime.unwrap_or(raw);
        let candidates = if candidates.is_empty() && t.owner.is_none() && convert::is_delegated(&t)
        {
            // A delegated pooled task: its actors are its candidates.
            self.candidates_of(cx, &t).await?
        } else {
            candidates
        };
        let task = convert::task(TaskParts {
            task: &t,
            vars: &vars,
            items: &items,
            candidates: &candidates,
            form: &form,
            process: process.as_deref(),
            service_user: c.service_user(),
        })?;
        Ok((t, task))
    }

    /// Whether an open task read from history might be a pending delegation, which only
    /// the runtime list tells: a delegated task has an assignee other than its owner
    /// (or, when it was pooled, no owner at all).
    fn may_be_delegated(&self, t: &wire::Task) -> bool {
        t.ended_at.is_none()
            && match (&t.owner, &t.assignee) {
                (_, None) => false,
                (Some(o), Some(a)) => o != a,
                (None, Some(_)) => true,
            }
    }

    async fn raw_task(&self, cx: &CallContext, native: &str) -> Result<wire::Task> {
        let t: wire::Task = self
            .c()
            .entry(cx, "task", self.c().wf(&["tasks", native])?, &Vec::new())
            .await?;
        // The single GET reads history and never says `delegated`; the runtime list does.
        let Some(pid) = t.process_id.clone().filter(|_| self.may_be_delegated(&t)) else {
            return Ok(t);
        };
        let runtime = self
            .tasks_where(cx, format!("(processId='{}')", sq(&pid)))
            .await?;
        Ok(runtime.into_iter().find(|r| r.id == t.id).unwrap_or(t))
    }

    /// A task's variables with their shown form.
    async fn shown_vars(&self, cx: &CallContext, native: &str) -> Result<convert::TaskVars> {
        Ok(convert::TaskVars::new(self.task_vars(cx, native).await?))
    }

    async fn task_vars(&self, cx: &CallContext, native: &str) -> Result<Vec<wire::Variable>> {
        self.c()
            .sub_list(
                cx,
                "task_variables",
                self.c().wf(&["tasks", native, "variables"])?,
            )
            .await
    }

    /// Updates task `native` of process `pid`; whatever the outcome, the parts cached
    /// for that process are dropped (a failed or timed-out write may still have landed).
    async fn put_task(
        &self,
        cx: &CallContext,
        op: &'static str,
        (native, pid): (&str, Option<&str>),
        select: &str,
        body: &Value,
    ) -> Result<flowgate_http::Response> {
        let res = self
            .c()
            .call(
                cx,
                op,
                Idempotency::NonIdempotent,
                Method::PUT,
                self.c().wf(&["tasks", native])?,
                &vec![("select", select.to_owned())],
                Some(body),
            )
            .await;
        if let Some(pid) = pid {
            self.invalidate(pid);
        }
        res
    }

    /// Loads a task the caller may see, or fails with NotFound/Forbidden. `fresh`
    /// bypasses the parts cache (before a write, everything is read from Alfresco).
    async fn visible_task(
        &self,
        cx: &CallContext,
        id: &str,
        fresh: bool,
    ) -> Result<(wire::Task, Task)> {
        let native = convert::to_native_id(id)?;
        let (raw, task) = self.load_task(cx, &native, fresh).await?;
        if !self.may_see_task(cx, &task) {
            return Err(EngineError::forbidden(format!(
                "User with id '{}' cannot see task {id}",
                cx.user
            )));
        }
        Ok((raw, task))
    }

    /// Converts many raw tasks: one process lookup per distinct process (cached in
    /// service modes) and the per-task parts, all in one bounded concurrent wave.
    async fn build_tasks(&self, cx: &CallContext, raws: Vec<wire::Task>) -> Result<Vec<Task>> {
        // A process with an open task in the list is running.
        let mut pids: BTreeMap<String, bool> = BTreeMap::new();
        for t in &raws {
            if let Some(pid) = &t.process_id {
                *pids.entry(pid.clone()).or_insert(false) |= t.ended_at.is_none();
            }
        }
        let infos = stream::iter(pids)
            .map(|(pid, open)| async move {
                let info = self.process_of(cx, &pid, open).await?;
                Ok::<_, EngineError>((pid, info))
            })
            .buffer_unordered(FAN_OUT)
            .try_collect::<Vec<(String, Option<Arc<ProcessInfo>>)>>();
        let parts = stream::iter(0..raws.len())
            .map(|i| self.task_parts(cx, &raws[i], true))
            .buffered(FAN_OUT)
            .try_collect::<Vec<Parts>>();
        let (infos, parts) = futures::try_join!(infos, parts)?;
        let infos: HashMap<String, Option<Arc<ProcessInfo>>> = infos.into_iter().collect();
        raws.iter()
            .zip(parts)
            .map(|(t, p)| {
                let info = t
                    .process_id
                    .as_ref()
                    .and_then(|pid| infos.get(pid))
                    .and_then(Option::as_ref);
                convert::task(TaskParts {
                    task: t,
                    vars: &p.vars,
                    items: &p.items,
                    candidates: &p.candidates,
                    form: &p.form,
                    process: info.map(|v| &**v),
                    service_user: self.c().service_user(),
                })
            })
            .collect()
    }

    /// Tasks matching a `where` clause, each with its local and process variables (the
    /// list carries them when asked, which saves one request per task).
    async fn tasks_where(&self, cx: &CallContext, clause: String) -> Result<Vec<wire::Task>> {
        let clause = match clause.strip_suffix(')') {
            Some(head) => {
                format!("{head} AND includeTaskVariables=true AND includeProcessVariables=true)")
            }
            None => clause,
        };
        self.c()
            .list_all(
                cx,
                "tasks",
                self.c().wf(&["tasks"])?,
                &vec![("where", clause)],
            )
            .await
    }

    async fn document_process_ids(&self, cx: &CallContext, doc: &str) -> Result<Vec<String>> {
        let uuid = convert::node_uuid(doc)?;
        let data: wire::LegacyInstances = self
            .c()
            .get(
                cx,
                "document_workflows",
                self.c().legacy_node_workflows(&uuid)?,
                &Vec::new(),
            )
            .await?;
        data.data
            .into_iter()
            .map(|i| convert::to_native_id(&i.id))
            .collect()
    }

    /// Re-reads a task after a write whose outcome is unknown.
    async fn reconcile_completed(&self, cx: &CallContext, native: &str) -> Option<wire::Task> {
        let t = self.raw_task(cx, native).await.ok()?;
        (t.state == "completed").then_some(t)
    }
}

fn sort_tasks(tasks: &mut [Task]) {
    tasks.sort_by(|a, b| {
        let due = match (a.due_date, b.due_date) {
            (Some(x), Some(y)) => x.cmp(&y),
            (Some(_), None) => std::cmp::Ordering::Less,
            (None, Some(_)) => std::cmp::Ordering::Greater,
            (None, None) => std::cmp::Ordering::Equal,
        };
        due.then(a.created.cmp(&b.created))
            .then_with(|| natural(&a.id).cmp(&natural(&b.id)))
    });
}

/// Numeric ids compare as numbers.
fn natural(id: &str) -> (usize, &str) {
    (id.len(), id)
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
    fn info(&self) -> &EngineInfo {
        &self.info
    }

    async fn models(&self, cx: &CallContext) -> Result<Vec<WorkflowModel>> {
        let defs: Vec<wire::ProcessDefinition> = self
            .c()
            .list_all(
                cx,
                "models",
                self.c().wf(&["process-definitions"])?,
                &vec![("orderBy", "key ASC".into())],
            )
            .await?;
        // Every version is listed: keep the highest per key.
        let mut latest: BTreeMap<String, wire::ProcessDefinition> = BTreeMap::new();
        for d in defs {
            match latest.get(&d.key) {
                Some(cur) if cur.version >= d.version => {}
                _ => {
                    latest.insert(d.key.clone(), d);
                }
            }
        }
        let mut models: Vec<WorkflowModel> = stream::iter(latest.into_values())
            .map(|d| async move {
                let form = self.start_form(cx, &d.id).await?;
                Ok::<_, EngineError>(convert::model(&d, &form))
            })
            .buffered(FAN_OUT)
            .try_collect()
            .await?;
        models.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(models)
    }

    async fn model(&self, cx: &CallContext, name: &str) -> Result<WorkflowModel> {
        let d = self.latest_definition(cx, name).await?;
        let form = self.start_form(cx, &d.id).await?;
        Ok(convert::model(&d, &form))
    }

    async fn model_graph(&self, cx: &CallContext, name: &str) -> Result<Graph> {
        let d = self.latest_definition(cx, name).await?;
        if let Some(g) = convert::builtin_graph(&d.key) {
            return Ok(g);
        }
        // A custom definition: learn its shape from the activities of a recent instance.
        let q: Query = vec![
            (
                "where",
                format!("(status='any' AND processDefinitionKey='{}')", sq(&d.key)),
            ),
            ("maxItems", "1".into()),
        ];
        let page: wire::List<wire::Process> = self
            .c()
            .get(cx, "model_graph", self.c().wf(&["processes"])?, &q)
            .await?;
        let Some(p) = page.list.entries.into_iter().next() else {
            return Ok(Graph::default());
        };
        let acts: Vec<wire::Activity> = self
            .c()
            .sub_list(
                cx,
                "model_graph",
                self.c().wf(&["processes", &p.entry.id, "activities"])?,
            )
            .await?;
        Ok(convert::graph_from_activities(&acts))
    }

    async fn start(&self, cx: &CallContext, req: StartWorkflow) -> Result<WorkflowInstance> {
        let d = self.latest_definition(cx, &req.model).await?;
        let form = self.start_form(cx, &d.id).await?;
        let mut items = Vec::new();
        for doc in &req.documents {
            let loc = if doc.starts_with('/') {
                DocLocator::Path(doc.clone())
            } else {
                DocLocator::Id(doc.clone())
            };
            items.push(self.document(cx, &loc).await?.id);
        }
        let mut vars = serde_json::Map::new();
        for (name, value) in &req.variables {
            let alf = convert::alf_name(name);
            // Alfresco drops unknown start variables silently; drop them here on purpose.
            if form.iter().any(|e| e.name == alf) && !value.is_null() {
                vars.insert(alf.clone(), convert::alf_value(&alf, value));
            }
        }
        // Single-reviewer models accept a one-person `participants` list too.
        if form.iter().any(|e| e.name == "bpm_assignee") && !vars.contains_key("bpm_assignee") {
            if let Some(v) = req.variables.get("participants") {
                let a = convert::alf_value("bpm_assignee", v);
                if !a.is_null() {
                    vars.insert("bpm_assignee".into(), a);
                }
            }
        }
        for e in form
            .iter()
            .filter(|e| e.required && e.default_value.is_none())
        {
            if !vars.contains_key(&e.name) {
                return Err(EngineError::bad_request(format!(
                    "variable '{}' is required to start '{}'",
                    convert::nuxeo_name(&e.name),
                    req.model
                )));
            }
        }
        let body = wire::ProcessBody {
            process_definition_key: d.key.clone(),
            business_key: convert::business_key(&cx.user),
            variables: vars,
            items,
        };
        let body = serde_json::to_value(&body)
            .map_err(|_| EngineError::upstream(None, "cannot encode the start request"))?;
        let resp = self
            .c()
            .call(
                cx,
                "start",
                Idempotency::NonIdempotent,
                Method::POST,
                self.c().wf(&["processes"])?,
                &Vec::new(),
                Some(&body),
            )
            .await?;
        let p: wire::Entry<wire::Process> = self.c().up.read_json(resp)?;
        self.invalidate(&p.entry.id);
        self.instance_of(cx, &p.entry).await
    }

    async fn workflow(&self, cx: &CallContext, id: &str) -> Result<WorkflowInstance> {
        let native = convert::to_native_id(id)?;
        let p = self.get_process(cx, &native).await?;
        let info = self.process_info(cx, &p).await?;
        if !self.may_see_process(cx, &p, &info).await? {
            return Err(EngineError::forbidden(format!(
                "User with id '{}' cannot see workflow {id}",
                cx.user
            )));
        }
        self.instance_of(cx, &p).await
    }

    async fn workflows(
        &self,
        cx: &CallContext,
        q: WorkflowQuery,
    ) -> Result<Page<WorkflowInstance>> {
        let procs: Vec<wire::Process> = match &q.document {
            Some(doc) => {
                let ids = self.document_process_ids(cx, doc).await?;
                let mut out = Vec::new();
                for pid in ids {
                    match self.get_process(cx, &pid).await {
                        Ok(p) => out.push(p),
                        Err(e)
                            if matches!(e.kind(), ErrorKind::Forbidden | ErrorKind::NotFound) => {}
                        Err(e) => return Err(e),
                    }
                }
                out
            }
            None => {
                let mut clause = vec![format!(
                    "status='{}'",
                    if q.running_only { "active" } else { "any" }
                )];
                if let Some(m) = &q.model_name {
                    clause.push(format!("processDefinitionKey='{}'", sq(m)));
                }
                if let (Some(i), AuthMode::Passthrough) = (&q.initiator, self.c().mode()) {
                    clause.push(format!("startUserId='{}'", sq(i)));
                }
                self.c()
                    .list_all(
                        cx,
                        "workflows",
                        self.c().wf(&["processes"])?,
                        &vec![
                            ("where", format!("({})", clause.join(" AND "))),
                            ("orderBy", "startedAt ASC".into()),
                        ],
                    )
                    .await?
            }
        };
        let mut keep = Vec::new();
        for p in procs {
            let info = self.process_info(cx, &p).await?;
            if q.running_only && info.state != WorkflowState::Running {
                continue;
            }
            if q.model_name.as_ref().is_some_and(|m| *m != info.key) {
                continue;
            }
            if q.initiator
                .as_ref()
                .is_some_and(|i| Some(i) != info.initiator.as_ref())
            {
                continue;
            }
            if !self.may_see_process(cx, &p, &info).await? {
                continue;
            }
            keep.push((info.created, p));
        }
        keep.sort_by(|a, b| {
            a.0.cmp(&b.0)
                .then_with(|| natural(&a.1.id).cmp(&natural(&b.1.id)))
        });
        let total = keep.len();
        let page: Vec<wire::Process> = keep
            .into_iter()
            .skip(q.page.offset)
            .take(q.page.limit)
            .map(|(_, p)| p)
            .collect();
        let items = stream::iter(page)
            .map(|p| async move { self.instance_of(cx, &p).await })
            .buffered(FAN_OUT)
            .try_collect()
            .await?;
        Ok(Page { items, total })
    }

    async fn cancel(&self, cx: &CallContext, id: &str) -> Result<()> {
        let native = convert::to_native_id(id)?;
        let p = self.get_process(cx, &native).await?;
        let info = self.process_info(cx, &p).await?;
        if !flowgate_core::access::may_cancel_workflow(cx, info.initiator.as_deref()) {
            return Err(EngineError::forbidden(format!(
                "User with id '{}' cannot cancel workflow {id}",
                cx.user
            )));
        }
        if info.state != WorkflowState::Running {
            return Err(EngineError::bad_request(format!(
                "workflow {id} is not running"
            )));
        }
        let res = self
            .c()
            .call(
                cx,
                "cancel",
                Idempotency::NonIdempotent,
                Method::DELETE,
                self.c().wf(&["processes", &native])?,
                &Vec::new(),
                None,
            )
            .await;
        // Whatever the outcome (a timed-out DELETE may have landed), nothing cached about
        // the process is trusted any more.
        self.invalidate(&native);
        self.inner.processes.lock().remove(&native);
        match res {
            Ok(_) => Ok(()),
            Err(e) if e.kind() == ErrorKind::Timeout => {
                // The DELETE may have happened: a deleteReason proves it.
                match self.get_process(cx, &native).await {
                    Ok(p) if p.delete_reason.is_some() => Ok(()),
                    _ => Err(e),
                }
            }
            Err(e) => Err(e),
        }
    }

    async fn workflow_graph(&self, cx: &CallContext, id: &str) -> Result<Graph> {
        let native = convert::to_native_id(id)?;
        let p = self.get_process(cx, &native).await?;
        let info = self.process_info(cx, &p).await?;
        if !self.may_see_process(cx, &p, &info).await? {
            return Err(EngineError::forbidden(format!(
                "User with id '{}' cannot see workflow {id}",
                cx.user
            )));
        }
        // Activities are sliced silently at maxItems: keep reading while pages are full.
        let mut acts: Vec<wire::Activity> = Vec::new();
        let page = 1000usize;
        loop {
            let q: Query = vec![
                ("skipCount", acts.len().to_string()),
                ("maxItems", page.to_string()),
            ];
            let l: wire::List<wire::Activity> = self
                .c()
                .get(
                    cx,
                    "workflow_graph",
                    self.c().wf(&["processes", &native, "activities"])?,
                    &q,
                )
                .await?;
            let n = l.list.entries.len();
            acts.extend(l.list.entries.into_iter().map(|e| e.entry));
            if n < page || acts.len() >= self.c().max_scan {
                break;
            }
        }
        let g = convert::builtin_graph(&info.key)
            .unwrap_or_else(|| convert::graph_from_activities(&acts));
        Ok(convert::mark_graph(g, &acts, info.state))
    }

    async fn task(&self, cx: &CallContext, id: &str) -> Result<Task> {
        Ok(self.visible_task(cx, id, false).await?.1)
    }

    async fn tasks(&self, cx: &CallContext, q: TaskQuery) -> Result<Page<Task>> {
        let status = if q.open_only { "active" } else { "any" };
        let model = q
            .model_name
            .as_ref()
            .map(|m| format!(" AND processDefinitionKey='{}'", sq(m)))
            .unwrap_or_default();
        let mut raws: Vec<wire::Task> = Vec::new();
        if let Some(wid) = &q.workflow_id {
            let native = match convert::to_native_id(wid) {
                Ok(n) => n,
                Err(_) => return Ok(Page::empty()),
            };
            match self.process_tasks(cx, &native, status).await {
                Ok(t) => raws = t,
                Err(e) if matches!(e.kind(), ErrorKind::NotFound | ErrorKind::Forbidden) => {
                    return Ok(Page::empty())
                }
                Err(e) => return Err(e),
            }
        } else if let Some(doc) = &q.document {
            let pids = self.document_process_ids(cx, doc).await?;
            let lists: Vec<Vec<wire::Task>> = stream::iter(pids)
                .map(|pid| async move {
                    match self.process_tasks(cx, &pid, status).await {
                        Ok(t) => Ok(t),
                        Err(e)
                            if matches!(e.kind(), ErrorKind::NotFound | ErrorKind::Forbidden) =>
                        {
                            Ok(Vec::new())
                        }
                        Err(e) => Err(e),
                    }
                })
                .buffered(FAN_OUT)
                .try_collect()
                .await?;
            raws.extend(lists.into_iter().flatten());
        } else if let Some(actor) = &q.actor {
            let u = sq(&actor.user);
            let mut clauses = vec![format!("(status='{status}' AND assignee='{u}'{model})")];
            if q.open_only {
                clauses.push(format!("(status='active' AND candidateUser='{u}'{model})"));
                for g in &actor.groups {
                    clauses.push(format!(
                        "(status='active' AND candidateGroup='{}'{model})",
                        sq(&convert::alf_group(g))
                    ));
                }
            }
            if let Some(svc) = self.c().service_user() {
                // Tasks of the initiator are assigned to the service account in Alfresco.
                if svc != actor.user {
                    clauses.push(format!(
                        "(status='{status}' AND assignee='{}' AND processBusinessKey MATCHES('flowgate:%:{u}'){model})",
                        sq(svc)
                    ));
                }
            }
            // Alfresco has no OR: the clauses are independent lists, read concurrently.
            let mut clauses = clauses.into_iter();
            if !self.breaker_closed() {
                // A half-open breaker lets one probe through: the rest follow its answer.
                if let Some(first) = clauses.next() {
                    raws.extend(self.tasks_where(cx, first).await?);
                }
            }
            let lists: Vec<Vec<wire::Task>> = stream::iter(clauses)
                .map(|c| self.tasks_where(cx, c))
                .buffered(FAN_OUT)
                .try_collect()
                .await?;
            raws.extend(lists.into_iter().flatten());
        } else {
            raws = self
                .tasks_where(cx, format!("(status='{status}'{model})"))
                .await?;
        }
        let mut seen = std::collections::HashSet::new();
        raws.retain(|t| seen.insert(t.id.clone()));
        let mut tasks = self.build_tasks(cx, raws).await?;
        tasks.retain(|t| {
            (!q.open_only || t.state == TaskState::Opened)
                && q.model_name
                    .as_ref()
                    .is_none_or(|m| t.workflow_model_name.as_ref() == Some(m))
                && q.document.as_ref().is_none_or(|d| {
                    let d = convert::node_uuid(d).unwrap_or_default();
                    t.target_documents.contains(&d)
                })
                && q.actor.as_ref().is_none_or(|a| {
                    t.actors.iter().chain(t.delegated_actors.iter()).any(|x| {
                        a.matches(x)
                            || x.strip_prefix("group:").is_some_and(|g| {
                                a.groups
                                    .iter()
                                    .any(|mine| convert::alf_group(mine) == convert::alf_group(g))
                            })
                    })
                })
                && self.may_see_task(cx, t)
        });
        sort_tasks(&mut tasks);
        Ok(q.page.slice(tasks))
    }

    async fn complete(&self, cx: &CallContext, id: &str, c: Completion) -> Result<Task> {
        let (raw, task) = self.visible_task(cx, id, true).await?;
        if !cx.admin && !self.is_actor(cx, &task) && self.c().mode() != AuthMode::Passthrough {
            return Err(EngineError::forbidden(format!(
                "User with id '{}' cannot end this task",
                cx.user
            )));
        }
        ensure_open(&task)?;
        let form = self.task_form(cx, &raw).await?;
        let mut variables: Vec<Value> = Vec::new();
        match convert::outcome(&form.elements) {
            Some((prop, values, _)) => {
                let value = values
                    .iter()
                    .find(|v| v.eq_ignore_ascii_case(&c.action))
                    .ok_or_else(|| {
                        EngineError::bad_request(format!(
                            "action '{}' is not one of {}",
                            c.action,
                            values
                                .iter()
                                .map(|v| v.to_lowercase())
                                .collect::<Vec<_>>()
                                .join(", ")
                        ))
                    })?;
                variables.push(json!({"name": prop, "value": value, "scope": "local"}));
            }
            None => {
                if c.action != convert::DEFAULT_ACTION {
                    return Err(EngineError::bad_request(format!(
                        "action '{}' is not one of {}",
                        c.action,
                        convert::DEFAULT_ACTION
                    )));
                }
            }
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
            });
        let native = raw.id.clone();
        if let Some(text) = comment {
            let vars = self.task_vars(cx, &native).await?;
            variables.push(convert::comment_log_with(
                &vars,
                &cx.user,
                Some(text.clone()),
            ));
            variables.push(json!({"name": "bpm_comment", "value": text, "scope": "local"}));
        }
        for (name, value) in &c.variables {
            let alf = convert::alf_name(name);
            if name == "comment"
                || alf == "bpm_comment"
                || variables.iter().any(|v| v["name"] == json!(alf))
            {
                continue;
            }
            // Unknown names are ignored, as the trait says.
            if form.elements.iter().any(|e| e.name == alf) {
                variables.push(json!({"name": alf, "value": convert::alf_value(&alf, value), "scope": "local"}));
            }
        }
        let mut assignee = raw.assignee.clone();
        if convert::is_delegated(&raw) {
            // Activiti refuses to complete a pending delegation: resolve it first, which
            // hands the task back to its owner.
            self.put_task(
                cx,
                "resolve",
                (&native, raw.process_id.as_deref()),
                "state",
                &json!({"state": "resolved"}),
            )
            .await?;
            assignee = raw.owner.clone();
        }
        if assignee.is_none() {
            // Pooled task: take it first so that the completing user is recorded.
            let (select, body) = match self.c().mode() {
                AuthMode::Passthrough => ("state", json!({"state": "claimed"})),
                _ => ("assignee", json!({"assignee": cx.user})),
            };
            self.put_task(
                cx,
                "claim",
                (&native, raw.process_id.as_deref()),
                select,
                &body,
            )
            .await?;
        }
        let body = json!({"state": "completed", "variables": variables});
        let res = self
            .put_task(
                cx,
                "complete",
                (&native, raw.process_id.as_deref()),
                "state,variables",
                &body,
            )
            .await;
        let done = match res {
            Ok(resp) => {
                self.c()
                    .up
                    .read_json::<wire::Entry<wire::Task>>(resp)?
                    .entry
            }
            Err(e) if e.kind() == ErrorKind::Timeout => {
                match self.reconcile_completed(cx, &native).await {
                    Some(t) => t,
                    None => return Err(e),
                }
            }
            Err(e) => return Err(e),
        };
        let fresh = self.raw_task(cx, &done.id).await.unwrap_or(done);
        self.build_task(cx, fresh, None, true).await
    }

    async fn reassign(
        &self,
        cx: &CallContext,
        id: &str,
        actors: Vec<String>,
        comment: Option<String>,
    ) -> Result<()> {
        let (raw, task) = self.visible_task(cx, id, true).await?;
        let user = single_user(&actors, "reassign")?;
        if !cx.admin
            && !self.is_owner(cx, &task)
            && task.workflow_initiator.as_deref() != Some(cx.user.as_str())
        {
            return Err(EngineError::forbidden(format!(
                "User with id '{}' cannot reassign task {id}",
                cx.user
            )));
        }
        ensure_open(&task)?;
        if !task.info.allow_reassignment {
            return Err(EngineError::conflict(format!(
                "Task {id} can not be reassigned. Node {} doesn't allow reassignment.",
                task.node_id
            )));
        }
        let vars = self.task_vars(cx, &raw.id).await?;
        let log =
            convert::comment_log_with(&vars, &cx.user, comment.filter(|c| !c.trim().is_empty()));
        let body = json!({"assignee": user, "variables": [log]});
        self.put_task(
            cx,
            "reassign",
            (&raw.id, raw.process_id.as_deref()),
            "assignee,variables",
            &body,
        )
        .await?;
        Ok(())
    }

    async fn delegate(
        &self,
        cx: &CallContext,
        id: &str,
        actors: Vec<String>,
        comment: Option<String>,
    ) -> Result<()> {
        let (raw, task) = self.visible_task(cx, id, true).await?;
        let user = single_user(&actors, "delegate")?;
        if !cx.admin
            && !self.is_owner(cx, &task)
            && task.workflow_initiator.as_deref() != Some(cx.user.as_str())
        {
            return Err(EngineError::forbidden(format!(
                "User with id '{}' cannot delegate task {id}",
                cx.user
            )));
        }
        ensure_open(&task)?;
        let vars = self.task_vars(cx, &raw.id).await?;
        let log =
            convert::comment_log_with(&vars, &cx.user, comment.filter(|c| !c.trim().is_empty()));
        if task.delegated_actors.contains(&user) {
            // Already delegated to this user: only record the comment.
            self.put_task(
                cx,
                "delegate",
                (&raw.id, raw.process_id.as_deref()),
                "variables",
                &json!({"variables": [log]}),
            )
            .await?;
            return Ok(());
        }
        if !task.delegated_actors.is_empty() {
            return Err(EngineError::conflict(format!(
                "task {id} is already delegated; Alfresco keeps one delegate per task"
            )));
        }
        let body = json!({"state": "delegated", "assignee": user, "variables": [log]});
        self.put_task(
            cx,
            "delegate",
            (&raw.id, raw.process_id.as_deref()),
            "state,assignee,variables",
            &body,
        )
        .await?;
        Ok(())
    }

    async fn document(&self, cx: &CallContext, loc: &DocLocator) -> Result<Document> {
        let node: wire::Node = match loc {
            DocLocator::Id(id) => {
                let uuid = convert::node_uuid(id)?;
                self.c()
                    .entry(
                        cx,
                        "document",
                        self.c().core(&["nodes", &uuid])?,
                        &vec![("include", "path".into())],
                    )
                    .await?
            }
            DocLocator::Path(p) => {
                let rel = p.strip_prefix("/Company Home").unwrap_or(p);
                // Validate the whole path (no dot segments, control characters, '//').
                self.c()
                    .up
                    .url_with_path(&["x"], if rel.is_empty() { "/" } else { rel })?;
                let rel = rel.trim_start_matches('/').to_owned();
                self.c()
                    .entry(
                        cx,
                        "document",
                        self.c().core(&["nodes", "-root-"])?,
                        &vec![("relativePath", rel), ("include", "path".into())],
                    )
                    .await?
            }
        };
        if node.is_folder {
            return Err(EngineError::bad_request(format!(
                "'{}' is a folder, not a document",
                node.name
            )));
        }
        let path = node.path.as_ref().map(|p| {
            let parent = p.name.strip_prefix("/Company Home").unwrap_or(&p.name);
            format!("{}/{}", parent.trim_end_matches('/'), node.name)
        });
        Ok(Document {
            id: node.id,
            path,
            title: Some(node.name),
            doc_type: node.node_type,
            state: None,
        })
    }

    async fn health(&self) -> Health {
        let cx = CallContext::admin("health").with_timeout(std::time::Duration::from_secs(5));
        if self.c().mode() == AuthMode::Passthrough {
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
