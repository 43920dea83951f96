//! The short-lived cache of what changes rarely while a work item exists: instance
//! documents (payload, initiator, model, title, start) and the routes and back-routes
//! of a work item (decided by its node, so fixed for a given work item id).
//!
//! What decides correctness is never taken from here: a work item (its existence,
//! assignee, node, properties) is always read fresh, and so is every instance document
//! whose work item list or state an operation depends on. Entries live `cache_ttl_ms`
//! at most; every write of the adapter drops what it may have changed, and a read that
//! was in flight while a write happened cannot put its (possibly older) answer back
//! (a generation counter). A TTL of zero turns the cache off entirely. Each map is a
//! moka cache bounded in entries (least recently used go first).

use std::sync::Arc;
use std::time::Duration;

use moka::policy::EvictionPolicy;
use parking_lot::Mutex;

use crate::wire::{Choice, InstanceDoc};

/// Entries each map holds at most.
pub(crate) const MAX_ENTRIES: usize = 10_000;

/// Routes and back-routes of a work item.
pub(crate) type Actions = (Vec<Choice>, Vec<Choice>);

/// Whose view an entry holds: the service account's (shared by every caller, who are
/// then filtered by the adapter) or one pass-through caller's (CQ's ACLs decided what
/// that caller got, so nobody else may be served from it).
pub(crate) type Scope = Arc<str>;

type Key = (Scope, String);

/// A key seen as its two parts, so that a lookup can borrow them instead of building a
/// key (an allocation and a shared reference count per lookup). Hashes and compares
/// exactly like `Key`: a tuple hashes its fields in order, and `Arc<str>`, `String` and
/// `&str` all hash as `str`.
trait KeyParts {
    fn parts(&self) -> (&str, &str);
}

impl KeyParts for Key {
    fn parts(&self) -> (&str, &str) {
        (&self.0, &self.1)
    }
}

impl KeyParts for (&str, &str) {
    fn parts(&self) -> (&str, &str) {
        (self.0, self.1)
    }
}

impl<'a> std::borrow::Borrow<dyn KeyParts + 'a> for Key {
    fn borrow(&self) -> &(dyn KeyParts + 'a) {
        self
    }
}

impl std::hash::Hash for dyn KeyParts + '_ {
    fn hash<H: std::hash::Hasher>(&self, h: &mut H) {
        self.parts().hash(h);
    }
}

impl PartialEq for dyn KeyParts + '_ {
    fn eq(&self, other: &Self) -> bool {
        self.parts() == other.parts()
    }
}

impl Eq for dyn KeyParts + '_ {}

type Map<V> = moka::sync::Cache<Key, V>;

fn map<V: Clone + Send + Sync + 'static>(ttl: Duration, cap: usize) -> Map<V> {
    moka::sync::Cache::builder()
        .max_capacity(cap as u64)
        .eviction_policy(EvictionPolicy::lru())
        .time_to_live(ttl)
        .support_invalidation_closures()
        .build()
}

fn get<V: Clone + Send + Sync + 'static>(m: &Map<V>, scope: &str, path: &str) -> Option<V> {
    m.get(&(scope, path) as &dyn KeyParts)
}

/// Drops the entries whose path `f` selects, in every scope.
fn remove_where<V: Clone + Send + Sync + 'static>(
    m: &Map<V>,
    f: impl Fn(&str) -> bool + Send + Sync + 'static,
) {
    if m.invalidate_entries_if(move |(_, path), _| f(path))
        .is_err()
    {
        m.invalidate_all();
    }
}

/// The per-engine cache. See the module documentation for what it may hold.
pub(crate) struct Cache {
    ttl: Duration,
    instances: Map<Arc<InstanceDoc>>,
    actions: Map<Arc<Actions>>,
    /// Work items an instance had when last read: which items a list may fetch
    /// together with the instance. Only a guess: the fresh instance decides.
    items: Map<Arc<Vec<String>>>,
    /// Bumped by every write; stores and invalidations hold it, so that no write can
    /// slip between a store's check and its insert.
    generation: Mutex<u64>,
}

impl std::fmt::Debug for Cache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cache")
            .field("ttl", &self.ttl)
            .field("generation", &*self.generation.lock())
            .finish_non_exhaustive()
    }
}

/// The generation a read started in; its answer is cached only if no write happened
/// meanwhile.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Generation(u64);

impl Cache {
    /// A cache whose entries live `ttl` (zero: nothing is ever cached).
    pub fn new(ttl: Duration) -> Cache {
        Cache::with_capacity(ttl, MAX_ENTRIES)
    }

    /// The same with another bound (tests).
    pub fn with_capacity(ttl: Duration, cap: usize) -> Cache {
        let cap = cap.max(4);
        // moka refuses no TTL, but a zero one caches nothing anyway: see `enabled`.
        let live = ttl.max(Duration::from_millis(1));
        Cache {
            ttl,
            instances: map(live, cap),
            actions: map(live, cap),
            items: map(LONG, cap),
            generation: Mutex::new(0),
        }
    }

    /// Whether anything is cached at all.
    pub fn enabled(&self) -> bool {
        !self.ttl.is_zero()
    }

    /// To be taken before sending the read whose answer will be offered to the cache.
    pub fn generation(&self) -> Generation {
        Generation(*self.generation.lock())
    }

    fn key(scope: &Scope, path: &str) -> Key {
        (scope.clone(), path.to_owned())
    }

    /// A cached instance document, if fresh.
    pub fn instance(&self, scope: &Scope, path: &str) -> Option<Arc<InstanceDoc>> {
        if !self.enabled() {
            return None;
        }
        get(&self.instances, scope, path)
    }

    /// Offers the document of the instance at `path`, read in generation `g` (also
    /// remembers its work items).
    pub fn put_instance(&self, g: Generation, scope: &Scope, path: &str, doc: Arc<InstanceDoc>) {
        if !self.enabled() {
            return;
        }
        let items = Arc::new(doc.work_items.iter().map(|w| w.id.clone()).collect());
        let key = Self::key(scope, path);
        let current = self.generation.lock();
        self.items.insert(key.clone(), items);
        if *current == g.0 {
            self.instances.insert(key, doc);
        }
    }

    /// Cached routes and back-routes of a work item, if fresh.
    pub fn actions(&self, scope: &Scope, item: &str) -> Option<Arc<Actions>> {
        if !self.enabled() {
            return None;
        }
        get(&self.actions, scope, item)
    }

    /// Offers the routes and back-routes of a work item read in generation `g`.
    pub fn put_actions(&self, g: Generation, scope: &Scope, item: &str, a: Arc<Actions>) {
        if !self.enabled() {
            return;
        }
        let current = self.generation.lock();
        if *current == g.0 {
            self.actions.insert(Self::key(scope, item), a);
        }
    }

    /// The work items an instance had when it was last read (a prefetch guess).
    pub fn last_items(&self, scope: &Scope, inst: &str) -> Vec<String> {
        if !self.enabled() {
            return Vec::new();
        }
        get(&self.items, scope, inst)
            .map(|v| v.as_ref().clone())
            .unwrap_or_default()
    }

    /// Forgets everything about an instance and its work items, for every scope, and
    /// refuses the answers of reads that are still in flight.
    pub fn invalidate(&self, inst: &str) {
        let mut current = self.generation.lock();
        *current = current.wrapping_add(1);
        if !self.enabled() {
            return;
        }
        let same = |inst: &str| {
            let inst = inst.to_owned();
            move |p: &str| p == inst
        };
        remove_where(&self.instances, same(inst));
        remove_where(&self.items, same(inst));
        let prefix = format!("{inst}/workItems/");
        remove_where(&self.actions, move |p| p.starts_with(&prefix));
    }

    /// Refuses the answers of reads in flight without forgetting anything (a write
    /// whose target is not known, such as an unconfirmed start).
    pub fn bump(&self) {
        let mut current = self.generation.lock();
        *current = current.wrapping_add(1);
    }

    /// Entries held (tests and diagnostics).
    pub fn len(&self) -> usize {
        self.instances.run_pending_tasks();
        self.actions.run_pending_tasks();
        self.items.run_pending_tasks();
        let n =
            self.instances.entry_count() + self.actions.entry_count() + self.items.entry_count();
        usize::try_from(n).unwrap_or(usize::MAX)
    }
}

/// How long a prefetch guess is kept: guessing wrong costs one request, never a wrong
/// answer, so it may outlive the TTL (it is still bounded in number).
const LONG: Duration = Duration::from_secs(600);

#[cfg(test)]
mod tests {
    use super::*;

    fn doc(path: &str, items: &[&str]) -> Arc<InstanceDoc> {
        let items: Vec<serde_json::Value> = items
            .iter()
            .map(|i| serde_json::json!({"id": i, "node": "node1"}))
            .collect();
        Arc::new(
            serde_json::from_value(serde_json::json!({
                "id": path, "state": "RUNNING", "model": "/var/workflow/models/m",
                "workItems": items,
            }))
            .unwrap(),
        )
    }

    fn svc() -> Scope {
        Arc::from("")
    }

    #[test]
    fn a_zero_ttl_caches_nothing() {
        let c = Cache::new(Duration::ZERO);
        let g = c.generation();
        c.put_instance(g, &svc(), "/i/1", doc("/i/1", &["/i/1/workItems/a"]));
        c.put_actions(g, &svc(), "/i/1/workItems/a", Arc::new((vec![], vec![])));
        assert!(c.instance(&svc(), "/i/1").is_none());
        assert!(c.actions(&svc(), "/i/1/workItems/a").is_none());
        assert!(c.last_items(&svc(), "/i/1").is_empty());
    }

    #[test]
    fn entries_expire_after_the_ttl() {
        let c = Cache::new(Duration::from_millis(30));
        c.put_instance(c.generation(), &svc(), "/i/1", doc("/i/1", &[]));
        assert!(c.instance(&svc(), "/i/1").is_some());
        std::thread::sleep(Duration::from_millis(40));
        assert!(c.instance(&svc(), "/i/1").is_none());
    }

    #[test]
    fn scopes_do_not_share_entries() {
        let c = Cache::new(Duration::from_secs(5));
        let jdoe: Scope = Arc::from("u:jdoe");
        c.put_instance(c.generation(), &jdoe, "/i/1", doc("/i/1", &[]));
        assert!(c.instance(&jdoe, "/i/1").is_some());
        assert!(c.instance(&Arc::from("u:editor1"), "/i/1").is_none());
        assert!(c.instance(&svc(), "/i/1").is_none());
    }

    #[test]
    fn borrowed_lookups_find_exactly_the_stored_key() {
        let c = Cache::new(Duration::from_secs(5));
        let g = c.generation();
        // Parts that concatenate alike must not meet.
        c.put_instance(g, &Arc::from("ab"), "/c", doc("/c", &["/c/workItems/w1"]));
        c.put_actions(
            g,
            &Arc::from("a"),
            "b/c",
            Arc::new((Vec::new(), Vec::new())),
        );
        assert!(c.instance(&Arc::from("ab"), "/c").is_some());
        assert!(c.instance(&Arc::from("a"), "b/c").is_none());
        assert!(c.instance(&Arc::from("ab"), "/c/").is_none());
        assert!(c.actions(&Arc::from("a"), "b/c").is_some());
        assert!(c.actions(&Arc::from("ab"), "/c").is_none());
        assert_eq!(c.last_items(&Arc::from("ab"), "/c"), ["/c/workItems/w1"]);
        assert!(c.last_items(&Arc::from("a"), "b/c").is_empty());
        // A stored key and its borrowed parts hash alike.
        let state = std::collections::hash_map::RandomState::new();
        let owned: Key = (Arc::from("u:jdoe"), "/i/1".to_owned());
        assert_eq!(
            std::hash::BuildHasher::hash_one(&state, &owned),
            std::hash::BuildHasher::hash_one(&state, &("u:jdoe", "/i/1") as &dyn KeyParts)
        );
    }

    #[test]
    fn invalidation_drops_the_instance_and_its_items_in_every_scope() {
        let c = Cache::new(Duration::from_secs(5));
        let jdoe: Scope = Arc::from("u:jdoe");
        for s in [svc(), jdoe.clone()] {
            let g = c.generation();
            c.put_instance(g, &s, "/i/1", doc("/i/1", &["/i/1/workItems/a"]));
            c.put_instance(g, &s, "/i/10", doc("/i/10", &[]));
            c.put_actions(g, &s, "/i/1/workItems/a", Arc::new((vec![], vec![])));
            c.put_actions(g, &s, "/i/10/workItems/b", Arc::new((vec![], vec![])));
        }
        c.invalidate("/i/1");
        for s in [svc(), jdoe] {
            assert!(c.instance(&s, "/i/1").is_none());
            assert!(c.actions(&s, "/i/1/workItems/a").is_none());
            assert!(c.last_items(&s, "/i/1").is_empty());
            // A sibling whose path merely starts the same way is kept.
            assert!(c.instance(&s, "/i/10").is_some());
            assert!(c.actions(&s, "/i/10/workItems/b").is_some());
        }
    }

    #[test]
    fn a_read_in_flight_during_a_write_is_not_cached() {
        let c = Cache::new(Duration::from_secs(5));
        let before = c.generation();
        c.invalidate("/i/1");
        c.put_instance(before, &svc(), "/i/1", doc("/i/1", &[]));
        c.put_actions(
            before,
            &svc(),
            "/i/1/workItems/a",
            Arc::new((vec![], vec![])),
        );
        assert!(c.instance(&svc(), "/i/1").is_none());
        assert!(c.actions(&svc(), "/i/1/workItems/a").is_none());
        c.put_instance(c.generation(), &svc(), "/i/1", doc("/i/1", &[]));
        assert!(c.instance(&svc(), "/i/1").is_some());
    }

    #[test]
    fn the_cache_stays_bounded() {
        let c = Cache::with_capacity(Duration::from_secs(60), 100);
        for i in 0..1_000 {
            let g = c.generation();
            c.put_instance(g, &svc(), &format!("/i/{i}"), doc(&format!("/i/{i}"), &[]));
            c.put_actions(
                g,
                &svc(),
                &format!("/i/{i}/workItems/a"),
                Arc::new((vec![], vec![])),
            );
        }
        assert!(c.len() <= 3 * 100, "entries: {}", c.len());
        // The newest entry is always there.
        assert!(c.instance(&svc(), "/i/999").is_some());
    }
}
