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
//! Each map holds at most `max` entries: when full, expired entries go first and, if
//! that is not enough, the whole map is emptied (like the process cache).

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::Mutex;

use crate::convert::TaskVars;
use crate::wire;

/// Entries one map of the cache holds at most.
pub(crate) const MAX_ENTRIES: usize = 10_000;

/// What the runtime list said about an open task that is not a pending delegation.
#[derive(Debug, Clone)]
struct Verdict {
    owner: Option<String>,
    assignee: Option<String>,
    /// The runtime `state` (`claimed`, `unclaimed`, `resolved`).
    state: String,
}

#[derive(Debug, Clone)]
struct Vars {
    pid: String,
    ended: bool,
    vars: Arc<TaskVars>,
}

#[derive(Debug, Clone)]
struct Timed<T> {
    at: Instant,
    value: T,
}

#[derive(Debug, Default)]
struct Maps {
    /// Bumped by every invalidation; a read stores only if it is unchanged since it began.
    epoch: u64,
    /// Package items by process id.
    items: HashMap<String, Timed<Arc<Vec<wire::Item>>>>,
    /// Variables by task id.
    vars: HashMap<String, Timed<Vars>>,
    /// Non-delegation verdicts by task id, with the process id for invalidation.
    verdicts: HashMap<String, Timed<(String, Verdict)>>,
    /// Process of a task (never changes; no expiry).
    task_pid: HashMap<String, String>,
}

/// The per-engine cache of task parts. Disabled (every lookup misses, nothing is
/// stored) when built with a zero TTL.
#[derive(Debug)]
pub(crate) struct PartsCache {
    ttl: Duration,
    max: usize,
    maps: Mutex<Maps>,
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

fn bounded_insert<K: Eq + Hash, V>(
    map: &mut HashMap<K, Timed<V>>,
    key: K,
    value: Timed<V>,
    ttl: Duration,
    max: usize,
) {
    if map.len() >= max {
        map.retain(|_, v| v.at.elapsed() < ttl);
        if map.len() >= max {
            map.clear();
        }
    }
    map.insert(key, value);
}

impl PartsCache {
    /// A cache whose entries live `ttl` (zero disables it), each map holding at most `max`.
    pub(crate) fn new(ttl: Duration, max: usize) -> Self {
        Self {
            ttl,
            max: max.max(1),
            maps: Mutex::new(Maps::default()),
        }
    }

    /// Whether the cache is in use at all.
    pub(crate) fn enabled(&self) -> bool {
        !self.ttl.is_zero()
    }

    /// Take before sending the requests whose answers may be stored.
    pub(crate) fn ticket(&self) -> Ticket {
        Ticket {
            epoch: self.maps.lock().epoch,
            at: Instant::now(),
        }
    }

    fn fresh<T>(&self, t: &Timed<T>) -> bool {
        t.at.elapsed() < self.ttl
    }

    /// Remembers the process of a task (immutable, so no epoch check).
    pub(crate) fn put_task_pid(&self, tid: &str, pid: &str) {
        if !self.enabled() {
            return;
        }
        let mut m = self.maps.lock();
        if m.task_pid.len() >= self.max {
            m.task_pid.clear();
        }
        m.task_pid.insert(tid.to_owned(), pid.to_owned());
    }

    /// What a read of task `tid` may take from the cache, gathered under one lock: the
    /// ticket for what the read will store, the items of the task's process and the
    /// task's variables. With `lookup` false (a read that must not use the cache) only
    /// the ticket is taken.
    pub(crate) fn snapshot(&self, tid: &str, lookup: bool) -> Snapshot {
        let m = self.maps.lock();
        let ticket = Ticket {
            epoch: m.epoch,
            at: Instant::now(),
        };
        if !lookup || !self.enabled() {
            return Snapshot {
                ticket,
                items: None,
                vars: None,
            };
        }
        let items = m
            .task_pid
            .get(tid)
            .and_then(|pid| m.items.get(pid))
            .filter(|t| self.fresh(t))
            .map(|t| t.value.clone());
        let vars = m.vars.get(tid).map(|t| Timed {
            at: t.at,
            value: (t.value.ended, t.value.vars.clone()),
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
        let m = self.maps.lock();
        m.items
            .get(pid)
            .filter(|t| self.fresh(t))
            .map(|t| t.value.clone())
    }

    /// Stores the items of a process read under `ticket`.
    pub(crate) fn put_items(&self, ticket: Ticket, pid: &str, items: &Arc<Vec<wire::Item>>) {
        if !self.enabled() {
            return;
        }
        let mut m = self.maps.lock();
        if m.epoch != ticket.epoch {
            return;
        }
        let v = Timed {
            at: ticket.at,
            value: items.clone(),
        };
        bounded_insert(&mut m.items, pid.to_owned(), v, self.ttl, self.max);
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
        if !self.enabled() {
            return;
        }
        let mut m = self.maps.lock();
        if m.epoch != ticket.epoch {
            return;
        }
        let v = Timed {
            at: ticket.at,
            value: Vars {
                pid: pid.to_owned(),
                ended,
                vars: vars.clone(),
            },
        };
        bounded_insert(&mut m.vars, tid.to_owned(), v, self.ttl, self.max);
    }

    /// The runtime state of an open task that the runtime list showed as not delegated,
    /// when fresh and taken with exactly this owner and assignee.
    pub(crate) fn verdict(
        &self,
        tid: &str,
        owner: Option<&str>,
        assignee: Option<&str>,
    ) -> Option<String> {
        if !self.enabled() {
            return None;
        }
        let m = self.maps.lock();
        m.verdicts
            .get(tid)
            .filter(|t| {
                self.fresh(t)
                    && t.value.1.owner.as_deref() == owner
                    && t.value.1.assignee.as_deref() == assignee
            })
            .map(|t| t.value.1.state.clone())
    }

    /// Stores the runtime verdict on an open task that is not a pending delegation.
    pub(crate) fn put_verdict(&self, ticket: Ticket, pid: &str, rt: &wire::Task) {
        if !self.enabled() {
            return;
        }
        let mut m = self.maps.lock();
        if m.epoch != ticket.epoch {
            return;
        }
        let v = Timed {
            at: ticket.at,
            value: (
                pid.to_owned(),
                Verdict {
                    owner: rt.owner.clone(),
                    assignee: rt.assignee.clone(),
                    state: rt.state.clone(),
                },
            ),
        };
        bounded_insert(&mut m.verdicts, rt.id.clone(), v, self.ttl, self.max);
    }

    /// Drops everything cached about process `pid` and its tasks, and keeps reads that
    /// were in flight from storing what they read.
    pub(crate) fn invalidate_process(&self, pid: &str) {
        let mut m = self.maps.lock();
        m.epoch = m.epoch.wrapping_add(1);
        if !self.enabled() {
            return;
        }
        m.items.remove(pid);
        m.vars.retain(|_, v| v.value.pid != pid);
        m.verdicts.retain(|_, v| v.value.0 != pid);
    }

    /// Entries held, per map (items, variables, verdicts, task→process), for tests of
    /// the bound.
    #[cfg(test)]
    pub(crate) fn sizes(&self) -> [usize; 4] {
        let m = self.maps.lock();
        [
            m.items.len(),
            m.vars.len(),
            m.verdicts.len(),
            m.task_pid.len(),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(id: &str) -> wire::Item {
        wire::Item { id: id.into() }
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
