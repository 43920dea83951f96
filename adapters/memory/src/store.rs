//! In-memory state: records in concurrent maps plus secondary indexes, so that every
//! query costs in proportion to its result, never to the number of instances.

use std::collections::{BTreeSet, HashSet};
use std::sync::Arc;

use chrono::{DateTime, Utc};
use dashmap::{DashMap, DashSet};
use flowgate_core::TaskState;
use parking_lot::{Mutex, RwLock};
use uuid::Uuid;

use crate::state::{Change, TaskRecord, WorkflowRecord};

/// An instance lock held until the batch is applied.
pub(crate) type Guard = tokio::sync::OwnedMutexGuard<()>;

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
    /// Boxed: a map keeps spare slots, and a spare slot costs what its value does.
    tasks: DashMap<Uuid, Box<TaskRecord>>,
    /// principal spelling (as stored on tasks) → tasks naming it (any state).
    by_actor: DashMap<Box<str>, IdSet>,
    /// document id → instances.
    by_document: DashMap<Box<str>, IdSet>,
    /// initiator → instances.
    by_initiator: DashMap<Box<str>, IdSet>,
    /// model name → instances.
    by_model: DashMap<Box<str>, IdSet>,
    running: DashSet<Uuid>,
    open_tasks: DashSet<Uuid>,
    doc_paths: DashMap<String, String>,
    /// Workflow events, by sequence number.
    events: flowgate_core::EventLog,
    /// Ended instances by end time, oldest first: what retention purges next.
    ended: Mutex<BTreeSet<(DateTime<Utc>, Uuid)>>,
}

/// How many entries the store holds, index entries included (retention checks).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct StoreCounts {
    /// Instances, in any state.
    pub workflows: usize,
    /// Tasks, in any state.
    pub tasks: usize,
    /// Ended instances waiting for retention.
    pub ended: usize,
    /// Keys of the actor, document, initiator and model indexes together.
    pub index_keys: usize,
    /// Ids listed under those keys together.
    pub index_ids: usize,
}

/// A set of ids that stays one id or a small vector while small: most index keys (a
/// document, a user) name only a few ids, and a hash set per key would dominate memory.
/// 32 bytes in the map whatever its size.
#[derive(Debug)]
// Boxed: a set's header (48 bytes) would make every small set's slot that large.
#[allow(clippy::box_collection)]
pub(crate) enum IdSet {
    One(Uuid),
    Small(Vec<Uuid>),
    Large(Box<HashSet<Uuid>>),
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
            IdSet::One(one) if *one == id => {}
            IdSet::One(one) => *self = IdSet::Small(vec![*one, id]),
            IdSet::Small(v) if v.is_empty() => *self = IdSet::One(id),
            IdSet::Small(v) if v.contains(&id) => {}
            IdSet::Small(v) if v.len() < SMALL_SET => {
                v.reserve_exact(1);
                v.push(id);
            }
            IdSet::Small(v) => {
                let mut set: HashSet<Uuid> = v.drain(..).collect();
                set.insert(id);
                *self = IdSet::Large(Box::new(set));
            }
            IdSet::Large(set) => {
                set.insert(id);
            }
        }
    }

    fn remove(&mut self, id: &Uuid) {
        match self {
            IdSet::One(one) if one == id => *self = IdSet::Small(Vec::new()),
            IdSet::One(_) => {}
            IdSet::Small(v) => v.retain(|x| x != id),
            IdSet::Large(set) => {
                set.remove(id);
            }
        }
    }

    fn is_empty(&self) -> bool {
        match self {
            IdSet::One(_) => false,
            IdSet::Small(v) => v.is_empty(),
            IdSet::Large(set) => set.is_empty(),
        }
    }

    fn len(&self) -> usize {
        match self {
            IdSet::One(_) => 1,
            IdSet::Small(v) => v.len(),
            IdSet::Large(set) => set.len(),
        }
    }

    fn to_vec(&self) -> Vec<Uuid> {
        match self {
            IdSet::One(id) => vec![*id],
            IdSet::Small(v) => v.clone(),
            IdSet::Large(set) => set.iter().copied().collect(),
        }
    }
}

fn index_add(map: &DashMap<Box<str>, IdSet>, key: &str, id: Uuid) {
    // Most keys (a user, a model) are there already: no key string to allocate then.
    if let Some(mut set) = map.get_mut(key) {
        set.insert(id);
        return;
    }
    map.entry(Box::from(key)).or_default().insert(id);
}

fn index_remove(map: &DashMap<Box<str>, IdSet>, key: &str, id: &Uuid) {
    if let Some(mut set) = map.get_mut(key) {
        set.remove(id);
        if set.is_empty() {
            drop(set);
            map.remove_if(key, |_, s| s.is_empty());
        }
    }
}

fn index_get(map: &DashMap<Box<str>, IdSet>, key: &str) -> Vec<Uuid> {
    map.get(key).map(|s| s.to_vec()).unwrap_or_default()
}

impl Store {
    /// Applies a batch of changes. This is the only place state changes.
    ///
    /// Events go last, after the state they describe: an event of a workflow that is
    /// gone (read back from storage after the workflow was purged) is not kept, only
    /// its number.
    pub fn apply(&self, changes: Vec<Change>) {
        let mut events = Vec::new();
        for c in changes {
            match c {
                Change::Workflow(rec) => self.put_workflow(rec),
                Change::Task(rec) => self.put_task(rec),
                Change::DocumentPath { id, path } => {
                    self.doc_paths.insert(id, path);
                }
                Change::Event(e) => events.push(e),
                Change::Purge {
                    workflow, tasks, ..
                } => self.purge(&workflow, &tasks),
            }
        }
        for e in events {
            let gone =
                Uuid::parse_str(&e.workflow_id).is_ok_and(|id| !self.workflows.contains_key(&id));
            if gone && e.seq != 0 {
                self.events.skip(e.seq);
            } else {
                self.events.push(*e);
            }
        }
    }

    /// Forgets an instance and its tasks, and every index entry naming them. Document
    /// paths stay: they describe documents, which outlive their workflows.
    fn purge(&self, workflow: &Uuid, tasks: &[Uuid]) {
        for id in tasks {
            self.open_tasks.remove(id);
            if let Some((_, t)) = self.tasks.remove(id) {
                for p in t.principals() {
                    index_remove(&self.by_actor, p, id);
                }
            }
        }
        self.running.remove(workflow);
        // Events go with their workflow: kept, they would grow without bound.
        self.events
            .forget_workflow(&crate::state::id_string(workflow));
        let Some((_, slot)) = self.workflows.remove(workflow) else {
            return;
        };
        let rec = slot.get();
        // Tasks the record lists but the change did not name (none in practice).
        for id in rec.tasks.iter().filter(|t| !tasks.contains(t)) {
            self.open_tasks.remove(id);
            if let Some((_, t)) = self.tasks.remove(id) {
                for p in t.principals() {
                    index_remove(&self.by_actor, p, id);
                }
            }
        }
        for d in &rec.documents {
            index_remove(&self.by_document, d, workflow);
        }
        index_remove(&self.by_initiator, &rec.initiator, workflow);
        index_remove(&self.by_model, &rec.model, workflow);
        if let Some(at) = rec.ended {
            self.ended.lock().remove(&(at, *workflow));
        }
    }

    /// Up to `limit` ended instances that ended before `cutoff`, oldest first, after
    /// the entry `after` (exclusive) when given.
    pub fn ended_before(
        &self,
        cutoff: DateTime<Utc>,
        after: Option<(DateTime<Utc>, Uuid)>,
        limit: usize,
    ) -> Vec<(DateTime<Utc>, Uuid)> {
        use std::ops::Bound;
        let lower = match after {
            Some(a) => Bound::Excluded(a),
            None => Bound::Unbounded,
        };
        self.ended
            .lock()
            .range((lower, Bound::Unbounded))
            .take_while(|(at, _)| *at < cutoff)
            .take(limit)
            .copied()
            .collect()
    }

    /// Drops an entry of the ended index whose instance is gone.
    pub fn forget_ended(&self, at: DateTime<Utc>, id: Uuid) {
        self.ended.lock().remove(&(at, id));
    }

    /// Entries held, for retention checks.
    pub fn counts(&self) -> StoreCounts {
        let mut c = StoreCounts {
            workflows: self.workflows.len(),
            tasks: self.tasks.len(),
            ended: self.ended.lock().len(),
            ..StoreCounts::default()
        };
        for map in [
            &self.by_actor,
            &self.by_document,
            &self.by_initiator,
            &self.by_model,
        ] {
            c.index_keys += map.len();
            c.index_ids += map.iter().map(|s| s.len()).sum::<usize>();
        }
        c
    }

    fn put_workflow(&self, mut rec: WorkflowRecord) {
        rec.shrink();
        let id = rec.id;
        if rec.state.is_active() {
            self.running.insert(id);
        } else {
            self.running.remove(&id);
            if let Some(at) = rec.ended {
                self.ended.lock().insert((at, id));
            }
        }
        let slot = self.workflows.get(&id).map(|s| s.clone());
        match slot {
            Some(slot) => {
                let mut current = slot.record.write();
                if let Some(old) = current.ended.filter(|_| current.ended != rec.ended) {
                    self.ended.lock().remove(&(old, id));
                }
                *current = Arc::new(rec);
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

    fn put_task(&self, mut rec: TaskRecord) {
        rec.shrink();
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
                **old = rec;
                return;
            }
            _ => rec,
        };
        let new: HashSet<String> = rec.principals().cloned().collect();
        let old = self.tasks.insert(id, Box::new(rec));
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

    /// Sequence numbers of the events held for `workflow` (deleted with it by a purge).
    pub fn event_seqs(&self, workflow: &Uuid) -> Vec<u64> {
        self.events
            .seqs_of_workflow(&crate::state::id_string(workflow))
    }

    pub fn events(&self) -> &flowgate_core::EventLog {
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
        self.tasks.get(id).map(|t| (**t).clone())
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
