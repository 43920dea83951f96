//! Delivery: one dispatcher task per endpoint reads the engines' stored event logs in
//! order after its durable cursors, posts each wanted event (signed, one at a time),
//! retries with capped, jittered exponential backoff until `max_age`, then
//! dead-letters the event and goes on.
//!
//! At least once, never lost: a cursor moves only in the same store update that
//! records the event's outcome (delivered, dead-lettered, or not wanted by the
//! endpoint), after that outcome. A crash between a 2xx and that update delivers the
//! event again after the restart, with the same `webhook-id`.
//!
//! The stored log is the source. Live events (the gateway's channel, see
//! [`crate::live`]) only wake a dispatcher early; without them it looks again every
//! [`POLL_EVERY`]. Engines never wait for a receiver: they commit and publish, and a
//! dispatcher catches up from their logs. Every attempt is bounded by the endpoint's
//! `request_timeout_ms`, and each endpoint has its own task and HTTP client, so a
//! hung receiver delays only its own endpoint.

use std::collections::{BTreeMap, HashSet, VecDeque};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use flowgate_core::{CallContext, Event};
use parking_lot::Mutex;
use serde::Serialize;
use tokio::sync::Notify;

use super::settings::{Endpoint, Start};
use super::signing::{message_id, HEADER_ID, HEADER_SIGNATURE, HEADER_TIMESTAMP};
use super::store::{
    Attempt, DeadLetter, LetterState, Outcome, Pending, StoreError, Update, WebhookStore,
};
use crate::live::Live;
use crate::router::Router;
use crate::AppState;

/// Stored events read per engine call.
pub const BATCH: usize = 200;
/// How often an idle dispatcher looks at the logs without being woken.
pub const POLL_EVERY: Duration = Duration::from_secs(1);
/// Events passed over (not wanted) before their cursors are written anyway.
const SKIPPED_FLUSH: usize = 1_000;
/// Bytes of an answer read (and thrown away) so that the connection can be reused.
const MAX_ANSWER_READ: usize = 64 * 1024;
/// Deadline of one engine call of a dispatcher or of the admin API.
pub(crate) const ENGINE_CALL_TIMEOUT: Duration = Duration::from_secs(30);

/// What the admin API shows of the event being delivered.
#[derive(Clone, Debug, Serialize)]
pub struct InFlight {
    /// The `webhook-id`.
    pub id: String,
    /// The event's stable id.
    pub event_id: String,
    /// Attempts so far.
    pub attempts: u32,
    /// First attempt.
    pub first_attempt: DateTime<Utc>,
    /// Next attempt, while waiting for it.
    pub next_attempt: Option<DateTime<Utc>>,
    /// Why the last attempt failed.
    pub last_error: Option<String>,
}

/// One endpoint at run time: its settings, HTTP client, wake-up signal and the event
/// being delivered.
#[derive(Debug)]
pub struct Runtime {
    /// Settings.
    pub ep: Endpoint,
    client: reqwest::Client,
    wake: Notify,
    requeued: AtomicBool,
    in_flight: Mutex<Option<InFlight>>,
}

/// Why an attempt failed.
#[derive(Debug, Clone)]
pub(crate) struct Failure {
    /// Metric label: `connect`, `timeout`, `status`, `tls`, `other`.
    pub reason: &'static str,
    /// The receiver's status, when it answered.
    pub status: Option<u16>,
    /// For people (never the URL's query, never the receiver's body).
    pub message: String,
}

impl Runtime {
    /// The endpoint with its HTTP client (TLS, proxy and connect timeout of its
    /// settings, no redirects followed).
    pub fn new(ep: Endpoint) -> Result<Self, String> {
        let client = flowgate_http::build_client(&format!("webhook:{}", ep.name), &ep.http)
            .map_err(|e| e.message())?;
        Ok(Self {
            ep,
            client,
            wake: Notify::new(),
            // Dead letters requeued before a restart are taken up first.
            requeued: AtomicBool::new(true),
            in_flight: Mutex::new(None),
        })
    }

    /// The event being delivered, if any.
    pub fn in_flight(&self) -> Option<InFlight> {
        self.in_flight.lock().clone()
    }

    /// Wakes the dispatcher (new events).
    pub fn wake(&self) {
        self.wake.notify_one();
    }

    /// Tells the dispatcher a dead letter was requeued.
    pub fn requeue(&self) {
        self.requeued.store(true, Ordering::Release);
        self.wake.notify_one();
    }

    /// One attempt: posts `body` signed as message `id`; the receiver's 2xx status
    /// or why it failed.
    pub(crate) async fn send(&self, id: &str, body: &str) -> Result<u16, Failure> {
        let ts = Utc::now().timestamp();
        let signature = self.ep.key.sign(id, ts, body.as_bytes());
        let req = self
            .client
            .post(self.ep.url.clone())
            .timeout(self.ep.request_timeout)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header(HEADER_ID, id)
            .header(HEADER_TIMESTAMP, ts.to_string())
            .header(HEADER_SIGNATURE, signature)
            .body(body.to_owned());
        let mut resp = req.send().await.map_err(|e| self.failure(&e))?;
        let status = resp.status();
        // Read a little of the answer so that a kept-alive connection can be reused;
        // its content is not kept.
        let mut read = 0usize;
        while read < MAX_ANSWER_READ {
            match resp.chunk().await {
                Ok(Some(c)) => read += c.len(),
                _ => break,
            }
        }
        if status.is_success() {
            Ok(status.as_u16())
        } else {
            Err(Failure {
                reason: "status",
                status: Some(status.as_u16()),
                message: format!("the receiver answered HTTP {status}"),
            })
        }
    }

    fn failure(&self, e: &reqwest::Error) -> Failure {
        let cause = innermost(e);
        if e.is_timeout() {
            Failure {
                reason: "timeout",
                status: None,
                message: format!(
                    "no answer within {} ms",
                    self.ep.request_timeout.as_millis()
                ),
            }
        } else if e.is_connect() {
            let tls =
                cause.contains("certificate") || cause.contains("tls") || cause.contains("TLS");
            Failure {
                reason: if tls { "tls" } else { "connect" },
                status: None,
                message: format!("cannot connect: {cause}"),
            }
        } else {
            Failure {
                reason: "other",
                status: None,
                message: format!("the request failed: {cause}"),
            }
        }
    }
}

/// The innermost cause of an error, which names what really happened (connection
/// refused, certificate unknown), without the URL reqwest adds on top.
fn innermost(e: &(dyn std::error::Error + 'static)) -> String {
    let mut cur = e;
    while let Some(next) = cur.source() {
        cur = next;
    }
    cur.to_string()
}

/// The body posted for `e`: `type` (the routing event id), `timestamp` (when the event
/// happened) and `data` (the event as the live stream sends it).
pub fn payload(e: &Event) -> String {
    serde_json::json!({
        "type": e.event_id(),
        "timestamp": e.at.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true),
        "data": crate::live::event_data(e),
    })
    .to_string()
}

/// The delay before attempt `attempts + 1`: `base · 2^(attempts-1)` capped at `cap`,
/// then drawn uniformly from its upper half ("equal jitter"), so that endpoints failing
/// together do not retry together and no delay exceeds `cap`. (backon's jitter adds
/// up to the whole delay on top, past the cap.)
pub fn backoff(base: Duration, cap: Duration, attempts: u32) -> Duration {
    let exp = attempts.saturating_sub(1).min(40);
    let full = base.saturating_mul(1u32 << exp.min(31)).min(cap);
    let full = if exp > 31 { cap } else { full };
    let half = full / 2;
    let spread = u64::try_from((full - half).as_millis()).unwrap_or(u64::MAX);
    half + Duration::from_millis(rand::random_range(0..=spread))
}

/// The administrator context of dispatcher calls (every event is visible to it).
pub(crate) fn system_cx(endpoint: &str) -> CallContext {
    CallContext::admin("flowgate-webhooks")
        .with_request_id(format!("webhook-{endpoint}"))
        .with_timeout(ENGINE_CALL_TIMEOUT)
}

/// Runs `f` on the store from a blocking thread.
pub(crate) async fn blocking<R: Send + 'static>(
    store: &Arc<dyn WebhookStore>,
    f: impl FnOnce(&dyn WebhookStore) -> Result<R, StoreError> + Send + 'static,
) -> Result<R, StoreError> {
    let store = Arc::clone(store);
    tokio::task::spawn_blocking(move || f(store.as_ref()))
        .await
        .map_err(|e| StoreError(format!("store task: {e}")))?
}

/// Runs `f` on the store until it succeeds: the dispatcher makes no progress it could
/// not record.
async fn persist<R: Send + 'static>(
    store: &Arc<dyn WebhookStore>,
    endpoint: &str,
    f: impl Fn(&dyn WebhookStore) -> Result<R, StoreError> + Send + Sync + Clone + 'static,
) -> R {
    let mut pause = Duration::from_millis(200);
    loop {
        match blocking(store, f.clone()).await {
            Ok(r) => return r,
            Err(e) => {
                tracing::error!(webhook = endpoint, error = %e, "webhook state not written; retrying");
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(Duration::from_secs(30));
            }
        }
    }
}

/// Applies `u` to `endpoint`'s state, retrying until it is written.
async fn write(store: &Arc<dyn WebhookStore>, endpoint: &str, u: Update) {
    let name = endpoint.to_owned();
    let u = Arc::new(u);
    persist(store, endpoint, move |s| s.apply(&name, &u)).await;
}

/// The sequence number of the last event of `engine`'s log (0 when empty).
async fn last_seq(router: &Router, cx: &CallContext, engine: &str) -> flowgate_core::Result<u64> {
    router.last_event_seq(cx, engine).await
}

/// How often a dispatcher makes sure it still holds its endpoint (stores shared by
/// replicas), and how often a replica without it asks again.
const CLAIM_EVERY: Duration = Duration::from_secs(3);

/// Whether this process holds `name` (a store error counts as no).
async fn claimed(store: &Arc<dyn WebhookStore>, name: &str) -> bool {
    let n = name.to_owned();
    matches!(blocking(store, move |s| s.claim(&n)).await, Ok(true))
}

/// The dispatcher of one endpoint. Runs until aborted. With a store shared by several
/// replicas, it delivers only while it holds the endpoint, starting each time from the
/// stored cursors.
pub async fn run(state: actix_web::web::Data<AppState>, rt: Arc<Runtime>) {
    let store = state.webhooks.store().clone();
    let name = rt.ep.name.clone();
    loop {
        while !claimed(&store, &name).await {
            tokio::time::sleep(CLAIM_EVERY).await;
        }
        serve_claimed(&state, &rt).await;
        tracing::warn!(webhook = %name, "another replica delivers to this endpoint now");
    }
}

/// Delivers while this process holds the endpoint; returns when it no longer does.
async fn serve_claimed(state: &actix_web::web::Data<AppState>, rt: &Arc<Runtime>) {
    let store = state.webhooks.store().clone();
    let name = rt.ep.name.clone();
    let engines: Vec<String> = state
        .router
        .engines()
        .iter()
        .filter(|e| e.engine.keeps_events() && rt.ep.follows_engine(&e.name))
        .map(|e| e.name.clone())
        .collect();
    if engines.is_empty() {
        tracing::warn!(webhook = %name, "no engine this webhook follows keeps events: nothing will be delivered");
    }
    let n = name.clone();
    let mut cursors = persist(&store, &name, move |s| s.cursors(&n)).await;
    let n = name.clone();
    let mut pending = persist(&store, &name, move |s| s.pending(&n)).await;
    let mut started = Vec::new();
    for engine in &engines {
        if cursors.contains_key(engine) {
            continue;
        }
        let seq = match rt.ep.start {
            Start::Oldest => 0,
            Start::Latest => loop {
                match last_seq(&state.router, &system_cx(&name), engine).await {
                    Ok(s) => break s,
                    Err(e) => {
                        tracing::warn!(webhook = %name, engine, error = %e, "cannot read the end of the event log; retrying");
                        tokio::time::sleep(POLL_EVERY).await;
                    }
                }
            },
        };
        cursors.insert(engine.clone(), seq);
        started.push((engine.clone(), seq));
    }
    if !started.is_empty() {
        tracing::info!(webhook = %name, cursors = ?started, "webhook starts");
        write(
            &store,
            &name,
            Update {
                cursors: started,
                ..Update::default()
            },
        )
        .await;
    }
    let mut buffers: BTreeMap<String, VecDeque<Event>> = BTreeMap::new();
    let mut drained: HashSet<String> = HashSet::new();
    let mut dirty: BTreeMap<String, u64> = BTreeMap::new();
    let mut skipped = 0usize;
    let mut checked = std::time::Instant::now();
    loop {
        if checked.elapsed() >= CLAIM_EVERY {
            checked = std::time::Instant::now();
            if !claimed(&store, &name).await {
                return;
            }
        }
        if rt.requeued.swap(false, Ordering::AcqRel) {
            redeliver_requeued(&store, rt).await;
        }
        for engine in &engines {
            let buf = buffers.entry(engine.clone()).or_default();
            if !buf.is_empty() || drained.contains(engine) {
                continue;
            }
            let after = cursors.get(engine).copied().unwrap_or(0);
            match state
                .router
                .events_after(&system_cx(&name), engine, after, BATCH)
                .await
            {
                Ok(page) => {
                    if page.items.len() < BATCH {
                        drained.insert(engine.clone());
                    }
                    buf.extend(page.items.into_iter().filter(|e| e.seq > after));
                }
                Err(e) => {
                    tracing::warn!(webhook = %name, engine, error = %e, "cannot read stored events; trying again later");
                    drained.insert(engine.clone());
                }
            }
        }
        // The oldest head first: each engine's order is kept, engines interleave by time.
        let next = buffers
            .iter()
            .filter_map(|(engine, b)| b.front().map(|e| (e.at, engine.clone(), e.seq)))
            .min()
            .map(|(_, engine, _)| engine);
        let Some(engine) = next else {
            if !dirty.is_empty() {
                write(
                    &store,
                    &name,
                    Update {
                        cursors: std::mem::take(&mut dirty).into_iter().collect(),
                        ..Update::default()
                    },
                )
                .await;
                skipped = 0;
            }
            tokio::select! {
                () = rt.wake.notified() => {}
                () = tokio::time::sleep(POLL_EVERY) => {}
            }
            drained.clear();
            continue;
        };
        let Some(ev) = buffers.get_mut(&engine).and_then(VecDeque::pop_front) else {
            continue;
        };
        cursors.insert(engine.clone(), ev.seq);
        if !rt.ep.wants(&ev) {
            dirty.insert(engine, ev.seq);
            skipped += 1;
            if skipped >= SKIPPED_FLUSH {
                write(
                    &store,
                    &name,
                    Update {
                        cursors: std::mem::take(&mut dirty).into_iter().collect(),
                        ..Update::default()
                    },
                )
                .await;
                skipped = 0;
            }
            continue;
        }
        dirty.remove(&engine);
        let mut moved: Vec<(String, u64)> = std::mem::take(&mut dirty).into_iter().collect();
        skipped = 0;
        moved.push((engine, ev.seq));
        deliver(&store, rt, ev, pending.take(), moved).await;
    }
}

fn set_in_flight(rt: &Runtime, v: Option<InFlight>) {
    *rt.in_flight.lock() = v;
}

/// Delivers one event until it is delivered or dead-lettered, then moves `cursors`
/// (this event's and those of events passed over before it) in the same update.
async fn deliver(
    store: &Arc<dyn WebhookStore>,
    rt: &Runtime,
    ev: Event,
    pending: Option<Pending>,
    cursors: Vec<(String, u64)>,
) {
    let name = &rt.ep.name;
    let id = message_id(name, &ev);
    let body = payload(&ev);
    let event_id = ev.id();
    // A restart keeps the retry clock of the event it was delivering.
    let (first, mut attempts) = match pending {
        Some(p) if p.id == id => (p.first_attempt, p.attempts),
        _ => (Utc::now(), 0),
    };
    loop {
        set_in_flight(
            rt,
            Some(InFlight {
                id: id.clone(),
                event_id: event_id.clone(),
                attempts,
                first_attempt: first,
                next_attempt: None,
                last_error: None,
            }),
        );
        let t0 = Instant::now();
        let result = rt.send(&id, &body).await;
        let took = t0.elapsed();
        attempts += 1;
        let now = Utc::now();
        let attempt = |outcome: Outcome, status: Option<u16>, error: Option<String>| Attempt {
            id: id.clone(),
            event_id: event_id.clone(),
            kind: ev.event_id().to_owned(),
            at: now,
            attempt: attempts,
            outcome,
            status,
            error,
            duration_ms: u64::try_from(took.as_millis()).unwrap_or(u64::MAX),
        };
        match result {
            Ok(status) => {
                write(
                    store,
                    name,
                    Update {
                        cursors: cursors.clone(),
                        pending: Some(None),
                        attempt: Some(attempt(Outcome::Delivered, Some(status), None)),
                        ..Update::default()
                    },
                )
                .await;
                delivered_metrics(name, ev.at, now);
                tracing::debug!(webhook = %name, event = %event_id, attempts, "webhook delivered");
                set_in_flight(rt, None);
                return;
            }
            Err(f) => {
                failure_metrics(name, &f);
                let spent = (now - first).to_std().unwrap_or_default();
                if spent >= rt.ep.max_age {
                    let letter = DeadLetter {
                        id: id.clone(),
                        event_id: event_id.clone(),
                        kind: ev.event_id().to_owned(),
                        event_at: ev.at,
                        body: body.clone(),
                        first_attempt: first,
                        last_attempt: now,
                        attempts,
                        last_error: f.message.clone(),
                        state: LetterState::Dead,
                        requeued_at: None,
                    };
                    write(
                        store,
                        name,
                        Update {
                            cursors: cursors.clone(),
                            pending: Some(None),
                            attempt: Some(attempt(
                                Outcome::DeadLettered,
                                f.status,
                                Some(f.message.clone()),
                            )),
                            put_letter: Some(letter),
                            ..Update::default()
                        },
                    )
                    .await;
                    metrics::counter!("flowgate_webhook_deliveries_total", "endpoint" => name.clone(), "outcome" => "dead_lettered").increment(1);
                    tracing::warn!(webhook = %name, event = %event_id, attempts, error = %f.message, "webhook delivery dead-lettered after max_age");
                    set_in_flight(rt, None);
                    return;
                }
                let left = rt.ep.max_age - spent;
                let delay = backoff(rt.ep.backoff_base, rt.ep.backoff_cap, attempts).min(left);
                write(
                    store,
                    name,
                    Update {
                        pending: Some(Some(Pending {
                            id: id.clone(),
                            event_id: event_id.clone(),
                            first_attempt: first,
                            attempts,
                            last_error: f.message.clone(),
                        })),
                        attempt: Some(attempt(Outcome::Failed, f.status, Some(f.message.clone()))),
                        ..Update::default()
                    },
                )
                .await;
                tracing::info!(webhook = %name, event = %event_id, attempts, retry_in_ms = delay.as_millis() as u64, error = %f.message, "webhook delivery failed; will retry");
                set_in_flight(
                    rt,
                    Some(InFlight {
                        id: id.clone(),
                        event_id: event_id.clone(),
                        attempts,
                        first_attempt: first,
                        next_attempt: chrono::Duration::from_std(delay).ok().map(|d| now + d),
                        last_error: Some(f.message.clone()),
                    }),
                );
                tokio::time::sleep(delay).await;
            }
        }
    }
}

/// Delivers the dead letters an administrator requeued, one at a time, each with a
/// fresh retry budget counted from its requeueing.
async fn redeliver_requeued(store: &Arc<dyn WebhookStore>, rt: &Runtime) {
    let name = rt.ep.name.clone();
    let n = name.clone();
    let letters = persist(store, &name, move |s| s.letters(&n)).await;
    for letter in letters
        .into_iter()
        .filter(|l| l.state == LetterState::Requeued)
    {
        redeliver(store, rt, letter).await;
    }
}

async fn redeliver(store: &Arc<dyn WebhookStore>, rt: &Runtime, mut letter: DeadLetter) {
    let name = &rt.ep.name;
    let first = letter.requeued_at.unwrap_or_else(Utc::now);
    let mut attempts = 0u32;
    loop {
        set_in_flight(
            rt,
            Some(InFlight {
                id: letter.id.clone(),
                event_id: letter.event_id.clone(),
                attempts,
                first_attempt: first,
                next_attempt: None,
                last_error: None,
            }),
        );
        let t0 = Instant::now();
        let result = rt.send(&letter.id, &letter.body).await;
        let took = t0.elapsed();
        attempts += 1;
        let now = Utc::now();
        let attempt = |outcome: Outcome, status: Option<u16>, error: Option<String>| Attempt {
            id: letter.id.clone(),
            event_id: letter.event_id.clone(),
            kind: letter.kind.clone(),
            at: now,
            attempt: attempts,
            outcome,
            status,
            error,
            duration_ms: u64::try_from(took.as_millis()).unwrap_or(u64::MAX),
        };
        match result {
            Ok(status) => {
                write(
                    store,
                    name,
                    Update {
                        attempt: Some(attempt(Outcome::Delivered, Some(status), None)),
                        remove_letter: Some(letter.id.clone()),
                        ..Update::default()
                    },
                )
                .await;
                delivered_metrics(name, letter.event_at, now);
                tracing::info!(webhook = %name, event = %letter.event_id, "requeued dead letter delivered");
                set_in_flight(rt, None);
                return;
            }
            Err(f) => {
                failure_metrics(name, &f);
                letter.attempts = letter.attempts.saturating_add(1);
                letter.last_attempt = now;
                letter.last_error = f.message.clone();
                let spent = (now - first).to_std().unwrap_or_default();
                let done = spent >= rt.ep.max_age;
                if done {
                    letter.state = LetterState::Dead;
                }
                let outcome = if done {
                    Outcome::DeadLettered
                } else {
                    Outcome::Failed
                };
                write(
                    store,
                    name,
                    Update {
                        attempt: Some(attempt(outcome, f.status, Some(f.message.clone()))),
                        put_letter: Some(letter.clone()),
                        ..Update::default()
                    },
                )
                .await;
                if done {
                    metrics::counter!("flowgate_webhook_deliveries_total", "endpoint" => name.clone(), "outcome" => "dead_lettered").increment(1);
                    tracing::warn!(webhook = %name, event = %letter.event_id, error = %f.message, "requeued dead letter failed again for max_age");
                    set_in_flight(rt, None);
                    return;
                }
                let delay = backoff(rt.ep.backoff_base, rt.ep.backoff_cap, attempts)
                    .min(rt.ep.max_age - spent);
                set_in_flight(
                    rt,
                    Some(InFlight {
                        id: letter.id.clone(),
                        event_id: letter.event_id.clone(),
                        attempts,
                        first_attempt: first,
                        next_attempt: chrono::Duration::from_std(delay).ok().map(|d| now + d),
                        last_error: Some(f.message.clone()),
                    }),
                );
                tokio::time::sleep(delay).await;
            }
        }
    }
}

fn delivered_metrics(name: &str, committed: DateTime<Utc>, now: DateTime<Utc>) {
    metrics::counter!("flowgate_webhook_deliveries_total", "endpoint" => name.to_owned(), "outcome" => "delivered").increment(1);
    let latency = (now - committed).to_std().unwrap_or_default();
    metrics::histogram!("flowgate_webhook_delivery_latency_seconds", "endpoint" => name.to_owned())
        .record(latency.as_secs_f64());
}

fn failure_metrics(name: &str, f: &Failure) {
    metrics::counter!("flowgate_webhook_failures_total", "endpoint" => name.to_owned(), "reason" => f.reason).increment(1);
}

/// Wakes the dispatchers whose endpoints want a live event (all of them when events
/// may have been missed). Runs until the gateway channel closes.
pub async fn wake_on_live(state: actix_web::web::Data<AppState>, runtimes: Vec<Arc<Runtime>>) {
    use tokio::sync::broadcast::error::RecvError;
    let mut rx = state
        .events
        .subscribe(&state.router, state.settings.events.buffer);
    loop {
        match rx.recv().await {
            Ok(item) => match &*item {
                Live::Event(e) => {
                    for rt in runtimes.iter().filter(|rt| rt.ep.wants(e)) {
                        rt.wake();
                    }
                }
                Live::Gap(_) => runtimes.iter().for_each(|rt| rt.wake()),
            },
            Err(RecvError::Lagged(_)) => runtimes.iter().for_each(|rt| rt.wake()),
            Err(RecvError::Closed) => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_with_jitter_and_stays_under_the_cap() {
        let base = Duration::from_millis(100);
        let cap = Duration::from_secs(5);
        for attempts in 1..80 {
            let d = backoff(base, cap, attempts);
            let full = if attempts > 10 {
                cap
            } else {
                (base * (1 << (attempts - 1))).min(cap)
            };
            assert!(d <= full, "{attempts}: {d:?} > {full:?}");
            assert!(d >= full / 2, "{attempts}: {d:?} < half of {full:?}");
        }
    }
}
