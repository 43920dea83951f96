//! Live workflow events for `GET /api/v1/events`: one gateway-wide channel fed by the
//! engines that publish their events, the `[events]` settings, and the count of open
//! streams.
//!
//! Each engine publishing events (the embedded engine) gets one relay thread that
//! reads the engine's broadcast and republishes every event, with the ids the gateway
//! shows, on one gateway channel of `events.buffer` entries. Streams subscribe to that
//! channel. Neither channel ever waits for a receiver: a receiver that falls a whole
//! channel behind is told it lagged, and its stream ends with a `dropped` event. When a
//! relay itself falls behind its engine, it publishes a gap, which ends every stream
//! the same way (their clients resume from the stored log).
//!
//! Streams do not wake on every item of the channel: each registers an [`Interest`]
//! (every event, or its user's and groups' names), and after each burst the relay wakes
//! only the streams that may show one of its events, plus every stream once per half
//! channel so that none falls behind on events it does not show.

use std::collections::HashSet;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock, Weak};
use std::time::{Duration, Instant};

use flowgate_core::{CallContext, Event};
use serde::Deserialize;
use tokio::sync::broadcast::{
    self,
    error::{RecvError, TryRecvError},
};
use tokio::sync::Notify;

use crate::router::{LiveSource, Router};

/// `[events]`: the live event stream.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct EventsSettings {
    /// Seconds between two heartbeats (SSE comments) of an idle stream.
    pub heartbeat_secs: u64,
    /// Seconds after which a stream ends cleanly; clients reconnect with
    /// `Last-Event-ID`.
    pub max_stream_secs: u64,
    /// Open streams per gateway; one more is answered 503.
    pub max_streams: usize,
    /// Events the gateway channel holds for its slowest stream before that stream is
    /// dropped.
    pub buffer: usize,
    /// Stored events read per engine call while a stream replays after
    /// `Last-Event-ID`.
    pub replay_batch: usize,
    /// Milliseconds over which live events are gathered before they go out together
    /// (0: each at once). An event that follows a quiet spell goes out at once; under
    /// load, streams wake and write once per this interval instead of once per event.
    pub batch_ms: u64,
}

impl Default for EventsSettings {
    fn default() -> Self {
        Self {
            heartbeat_secs: 15,
            max_stream_secs: 3600,
            max_streams: 1000,
            buffer: 1024,
            replay_batch: 500,
            batch_ms: 5,
        }
    }
}

impl EventsSettings {
    /// Problems with the values, each naming its key.
    pub fn problems(&self) -> Vec<String> {
        [
            ("heartbeat_secs", self.heartbeat_secs as usize),
            ("max_stream_secs", self.max_stream_secs as usize),
            ("max_streams", self.max_streams),
            ("buffer", self.buffer),
            ("replay_batch", self.replay_batch),
        ]
        .into_iter()
        .filter(|(_, v)| *v == 0)
        .map(|(k, _)| format!("events.{k}: must be greater than 0"))
        .chain((self.batch_ms > 1000).then(|| "events.batch_ms: must be at most 1000".to_owned()))
        .collect()
    }
}

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
        self.data
            .get_or_init(|| event_data(&self.event).to_string())
    }
}

impl std::ops::Deref for LiveEvent {
    type Target = Event;

    fn deref(&self) -> &Event {
        &self.event
    }
}

/// The gateway channel (made on first use), the interests of the open streams and
/// their count.
#[derive(Debug, Default)]
pub struct Hub {
    tx: OnceLock<broadcast::Sender<Arc<Live>>>,
    open: Arc<AtomicUsize>,
    streams: Arc<Streams>,
}

impl Hub {
    /// A receiver of the live events of every engine from now on. The first call
    /// starts the relays, with a channel of `capacity` entries.
    pub fn subscribe(
        &self,
        router: &Router,
        settings: &EventsSettings,
    ) -> broadcast::Receiver<Arc<Live>> {
        self.tx
            .get_or_init(|| {
                let (tx, _) = broadcast::channel(settings.buffer.max(1));
                let window = Duration::from_millis(settings.batch_ms);
                self.streams
                    .drain_every
                    .store((settings.buffer / 2).max(1), Ordering::Release);
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
            .subscribe()
    }

    /// Registers what a stream opened by `cx` may be shown; the relays wake it through
    /// the returned [`Interest`] when the channel holds such events. Register before
    /// subscribing, so that no event in the receiver goes without a wake-up.
    pub fn register(&self, cx: &CallContext) -> Arc<Interest> {
        let interest = Arc::new(Interest {
            all: cx.admin || cx.poweruser,
            names: std::iter::once(cx.user.clone())
                .chain(cx.groups.iter().cloned())
                .collect(),
            wake: Notify::new(),
        });
        self.streams.list.lock().push(Arc::downgrade(&interest));
        interest
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
/// (camelCase, ids as the gateway shows them) plus `id` (`<engine>:<seq>`) and
/// `eventId` (the routing event id).
pub fn event_data(e: &Event) -> serde_json::Value {
    let mut data = serde_json::to_value(e).unwrap_or_default();
    if let Some(o) = data.as_object_mut() {
        o.insert("id".into(), e.id().into());
        o.insert("eventId".into(), e.event_id().into());
    }
    data
}

/// Most events one relay passes on in one go.
const RELAY_BATCH: usize = 1024;

/// Copies one engine's events to the gateway channel until the engine goes away, and
/// counts them (`flowgate_events_total{engine,type}`): every committed event passes
/// here once.
///
/// Events go out in bursts at most once per `window`: an event that comes after a
/// quiet spell is passed on at once; one that comes sooner waits for the end of the
/// window, and everything that arrived meanwhile goes with it. Streams drain a burst
/// into one write, so under load each stream wakes and writes once per window rather
/// than once per event, and no event waits longer than the window.
fn relay(
    mut source: LiveSource,
    tx: broadcast::Sender<Arc<Live>>,
    streams: &Streams,
    window: Duration,
) {
    let mut last_burst: Option<Instant> = None;
    let mut burst: Vec<Arc<Live>> = Vec::new();
    loop {
        let first = match source.rx.blocking_recv() {
            Err(RecvError::Closed) => return,
            r => r,
        };
        if let Some(due) = last_burst.map(|t| t + window) {
            let now = Instant::now();
            if now < due {
                std::thread::sleep(due - now);
            }
        }
        last_burst = Some(Instant::now());
        let mut next = Some(first);
        let mut passed = 0;
        while let Some(r) = next.take() {
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
                Err(RecvError::Closed) => return,
            };
            let item = Arc::new(item);
            burst.push(item.clone());
            // No stream open is not an error.
            let _ = tx.send(item);
            passed += 1;
            if passed < RELAY_BATCH {
                next = match source.rx.try_recv() {
                    Ok(ev) => Some(Ok(ev)),
                    Err(TryRecvError::Empty) => None,
                    Err(TryRecvError::Lagged(n)) => Some(Err(RecvError::Lagged(n))),
                    Err(TryRecvError::Closed) => Some(Err(RecvError::Closed)),
                };
            }
        }
        streams.wake(&burst);
        burst.clear();
    }
}

/// What one open stream may be shown, as the relays judge it before waking it: every
/// event (administrators and power users), or the events naming one of its `names`
/// (its user and groups) as initiator, actor or delegate. That is a superset of
/// [`flowgate_core::access::may_follow_event`]: the stream applies the exact rule and
/// its filters to what it reads.
#[derive(Debug)]
pub struct Interest {
    all: bool,
    names: Vec<String>,
    /// Notified when the channel holds events this stream may show, and for every
    /// stream once per half channel of events, so that each keeps up with the channel
    /// whatever it shows.
    pub wake: Notify,
}

/// The interests of the open streams (dropped streams are forgotten on the next
/// burst), and the count of events since every stream was last woken.
#[derive(Debug, Default)]
struct Streams {
    list: parking_lot::Mutex<Vec<Weak<Interest>>>,
    since_all: AtomicUsize,
    drain_every: AtomicUsize,
}

impl Streams {
    /// Wakes the streams that may show an event of `burst`: all of them after a gap,
    /// or when half a channel of events went by since they were all last woken.
    fn wake(&self, burst: &[Arc<Live>]) {
        if burst.is_empty() {
            return;
        }
        let mut names: HashSet<&str> = HashSet::new();
        let mut gap = false;
        for item in burst {
            match &**item {
                Live::Event(e) => {
                    let parties = std::iter::once(&e.initiator)
                        .chain(&e.actors)
                        .chain(&e.delegated);
                    names.extend(parties.map(|p| bare(p)));
                }
                Live::Gap(_) => gap = true,
            }
        }
        let every = self.drain_every.load(Ordering::Acquire).max(1);
        let seen = self.since_all.fetch_add(burst.len(), Ordering::AcqRel) + burst.len();
        let everyone = gap || seen >= every;
        if everyone {
            self.since_all.store(0, Ordering::Release);
        }
        self.list.lock().retain(|w| match w.upgrade() {
            Some(s) => {
                if everyone || s.all || s.names.iter().any(|n| names.contains(n.as_str())) {
                    s.wake.notify_one();
                }
                true
            }
            None => false,
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

    #[test]
    fn zero_is_refused_except_for_the_batch_window_which_has_a_ceiling() {
        assert!(EventsSettings::default().problems().is_empty());
        let s = EventsSettings {
            batch_ms: 0,
            ..EventsSettings::default()
        };
        assert!(s.problems().is_empty(), "0 sends each event at once");
        let s = EventsSettings {
            batch_ms: 1001,
            buffer: 0,
            ..EventsSettings::default()
        };
        assert_eq!(
            s.problems(),
            [
                "events.buffer: must be greater than 0",
                "events.batch_ms: must be at most 1000"
            ]
        );
    }

    fn task_event(initiator: &str, actors: &[&str]) -> Arc<Live> {
        let e: Event = serde_json::from_value(serde_json::json!({
            "kind": "afterWorkflowTaskCreated", "at": "2026-01-01T00:00:00Z",
            "workflowId": "w", "model": "m", "principal": initiator, "initiator": initiator,
            "actors": actors,
        }))
        .expect("an event");
        Arc::new(Live::Event(Box::new(LiveEvent::new(e))))
    }

    fn woken(i: &Interest) -> bool {
        use futures::FutureExt as _;
        i.wake.notified().now_or_never().is_some()
    }

    #[test]
    fn a_burst_wakes_only_the_streams_that_may_show_it_until_everyone_is_due() {
        let hub = Hub::default();
        hub.streams.drain_every.store(10, Ordering::Release);
        let admin = hub.register(&CallContext::admin("Administrator"));
        let carol = hub.register(&CallContext::user("carol", ["reviewers"]));
        let bob = hub.register(&CallContext::user("bob", ["members"]));
        let jdoe = hub.register(&CallContext::user("jdoe", ["members"]));

        hub.streams
            .wake(&[task_event("jdoe", &["group:reviewers"])]);
        assert!(woken(&admin), "administrators see everything");
        assert!(woken(&carol), "an actor through a group");
        assert!(woken(&jdoe), "the initiator");
        assert!(!woken(&bob), "not a party: left asleep");

        hub.streams.wake(&[task_event("jdoe", &["user:bob"])]);
        assert!(woken(&bob), "a prefixed user name");
        assert!(!woken(&carol));

        // Ten events in all since everyone was last woken: every stream drains once.
        let quiet: Vec<_> = (0..8).map(|_| task_event("eve", &["eve"])).collect();
        hub.streams.wake(&quiet);
        for (name, s) in [
            ("admin", &admin),
            ("carol", &carol),
            ("bob", &bob),
            ("jdoe", &jdoe),
        ] {
            assert!(woken(s), "{name} woken to keep up with the channel");
        }
        hub.streams.wake(&[task_event("eve", &["eve"])]);
        assert!(!woken(&bob), "the count starts again");

        drop(bob);
        hub.streams.wake(&[task_event("eve", &["eve"])]);
        assert_eq!(
            hub.streams.list.lock().len(),
            3,
            "a closed stream is forgotten"
        );
    }
}
