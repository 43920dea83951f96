//! Reading work items and building neutral tasks from them, one or many.

use super::*;

impl CqEngine {
    pub(super) async fn item_doc(&self, cx: &CallContext, path: &str) -> Result<WorkItemDoc> {
        self.client
            .get_json(cx, "get_task", path, ".json", &[])
            .await
    }

    pub(super) async fn choices<T: serde::de::DeserializeOwned>(
        &self,
        cx: &CallContext,
        item: &str,
        sel: &str,
    ) -> Result<T> {
        self.client
            .get_json(cx, "task_actions", item, sel, &[])
            .await
    }

    pub(super) async fn actions(
        &self,
        cx: &CallContext,
        item: &str,
    ) -> Result<(Vec<Choice>, Vec<Choice>)> {
        let (routes, back) = futures::try_join!(
            self.choices::<Routes>(cx, item, ".routes.json"),
            self.choices::<Backroutes>(cx, item, ".backroutes.json")
        )?;
        Ok((routes.routes, back.backroutes))
    }

    pub(super) fn task_from(
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
            workflow_initiator: self.initiator(tc.inst),
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
    pub(super) async fn open_task(
        &self,
        cx: &CallContext,
        item: &WorkItemDoc,
        tc: &TaskContext<'_>,
    ) -> Result<Task> {
        let actions = self.actions(cx, &item.id).await?;
        self.open_task_with(item, tc, &actions, None)
    }

    /// Routes and back-routes of a work item from the cache, else read (and cached).
    pub(super) async fn cached_actions(
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

    /// An open task from its work item and its already read routes and back-routes;
    /// `inbox` is the assignee the caller's inbox row named, if one was read.
    pub(super) fn open_task_with(
        &self,
        item: &WorkItemDoc,
        tc: &TaskContext<'_>,
        (routes, back): &Actions,
        inbox: Option<&str>,
    ) -> Result<Task> {
        let node_id = item
            .node
            .clone()
            .or_else(|| ids::node_of_item(&item.id, &tc.inst.id))
            .ok_or_else(|| {
                EngineError::upstream(None, "CQ/AEM returned a work item without node")
            })?;
        let created = item
            .start_time
            .get()
            .unwrap_or_else(|| convert::instance_created(tc.inst));
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
            assignee: self.assignee(item, inbox),
            created,
            variables,
            actions,
            state: TaskState::Opened,
        };
        Ok(self.task_from(&item.id, &node_id, tc, facts))
    }

    pub(super) async fn context<'a>(
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

    pub(super) async fn instance_model(
        &self,
        cx: &CallContext,
        inst: &InstanceDoc,
    ) -> Result<Arc<ModelInfo>> {
        let name = convert::model_name(inst)?;
        self.load_model(cx, &name).await
    }

    /// A task whose work item is gone: ended (or cancelled with its workflow), rebuilt
    /// from the instance, the model and the history.
    pub(super) async fn past_task(
        &self,
        cx: &CallContext,
        item: &str,
        inst: &InstanceDoc,
    ) -> Result<Task> {
        let node_id = ids::node_of_item(item, &inst.id).ok_or_else(|| {
            EngineError::not_found(format!("unknown task id '{}'", ids::encode(item)))
        })?;
        let model = self.instance_model(cx, inst).await?;
        let Some(node) = model.node(&node_id) else {
            return Err(EngineError::not_found(format!(
                "unknown task id '{}'",
                ids::encode(item)
            )));
        };
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
        let rows = history_rows(&history, item, &node.title);
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
        let created = rows
            .first()
            .and_then(|h| h.start_time.get())
            .unwrap_or_else(|| convert::instance_created(inst));
        let comments = rows
            .iter()
            .filter_map(|h| {
                let text = h.comment.clone().filter(|c| !c.is_empty())?;
                let date = h.end_time.get().or(h.start_time.get()).unwrap_or(created);
                Some(Comment {
                    author: h.user.clone().unwrap_or_default(),
                    text: Some(text),
                    date,
                })
            })
            .collect();
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

    /// Reads instances concurrently, each together with the work items it is expected
    /// to have (only while the cache is on); instances that
    /// vanished meanwhile are skipped. The fresh instance still decides which items are
    /// open: a guessed item it no longer lists is dropped, one it newly lists is read
    /// afterwards.
    pub(super) async fn instances_with_items(
        &self,
        cx: &CallContext,
        paths: Vec<(String, Vec<String>)>,
    ) -> Result<Vec<(Arc<InstanceDoc>, Prefetched)>> {
        let prefetch = self.cache.enabled();
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
    pub(super) async fn candidate_items(
        &self,
        cx: &CallContext,
        q: &TaskQuery,
    ) -> Result<Vec<Candidate>> {
        let scope = self.scope(cx);
        let mut inbox_assignees: HashMap<String, String> = HashMap::new();
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
                    if let Some(a) = r.current_assignee {
                        inbox_assignees.insert(r.uri, a);
                    }
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
                let inbox = inbox_assignees.remove(&item.id);
                out.push((item.id.clone(), d.clone(), read, inbox));
            }
        }
        Ok(out)
    }

    pub(super) async fn task_by_id(&self, cx: &CallContext, id: &str) -> Result<Task> {
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
        let (inst, item, actions) = futures::join!(
            async {
                match &cached_inst {
                    Some(d) => Ok(d.clone()),
                    None => self.instance_arc(cx, &inst_path).await,
                }
            },
            self.item_doc(cx, &item_path),
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
                self.open_task_with(&item, &tc, actions?.as_ref(), None)?
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

    pub(super) async fn list_tasks(&self, cx: &CallContext, q: TaskQuery) -> Result<Page<Task>> {
        let candidates = self.candidate_items(cx, &q).await?;
        let scope = self.scope(cx);
        let tasks: Vec<Option<Task>> = stream::iter(candidates)
            .map(|(item_path, inst, read, inbox)| {
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
                    match actions
                        .and_then(|a| self.open_task_with(&item, &tc, &a, inbox.as_deref()))
                    {
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
        let out: Vec<Task> = tasks
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
        Ok(q.sorted_page(out))
    }
}

/// The history rows of one work item. A server that names the item in its rows
/// (`workItem`) is matched on it; Adobe's documented rows name only the step's title
/// (`process`), so otherwise every row of the item's step counts, which for a step
/// visited more than once gathers the rows of all its visits.
pub(super) fn history_rows<'h>(
    history: &'h [crate::wire::HistoryRow],
    item: &str,
    step_title: &str,
) -> Vec<&'h crate::wire::HistoryRow> {
    if history.iter().any(|h| h.work_item.is_some()) {
        history
            .iter()
            .filter(|h| h.work_item.as_deref() == Some(item))
            .collect()
    } else {
        history
            .iter()
            .filter(|h| h.process.as_deref() == Some(step_title))
            .collect()
    }
}
