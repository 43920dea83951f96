//! The dispatcher of one endpoint: reads the engines' stored event logs in order after
//! its durable cursors and hands each wanted event to [`super::retry::deliver`], which
//! posts it (signed, one at a time) until it is delivered or dead-lettered.
//!
//! At least once, never lost: a cursor moves only in a store update that records the
//! outcome of its event (delivered, dead-lettered, or not wanted by the endpoint),
//! written after that outcome. Outcomes are gathered and written together
//! ([`super::outcomes`]): before any other update (a failure, a dead letter), and at
//! the latest a quarter of a second after the first of them, busy or idle. A crash
//! loses at most that much written state: those events are delivered again after the
//! restart, with the same `webhook-id`, which receivers use to recognise a repeat.
//!
//! The stored log is the source. Live events (the gateway's channel, see
//! [`crate::live`]) only wake a dispatcher early; without them it looks again every
//! [`POLL_EVERY`]. Engines never wait for a receiver: they commit and publish, and a
//! dispatcher catches up from their logs. Every attempt is bounded by the endpoint's
//! `request_timeout_ms`, and each endpoint has its own task and HTTP client, so a
//! hung receiver delays only its own endpoint.

use std::collections::{BTreeMap, HashSet, VecDeque};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use flowgate_core::{CallContext, Event};

use super::delivery::{system_cx, Runtime};
use super::outcomes::{persist, write, Unwritten};
use super::retry::{deliver, redeliver_requeued};
use super::store::{blocking, Update, WebhookStore};
use crate::live::Live;
use crate::router::Router;
use crate::settings::webhooks::Start;
use crate::AppState;

/// Stored events read per engine call.
pub const BATCH: usize = 200;
/// How often an idle dispatcher looks at the logs without being woken.
pub const POLL_EVERY: Duration = Duration::from_secs(1);
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

/// The dispatcher of one endpoint. Runs until the gateway stops (writing what it
/// settled) or it is aborted. With a store shared by several
/// replicas, it delivers only while it holds the endpoint, starting each time from the
/// stored cursors.
pub async fn run(state: actix_web::web::Data<AppState>, rt: Arc<Runtime>) {
    let store = state.webhooks.store().clone();
    let name = rt.ep.name.clone();
    let mut stop = state.webhooks.stopping();
    loop {
        while !claimed(&store, &name).await {
            tokio::select! {
                () = tokio::time::sleep(CLAIM_EVERY) => {}
                _ = stop.wait_for(|s| *s) => return,
            }
        }
        if serve_claimed(&state, &rt, &mut stop).await == Served::Stopped {
            return;
        }
        tracing::warn!(webhook = %name, "another replica delivers to this endpoint now");
    }
}

/// Why [`serve_claimed`] returned.
#[derive(Debug, PartialEq, Eq)]
enum Served {
    /// Another process holds the endpoint now.
    Lost,
    /// The gateway stops; what was settled is written.
    Stopped,
}

/// Delivers while this process holds the endpoint and the gateway runs.
async fn serve_claimed(
    state: &actix_web::web::Data<AppState>,
    rt: &Arc<Runtime>,
    stop: &mut tokio::sync::watch::Receiver<bool>,
) -> Served {
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
    let mut unwritten = Unwritten::default();
    let mut checked = std::time::Instant::now();
    loop {
        if *stop.borrow() {
            unwritten.flush(&store, &name).await;
            return Served::Stopped;
        }
        if checked.elapsed() >= CLAIM_EVERY {
            checked = std::time::Instant::now();
            // Written while this process still delivers for the endpoint.
            unwritten.flush(&store, &name).await;
            if !claimed(&store, &name).await {
                return Served::Lost;
            }
        }
        if rt.requeued.swap(false, Ordering::AcqRel) {
            redeliver_requeued(&store, rt, &mut unwritten).await;
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
            // Nothing left to send. What is settled is written once it is due, not at
            // every pause: events trickling in one by one would otherwise cost a
            // store write (an fsync) each.
            if unwritten.due() {
                unwritten.flush(&store, &name).await;
            }
            let wait = unwritten.due_in().map_or(POLL_EVERY, |d| d.min(POLL_EVERY));
            tokio::select! {
                () = rt.wake.notified() => {}
                () = tokio::time::sleep(wait) => {}
                _ = stop.wait_for(|s| *s) => {}
            }
            drained.clear();
            continue;
        };
        let Some(ev) = buffers.get_mut(&engine).and_then(VecDeque::pop_front) else {
            continue;
        };
        cursors.insert(engine.clone(), ev.seq);
        if rt.ep.wants(&ev) {
            deliver(&store, rt, ev, pending.take(), &mut unwritten).await;
        } else {
            unwritten.settle(&engine, ev.seq, None);
        }
        if unwritten.due() {
            unwritten.flush(&store, &name).await;
        }
    }
}

/// Wakes the dispatchers whose endpoints want a live event (all of them when events
/// may have been missed). Runs until the gateway channel closes or the gateway stops.
pub async fn wake_on_live(state: actix_web::web::Data<AppState>, runtimes: Vec<Arc<Runtime>>) {
    use tokio::sync::broadcast::error::RecvError;
    let mut rx = state
        .events
        .subscribe(&state.router, &state.settings.events);
    let mut stop = state.webhooks.stopping();
    loop {
        let received = tokio::select! {
            r = rx.recv() => r,
            _ = stop.wait_for(|s| *s) => return,
        };
        match received {
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
