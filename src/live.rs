//! Live workflow events for `GET /api/v1/events`: the gateway's relays of the engines'
//! events, the `[events]` settings, and the count of open streams.
//!
//! Each engine publishing events (the embedded engine) gets one relay thread that
//! reads the engine's broadcast and republishes every event, with the ids the gateway
//! shows. The relay routes each burst of events to the streams that may show them:
//! every stream has an [`Inbox`] of at most `events.buffer` events and says whose
//! events it wants (every event, or those naming its user or one of its groups), so a
//! stream handles only its own events, whatever the total rate. The relay never waits
//! for a stream: an inbox that is full stops taking events, and its stream ends, after
//! what it holds, with a `dropped` event. When a relay itself falls behind its engine,
//! it sends a gap to every stream, which ends each of them the same way (their clients
//! resume from the stored log).
//!
//! The same events also go, in full, on a gateway channel for the one consumer that
//! wants them all (the webhook dispatchers' waker).

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock, Weak};
use std::time::{Duration, Instant};

use flowgate_core::{CallContext, Event};
use serde::Serialize;
use tokio::sync::broadcast::{
    self,
    error::{RecvError, TryRecvError},
};
use tokio::sync::{watch, Notify};

use crate::router::{LiveSource, Router};
use crate::settings::EventsSettings;

/// What the gateway channel carries.
#[derive(Debug)]
pub enum Live {
    /// An event, ids as the gateway shows them.
    Event(Box<LiveEvent>),
    /// The relay of this engine fell behind it: events may be missing.
    Gap(String),
}

/// An event on the gateway channel, with its [`event_data`] JSON made once for every
/// stream that shows it (not once per stream).
#[derive(Debug)]
pub struct LiveEvent {
    event: Event,
    data: OnceLock<String>,
}

impl LiveEvent {
    /// The event, its JSON not made yet.
    pub fn new(event: Event) -> Self {
        Self {
            event,
            data: OnceLock::new(),
        }
    }

    /// [`event_data`] as one line of JSON, made on first use.
    pub fn data(&self) -> &str {
        self.data.get_or_init(|| event_json(&self.event))
    }
}

impl std::ops::Deref for LiveEvent {
    type Target = Event;

    fn deref(&self) -> &Event {
        &self.event
    }
}

/// The gateway channel (made, and the relays started, on first use), the inboxes of
/// the open streams and their count.
#[derive(Debug)]
pub struct Hub {
    tx: OnceLock<broadcast::Sender<Arc<Live>>>,
    open: Arc<AtomicUsize>,
    streams: Arc<Streams>,
    /// Set when the gateway stops: every open stream ends, and a new one ends at once.
    closing: watch::Sender<bool>,
}

impl Default for Hub {
    fn default() -> Self {
        Self {
            tx: OnceLock::new(),
            open: Arc::default(),
            streams: Arc::default(),
            closing: watch::channel(false).0,
        }
    }
}

impl Hub {
    /// The gateway channel; the first call starts the relays.
    fn start(&self, router: &Router, settings: &EventsSettings) -> &broadcast::Sender<Arc<Live>> {
        self.tx.get_or_init(|| {
            let (tx, _) = broadcast::channel(settings.buffer.max(1));
            let window = Duration::from_millis(settings.batch_ms);
            for source in router.live_sources() {
                let tx = tx.clone();
                let streams = self.streams.clone();
                let name = source.name.clone();
                let started = std::thread::Builder::new()
                    .name(format!("events-{name}"))
                    .spawn(move || relay(source, tx, &streams, window));
                if let Err(e) = started {
                    tracing::error!(engine = %name, error = %e, "live events relay not started");
                }
            }
            tx
        })
    }

    /// A receiver of every live event of every engine from now on.
    pub fn subscribe(
        &self,
        router: &Router,
        settings: &EventsSettings,
    ) -> broadcast::Receiver<Arc<Live>> {
        self.start(router, settings).subscribe()
    }

    /// The inbox of a stream opened by `cx`: from now on the relays put there, in
    /// order, every event `cx` may be shown (a superset; the stream applies the exact
    /// rule), and the gaps.
    pub fn open(&self, router: &Router, settings: &EventsSettings, cx: &CallContext) -> Arc<Inbox> {
        self.start(router, settings);
        self.streams.add(cx, settings.buffer.max(1))
    }

    /// A place among the open streams, or `None` when `max` are open.
    pub fn admit(&self, max: usize) -> Option<StreamSlot> {
        self.open
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < max).then_some(n + 1)
            })
            .ok()?;
        Some(StreamSlot(self.open.clone()))
    }

    /// Ends every open stream (each with a final `dropped` event giving the position
    /// to resume from) and every stream opened from now on: a stopping gateway does
    /// not wait for its streams to reach their maximum lifetime, and their clients
    /// reconnect, to another replica or to this one after its restart.
    pub fn close(&self) {
        self.closing.send_replace(true);
    }

    /// Whether [`Hub::close`] was called, and a way to wait for it.
    pub fn closing(&self) -> watch::Receiver<bool> {
        self.closing.subscribe()
    }

    /// Streams open now.
    pub fn open_streams(&self) -> usize {
        self.open.load(Ordering::Acquire)
    }
}

/// One open stream; dropping it frees the place.
#[derive(Debug)]
pub struct StreamSlot(Arc<AtomicUsize>);

impl Drop for StreamSlot {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

/// An event as the stream's `data:` and a webhook's `data` show it: the event's JSON
/// (camelCase, ids as the gateway shows them) followed by `id` (`<engine>:<seq>`) and
/// `eventId` (the routing event id). Serialised straight to text: building a
/// `serde_json::Value` first cost as much again as writing it.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct EventData<'a> {
    #[serde(flatten)]
    event: &'a Event,
    id: String,
    event_id: &'static str,
}

/// [`EventData`] of `e`.
pub fn event_data(e: &Event) -> EventData<'_> {
    EventData {
        event: e,
        id: e.id(),
        event_id: e.event_id(),
    }
}

/// [`EventData`] of `e` as one line of JSON.
pub fn event_json(e: &Event) -> String {
    // An event has string keys only, so writing it to a string cannot fail.
    serde_json::to_string(&event_data(e)).unwrap_or_default()
}

/// Longest the relay leaves the engine's channel unread while it gathers a burst.
const RELAY_SLICE: Duration = Duration::from_millis(5);

/// Copies one engine's events to the gateway channel and the streams' inboxes until
/// the engine goes away, and counts them (`flowgate_events_total{engine,type}`): every
/// committed event passes here once.
///
/// Events go out in bursts at most once per `window`: an event that comes after a
/// quiet spell is passed on at once; one that comes sooner waits for the end of the
/// window, and everything that arrived meanwhile goes with it. Streams drain a burst
/// into one write, so under load each stream wakes and writes once per window rather
/// than once per event, and no event waits longer than the window. While it waits, the
/// relay keeps reading the engine's channel every [`RELAY_SLICE`], so a long window
/// does not make it fall behind the engine.
fn relay(
    mut source: LiveSource,
    tx: broadcast::Sender<Arc<Live>>,
    streams: &Streams,
    window: Duration,
) {
    let mut last_burst: Option<Instant> = None;
    let mut burst: Vec<Arc<Live>> = Vec::new();
    loop {
        let first = source.rx.blocking_recv();
        let mut open = pass(&source, first, &mut burst);
        if let Some(due) = last_burst.map(|t| t + window) {
            loop {
                let now = Instant::now();
                if !open || now >= due {
                    break;
                }
                std::thread::sleep((due - now).min(RELAY_SLICE));
                open = take_waiting(&mut source, &mut burst);
            }
        }
        if open {
            open = take_waiting(&mut source, &mut burst);
        }
        last_burst = Some(Instant::now());
        for item in &burst {
            // No receiver is not an error.
            let _ = tx.send(item.clone());
        }
        streams.route(&burst);
        burst.clear();
        if !open {
            return;
        }
    }
}

/// Adds to `burst` what the engine's channel holds now; `false` once it is closed.
fn take_waiting(source: &mut LiveSource, burst: &mut Vec<Arc<Live>>) -> bool {
    loop {
        let r = match source.rx.try_recv() {
            Ok(ev) => Ok(ev),
            Err(TryRecvError::Empty) => return true,
            Err(TryRecvError::Lagged(n)) => Err(RecvError::Lagged(n)),
            Err(TryRecvError::Closed) => Err(RecvError::Closed),
        };
        if !pass(source, r, burst) {
            return false;
        }
    }
}

/// Adds what one receive from the engine's channel brought to `burst` (an event, or a
/// gap when the relay fell behind); `false` when the channel is closed.
fn pass(source: &LiveSource, r: Result<Arc<Event>, RecvError>, burst: &mut Vec<Arc<Live>>) -> bool {
    let item = match r {
        Ok(ev) => {
            metrics::counter!(
                "flowgate_events_total",
                "engine" => source.name.clone(),
                "type" => ev.kind.as_str()
            )
            .increment(1);
            Live::Event(Box::new(LiveEvent::new(source.outward(&ev))))
        }
        Err(RecvError::Lagged(n)) => {
            tracing::warn!(engine = %source.name, missed = n, "live events relay fell behind");
            metrics::counter!("flowgate_events_missed_total", "engine" => source.name.clone())
                .increment(n);
            Live::Gap(source.name.clone())
        }
        Err(RecvError::Closed) => return false,
    };
    burst.push(Arc::new(item));
    true
}

/// The events routed to one open stream. It takes every event (administrators and
/// power users), or the events naming one of its `names` (its user and groups) as
/// initiator, actor or delegate: a superset of
/// [`flowgate_core::access::may_follow_event`], the stream applies the exact rule and
/// its filters to what it takes out.
#[derive(Debug)]
pub struct Inbox {
    all: bool,
    names: Vec<String>,
    capacity: usize,
    queue: parking_lot::Mutex<Queue>,
    /// Notified when events were put in.
    pub wake: Notify,
}

#[derive(Debug, Default)]
struct Queue {
    items: VecDeque<Arc<Live>>,
    /// Events that found the inbox full (every later one is refused too).
    refused: u64,
}

/// What [`Inbox::take`] found.
#[derive(Debug, PartialEq, Eq)]
pub enum Taken {
    /// Some or none; more may come.
    Open,
    /// The inbox is empty and this many events did not fit in it: the stream must end.
    Overflowed(u64),
}

impl Inbox {
    /// Moves up to `max` of the waiting items to `out`, oldest first.
    pub fn take(&self, out: &mut VecDeque<Arc<Live>>, max: usize) -> Taken {
        let mut q = self.queue.lock();
        let n = q.items.len().min(max);
        out.extend(q.items.drain(..n));
        if q.items.is_empty() && q.refused > 0 {
            Taken::Overflowed(q.refused)
        } else {
            Taken::Open
        }
    }

    /// Puts `items` in (in order) until the inbox is full, then counts them.
    fn put<'a>(&self, items: impl Iterator<Item = &'a Arc<Live>>) {
        let mut q = self.queue.lock();
        for item in items {
            if q.refused > 0 || q.items.len() >= self.capacity {
                q.refused += 1;
            } else {
                q.items.push_back(item.clone());
            }
        }
        drop(q);
        self.wake.notify_one();
    }
}

/// The inboxes of the open streams (closed streams are forgotten on the next burst).
#[derive(Debug, Default)]
struct Streams {
    list: parking_lot::Mutex<Vec<Weak<Inbox>>>,
}

impl Streams {
    /// A new inbox of at most `capacity` items for a stream of `cx`, routed to from the
    /// next burst on.
    fn add(&self, cx: &CallContext, capacity: usize) -> Arc<Inbox> {
        let inbox = Arc::new(Inbox {
            all: cx.admin || cx.poweruser,
            names: std::iter::once(cx.user.clone())
                .chain(cx.groups.iter().cloned())
                .collect(),
            capacity,
            queue: parking_lot::Mutex::new(Queue::default()),
            wake: Notify::new(),
        });
        self.list.lock().push(Arc::downgrade(&inbox));
        inbox
    }

    /// Puts each item of `burst` in the inboxes that take it, in order: an event in
    /// those of its parties and in those that take everything, a gap in all.
    fn route(&self, burst: &[Arc<Live>]) {
        if burst.is_empty() {
            return;
        }
        let mut by_name: HashMap<&str, Vec<usize>> = HashMap::new();
        let mut gaps: Vec<usize> = Vec::new();
        for (i, item) in burst.iter().enumerate() {
            match &**item {
                Live::Event(e) => {
                    let parties = std::iter::once(&e.initiator)
                        .chain(&e.actors)
                        .chain(&e.delegated);
                    for p in parties {
                        by_name.entry(bare(p)).or_default().push(i);
                    }
                }
                Live::Gap(_) => gaps.push(i),
            }
        }
        let mut mine: Vec<usize> = Vec::new();
        self.list.lock().retain(|w| {
            let Some(inbox) = w.upgrade() else {
                return false;
            };
            if inbox.all {
                inbox.put(burst.iter());
                return true;
            }
            mine.clear();
            mine.extend(&gaps);
            for name in &inbox.names {
                mine.extend(by_name.get(name.as_str()).into_iter().flatten());
            }
            if !mine.is_empty() {
                mine.sort_unstable();
                mine.dedup();
                inbox.put(mine.iter().map(|&i| &burst[i]));
            }
            true
        });
    }
}

/// A principal without its `user:` or `group:` prefix.
fn bare(principal: &str) -> &str {
    principal
        .strip_prefix("user:")
        .or_else(|| principal.strip_prefix("group:"))
        .unwrap_or(principal)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(initiator: &str, actors: &[&str]) -> Event {
        serde_json::from_value(serde_json::json!({
            "kind": "afterWorkflowTaskCreated", "at": "2026-01-01T00:00:00Z",
            "workflowId": "w", "model": "m", "principal": initiator, "initiator": initiator,
            "actors": actors,
        }))
        .expect("an event")
    }

    #[test]
    fn event_json_is_the_event_then_its_ids_written_in_one_pass() {
        let mut e: Event = serde_json::from_value(serde_json::json!({
            "seq": 7, "engine": "local", "kind": "afterWorkflowTaskEnded",
            "at": "2026-01-01T00:00:00.250Z", "workflowId": "w-1", "taskId": "t-1",
            "taskName": "Review \"final\" é", "model": "SerialDocumentReview",
            "documents": ["d-1", "d-2"], "principal": "jdoe", "initiator": "asmith",
            "actors": ["user:jdoe", "group:members"], "delegated": ["bob"],
            "action": "validate", "comment": "line 1\nline 2 \u{1F600}",
            "extended": {"timeSinceTaskStarted": 1234, "nested": {"a": [1, null, true]}},
        }))
        .expect("an event");
        // The same text as building the JSON value and adding the ids to it.
        let mut reference = serde_json::to_value(&e).expect("value");
        let o = reference.as_object_mut().expect("an object");
        o.insert("id".into(), "local:7".into());
        o.insert("eventId".into(), "afterWorkflowTaskEnded".into());
        assert_eq!(event_json(&e), reference.to_string());
        e.comment = None;
        let back: serde_json::Value = serde_json::from_str(&event_json(&e)).expect("JSON");
        assert_eq!(back["id"], "local:7");
        assert!(back.get("comment").is_none());
    }

    fn task_event(initiator: &str, actors: &[&str]) -> Arc<Live> {
        Arc::new(Live::Event(Box::new(LiveEvent::new(event(
            initiator, actors,
        )))))
    }

    #[test]
    fn a_long_window_does_not_make_the_relay_fall_behind_its_engine() {
        // The engine's channel holds 64 events; 300 come within one window of a second.
        let (engine, rx) = broadcast::channel(64);
        let source = crate::router::LiveSource::unprefixed("local", rx);
        let (tx, mut out) = broadcast::channel(1000);
        let streams = Arc::new(Streams::default());
        let relay_streams = streams.clone();
        let relay = std::thread::spawn(move || {
            relay(source, tx, &relay_streams, Duration::from_secs(1));
        });
        for i in 0..300 {
            engine
                .send(Arc::new(event(&format!("u{i}"), &[])))
                .expect("the relay listens");
            if i % 8 == 7 {
                std::thread::sleep(Duration::from_millis(10));
            }
        }
        drop(engine);
        relay.join().expect("the relay ends with its engine");
        let mut seen = Vec::new();
        while let Ok(item) = out.try_recv() {
            match &*item {
                Live::Event(e) => seen.push(e.initiator.clone()),
                Live::Gap(_) => panic!("the relay fell behind after {} events", seen.len()),
            }
        }
        let sent: Vec<String> = (0..300).map(|i| format!("u{i}")).collect();
        assert_eq!(seen, sent, "every event, in order");
    }

    fn inbox(hub: &Hub, cx: &CallContext, capacity: usize) -> Arc<Inbox> {
        hub.streams.add(cx, capacity)
    }

    /// The initiators of the events taken out, `gap` for a gap, and what was found.
    fn take_all(i: &Inbox) -> (Vec<String>, Taken) {
        let mut out = VecDeque::new();
        let taken = i.take(&mut out, usize::MAX);
        let names = out
            .iter()
            .map(|item| match &**item {
                Live::Event(e) => e.initiator.clone(),
                Live::Gap(_) => "gap".into(),
            })
            .collect();
        (names, taken)
    }

    #[test]
    fn a_burst_reaches_only_the_streams_that_may_show_it_in_order() {
        let hub = Hub::default();
        let admin = inbox(&hub, &CallContext::admin("Administrator"), 10);
        let carol = inbox(&hub, &CallContext::user("carol", ["reviewers"]), 10);
        let bob = inbox(&hub, &CallContext::user("bob", ["members"]), 10);
        let jdoe = inbox(&hub, &CallContext::user("jdoe", ["members"]), 10);

        hub.streams.route(&[
            task_event("jdoe", &["group:reviewers", "user:jdoe"]),
            task_event("eve", &["user:bob"]),
            task_event("ann", &["carol"]),
        ]);
        assert_eq!(
            take_all(&admin).0,
            ["jdoe", "eve", "ann"],
            "administrators see everything"
        );
        assert_eq!(
            take_all(&carol).0,
            ["jdoe", "ann"],
            "through a group, then by name"
        );
        assert_eq!(take_all(&bob).0, ["eve"], "a prefixed user name");
        assert_eq!(take_all(&jdoe).0, ["jdoe"], "once, though named twice");
        assert!(take_all(&bob).0.is_empty(), "taken out once");

        hub.streams.route(&[
            task_event("eve", &["eve"]),
            Arc::new(Live::Gap("local".into())),
        ]);
        assert_eq!(take_all(&bob).0, ["gap"], "a gap reaches every stream");

        drop(bob);
        hub.streams.route(&[task_event("eve", &["eve"])]);
        assert_eq!(
            hub.streams.list.lock().len(),
            3,
            "a closed stream is forgotten"
        );
    }

    #[test]
    fn a_full_inbox_keeps_what_it_holds_and_then_says_how_many_it_refused() {
        let hub = Hub::default();
        let slow = inbox(&hub, &CallContext::user("bob", ["members"]), 2);
        let burst: Vec<_> = ["a", "b", "c", "d"]
            .iter()
            .map(|who| task_event(who, &["bob"]))
            .collect();
        hub.streams.route(&burst);
        let mut out = VecDeque::new();
        assert_eq!(slow.take(&mut out, 1), Taken::Open, "one still waits");
        assert_eq!(slow.take(&mut out, 10), Taken::Overflowed(2));
        assert_eq!(
            out.len(),
            2,
            "the events that fitted, in order, before the end"
        );
        hub.streams.route(&burst[..1]);
        assert_eq!(
            take_all(&slow),
            (Vec::new(), Taken::Overflowed(3)),
            "nothing after a gap in its events"
        );
    }
}
