//! In-memory state: records in concurrent maps plus secondary indexes, so that every
//! query costs in proportion to its result, never to the number of instances.

use std::collections::HashSet;
use std::sync::Arc;

use dashmap::{DashMap, DashSet};
use flowgate_core::TaskState;
use parking_lot::RwLock;
use uuid::Uuid;

use crate::journal::Guard;
use crate::state::{Change, TaskRecord, WorkflowRecord};

/// One instance: a writer lock held for a whole engine step, and the current record.
#[derive(Debug)]
pub(crate) struct Slot {
    /// Async and owned: with durable storage the guard travels with the step's batch
    /// to the writer, which releases it once the batch is on disk and applied.
    write: Arc<tokio::sync::Mutex<()>>,
    record: RwLock<Arc<WorkflowRecord>>,
}

impl Slot {
    /// The current record (a cheap snapshot).
    pub fn get(&self) -> Arc<WorkflowRecord> {
        self.record.read().clone()
    }

    /// Serialises writers of this instance.
    pub async fn lock(&self) -> Guard {
        self.write.clone().lock_owned().await
    }

    /// The writer lock if nobody holds it now.
    pub fn try_lock(&self) -> Option<Guard> {
        self.write.clone().try_lock_owned().ok()
    }
}

#[derive(Debug, Default)]
pub(crate) struct Store {
    workflows: DashMap<Uuid, Arc<Slot>>,
    tasks: DashMap<Uuid, TaskRecord>,
    /// principal spelling (as stored on tasks) → tasks naming it (any state).
    by_actor: DashMap<String, IdSet>,
    /// document id → instances.
    by_document: DashMap<String, IdSet>,
    /// initiator → instances.
    by_initiator: DashMap<String, IdSet>,
    /// model name → instances.
    by_model: DashMap<String, IdSet>,
    running: DashSet<Uuid>,
    open_tasks: DashSet<Uuid>,
    doc_paths: DashMap<String, String>,
    /// Workflow events, by sequence number.
    events: crate::events::EventLog,
}

/// A set of ids that stays a small vector while small: most index keys (a document, a
/// user) name only a few ids, and a hash set per key would dominate memory.
#[derive(Debug)]
pub(crate) enum IdSet {
    Small(Vec<Uuid>),
    Large(HashSet<Uuid>),
}

const SMALL_SET: usize = 16;

impl Default for IdSet {
    fn default() -> Self {
        IdSet::Small(Vec::new())
    }
}

impl IdSet {
    fn insert(&mut self, id: Uuid) {
        match self {
            IdSet::Small(v) if v.contains(&id) => {}
            IdSet::Small(v) if v.len() < SMALL_SET => {
                v.reserve_exact(1);
                v.push(id);
            }
            IdSet::Small(v) => {
                let mut set: HashSet<Uuid> = v.drain(..).collect();
                set.insert(id);
                *self = IdSet::Large(set);
            }
            IdSet::Large(set) => {
                set.insert(id);
            }
        }
    }

    fn remove(&mut self, id: &Uuid) {
        match self {
            IdSet::Small(v) => v.retain(|x| x != id),
            IdSet::Large(set) => {
                set.remove(id);
            }
        }
    }

    fn is_empty(&self) -> bool {
        match self {
            IdSet::Small(v) => v.is_empty(),
            IdSet::Large(set) => set.is_empty(),
        }
    }

    fn to_vec(&self) -> Vec<Uuid> {
        match self {
            IdSet::Small(v) => v.clone(),
            IdSet::Large(set) => set.iter().copied().collect(),
        }
    }
}

fn index_add(map: &DashMap<String, IdSet>, key: &str, id: Uuid) {
    // Most keys (a user, a model) are there already: no key string to allocate then.
    if let Some(mut set) = map.get_mut(key) {
        set.insert(id);
        return;
    }
    map.entry(key.to_owned()).or_default().insert(id);
}

fn index_remove(map: &DashMap<String, IdSet>, key: &str, id: &Uuid) {
    if let Some(mut set) = map.get_mut(key) {
        set.remove(id);
        if set.is_empty() {
            drop(set);
            map.remove_if(key, |_, s| s.is_empty());
        }
    }
}

fn index_get(map: &DashMap<String, IdSet>, key: &str) -> Vec<Uuid> {
    map.get(key).map(|s| s.to_vec()).unwrap_or_default()
}

impl Store {
    /// Applies a batch of changes. This is the only place state changes.
    pub fn apply(&self, changes: Vec<Change>) {
        for c in changes {
            match c {
                Change::Workflow(rec) => self.put_workflow(rec),
                Change::Task(rec) => self.put_task(rec),
                Change::DocumentPath { id, path } => {
                    self.doc_paths.insert(id, path);
                }
                Change::Event(e) => self.events.push(*e),
            }
        }
    }

    fn put_workflow(&self, rec: WorkflowRecord) {
        let id = rec.id;
        if rec.state.is_active() {
            self.running.insert(id);
        } else {
            self.running.remove(&id);
        }
        let slot = self.workflows.get(&id).map(|s| s.clone());
        match slot {
            Some(slot) => {
                *slot.record.write() = Arc::new(rec);
            }
            None => {
                for d in &rec.documents {
                    index_add(&self.by_document, d, id);
                }
                index_add(&self.by_initiator, &rec.initiator, id);
                index_add(&self.by_model, &rec.model, id);
                self.workflows.insert(
                    id,
                    Arc::new(Slot {
                        write: Arc::new(tokio::sync::Mutex::new(())),
                        record: RwLock::new(Arc::new(rec)),
                    }),
                );
            }
        }
    }

    fn put_task(&self, rec: TaskRecord) {
        let id = rec.id;
        if rec.state == TaskState::Opened {
            self.open_tasks.insert(id);
        } else {
            self.open_tasks.remove(&id);
        }
        // Most updates (a completion) keep the actors: the record is replaced in place
        // and the index stays as it is.
        let rec = match self.tasks.get_mut(&id) {
            Some(mut old) if old.actors == rec.actors && old.delegated == rec.delegated => {
                *old = rec;
                return;
            }
            _ => rec,
        };
        let new: HashSet<String> = rec.principals().cloned().collect();
        let old = self.tasks.insert(id, rec);
        let Some(old) = old else {
            for added in &new {
                index_add(&self.by_actor, added, id);
            }
            return;
        };
        let old: HashSet<String> = old.principals().cloned().collect();
        for gone in old.difference(&new) {
            index_remove(&self.by_actor, gone, &id);
        }
        for added in new.difference(&old) {
            index_add(&self.by_actor, added, id);
        }
    }

    pub fn events(&self) -> &crate::events::EventLog {
        &self.events
    }

    pub fn slot(&self, id: &Uuid) -> Option<Arc<Slot>> {
        self.workflows.get(id).map(|s| s.clone())
    }

    pub fn workflow(&self, id: &Uuid) -> Option<Arc<WorkflowRecord>> {
        self.workflows.get(id).map(|s| s.get())
    }

    /// Runs `f` on an instance in place, without taking a reference to it (the count
    /// of a shared record is written by every worker that clones it).
    pub fn with_workflow<R>(&self, id: &Uuid, f: impl FnOnce(&WorkflowRecord) -> R) -> Option<R> {
        self.workflows.get(id).map(|s| f(&s.record.read()))
    }

    /// The instance owning a task, without copying the task.
    pub fn task_workflow(&self, id: &Uuid) -> Option<Uuid> {
        self.tasks.get(id).map(|t| t.workflow_id)
    }

    /// Runs `f` on a task in place (no copy); `f` must not write to the task map.
    pub fn with_task<R>(&self, id: &Uuid, f: impl FnOnce(&TaskRecord) -> R) -> Option<R> {
        self.tasks.get(id).map(|t| f(&t))
    }

    pub fn task(&self, id: &Uuid) -> Option<TaskRecord> {
        self.tasks.get(id).map(|t| t.clone())
    }

    pub fn tasks_of_actor(&self, principal: &str) -> Vec<Uuid> {
        index_get(&self.by_actor, principal)
    }

    pub fn workflows_of_document(&self, doc: &str) -> Vec<Uuid> {
        index_get(&self.by_document, doc)
    }

    pub fn workflows_of_initiator(&self, user: &str) -> Vec<Uuid> {
        index_get(&self.by_initiator, user)
    }

    pub fn workflows_of_model(&self, model: &str) -> Vec<Uuid> {
        index_get(&self.by_model, model)
    }

    pub fn running_workflows(&self) -> Vec<Uuid> {
        self.running.iter().map(|r| *r).collect()
    }

    pub fn all_workflows(&self) -> Vec<Uuid> {
        self.workflows.iter().map(|r| *r.key()).collect()
    }

    pub fn open_task_ids(&self) -> Vec<Uuid> {
        self.open_tasks.iter().map(|r| *r).collect()
    }

    pub fn all_task_ids(&self) -> Vec<Uuid> {
        self.tasks.iter().map(|r| *r.key()).collect()
    }

    pub fn document_path(&self, id: &str) -> Option<String> {
        self.doc_paths.get(id).map(|p| p.clone())
    }

    pub fn running_count(&self) -> usize {
        self.running.len()
    }

    pub fn open_task_count(&self) -> usize {
        self.open_tasks.len()
    }
}
