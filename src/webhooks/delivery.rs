//! One endpoint at run time ([`Runtime`]): its HTTP client, the signed POST of one
//! event ([`Runtime::send`]), the payload, the retry delay and the delivery metrics.
//! The dispatcher that decides what to send and records the outcomes is in
//! [`super::dispatch`], the retries of one event in [`super::retry`].

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use chrono::{DateTime, Utc};
use flowgate_core::{CallContext, Event};
use parking_lot::Mutex;
use serde::Serialize;
use tokio::sync::Notify;

use super::signing::{HEADER_ID, HEADER_SIGNATURE, HEADER_TIMESTAMP};
use crate::settings::webhooks::Endpoint;

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
    pub(super) wake: Notify,
    pub(super) requeued: AtomicBool,
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
        let signature = self.ep.signature(id, ts, body.as_bytes());
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
    let p = Payload {
        kind: e.event_id(),
        timestamp: e.at.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true),
        data: crate::live::event_data(e),
    };
    // Only string keys: writing to a string cannot fail.
    serde_json::to_string(&p).unwrap_or_default()
}

/// The body of a delivery, written in one pass (no `serde_json::Value` in between).
#[derive(Serialize)]
struct Payload<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    timestamp: String,
    data: crate::live::EventData<'a>,
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

/// Shows `v` as the event being delivered (`None`: nothing in flight).
pub(crate) fn set_in_flight(rt: &Runtime, v: Option<InFlight>) {
    *rt.in_flight.lock() = v;
}

/// Counts a delivery and its latency from the event's commit.
pub(crate) fn delivered_metrics(name: &str, committed: DateTime<Utc>, now: DateTime<Utc>) {
    metrics::counter!("flowgate_webhook_deliveries_total", "endpoint" => name.to_owned(), "outcome" => "delivered").increment(1);
    let latency = (now - committed).to_std().unwrap_or_default();
    metrics::histogram!("flowgate_webhook_delivery_latency_seconds", "endpoint" => name.to_owned())
        .record(latency.as_secs_f64());
}

/// Counts a failed attempt by reason.
pub(crate) fn failure_metrics(name: &str, f: &Failure) {
    metrics::counter!("flowgate_webhook_failures_total", "endpoint" => name.to_owned(), "reason" => f.reason).increment(1);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_payload_is_type_timestamp_and_the_stream_data_in_one_pass() {
        let e: Event = serde_json::from_value(serde_json::json!({
            "seq": 9, "engine": "local", "kind": "afterWorkflowTaskEnded",
            "at": "2026-01-01T00:00:00.250Z", "workflowId": "w-1", "taskId": "t-1",
            "taskName": "Review \"final\"", "model": "SerialDocumentReview",
            "documents": ["d-1"], "principal": "jdoe", "initiator": "asmith",
            "actors": ["user:jdoe"], "action": "validate", "comment": "ok\n",
            "extended": {"timeSinceTaskStarted": 12},
        }))
        .expect("an event");
        // The same text as the JSON value built field by field.
        let reference = serde_json::json!({
            "type": "afterWorkflowTaskEnded",
            "timestamp": "2026-01-01T00:00:00.250Z",
            "data": serde_json::from_str::<serde_json::Value>(&crate::live::event_json(&e))
                .expect("event JSON"),
        });
        assert_eq!(payload(&e), reference.to_string());
    }

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
