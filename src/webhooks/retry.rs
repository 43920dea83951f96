//! The attempts at one event: [`deliver`] posts a stored event until the receiver
//! takes it or its `max_age` is spent (then a dead letter), with capped, jittered
//! exponential backoff between attempts; [`redeliver_requeued`] does the same for the
//! dead letters an administrator sent back.

use std::sync::Arc;
use std::time::Instant;

use chrono::{DateTime, Utc};
use flowgate_core::Event;

use super::delivery::{
    backoff, delivered_metrics, failure_metrics, payload, set_in_flight, Failure, InFlight, Runtime,
};
use super::outcomes::{persist, write, Unwritten};
use super::signing::message_id;
use super::store::{Attempt, DeadLetter, LetterState, Outcome, Pending, Update, WebhookStore};

/// Delivers one event until it is delivered or dead-lettered. A delivery at the first
/// attempt is settled in `unwritten` (written with the next batch); any other outcome
/// is written at once, after what `unwritten` holds, with the event's cursor.
pub(super) async fn deliver(
    store: &Arc<dyn WebhookStore>,
    rt: &Runtime,
    ev: Event,
    pending: Option<Pending>,
    unwritten: &mut Unwritten,
) {
    let name = &rt.ep.name;
    let id = message_id(name, &ev);
    let body = payload(&ev);
    let event_id = ev.id();
    let cursors = vec![(ev.engine.clone(), ev.seq)];
    // A restart keeps the retry clock of the event it was delivering.
    let (first, mut attempts, mut retry_state) = match pending {
        Some(p) if p.id == id => (p.first_attempt, p.attempts, true),
        Some(_) => (Utc::now(), 0, true),
        None => (Utc::now(), 0, false),
    };
    let m = Message {
        id: &id,
        event_id: &event_id,
        kind: ev.event_id(),
        body: &body,
    };
    loop {
        let (result, tried) = m.try_once(rt, attempts, first).await;
        attempts = tried.attempt;
        let now = tried.at;
        let attempt = |outcome, status, error| tried.record(&m, outcome, status, error);
        match result {
            Ok(status) => {
                let done = attempt(Outcome::Delivered, Some(status), None);
                if retry_state {
                    // A stored retry state is cleared in the same update.
                    let u = unwritten.before(Update {
                        cursors,
                        pending: Some(None),
                        attempts: vec![done],
                        ..Update::default()
                    });
                    write(store, name, u).await;
                } else {
                    unwritten.settle(&ev.engine, ev.seq, Some(done));
                }
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
                    let u = unwritten.before(Update {
                        cursors,
                        pending: Some(None),
                        attempts: vec![attempt(
                            Outcome::DeadLettered,
                            f.status,
                            Some(f.message.clone()),
                        )],
                        put_letter: Some(letter),
                        ..Update::default()
                    });
                    write(store, name, u).await;
                    metrics::counter!("flowgate_webhook_deliveries_total", "endpoint" => name.clone(), "outcome" => "dead_lettered").increment(1);
                    tracing::warn!(webhook = %name, event = %event_id, attempts, error = %f.message, "webhook delivery dead-lettered after max_age");
                    set_in_flight(rt, None);
                    return;
                }
                let left = rt.ep.max_age - spent;
                let delay = backoff(rt.ep.backoff_base, rt.ep.backoff_cap, attempts).min(left);
                let u = unwritten.before(Update {
                    pending: Some(Some(Pending {
                        id: id.clone(),
                        event_id: event_id.clone(),
                        first_attempt: first,
                        attempts,
                        last_error: f.message.clone(),
                    })),
                    attempts: vec![attempt(Outcome::Failed, f.status, Some(f.message.clone()))],
                    ..Update::default()
                });
                write(store, name, u).await;
                retry_state = true;
                tracing::info!(webhook = %name, event = %event_id, attempts, retry_in_ms = delay.as_millis() as u64, error = %f.message, "webhook delivery failed; will retry");
                m.wait(rt, &tried, first, delay, &f).await;
            }
        }
    }
}

/// Delivers the dead letters an administrator requeued, one at a time, each with a
/// fresh retry budget counted from its requeueing.
pub(super) async fn redeliver_requeued(
    store: &Arc<dyn WebhookStore>,
    rt: &Runtime,
    unwritten: &mut Unwritten,
) {
    let name = rt.ep.name.clone();
    let n = name.clone();
    let letters = persist(store, &name, move |s| s.letters(&n)).await;
    for letter in letters
        .into_iter()
        .filter(|l| l.state == LetterState::Requeued)
    {
        redeliver(store, rt, letter, unwritten).await;
    }
}

/// One requeued dead letter; its outcomes are written at once, after what `unwritten`
/// holds.
async fn redeliver(
    store: &Arc<dyn WebhookStore>,
    rt: &Runtime,
    mut letter: DeadLetter,
    unwritten: &mut Unwritten,
) {
    let name = &rt.ep.name;
    let first = letter.requeued_at.unwrap_or_else(Utc::now);
    let mut attempts = 0u32;
    loop {
        let sent = letter.clone();
        let m = Message {
            id: &sent.id,
            event_id: &sent.event_id,
            kind: &sent.kind,
            body: &sent.body,
        };
        let (result, tried) = m.try_once(rt, attempts, first).await;
        attempts = tried.attempt;
        let now = tried.at;
        let attempt = |outcome, status, error| tried.record(&m, outcome, status, error);
        match result {
            Ok(status) => {
                let u = unwritten.before(Update {
                    attempts: vec![attempt(Outcome::Delivered, Some(status), None)],
                    remove_letter: Some(letter.id.clone()),
                    ..Update::default()
                });
                write(store, name, u).await;
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
                let u = unwritten.before(Update {
                    attempts: vec![attempt(outcome, f.status, Some(f.message.clone()))],
                    put_letter: Some(letter.clone()),
                    ..Update::default()
                });
                write(store, name, u).await;
                if done {
                    metrics::counter!("flowgate_webhook_deliveries_total", "endpoint" => name.clone(), "outcome" => "dead_lettered").increment(1);
                    tracing::warn!(webhook = %name, event = %letter.event_id, error = %f.message, "requeued dead letter failed again for max_age");
                    set_in_flight(rt, None);
                    return;
                }
                let delay = backoff(rt.ep.backoff_base, rt.ep.backoff_cap, attempts)
                    .min(rt.ep.max_age - spent);
                m.wait(rt, &tried, first, delay, &f).await;
            }
        }
    }
}

/// What one attempt posts: the message (`webhook-id`), the event's stable id and kind,
/// and the signed body.
struct Message<'a> {
    id: &'a str,
    event_id: &'a str,
    kind: &'a str,
    body: &'a str,
}

/// When an attempt was made (`at`, its number `attempt`) and how long it took.
struct Tried {
    at: DateTime<Utc>,
    attempt: u32,
    took: std::time::Duration,
}

impl Message<'_> {
    /// Attempt number `done + 1`: shown in flight, then posted.
    async fn try_once(
        &self,
        rt: &Runtime,
        done: u32,
        first: DateTime<Utc>,
    ) -> (Result<u16, Failure>, Tried) {
        set_in_flight(
            rt,
            Some(InFlight {
                id: self.id.to_owned(),
                event_id: self.event_id.to_owned(),
                attempts: done,
                first_attempt: first,
                next_attempt: None,
                last_error: None,
            }),
        );
        let t0 = Instant::now();
        let result = rt.send(self.id, self.body).await;
        let tried = Tried {
            at: Utc::now(),
            attempt: done + 1,
            took: t0.elapsed(),
        };
        (result, tried)
    }

    /// Shows the next attempt in flight after `delay`, then waits for it.
    async fn wait(
        &self,
        rt: &Runtime,
        tried: &Tried,
        first: DateTime<Utc>,
        delay: std::time::Duration,
        f: &Failure,
    ) {
        set_in_flight(
            rt,
            Some(InFlight {
                id: self.id.to_owned(),
                event_id: self.event_id.to_owned(),
                attempts: tried.attempt,
                first_attempt: first,
                next_attempt: chrono::Duration::from_std(delay).ok().map(|d| tried.at + d),
                last_error: Some(f.message.clone()),
            }),
        );
        tokio::time::sleep(delay).await;
    }
}

impl Tried {
    /// The record of this attempt at `m`.
    fn record(
        &self,
        m: &Message<'_>,
        outcome: Outcome,
        status: Option<u16>,
        error: Option<String>,
    ) -> Attempt {
        Attempt {
            id: m.id.to_owned(),
            event_id: m.event_id.to_owned(),
            kind: m.kind.to_owned(),
            at: self.at,
            attempt: self.attempt,
            outcome,
            status,
            error,
            duration_ms: u64::try_from(self.took.as_millis()).unwrap_or(u64::MAX),
        }
    }
}
