//! What this engine did itself and CQ does not show back in its documented renderings:
//! who started an instance through the gateway (and with which start id), and to whom
//! a work item was delegated. Kept in memory per engine, bounded; the oldest entries
//! go first. Whatever CQ itself says (start metadata, `currentAssignee`) wins over it.

use std::collections::{HashMap, VecDeque};

use parking_lot::Mutex;

/// Entries kept of each kind.
const CAPACITY: usize = 10_000;

/// A start made through this engine.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct StartRecord {
    pub initiator: String,
    pub start_id: String,
}

#[derive(Debug)]
struct Bounded<V> {
    map: HashMap<String, V>,
    order: VecDeque<String>,
}

impl<V> Default for Bounded<V> {
    fn default() -> Bounded<V> {
        Bounded {
            map: HashMap::new(),
            order: VecDeque::new(),
        }
    }
}

impl<V: Clone> Bounded<V> {
    fn put(&mut self, key: &str, value: V, cap: usize) {
        if self.map.insert(key.to_owned(), value).is_none() {
            self.order.push_back(key.to_owned());
        }
        while self.map.len() > cap {
            match self.order.pop_front() {
                Some(old) => {
                    self.map.remove(&old);
                }
                None => break,
            }
        }
    }

    fn get(&self, key: &str) -> Option<V> {
        self.map.get(key).cloned()
    }

    fn remove(&mut self, key: &str) {
        if self.map.remove(key).is_some() {
            self.order.retain(|k| k != key);
        }
    }
}

/// The engine's own record (see the module documentation).
#[derive(Debug)]
pub(crate) struct Ledger {
    cap: usize,
    starts: Mutex<Bounded<StartRecord>>,
    delegations: Mutex<Bounded<String>>,
}

impl Default for Ledger {
    fn default() -> Ledger {
        Ledger::with_capacity(CAPACITY)
    }
}

impl Ledger {
    pub fn with_capacity(cap: usize) -> Ledger {
        Ledger {
            cap: cap.max(1),
            starts: Mutex::new(Bounded::default()),
            delegations: Mutex::new(Bounded::default()),
        }
    }

    /// Records a start under every path the instance is known by.
    pub fn record_start(&self, paths: &[&str], record: &StartRecord) {
        let mut s = self.starts.lock();
        for p in paths {
            s.put(p, record.clone(), self.cap);
        }
    }

    /// The start made through this engine at `path`, if remembered.
    pub fn start(&self, path: &str) -> Option<StartRecord> {
        self.starts.lock().get(path)
    }

    /// Records that `item` was delegated to `delegatee`.
    pub fn record_delegation(&self, item: &str, delegatee: &str) {
        self.delegations
            .lock()
            .put(item, delegatee.to_owned(), self.cap);
    }

    /// Whom `item` was last delegated to through this engine.
    pub fn delegatee(&self, item: &str) -> Option<String> {
        self.delegations.lock().get(item)
    }

    /// Forgets an item that is no longer open.
    pub fn forget_item(&self, item: &str) {
        self.delegations.lock().remove(item);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_are_bounded_oldest_first() {
        let l = Ledger::with_capacity(2);
        let r = |u: &str| StartRecord {
            initiator: u.into(),
            start_id: format!("id-{u}"),
        };
        l.record_start(&["/a"], &r("a"));
        l.record_start(&["/b", "/b2"], &r("b"));
        assert_eq!(l.start("/a"), None, "evicted");
        assert_eq!(l.start("/b2").map(|s| s.initiator).as_deref(), Some("b"));
        l.record_delegation("/w1", "jdoe");
        l.record_delegation("/w1", "dam1");
        assert_eq!(l.delegatee("/w1").as_deref(), Some("dam1"));
        l.forget_item("/w1");
        assert_eq!(l.delegatee("/w1"), None);
    }
}
