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

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use flowgate_core::Event;
use serde::Deserialize;
use tokio::sync::broadcast::{
    self,
    error::{RecvError, TryRecvError},
};

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

/// The gateway channel (made on first use) and the count of open streams.
#[derive(Debug, Default)]
pub struct Hub {
    tx: OnceLock<broadcast::Sender<Arc<Live>>>,
    open: Arc<AtomicUsize>,
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
                for source in router.live_sources() {
                    let tx = tx.clone();
                    let name = source.name.clone();
                    let started = std::thread::Builder::new()
                        .name(format!("events-{name}"))
                        .spawn(move || relay(source, tx, window));
                    if let Err(e) = started {
                        tracing::error!(engine = %name, error = %e, "live events relay not started");
                    }
                }
                tx
            })
            .subscribe()
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
fn relay(mut source: LiveSource, tx: broadcast::Sender<Arc<Live>>, window: Duration) {
    let mut last_burst: Option<Instant> = None;
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
            // No stream open is not an error.
            let _ = tx.send(Arc::new(item));
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
    }
}
