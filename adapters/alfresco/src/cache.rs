//! Short-lived cache of the parts of a task that change rarely or never while it is
//! open: the package items of its process, its variables (local and process-wide) and
//! the runtime list's verdict that it is *not* a pending delegation.
//!
//! What decides correctness (state, assignee, owner, due date, name, whether the task
//! ended) always comes from a fresh `GET /tasks/{id}`; the cache only spares the
//! requests that complete the picture. Its staleness bound:
//!
//! - an entry is used for at most `ttl` after its request was *sent*;
//! - every write the adapter makes on a process (start, complete, reassign, delegate,
//!   cancel) drops the entries of that process, and a read that was in flight during
//!   any such write does not store what it read (an epoch counter);
//! - variables read while a task was open are never used once it has ended (the outcome
//!   decides ended vs. cancelled), and a delegation verdict is only used while the
//!   task's owner and assignee are exactly those it was taken with; a pending
//!   delegation is never served from the cache (so a stale verdict can only hide an
//!   actor, never add one).
//!
//! Each map is a moka cache holding at most `max` entries (least recently used go
//! first) for at most `ttl`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use moka::policy::EvictionPolicy;
use moka::sync::Cache;
use parking_lot::Mutex;

use crate::convert::TaskVars;
use crate::wire;

/// Entries one map of the cache holds at most.
pub(crate) const MAX_ENTRIES: usize = 10_000;

/// What the runtime list said about an open task that is not a pending delegation.
#[derive(Debug, Clone)]
struct Verdict {
    pid: String,
    owner: Option<String>,
    assignee: Option<String>,
    /// The runtime `state` (`claimed`, `unclaimed`, `resolved`).
    state: Option<String>,
}

#[derive(Debug, Clone)]
struct Vars {
    pid: String,
    ended: bool,
    vars: Arc<TaskVars>,
}

/// A value with the time its request was sent.
#[derive(Debug, Clone)]
struct Timed<T> {
    at: Instant,
    value: T,
}

/// The per-engine cache of task parts. Disabled (every lookup misses, nothing is
/// stored) when built with a zero TTL.
pub(crate) struct PartsCache {
    ttl: Duration,
    /// Bumped by every invalidation; a read stores only if it is unchanged since it
    /// began. Stores and invalidations hold it, so none slips between check and insert.
    epoch: Mutex<u64>,
    /// Package items by process id.
    items: Cache<String, Timed<Arc<Vec<wire::Item>>>>,
    /// Variables by task id.
    vars: Cache<String, Timed<Vars>>,
    /// Non-delegation verdicts by task id.
    verdicts: Cache<String, Timed<Verdict>>,
    /// Process of a task (never changes; only the size bound applies).
    task_pid: Cache<String, String>,
}

impl std::fmt::Debug for PartsCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PartsCache")
            .field("ttl", &self.ttl)
            .field("epoch", &*self.epoch.lock())
            .finish_non_exhaustive()
    }
}

/// What [`PartsCache::snapshot`] found for one read.
#[derive(Debug)]
pub(crate) struct Snapshot {
    /// To store what the read fetches.
    pub(crate) ticket: Ticket,
    /// The items of the task's process, fresh when looked up.
    pub(crate) items: Option<Arc<Vec<wire::Item>>>,
    /// The task's variables and whether they were read after it ended; freshness is
    /// checked when they are used ([`Snapshot::vars`]).
    vars: Option<Timed<(bool, Arc<TaskVars>)>>,
}

impl Snapshot {
    /// The task's variables, when still fresh and read in the same ended/open state.
    pub(crate) fn vars(&self, cache: &PartsCache, ended: bool) -> Option<Arc<TaskVars>> {
        self.vars
            .as_ref()
            .filter(|t| cache.fresh(t) && t.value.0 == ended)
            .map(|t| t.value.1.clone())
    }
}

/// A snapshot of the epoch taken before a read's requests are sent.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Ticket {
    epoch: u64,
    at: Instant,
}

fn map<V: Clone + Send + Sync + 'static>(ttl: Duration, max: usize) -> Cache<String, V> {
    let mut b = Cache::builder()
        .max_capacity(max as u64)
        .eviction_policy(EvictionPolicy::lru())
        .support_invalidation_closures();
    if !ttl.is_zero() {
        b = b.time_to_live(ttl);
    }
    b.build()
}

impl PartsCache {
    /// A cache whose entries live `ttl` (zero disables it), each map holding at most `max`.
    pub(crate) fn new(ttl: Duration, max: usize) -> Self {
        let max = max.max(1);
        Self {
            ttl,
            epoch: Mutex::new(0),
            items: map(ttl, max),
            vars: map(ttl, max),
            verdicts: map(ttl, max),
            task_pid: map(Duration::ZERO, max),
        }
    }

    /// Whether the cache is in use at all.
    pub(crate) fn enabled(&self) -> bool {
        !self.ttl.is_zero()
    }

    /// Take before sending the requests whose answers may be stored.
    pub(crate) fn ticket(&self) -> Ticket {
        Ticket {
            epoch: *self.epoch.lock(),
            at: Instant::now(),
        }
    }

    fn fresh<T>(&self, t: &Timed<T>) -> bool {
        t.at.elapsed() < self.ttl
    }

    /// Runs `store` if no invalidation happened since `ticket` was taken.
    fn store_under(&self, ticket: Ticket, store: impl FnOnce()) {
        if !self.enabled() {
            return;
        }
        let epoch = self.epoch.lock();
        if *epoch == ticket.epoch {
            store();
        }
    }

    /// Remembers the process of a task (immutable, so no epoch check).
    pub(crate) fn put_task_pid(&self, tid: &str, pid: &str) {
        if self.enabled() {
            self.task_pid.insert(tid.to_owned(), pid.to_owned());
        }
    }

    /// What a read of task `tid` may take from the cache: the ticket for what the read
    /// will store, the items of the task's process and the task's variables. With
    /// `lookup` false (a read that must not use the cache) only the ticket is taken.
    pub(crate) fn snapshot(&self, tid: &str, lookup: bool) -> Snapshot {
        let ticket = self.ticket();
        if !lookup || !self.enabled() {
            return Snapshot {
                ticket,
                items: None,
                vars: None,
            };
        }
        let items = self.task_pid.get(tid).and_then(|pid| self.items(&pid));
        let vars = self.vars.get(tid).map(|t| Timed {
            at: t.at,
            value: (t.value.ended, t.value.vars),
        });
        Snapshot {
            ticket,
            items,
            vars,
        }
    }

    /// Package items of a process, when cached and fresh.
    pub(crate) fn items(&self, pid: &str) -> Option<Arc<Vec<wire::Item>>> {
        if !self.enabled() {
            return None;
        }
        self.items
            .get(pid)
            .filter(|t| self.fresh(t))
            .map(|t| t.value)
    }

    /// Stores the items of a process read under `ticket`.
    pub(crate) fn put_items(&self, ticket: Ticket, pid: &str, items: &Arc<Vec<wire::Item>>) {
        self.store_under(ticket, || {
            let v = Timed {
                at: ticket.at,
                value: items.clone(),
            };
            self.items.insert(pid.to_owned(), v);
        });
    }

    /// Stores the variables of a task of process `pid` read under `ticket`.
    pub(crate) fn put_vars(
        &self,
        ticket: Ticket,
        tid: &str,
        pid: &str,
        ended: bool,
        vars: &Arc<TaskVars>,
    ) {
        self.store_under(ticket, || {
            let v = Timed {
                at: ticket.at,
                value: Vars {
                    pid: pid.to_owned(),
                    ended,
                    vars: vars.clone(),
                },
            };
            self.vars.insert(tid.to_owned(), v);
        });
    }

    /// The runtime state of an open task that the runtime list showed as not delegated,
    /// when fresh and taken with exactly this owner and assignee.
    pub(crate) fn verdict(
        &self,
        tid: &str,
        owner: Option<&str>,
        assignee: Option<&str>,
    ) -> Option<Option<String>> {
        if !self.enabled() {
            return None;
        }
        self.verdicts
            .get(tid)
            .filter(|t| {
                self.fresh(t)
                    && t.value.owner.as_deref() == owner
                    && t.value.assignee.as_deref() == assignee
            })
            .map(|t| t.value.state)
    }

    /// Stores the runtime verdict on an open task that is not a pending delegation.
    pub(crate) fn put_verdict(&self, ticket: Ticket, pid: &str, rt: &wire::Task) {
        self.store_under(ticket, || {
            let v = Timed {
                at: ticket.at,
                value: Verdict {
                    pid: pid.to_owned(),
                    owner: rt.owner.clone(),
                    assignee: rt.assignee.clone(),
                    state: rt.state.clone(),
                },
            };
            self.verdicts.insert(rt.id.clone(), v);
        });
    }

    /// Drops everything cached about process `pid` and its tasks, and keeps reads that
    /// were in flight from storing what they read.
    pub(crate) fn invalidate_process(&self, pid: &str) {
        let mut epoch = self.epoch.lock();
        *epoch = epoch.wrapping_add(1);
        if !self.enabled() {
            return;
        }
        self.items.invalidate(pid);
        let owned = pid.to_owned();
        if self
            .vars
            .invalidate_entries_if(move |_, v| v.value.pid == owned)
            .is_err()
        {
            self.vars.invalidate_all();
        }
        let owned = pid.to_owned();
        if self
            .verdicts
            .invalidate_entries_if(move |_, v| v.value.pid == owned)
            .is_err()
        {
            self.verdicts.invalidate_all();
        }
    }

    /// Entries held, per map (items, variables, verdicts, task→process), for tests of
    /// the bound.
    #[cfg(test)]
    pub(crate) fn sizes(&self) -> [u64; 4] {
        self.items.run_pending_tasks();
        self.vars.run_pending_tasks();
        self.verdicts.run_pending_tasks();
        self.task_pid.run_pending_tasks();
        [
            self.items.entry_count(),
            self.vars.entry_count(),
            self.verdicts.entry_count(),
            self.task_pid.entry_count(),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(id: &str) -> wire::Item {
        wire::Item {
            id: Some(id.into()),
        }
    }

    #[test]
    fn entries_expire_after_the_ttl() {
        let c = PartsCache::new(Duration::from_millis(30), 10);
        let t = c.ticket();
        c.put_items(t, "p1", &Arc::new(vec![item("a")]));
        assert_eq!(c.items("p1").map(|v| v.len()), Some(1));
        std::thread::sleep(Duration::from_millis(40));
        assert!(c.items("p1").is_none());
    }

    #[test]
    fn a_read_in_flight_during_an_invalidation_stores_nothing() {
        let c = PartsCache::new(Duration::from_secs(5), 10);
        let t = c.ticket();
        c.invalidate_process("p1");
        c.put_items(t, "p1", &Arc::new(vec![item("a")]));
        assert!(c.items("p1").is_none());
        c.put_items(c.ticket(), "p1", &Arc::new(vec![item("a")]));
        assert!(c.items("p1").is_some());
        c.invalidate_process("p1");
        assert!(c.items("p1").is_none());
    }

    #[test]
    fn variables_read_while_open_are_not_used_once_ended() {
        let c = PartsCache::new(Duration::from_secs(5), 10);
        c.put_vars(c.ticket(), "t1", "p1", false, &Arc::default());
        let snap = c.snapshot("t1", true);
        assert!(snap.vars(&c, false).is_some());
        assert!(snap.vars(&c, true).is_none());
    }

    #[test]
    fn a_snapshot_finds_items_through_the_tasks_process_and_checks_variables_when_used() {
        let c = PartsCache::new(Duration::from_millis(30), 10);
        let t = c.ticket();
        c.put_task_pid("t1", "p1");
        c.put_items(t, "p1", &Arc::new(vec![item("a"), item("b")]));
        c.put_vars(t, "t1", "p1", false, &Arc::default());
        let snap = c.snapshot("t1", true);
        assert_eq!(snap.items.as_ref().map(|i| i.len()), Some(2));
        assert!(snap.vars(&c, false).is_some());
        // A read that must not use the cache only gets its ticket.
        let bypass = c.snapshot("t1", false);
        assert!(bypass.items.is_none() && bypass.vars(&c, false).is_none());
        // Variables past their time are not used, even from a snapshot taken before.
        std::thread::sleep(Duration::from_millis(40));
        assert!(snap.vars(&c, false).is_none());
        // Nor is anything of an invalidated process.
        c.put_vars(c.ticket(), "t1", "p1", false, &Arc::default());
        c.put_items(c.ticket(), "p1", &Arc::new(vec![item("a")]));
        c.invalidate_process("p1");
        let after = c.snapshot("t1", true);
        assert!(after.items.is_none() && after.vars(&c, false).is_none());
    }

    #[test]
    fn every_map_stays_within_its_bound() {
        let c = PartsCache::new(Duration::from_secs(5), 3);
        for i in 0..10 {
            let t = c.ticket();
            c.put_items(t, &format!("p{i}"), &Arc::new(vec![item("a")]));
            c.put_vars(
                t,
                &format!("t{i}"),
                &format!("p{i}"),
                false,
                &Arc::default(),
            );
            c.put_task_pid(&format!("t{i}"), &format!("p{i}"));
        }
        assert!(c.sizes().iter().all(|n| *n <= 3), "{:?}", c.sizes());
    }

    #[test]
    fn a_zero_ttl_disables_the_cache() {
        let c = PartsCache::new(Duration::ZERO, 10);
        c.put_items(c.ticket(), "p1", &Arc::new(vec![item("a")]));
        c.put_task_pid("t1", "p1");
        assert!(c.items("p1").is_none());
        assert!(c.snapshot("t1", true).items.is_none());
        assert_eq!(c.sizes(), [0, 0, 0, 0]);
    }
}
