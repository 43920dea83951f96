//! `MemoryEngine`, the embedded engine with its state in memory: how it opens (models,
//! stored state), and how a step runs under its instance's lock and is committed.
//!
//! Layout: `workflow_engine` (the `WorkflowEngine` trait), `escalate` (escalation
//! runs), `purge` (retention sweeps and the admin purge).

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use dashmap::DashMap;
use flowgate_core::{CallContext, EngineError, EngineInfo, Limits, Result, Task};
use uuid::Uuid;

use crate::catalog::{embedded_info, load_dir, model_map, ModelSource};
use crate::error::{ModelError, OpenError};
use crate::journal::{Journal, StorageStats};
use crate::model::Model;
use crate::ops::{self, parse_id};
use crate::runner::Txn;
use crate::state::{Change, TaskRecord, WorkflowRecord};
use crate::storage::{Storage, StorageOptions};
use crate::store::Guard;
use crate::store::Store;

mod escalate;
mod purge;
mod workflow_engine;

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

#[cfg(test)]
mod tests {
    use flowgate_core::{StartWorkflow, WorkflowEngine};

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
