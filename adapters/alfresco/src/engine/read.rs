//! Reading processes and tasks and assembling neutral tasks from their parts.

use super::*;

impl AlfrescoEngine {
    pub(super) async fn process_info(
        &self,
        cx: &CallContext,
        p: &wire::Process,
    ) -> Result<ProcessInfo> {
        let title = match &p.process_definition_id {
            Some(def) => match self.definition(cx, def).await {
                Ok(d) => d.title.or(d.name),
                Err(_) => None,
            },
            None => None,
        };
        ProcessInfo::new(p, title)
    }

    pub(super) async fn get_process(
        &self,
        cx: &CallContext,
        native: &str,
    ) -> Result<wire::Process> {
        self.c()
            .entry(
                cx,
                "workflow",
                self.c().wf(&["processes", native])?,
                &Vec::new(),
            )
            .await
    }

    pub(super) async fn process_items(
        &self,
        cx: &CallContext,
        native: &str,
    ) -> Result<Vec<wire::Item>> {
        self.c()
            .sub_list(
                cx,
                "workflow_items",
                self.c().wf(&["processes", native, "items"])?,
            )
            .await
    }

    pub(super) async fn instance_of(
        &self,
        cx: &CallContext,
        p: &wire::Process,
    ) -> Result<WorkflowInstance> {
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
    pub(super) async fn process_tasks(
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

    /// The process of a task, or `None` when the caller may not read it. `task_open`
    /// allows a cached running process: while one of its tasks is open a process runs.
    pub(super) async fn process_of(
        &self,
        cx: &CallContext,
        pid: &str,
        task_open: bool,
    ) -> Result<Option<Arc<ProcessInfo>>> {
        let cacheable = !self.c().mode().forwards_caller();
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
        let (title, settled) = match &p.process_definition_id {
            Some(def) => match self.definition(cx, def).await {
                Ok(d) => (d.title.or(d.name), true),
                Err(_) => (None, false),
            },
            // Nothing more to learn about it: the answer itself is settled.
            None => (None, true),
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
    pub(super) async fn candidates_of(
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
    pub(super) async fn items_of(
        &self,
        cx: &CallContext,
        t: &wire::Task,
    ) -> Result<Arc<Vec<wire::Item>>> {
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

    /// What a raw task needs besides its process, fetched concurrently.
    pub(super) async fn task_parts(
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
    pub(super) async fn build_task(
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
    pub(super) async fn load_task(
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
                let (raw, items) = futures::join!(
                    c.entry::<wire::Task>(cx, "task", task_url, &no_query),
                    c.sub_list::<wire::Item>(cx, "task_items", items_url),
                );
                (raw, items.map(Arc::new))
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
    pub(super) fn may_be_delegated(&self, t: &wire::Task) -> bool {
        t.ended_at.is_none()
            && match (&t.owner, &t.assignee) {
                (_, None) => false,
                (Some(o), Some(a)) => o != a,
                (None, Some(_)) => true,
            }
    }

    pub(super) async fn raw_task(&self, cx: &CallContext, native: &str) -> Result<wire::Task> {
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
    pub(super) async fn shown_vars(
        &self,
        cx: &CallContext,
        native: &str,
    ) -> Result<convert::TaskVars> {
        Ok(convert::TaskVars::new(self.task_vars(cx, native).await?))
    }

    pub(super) async fn task_vars(
        &self,
        cx: &CallContext,
        native: &str,
    ) -> Result<Vec<wire::Variable>> {
        self.c()
            .sub_list(
                cx,
                "task_variables",
                self.c().wf(&["tasks", native, "variables"])?,
            )
            .await
    }

    /// Converts many raw tasks: one process lookup per distinct process (cached in
    /// service modes) and the per-task parts, all in one bounded concurrent wave.
    pub(super) async fn build_tasks(
        &self,
        cx: &CallContext,
        raws: Vec<wire::Task>,
    ) -> Result<Vec<Task>> {
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
}
