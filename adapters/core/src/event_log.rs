//! An in-memory event log shared by the engines that keep workflow events: every event
//! by sequence number, indexes by document and workflow, a broadcast of new events, and
//! the query every engine answers [`crate::WorkflowEngine::events`] with.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;

use parking_lot::RwLock;
use tokio::sync::broadcast;

use crate::event_pack::{Interner, Packed, Stored};
use crate::{CallContext, EngineError, Event, EventQuery, Page};

/// Events buffered for live subscribers before a slow one starts losing them.
pub const LIVE_BUFFER: usize = 1024;

/// The event log in memory: every event by sequence number, packed (a few hundred
/// bytes each, see `event_pack`), with indexes by document and workflow, and a
/// broadcast of newly added events.
#[derive(Debug)]
pub struct EventLog {
    inner: RwLock<Inner>,
    live: broadcast::Sender<Arc<Event>>,
}

#[derive(Debug, Default)]
struct Inner {
    /// `(seq, event)` in sequence order; `None` once the event was forgotten (dropped
    /// from the front, and all at once when they are half of the log).
    log: VecDeque<(u64, Option<Stored>)>,
    gone: usize,
    by_document: HashMap<Arc<str>, Vec<u64>>,
    by_workflow: HashMap<Arc<str>, Vec<u64>>,
    names: Interner,
    last: u64,
}

impl Default for EventLog {
    fn default() -> Self {
        Self {
            inner: RwLock::default(),
            live: broadcast::channel(LIVE_BUFFER).0,
        }
    }
}

impl EventLog {
    /// Adds an event, giving it the next sequence number unless it has one already
    /// (read back from storage), and publishes it to live subscribers.
    pub fn push(&self, e: Event) {
        let e = self.insert(e);
        // Nobody listening is not an error.
        if self.live.receiver_count() > 0 {
            let _ = self.live.send(Arc::new(e));
        }
    }

    /// Adds an event read back from storage without publishing it.
    pub fn restore(&self, e: Event) {
        self.insert(e);
    }

    fn insert(&self, mut e: Event) -> Event {
        let mut inner = self.inner.write();
        if e.seq == 0 {
            e.seq = inner.last + 1;
        }
        inner.last = inner.last.max(e.seq);
        inner.insert(&e);
        e
    }

    /// Takes note of the number of an event that is not kept (read back from storage
    /// after its workflow was forgotten): numbering goes on after it.
    pub fn skip(&self, seq: u64) {
        let mut inner = self.inner.write();
        inner.last = inner.last.max(seq);
    }

    /// Forgets every event with a sequence number up to `seq` (retention). Returns how
    /// many were dropped.
    pub fn drop_through(&self, seq: u64) -> usize {
        let mut inner = self.inner.write();
        let inner = &mut *inner;
        let mut dropped = 0;
        while let Some((s, e)) = inner.log.front() {
            if *s > seq {
                break;
            }
            if e.is_some() {
                dropped += 1;
            } else {
                inner.gone -= 1;
            }
            inner.log.pop_front();
        }
        if dropped == 0 {
            return 0;
        }
        for index in [&mut inner.by_document, &mut inner.by_workflow] {
            index.retain(|_, seqs| {
                seqs.retain(|s| *s > seq);
                !seqs.is_empty()
            });
        }
        dropped
    }

    /// Forgets the events of one workflow (deleted by retention or a purge). Returns
    /// how many were dropped.
    pub fn forget_workflow(&self, workflow_id: &str) -> usize {
        self.inner.write().forget(workflow_id)
    }

    /// Sequence numbers of the events held for workflow `workflow_id`, in order.
    pub fn seqs_of_workflow(&self, workflow_id: &str) -> Vec<u64> {
        self.inner
            .read()
            .by_workflow
            .get(workflow_id)
            .cloned()
            .unwrap_or_default()
    }

    /// Events matching the filters of `q` that `visible` accepts, in sequence order,
    /// as a page.
    pub fn query(&self, q: &EventQuery, visible: impl FnMut(&Event) -> bool) -> Page<Event> {
        self.inner.read().query(q, visible)
    }

    /// [`crate::WorkflowEngine::events`] over this log for engine `engine`: the page of
    /// `q` limited to the events `visible` lets `cx` see, with the engine name filled.
    /// For a document whose events the caller may see none of (while some exist), the
    /// answer is `Forbidden`, as reading the document's workflows would be.
    pub fn query_for(
        &self,
        engine: &str,
        cx: &CallContext,
        q: &EventQuery,
        visible: impl FnMut(&Event) -> bool,
    ) -> Result<Page<Event>, EngineError> {
        let page = self.inner.read().query_counting(q, visible);
        finish(engine, cx, q, page)
    }

    /// [`EventLog::query_for`] with the visibility the log itself can judge: a caller
    /// sees the events of a workflow when [`EventLog::may_see_workflow`] says so.
    pub fn query_seen(
        &self,
        engine: &str,
        cx: &CallContext,
        q: &EventQuery,
    ) -> Result<Page<Event>, EngineError> {
        let inner = self.inner.read();
        let mut verdicts: HashMap<String, bool> = HashMap::new();
        let page = inner.query_counting(q, |e| {
            if let Some(v) = verdicts.get(&e.workflow_id) {
                return *v;
            }
            let v = inner.may_see_workflow(cx, &e.workflow_id);
            verdicts.insert(e.workflow_id.clone(), v);
            v
        });
        drop(inner);
        finish(engine, cx, q, page)
    }

    /// Whether `cx` may see the events of workflow `workflow_id` judging by the log
    /// alone: administrators, power users, its initiator, and anyone who is or was an
    /// actor or delegate of one of its tasks (the rule of [`crate::access`] for reading
    /// a workflow, with the tasks the log has seen).
    pub fn may_see_workflow(&self, cx: &CallContext, workflow_id: &str) -> bool {
        self.inner.read().may_see_workflow(cx, workflow_id)
    }

    /// A receiver of events added from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<Arc<Event>> {
        self.live.subscribe()
    }

    /// Sequence number of the last event (0: none).
    pub fn last_seq(&self) -> u64 {
        self.inner.read().last
    }

    /// Events held.
    pub fn len(&self) -> usize {
        let inner = self.inner.read();
        inner.log.len() - inner.gone
    }

    /// Whether the log holds no event.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl Inner {
    fn position(&self, seq: u64) -> Result<usize, usize> {
        self.log.binary_search_by_key(&seq, |(s, _)| *s)
    }

    fn get(&self, seq: u64) -> Option<&Stored> {
        self.position(seq).ok().and_then(|i| self.log[i].1.as_ref())
    }

    /// The index's own copy of `key`, or a new one.
    fn shared(index: &HashMap<Arc<str>, Vec<u64>>, key: &str) -> Arc<str> {
        index
            .get_key_value(key)
            .map_or_else(|| Arc::from(key), |(k, _)| k.clone())
    }

    fn insert(&mut self, e: &Event) {
        let seq = e.seq;
        let workflow = Self::shared(&self.by_workflow, &e.workflow_id);
        let docs: Vec<Arc<str>> = e
            .documents
            .iter()
            .map(|d| Self::shared(&self.by_document, d))
            .collect();
        let stored = match Packed::pack(e, &mut self.names, workflow.clone(), &docs) {
            Some(p) => Stored::Packed(p),
            None => Stored::Whole(Box::new(e.clone())),
        };
        push_seq(self.by_workflow.entry(workflow).or_default(), seq);
        for d in docs {
            push_seq(self.by_document.entry(d).or_default(), seq);
        }
        match self.position(seq) {
            Ok(i) => {
                if self.log[i].1.is_none() {
                    self.gone -= 1;
                }
                self.log[i].1 = Some(stored);
            }
            Err(i) if i == self.log.len() => self.log.push_back((seq, Some(stored))),
            Err(i) => self.log.insert(i, (seq, Some(stored))),
        }
    }

    fn forget(&mut self, workflow_id: &str) -> usize {
        let Some(seqs) = self.by_workflow.remove(workflow_id) else {
            return 0;
        };
        let mut dropped = 0;
        for seq in seqs {
            let Ok(i) = self.position(seq) else { continue };
            let Some(stored) = self.log[i].1.take() else {
                continue;
            };
            dropped += 1;
            self.gone += 1;
            for d in stored.documents() {
                if let Some(list) = self.by_document.get_mut(d) {
                    list.retain(|s| *s != seq);
                    if list.is_empty() {
                        self.by_document.remove(d);
                    }
                }
            }
        }
        while self.log.front().is_some_and(|(_, e)| e.is_none()) {
            self.log.pop_front();
            self.gone -= 1;
        }
        if self.gone > 1024 && self.gone * 2 > self.log.len() {
            self.log.retain(|(_, e)| e.is_some());
            self.log.shrink_to_fit();
            self.gone = 0;
        }
        dropped
    }

    fn query(&self, q: &EventQuery, mut visible: impl FnMut(&Event) -> bool) -> Page<Event> {
        let seqs: Box<dyn Iterator<Item = u64> + '_> = match (&q.document, &q.workflow_id) {
            (Some(d), _) => Box::new(sorted(self.by_document.get(d.as_str()))),
            (None, Some(w)) => Box::new(sorted(self.by_workflow.get(w.as_str()))),
            (None, None) => {
                let from = q.after_seq.map_or(0, |s| s + 1);
                let at = self.position(from).unwrap_or_else(|i| i);
                Box::new(self.log.range(at..).map(|(k, _)| *k))
            }
        };
        let mut total = 0usize;
        let mut items = Vec::new();
        for seq in seqs {
            let Some(stored) = self.get(seq) else {
                continue;
            };
            let (kind, principal, at) = stored.head();
            if !(q.kinds.is_empty() || q.kinds.contains(&kind))
                || q.principal.as_ref().is_some_and(|p| p != principal)
                || q.start.is_some_and(|t| at < t)
                || q.end.is_some_and(|t| at > t)
            {
                continue;
            }
            let e = stored.event(seq);
            if !e.matches(q) || !visible(&e) {
                continue;
            }
            if total >= q.page.offset && items.len() < q.page.limit {
                items.push(e);
            }
            total += 1;
            if q.page_only && items.len() >= q.page.limit {
                break;
            }
        }
        Page { items, total }
    }

    /// The page, and how many matching events `visible` refused.
    fn query_counting(
        &self,
        q: &EventQuery,
        mut visible: impl FnMut(&Event) -> bool,
    ) -> (Page<Event>, usize) {
        let mut hidden = 0usize;
        let page = self.query(q, |e| {
            let ok = visible(e);
            hidden += usize::from(!ok);
            ok
        });
        (page, hidden)
    }

    fn may_see_workflow(&self, cx: &CallContext, workflow_id: &str) -> bool {
        if cx.admin || cx.poweruser {
            return true;
        }
        let events = self
            .by_workflow
            .get(workflow_id)
            .into_iter()
            .flatten()
            .filter_map(|s| self.get(*s).map(|e| e.event(*s)))
            .collect::<Vec<_>>();
        let mut initiator = None;
        let mut parties = Vec::new();
        for e in &events {
            initiator.get_or_insert(e.initiator.as_str());
            if e.kind.is_task() {
                parties.push(crate::access::TaskParties {
                    actors: &e.actors,
                    delegated: &e.delegated,
                    task_initiator: None,
                    workflow_initiator: Some(&e.initiator),
                });
            }
        }
        crate::access::may_see_workflow(cx, initiator, parties.into_iter())
    }
}

fn finish(
    engine: &str,
    cx: &CallContext,
    q: &EventQuery,
    (mut page, hidden): (Page<Event>, usize),
) -> Result<Page<Event>, EngineError> {
    if q.document.is_some() && page.total == 0 && hidden > 0 {
        return Err(EngineError::forbidden(format!(
            "Privilege 'READ' is not granted to '{}'",
            cx.user
        )));
    }
    for e in &mut page.items {
        e.engine = engine.to_owned();
    }
    Ok(page)
}

/// Appends to an index list, sized for the few events one document or workflow has.
fn push_seq(list: &mut Vec<u64>, seq: u64) {
    if list.len() == list.capacity() {
        list.reserve_exact(list.len().clamp(1, 8));
    }
    list.push(seq);
}

/// Index entries are appended in sequence order.
fn sorted(v: Option<&Vec<u64>>) -> impl Iterator<Item = u64> + '_ {
    v.into_iter().flatten().copied()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::EventKind;
    use std::collections::BTreeMap;

    fn event(kind: EventKind, wf: &str, actors: &[&str]) -> Event {
        Event {
            seq: 0,
            engine: String::new(),
            kind,
            at: chrono::Utc::now(),
            workflow_id: wf.into(),
            task_id: kind.is_task().then(|| "t1".to_owned()),
            task_name: None,
            model: "m".into(),
            documents: vec!["doc1".into()],
            principal: "jdoe".into(),
            initiator: "jdoe".into(),
            actors: actors.iter().map(|a| (*a).to_owned()).collect(),
            delegated: vec![],
            action: None,
            comment: None,
            extended: BTreeMap::new(),
        }
    }

    #[test]
    fn sequence_numbers_grow_and_dropping_clears_the_indexes() {
        let log = EventLog::default();
        log.push(event(EventKind::WorkflowStarted, "w1", &[]));
        log.push(event(EventKind::TaskCreated, "w1", &["asmith"]));
        log.push(event(EventKind::WorkflowStarted, "w2", &[]));
        assert_eq!(log.last_seq(), 3);
        assert_eq!(log.drop_through(2), 2);
        assert_eq!(log.len(), 1);
        let page = log.query(&EventQuery::for_document("doc1"), |_| true);
        assert_eq!(page.total, 1);
        assert_eq!(page.items[0].seq, 3);
        log.push(event(EventKind::WorkflowFinished, "w2", &[]));
        assert_eq!(log.last_seq(), 4, "numbers are never reused after a drop");
    }

    #[test]
    fn visibility_follows_initiator_and_task_parties_and_hidden_documents_are_forbidden() {
        let log = EventLog::default();
        log.push(event(EventKind::WorkflowStarted, "w1", &[]));
        log.push(event(EventKind::TaskCreated, "w1", &["user:asmith"]));
        let asmith = CallContext::user("asmith", Vec::<String>::new());
        let bob = CallContext::user("bob", Vec::<String>::new());
        assert!(log.may_see_workflow(&asmith, "w1"));
        assert!(!log.may_see_workflow(&bob, "w1"));
        let q = EventQuery::for_document("doc1");
        let page = log.query_seen("alf", &asmith, &q).unwrap();
        assert_eq!(page.total, 2);
        assert!(page.items.iter().all(|e| e.engine == "alf"));
        let err = log.query_seen("alf", &bob, &q).unwrap_err();
        assert_eq!(err.kind(), crate::ErrorKind::Forbidden);
    }

    #[test]
    fn a_feed_page_stops_reading_at_its_end_and_a_counted_page_counts_everything() {
        let log = EventLog::default();
        for n in 0..50 {
            log.push(event(EventKind::WorkflowStarted, &format!("w{n}"), &[]));
        }
        let mut q = EventQuery {
            after_seq: Some(10),
            page: crate::PageRequest::new(0, 5),
            ..EventQuery::default()
        };
        let counted = log.query(&q, |_| true);
        assert_eq!(counted.total, 40, "every event after 10");
        q.page_only = true;
        let feed = log.query(&q, |_| true);
        let seqs: Vec<u64> = feed.items.iter().map(|e| e.seq).collect();
        assert_eq!(seqs, [11, 12, 13, 14, 15]);
        assert_eq!(feed.total, 5, "nothing read past the page");
        let mut seen = 0;
        log.query(&q, |_| {
            seen += 1;
            true
        });
        assert_eq!(seen, 5, "no event past the page is even looked at");
    }
}
