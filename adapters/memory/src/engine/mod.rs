//! `MemoryEngine`: the `WorkflowEngine` implementation.

use std::collections::{BTreeMap, HashSet};
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use dashmap::DashMap;
use flowgate_core::{
    CallContext, Completion, DocLocator, Document, EngineError, EngineInfo, Graph, Health, Limits,
    Page, Result, StartWorkflow, Task, TaskQuery, TaskState, WorkflowEngine, WorkflowInstance,
    WorkflowModel, WorkflowQuery, WorkflowState,
};
use uuid::Uuid;

use crate::catalog::{embedded_info, load_dir, model_map, ModelSource, PATH_NS};
use crate::error::{ModelError, OpenError};
use crate::journal::{Guard, Journal, StorageStats};
use crate::model::Model;
use crate::ops::{self, parse_id};
use crate::runner::Txn;
use crate::state::{Change, TaskRecord, WorkflowRecord};
use crate::storage::{Storage, StorageOptions};
use crate::store::Store;
use crate::view;

mod purge;

/// Counters for metrics.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct EngineStats {
    /// Instances in state `running`.
    pub running_workflows: usize,
    /// Tasks in state `opened`.
    pub open_tasks: usize,
}

/// The embedded workflow engine: models from JSON files, state in memory, optionally
/// kept durable by a [`Storage`] (see [`MemoryEngine::open`]).
#[derive(Debug)]
pub struct MemoryEngine {
    pub(crate) info: EngineInfo,
    models: BTreeMap<String, Arc<Model>>,
    pub(crate) store: Arc<Store>,
    /// Instances started per model, for instance names (`Model`, `Model.2`, ...).
    started: DashMap<String, u64>,
    /// The durable writer; `None` keeps state in memory only.
    pub(crate) journal: Option<Journal>,
    /// Bounds on actors per task and tasks per step.
    limits: Limits,
}

impl MemoryEngine {
    fn with_models(name: String, models: Vec<Model>) -> std::result::Result<Self, ModelError> {
        Ok(Self {
            info: embedded_info(name),
            models: model_map(models)?,
            store: Arc::new(Store::default()),
            started: DashMap::new(),
            journal: None,
            limits: Limits::default(),
        })
    }

    /// An engine whose state is kept as `options` say: durable in
    /// `options.data_dir` (created if missing; the state found there is loaded), or in
    /// memory only. Fails on a broken model, a data directory written by a newer
    /// format, damaged data that cannot be recovered, or a data file another process
    /// holds.
    ///
    /// ```
    /// use flowgate_memory::{MemoryEngine, ModelSource, StorageOptions};
    /// let dir = tempfile::tempdir().unwrap();
    /// let engine =
    ///     MemoryEngine::open("local", ModelSource::Builtin, StorageOptions::durable(dir.path()))
    ///         .unwrap();
    /// assert!(engine.is_durable());
    /// ```
    pub fn open(
        name: impl Into<String>,
        models: ModelSource,
        options: StorageOptions,
    ) -> std::result::Result<MemoryEngine, OpenError> {
        let storage = options.open()?;
        Self::with_storage(name, models, storage)
    }

    /// An engine over any [`Storage`] backend: loads what it holds, then commits every
    /// change to it before applying the change and answering.
    pub fn with_storage(
        name: impl Into<String>,
        models: ModelSource,
        storage: Box<dyn Storage>,
    ) -> std::result::Result<MemoryEngine, OpenError> {
        let mut engine = Self::with_models(name.into(), models.load()?)?;
        let t0 = Instant::now();
        let loaded = storage.load()?;
        let (snapshot_records, log_entries, dropped) = (
            loaded.snapshot_records,
            loaded.log_entries,
            loaded.dropped_tail_entries,
        );
        engine.store.apply(loaded.changes);
        engine.seed_instance_counters();
        let unknown = engine
            .store
            .all_workflows()
            .iter()
            .filter_map(|id| engine.store.workflow(id))
            .filter(|wf| !engine.models.contains_key(&*wf.model))
            .count();
        if unknown > 0 {
            tracing::warn!(engine = %engine.info.name, instances = unknown, "stored instances of models that are not loaded are hidden");
        }
        if storage.is_durable() {
            tracing::info!(
                engine = %engine.info.name,
                storage = %storage.describe(),
                workflows = engine.store.all_workflows().len(),
                snapshot_records,
                log_entries,
                dropped_tail_entries = dropped,
                elapsed_ms = t0.elapsed().as_millis() as u64,
                "stored state loaded"
            );
            engine.journal = Some(Journal::start(
                storage,
                engine.store.clone(),
                &engine.info.name,
            )?);
        }
        Ok(engine)
    }

    /// The same engine with other size limits (actors per task, tasks per step).
    pub fn with_limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }

    /// A working copy of `wf` for a step driven by `cx`, bounded by the engine's limits.
    fn txn<'a>(&'a self, model: &'a Model, wf: WorkflowRecord, cx: &CallContext) -> Txn<'a> {
        let mut txn = Txn::new(model, wf, &self.store, &cx.user);
        txn.limits = self.limits;
        txn
    }

    /// Whether changes are kept on disk.
    pub fn is_durable(&self) -> bool {
        self.journal.is_some()
    }

    /// Commit counters of the durable writer (all zero in memory mode).
    pub fn storage_stats(&self) -> StorageStats {
        self.journal
            .as_ref()
            .map(Journal::stats)
            .unwrap_or_default()
    }

    /// Seeds instance-name counters from the highest number in use per model, so that
    /// names are not handed out twice after a restart (a count would repeat a name
    /// when an earlier start never reached the disk).
    fn seed_instance_counters(&self) {
        for id in self.store.all_workflows() {
            let Some(wf) = self.store.workflow(&id) else {
                continue;
            };
            let n = ops::instance_number(&wf.name, &wf.model);
            let mut e = self.started.entry(wf.model.to_string()).or_insert(0);
            *e = (*e).max(n);
        }
    }

    /// Applies a step's changes: through the durable writer (which applies them once
    /// they are on disk, then releases `guard`), or directly in memory mode.
    async fn commit(&self, changes: Vec<Change>, guard: Option<Guard>) -> Result<()> {
        match &self.journal {
            Some(j) => j.write(changes, guard).await,
            None => {
                self.store.apply(changes);
                drop(guard);
                Ok(())
            }
        }
    }

    /// [`MemoryEngine::commit`] for code outside async context.
    fn commit_blocking(&self, changes: Vec<Change>, guard: Option<Guard>) -> Result<()> {
        match &self.journal {
            Some(j) => j.write_blocking(changes, guard.into_iter().collect()),
            None => {
                self.store.apply(changes);
                drop(guard);
                Ok(())
            }
        }
    }

    /// An engine named `name` with every `*.json` model of `dir`.
    pub fn from_dir(
        name: impl Into<String>,
        dir: &Path,
    ) -> std::result::Result<MemoryEngine, ModelError> {
        Self::with_models(name.into(), load_dir(dir)?)
    }

    /// An engine named `name` with the two shipped models (SerialDocumentReview and
    /// ParallelDocumentReview), embedded in the binary.
    pub fn builtin(name: impl Into<String>) -> std::result::Result<MemoryEngine, ModelError> {
        Self::with_models(name.into(), ModelSource::Builtin.load()?)
    }

    /// Running instances and open tasks, for metrics.
    pub fn stats(&self) -> EngineStats {
        EngineStats {
            running_workflows: self.store.running_count(),
            open_tasks: self.store.open_task_count(),
        }
    }

    /// Runs due escalation rules (e.g. the parallel review's `forceNext`) on every
    /// running instance; meant to be called periodically. Returns how many instances
    /// moved on. An instance busy with a request is left for the next run. With
    /// durable storage this waits for each commit: call it from a blocking thread.
    pub fn run_escalations(&self) -> usize {
        let mut moved = 0;
        for id in self.store.running_workflows() {
            let Some(slot) = self.store.slot(&id) else {
                continue;
            };
            // Cheap look at a snapshot first; lock only instances that may escalate.
            let snapshot = slot.get();
            let Some(model) = self.models.get(&*snapshot.model) else {
                continue;
            };
            if !ops::may_escalate(&snapshot, model) {
                continue;
            }
            let Some(guard) = slot.try_lock() else {
                continue;
            };
            let wf = slot.get();
            if !ops::may_escalate(&wf, model) {
                continue;
            }
            let mut txn = Txn::new(model, (*wf).clone(), &self.store, &wf.initiator);
            txn.limits = self.limits;
            match txn.escalate() {
                Ok(true) => match self.commit_blocking(txn.into_changes(), Some(guard)) {
                    Ok(()) => moved += 1,
                    Err(e) => {
                        tracing::warn!(workflow = %id, error = %e, "escalation not saved; nothing changed")
                    }
                },
                Ok(false) => {}
                Err(e) => {
                    tracing::warn!(workflow = %id, error = %e, "escalation failed; nothing changed")
                }
            }
        }
        moved
    }

    /// Starts a background job running [`MemoryEngine::run_escalations`] every
    /// `period`; abort the returned handle to stop it. Needs a Tokio runtime.
    pub fn spawn_escalations(
        self: &Arc<Self>,
        period: std::time::Duration,
    ) -> tokio::task::JoinHandle<()> {
        let engine = Arc::downgrade(self);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(period);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                // Stop once the engine is gone.
                let Some(engine) = engine.upgrade() else {
                    break;
                };
                let run = engine.clone();
                let moved = match tokio::task::spawn_blocking(move || run.run_escalations()).await {
                    Ok(n) => n,
                    Err(e) => {
                        tracing::error!(engine = %engine.info.name, error = %e, "escalation run failed");
                        0
                    }
                };
                if moved > 0 {
                    tracing::info!(engine = %engine.info.name, moved, "escalations ran");
                }
            }
        })
    }

    fn model_of(&self, name: &str) -> Result<&Arc<Model>> {
        self.models.get(name).ok_or_else(|| {
            EngineError::not_found(format!(
                "No route found for id: {}",
                flowgate_core::shown(name)
            ))
        })
    }

    fn load_workflow(&self, id: &str) -> Result<(Arc<WorkflowRecord>, Arc<Model>)> {
        let nf = || EngineError::not_found(flowgate_core::shown(id));
        let wid = parse_id(id).ok_or_else(nf)?;
        let wf = self.store.workflow(&wid).ok_or_else(nf)?;
        let model = self.models.get(&*wf.model).cloned().ok_or_else(nf)?;
        Ok((wf, model))
    }

    fn instance_name(&self, model: &str) -> String {
        // Seeded from the index so that names keep counting after a rebuild of the state.
        let n = match self.started.get_mut(model) {
            Some(mut n) => {
                *n += 1;
                *n
            }
            None => {
                let mut n = self
                    .started
                    .entry(model.to_owned())
                    .or_insert_with(|| self.store.workflows_of_model(model).len() as u64);
                *n += 1;
                *n
            }
        };
        ops::instance_name(model, n)
    }

    /// Runs a task operation under the instance's writer lock: `check` sees the current
    /// records and may refuse; `act` changes the working copy. Nothing is applied
    /// unless both succeed.
    async fn with_task<C, R>(
        &self,
        cx: &CallContext,
        id: &str,
        check: impl FnOnce(&TaskRecord, &WorkflowRecord, &Model) -> Result<C>,
        act: impl FnOnce(&mut Txn<'_>, Uuid, C) -> Result<R>,
    ) -> Result<R> {
        let step = self.step_task(cx, id, check, act).await?;
        self.commit(step.changes, Some(step.guard)).await?;
        Ok(step.result)
    }

    /// [`MemoryEngine::with_task`] without the commit: the caller commits
    /// `changes` with `guard` (and may read them first, e.g. to answer with the task as
    /// the step left it).
    async fn step_task<C, R>(
        &self,
        cx: &CallContext,
        id: &str,
        check: impl FnOnce(&TaskRecord, &WorkflowRecord, &Model) -> Result<C>,
        act: impl FnOnce(&mut Txn<'_>, Uuid, C) -> Result<R>,
    ) -> Result<Step<R>> {
        let nf = || EngineError::not_found(flowgate_core::shown(id));
        let tid = parse_id(id).ok_or_else(nf)?;
        let wid = self.store.task_workflow(&tid).ok_or_else(nf)?;
        let slot = self.store.slot(&wid).ok_or_else(nf)?;
        let guard = slot.lock().await;
        // Re-read under the lock: a concurrent step may have changed the task. The
        // instance comes from the slot already at hand (a task never changes instance).
        let t = self.store.task(&tid).ok_or_else(nf)?;
        let wf = slot.get();
        let model = self.models.get(&*wf.model).cloned().ok_or_else(nf)?;
        let checked = check(&t, &wf, &model)?;
        let (result, changes) = {
            let mut txn = self.txn(&model, (*wf).clone(), cx);
            // The record just read is the working copy: no second read of the store.
            txn.adopt(t);
            let r = act(&mut txn, tid, checked)?;
            (r, txn.into_changes())
        };
        Ok(Step {
            result,
            changes,
            guard,
            model,
        })
    }
}

/// One task step run under its instance's lock, not committed yet.
struct Step<R> {
    result: R,
    changes: Vec<Change>,
    guard: Guard,
    model: Arc<Model>,
}

impl<R> Step<R> {
    /// The task `id` as the step's changes leave it.
    fn view_of(&self, id: Uuid) -> Option<Task> {
        ops::task_after(&self.changes, &self.model, id)
    }
}

#[async_trait]
impl WorkflowEngine for MemoryEngine {
    fn info(&self) -> &EngineInfo {
        &self.info
    }

    async fn models(&self, _cx: &CallContext) -> Result<Vec<WorkflowModel>> {
        Ok(self.models.values().map(|m| m.entity()).collect())
    }

    async fn model(&self, _cx: &CallContext, name: &str) -> Result<WorkflowModel> {
        Ok(self.model_of(name)?.entity())
    }

    async fn model_graph(&self, _cx: &CallContext, name: &str) -> Result<Graph> {
        Ok(self.model_of(name)?.model_graph())
    }

    async fn start(&self, cx: &CallContext, req: StartWorkflow) -> Result<WorkflowInstance> {
        let model = self.model_of(&req.model)?.clone();
        let wf = ops::new_instance(&model, cx, req)?;
        let (out, changes) = {
            let mut txn = self.txn(&model, wf, cx);
            txn.wf.created = txn.now;
            txn.start()?;
            txn.wf.name = self.instance_name(&model.name);
            (view::workflow(&model, &txn.wf), txn.into_changes())
        };
        // No lock: nobody knows the new id before this call answers.
        self.commit(changes, None).await?;
        Ok(out)
    }

    async fn workflow(&self, cx: &CallContext, id: &str) -> Result<WorkflowInstance> {
        let (wf, model) = self.load_workflow(id)?;
        if !view::can_see_workflow(cx, &wf, &self.store) {
            return Err(EngineError::forbidden(format!(
                "Privilege 'READ' is not granted to '{}'",
                cx.user
            )));
        }
        Ok(view::workflow(&model, &wf))
    }

    async fn workflows(
        &self,
        cx: &CallContext,
        q: WorkflowQuery,
    ) -> Result<Page<WorkflowInstance>> {
        // Candidates from the most selective index available.
        let candidates: Vec<Uuid> = if let Some(u) = &q.initiator {
            self.store.workflows_of_initiator(u)
        } else if let Some(d) = &q.document {
            self.store.workflows_of_document(d)
        } else if let Some(m) = &q.model_name {
            self.store.workflows_of_model(m)
        } else if cx.admin {
            if q.running_only {
                self.store.running_workflows()
            } else {
                self.store.all_workflows()
            }
        } else {
            let mut ids: HashSet<Uuid> = self
                .store
                .workflows_of_initiator(&cx.user)
                .into_iter()
                .collect();
            let principals = flowgate_core::ActorFilter {
                user: cx.user.clone(),
                groups: cx.groups.clone(),
            }
            .principals();
            for p in principals {
                for tid in self.store.tasks_of_actor(&p) {
                    if let Some(t) = self.store.task(&tid) {
                        ids.insert(t.workflow_id);
                    }
                }
            }
            ids.into_iter().collect()
        };
        let mut out = Vec::new();
        for id in candidates {
            let Some(wf) = self.store.workflow(&id) else {
                continue;
            };
            if q.running_only && wf.state != WorkflowState::Running {
                continue;
            }
            if q.initiator.as_ref().is_some_and(|u| &wf.initiator != u) {
                continue;
            }
            if q.document
                .as_ref()
                .is_some_and(|d| !wf.documents.contains(d))
            {
                continue;
            }
            if q.model_name
                .as_ref()
                .is_some_and(|m| !ops::model_matches(&wf.name, m))
            {
                continue;
            }
            if !view::can_see_workflow(cx, &wf, &self.store) {
                continue;
            }
            let Some(model) = self.models.get(&*wf.model) else {
                continue;
            };
            out.push(view::workflow(model, &wf));
        }
        Ok(q.sorted_page(out))
    }

    async fn cancel(&self, cx: &CallContext, id: &str) -> Result<()> {
        let (wf, _) = self.load_workflow(id)?;
        let slot = self
            .store
            .slot(&wf.id)
            .ok_or_else(|| EngineError::not_found(flowgate_core::shown(id)))?;
        let guard = slot.lock().await;
        let (wf, model) = self.load_workflow(id)?;
        ops::check_cancel(cx, id, &wf)?;
        let changes = {
            let mut txn = self.txn(&model, (*wf).clone(), cx);
            txn.cancel();
            txn.into_changes()
        };
        self.commit(changes, Some(guard)).await
    }

    async fn workflow_graph(&self, cx: &CallContext, id: &str) -> Result<Graph> {
        let (wf, model) = self.load_workflow(id)?;
        if !view::can_see_workflow(cx, &wf, &self.store) {
            return Err(EngineError::forbidden(format!(
                "Privilege 'READ' is not granted to '{}'",
                cx.user
            )));
        }
        let open_nodes: HashSet<String> = wf
            .tasks
            .iter()
            .filter_map(|t| self.store.task(t))
            .filter(|t| t.state == TaskState::Opened)
            .map(|t| t.node_id)
            .collect();
        Ok(ops::instance_graph(&model, &wf, &open_nodes))
    }

    async fn task(&self, cx: &CallContext, id: &str) -> Result<Task> {
        let nf = || EngineError::not_found(flowgate_core::shown(id));
        let tid = parse_id(id).ok_or_else(nf)?;
        // Built from the stored record in place: a read copies only what it answers.
        self.store
            .with_task(&tid, |t| {
                self.store
                    .with_workflow(&t.workflow_id, |wf| {
                        let model = self.models.get(&*wf.model).ok_or_else(nf)?;
                        if !view::can_see_task(cx, wf, t) {
                            return Err(EngineError::forbidden(format!(
                                "Privilege 'READ' is not granted to '{}'",
                                cx.user
                            )));
                        }
                        Ok(view::task(model, wf, t))
                    })
                    .ok_or_else(nf)?
            })
            .ok_or_else(nf)?
    }

    async fn tasks(&self, cx: &CallContext, q: TaskQuery) -> Result<Page<Task>> {
        let by_workflows = |wfs: Vec<Uuid>| -> Vec<Uuid> {
            wfs.iter()
                .filter_map(|w| self.store.workflow(w))
                .flat_map(|w| w.tasks.clone())
                .collect()
        };
        let candidates: Vec<Uuid> = if let Some(w) = &q.workflow_id {
            match parse_id(w) {
                Some(w) => by_workflows(vec![w]),
                None => Vec::new(),
            }
        } else if let Some(f) = &q.actor {
            f.principals()
                .iter()
                .flat_map(|p| self.store.tasks_of_actor(p))
                .collect()
        } else if let Some(d) = &q.document {
            by_workflows(self.store.workflows_of_document(d))
        } else if let Some(m) = &q.model_name {
            by_workflows(self.store.workflows_of_model(m))
        } else if cx.admin {
            if q.open_only {
                self.store.open_task_ids()
            } else {
                self.store.all_task_ids()
            }
        } else {
            let me = flowgate_core::ActorFilter {
                user: cx.user.clone(),
                groups: cx.groups.clone(),
            };
            let mut ids: Vec<Uuid> = me
                .principals()
                .iter()
                .flat_map(|p| self.store.tasks_of_actor(p))
                .collect();
            ids.extend(by_workflows(self.store.workflows_of_initiator(&cx.user)));
            ids
        };
        let mut seen = HashSet::with_capacity(candidates.len());
        let mut out = Vec::new();
        for id in candidates {
            if !seen.insert(id) {
                continue;
            }
            let Some(t) = self.store.task(&id) else {
                continue;
            };
            if q.open_only && t.state != TaskState::Opened {
                continue;
            }
            if let Some(f) = &q.actor {
                if !t.principals().any(|p| f.matches(p)) {
                    continue;
                }
            }
            let Some(wf) = self.store.workflow(&t.workflow_id) else {
                continue;
            };
            if q.workflow_id
                .as_ref()
                .is_some_and(|w| &wf.id.to_string() != w)
            {
                continue;
            }
            if q.document
                .as_ref()
                .is_some_and(|d| !wf.documents.contains(d))
            {
                continue;
            }
            if q.model_name
                .as_ref()
                .is_some_and(|m| !ops::model_matches(&wf.name, m))
            {
                continue;
            }
            if !view::can_see_task(cx, &wf, &t) {
                continue;
            }
            let Some(model) = self.models.get(&*wf.model) else {
                continue;
            };
            out.push(view::task(model, &wf, &t));
        }
        Ok(q.sorted_page(out))
    }

    async fn complete(&self, cx: &CallContext, id: &str, c: Completion) -> Result<Task> {
        let comment = ops::completion_comment(&c);
        let step = self
            .step_task(
                cx,
                id,
                |t, wf, model| ops::check_completion(cx, t, wf, model, &c),
                |txn, tid, (nv, wv)| {
                    txn.complete(tid, &c.action, comment, nv, wv)?;
                    Ok(tid)
                },
            )
            .await?;
        // The answer is the task as this step left it, built from the records about to
        // be committed rather than read back from the store afterwards.
        let answer = step
            .view_of(step.result)
            .ok_or_else(|| EngineError::not_found(flowgate_core::shown(id)))?;
        self.commit(step.changes, Some(step.guard)).await?;
        Ok(answer)
    }

    async fn reassign(
        &self,
        cx: &CallContext,
        id: &str,
        actors: Vec<String>,
        comment: Option<String>,
    ) -> Result<()> {
        let actors = ops::principals_of(&actors);
        let no_actors = actors.is_empty();
        self.limits.check_task_actors(actors.len())?;
        self.with_task(
            cx,
            id,
            |t, wf, model| ops::check_reassign(cx, id, t, wf, model, no_actors),
            |txn, tid, ()| {
                ops::apply_reassign(txn, tid, actors, comment);
                Ok(())
            },
        )
        .await
    }

    async fn delegate(
        &self,
        cx: &CallContext,
        id: &str,
        actors: Vec<String>,
        comment: Option<String>,
    ) -> Result<()> {
        let actors = ops::principals_of(&actors);
        let new_actors = actors.clone();
        self.with_task(
            cx,
            id,
            |t, wf, model| ops::check_delegate(cx, t, wf, model, &new_actors, &self.limits),
            |txn, tid, ()| {
                ops::apply_delegate(txn, tid, actors, comment);
                Ok(())
            },
        )
        .await
    }

    async fn document(&self, _cx: &CallContext, loc: &DocLocator) -> Result<Document> {
        match loc {
            DocLocator::Id(id) => Ok(Document {
                id: id.clone(),
                path: self.store.document_path(id),
                ..Document::default()
            }),
            DocLocator::Path(p) => {
                let path = if p.starts_with('/') {
                    p.clone()
                } else {
                    format!("/{p}")
                };
                let id = Uuid::new_v5(&PATH_NS, path.as_bytes()).to_string();
                if self.store.document_path(&id).is_none() {
                    self.commit(
                        vec![Change::DocumentPath {
                            id: id.clone(),
                            path: path.clone(),
                        }],
                        None,
                    )
                    .await?;
                }
                Ok(Document {
                    id,
                    path: Some(path),
                    ..Document::default()
                })
            }
        }
    }

    async fn purge_ended(&self, cx: &CallContext, before: DateTime<Utc>) -> Result<usize> {
        purge::purge_for(self, cx, before).await
    }

    fn keeps_events(&self) -> bool {
        true
    }

    async fn events(
        &self,
        cx: &CallContext,
        q: flowgate_core::EventQuery,
    ) -> Result<Page<flowgate_core::Event>> {
        crate::events::query(&self.store, &self.info.name, cx, &q)
    }

    fn live_events(
        &self,
    ) -> Option<tokio::sync::broadcast::Receiver<std::sync::Arc<flowgate_core::Event>>> {
        Some(self.store.events().subscribe())
    }

    async fn health(&self) -> Health {
        match self.journal.as_ref().and_then(Journal::failure) {
            Some(why) => Health::Down(format!("storage stopped after a failed write: {why}")),
            None => Health::Up,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn state_records_round_trip_through_serde() {
        let e = MemoryEngine::builtin("local").unwrap();
        let cx = CallContext::admin("Administrator");
        let wf = e
            .start(
                &cx,
                StartWorkflow {
                    model: "SerialDocumentReview".into(),
                    documents: vec!["d".into()],
                    ..Default::default()
                },
            )
            .await
            .unwrap();
        let id = parse_id(&wf.id).unwrap();
        let rec = e.store.workflow(&id).unwrap();
        let text = serde_json::to_string(&Change::Workflow((*rec).clone())).unwrap();
        let back: Change = serde_json::from_str(&text).unwrap();
        assert_eq!(back, Change::Workflow((*rec).clone()));
        let task = e.store.task(&rec.tasks[0]).unwrap();
        let text = serde_json::to_string(&Change::Task(task.clone())).unwrap();
        assert_eq!(
            serde_json::from_str::<Change>(&text).unwrap(),
            Change::Task(task)
        );
    }
}
