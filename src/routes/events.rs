//! `GET /api/v1/events`: the workflow events the caller may follow, pushed as
//! Server-Sent Events, resumable with `Last-Event-ID` from the engines' stored logs.
//!
//! A stream opens its inbox of live events before it reads any stored event, and
//! remembers per engine the last sequence number it passed on; a live event at or
//! below that number was already replayed and is skipped. So a resumed stream has
//! neither gaps nor duplicates.

use std::collections::{BTreeMap, VecDeque};
use std::convert::Infallible;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use actix_web::http::{header, StatusCode};
use actix_web::web::{self, Bytes};
use actix_web::{HttpRequest, HttpResponse};
use flowgate_core::{access, CallContext, Event, EventKind};
use serde::Deserialize;
use tokio::sync::watch;
use tokio::time::{Instant, Interval, MissedTickBehavior, Sleep};
use utoipa::IntoParams;

use super::{resource, Api};
use crate::error::{ApiError, ExceptionBody};
use crate::live::{Inbox, Live, StreamSlot, Taken};

/// Registers `/events`.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(resource("/events").get(stream));
}

/// Filters of the stream. Blank values count as absent.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(rename_all = "camelCase")]
pub(crate) struct StreamParams {
    /// Only these routing event ids (comma-separated, or the parameter repeated):
    /// afterWorkflowStarted, afterWorkflowFinish, beforeWorkflowCanceled,
    /// afterWorkflowTaskCreated, afterWorkflowTaskEnded, afterWorkflowTaskReassigned,
    /// afterWorkflowTaskDelegated.
    #[serde(default, deserialize_with = "crate::nuxeo::blank_as_none")]
    event_id: Option<String>,
    /// Only events of workflows of this model.
    #[serde(default, deserialize_with = "crate::nuxeo::blank_as_none")]
    model: Option<String>,
    /// Only events of this engine (its configured name).
    #[serde(default, deserialize_with = "crate::nuxeo::blank_as_none")]
    engine: Option<String>,
    /// Resume after this id, as the `Last-Event-ID` header does (for clients that
    /// cannot set headers); the header wins when both are sent.
    #[serde(default, deserialize_with = "crate::nuxeo::blank_as_none")]
    last_event_id: Option<String>,
}

/// What a stream passes on.
struct Filter {
    kinds: Vec<EventKind>,
    model: Option<String>,
    engine: Option<String>,
}

impl Filter {
    fn shows(&self, cx: &CallContext, e: &Event) -> bool {
        (self.kinds.is_empty() || self.kinds.contains(&e.kind))
            && self.model.as_ref().is_none_or(|m| *m == e.model)
            && self.engine.as_ref().is_none_or(|n| *n == e.engine)
            && access::may_follow_event(cx, e)
    }
}

/// Per engine, the last sequence number a stream passed on (shown or not) of those
/// that reached it.
type Cursor = BTreeMap<String, u64>;

/// `<engine>:<seq>`, several joined by commas.
fn parse_cursor(s: &str) -> Result<Cursor, ApiError> {
    let bad = || {
        ApiError::bad_request(format!(
            "Last event id '{}' is not a list of <engine>:<sequence>",
            flowgate_core::shown(s)
        ))
    };
    let mut out = Cursor::new();
    for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (engine, seq) = part.rsplit_once(':').ok_or_else(bad)?;
        let seq: u64 = seq.parse().map_err(|_| bad())?;
        if engine.is_empty() {
            return Err(bad());
        }
        out.insert(engine.to_owned(), seq);
    }
    Ok(out)
}

fn format_cursor(c: &Cursor) -> String {
    c.iter()
        .map(|(e, s)| format!("{e}:{s}"))
        .collect::<Vec<_>>()
        .join(",")
}

/// Appends to `out` one SSE message carrying `e`, whose `data` line is `data`.
fn push_message(out: &mut Vec<u8>, cursor: &Cursor, e: &Event, data: &str) {
    use std::io::Write as _;
    out.extend_from_slice(b"id: ");
    for (i, (engine, seq)) in cursor.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        // Writing to a Vec cannot fail.
        let _ = write!(out, "{engine}:{seq}");
    }
    out.extend_from_slice(b"\nevent: ");
    out.extend_from_slice(e.event_id().as_bytes());
    out.extend_from_slice(b"\ndata: ");
    out.extend_from_slice(data.as_bytes());
    out.extend_from_slice(b"\n\n");
}

/// Live messages already waiting are sent with the first one, as one chunk (one write),
/// up to about this many bytes.
const BATCH_BYTES: usize = 64 * 1024;

/// Live items one wake-up takes out of the inbox at most (the rest on the next call).
const BATCH_ITEMS: usize = 256;

/// What one live item does to a stream.
enum Step {
    /// The stream goes on (the item's message, if any, was appended).
    Go,
    /// The stream ends, after this final message.
    End(Bytes),
}

/// The final message of a stream that fell behind.
fn dropped(cursor: &Cursor, why: &str) -> Bytes {
    let data = serde_json::json!({
        "reason": why,
        "lastEventId": format_cursor(cursor),
        "resume": "reconnect with this Last-Event-ID to receive the missed events from the stored log",
    });
    Bytes::from(format!("event: dropped\ndata: {data}\n\n"))
}

/// Resolves when the gateway stops (at once if it already did).
async fn closed(closing: &mut watch::Receiver<bool>) {
    // An error means the hub is gone, which only happens when the gateway is.
    let _ = closing.wait_for(|c| *c).await;
}

/// The state of one open stream.
struct Streamer {
    state: crate::WorkerState,
    cx: CallContext,
    filter: Filter,
    /// Where the relays put the live events this stream may show.
    inbox: Arc<Inbox>,
    /// Items taken out of the inbox and not handled yet.
    taken: VecDeque<Arc<Live>>,
    cursor: Cursor,
    /// Engines whose stored events are still to replay, first first.
    replay: VecDeque<String>,
    backlog: VecDeque<Event>,
    heartbeat: Interval,
    end: Pin<Box<Sleep>>,
    /// Becomes `true` when the gateway stops ([`crate::live::Hub::close`]).
    closing: watch::Receiver<bool>,
    done: bool,
    _slot: StreamSlot,
}

impl Streamer {
    /// The next chunk of the body; `None` ends the stream.
    async fn next(&mut self) -> Option<Bytes> {
        if self.done {
            return None;
        }
        loop {
            if *self.closing.borrow() {
                return Some(self.stopping());
            }
            if let Some(e) = self.backlog.pop_front() {
                self.cursor.insert(e.engine.clone(), e.seq);
                if self.filter.shows(&self.cx, &e) {
                    let data = crate::live::event_json(&e);
                    let mut out = Vec::with_capacity(data.len() + 96);
                    push_message(&mut out, &self.cursor, &e, &data);
                    return Some(Bytes::from(out));
                }
                continue;
            }
            if let Some(engine) = self.replay.front().cloned() {
                if let Err(chunk) = self.load(&engine).await {
                    self.done = true;
                    return Some(chunk);
                }
                continue;
            }
            tokio::select! {
                biased;
                () = &mut self.end => {
                    self.done = true;
                    return None;
                }
                () = closed(&mut self.closing) => return Some(self.stopping()),
                () = self.inbox.wake.notified() => {
                    if let Some(chunk) = self.drain() {
                        return Some(chunk);
                    }
                    if self.done {
                        return None;
                    }
                }
                _ = self.heartbeat.tick() => return Some(Bytes::from_static(b": keep-alive\n\n")),
            }
        }
    }

    /// The final chunk of a stream the stopping gateway ends: what the inbox already
    /// holds, then a `dropped` event with the position to resume from. A stream still
    /// replaying stored events sends none of the newer live ones (the position would
    /// pass the stored events not sent yet).
    fn stopping(&mut self) -> Bytes {
        let replaying = !self.backlog.is_empty() || !self.replay.is_empty();
        let mut chunk = if replaying {
            Vec::new()
        } else {
            self.drain().map(Vec::from).unwrap_or_default()
        };
        if !self.done {
            let why = "the gateway is stopping";
            chunk.extend_from_slice(&dropped(&self.cursor, why));
        }
        self.done = true;
        Bytes::from(chunk)
    }

    /// The messages of what waits in the inbox, as one chunk (`None`: nothing to
    /// send); sets `done` when the stream must end.
    fn drain(&mut self) -> Option<Bytes> {
        let room = BATCH_ITEMS.saturating_sub(self.taken.len());
        let before = self.taken.len();
        let found = self.inbox.take(&mut self.taken, room);
        let full = self.taken.len() - before == room;
        let mut chunk = Vec::new();
        while let Some(item) = self.taken.pop_front() {
            if let Step::End(last) = self.live(&item, &mut chunk) {
                chunk.extend_from_slice(&last);
                self.done = true;
                return Some(Bytes::from(chunk));
            }
            if chunk.len() >= BATCH_BYTES {
                break;
            }
        }
        if full || !self.taken.is_empty() {
            // The rest on the next call.
            self.inbox.wake.notify_one();
        } else if let Taken::Overflowed(n) = found {
            let why = format!("this stream fell {n} events behind and was closed");
            chunk.extend_from_slice(&dropped(&self.cursor, &why));
            self.done = true;
        }
        (!chunk.is_empty()).then(|| Bytes::from(chunk))
    }

    /// What one live item does to this stream; its message, if this stream shows it,
    /// is appended to `out`.
    fn live(&mut self, item: &Live, out: &mut Vec<u8>) -> Step {
        match item {
            Live::Event(e) => {
                match self.cursor.get_mut(&e.engine) {
                    Some(last) if e.seq <= *last => return Step::Go,
                    Some(last) => *last = e.seq,
                    None => {
                        self.cursor.insert(e.engine.clone(), e.seq);
                    }
                }
                if self.filter.shows(&self.cx, e) {
                    push_message(out, &self.cursor, e, e.data());
                }
                Step::Go
            }
            Live::Gap(engine) => {
                let why = format!("the gateway fell behind the events of engine '{engine}'");
                Step::End(dropped(&self.cursor, &why))
            }
        }
    }

    /// Reads the next batch of stored events of `engine` after the cursor; an error is
    /// the final chunk to send.
    async fn load(&mut self, engine: &str) -> Result<(), Bytes> {
        let batch = self.state.settings.events.replay_batch;
        let after = self.cursor.get(engine).copied().unwrap_or(0);
        let mut cx = self.cx.clone();
        cx.deadline = Some(
            std::time::Instant::now()
                + Duration::from_millis(self.state.settings.server.request_timeout_ms),
        );
        match self
            .state
            .router
            .events_after(&cx, engine, after, batch)
            .await
        {
            Ok(page) => {
                if page.items.len() < batch {
                    self.replay.pop_front();
                }
                self.backlog.extend(page.items);
                Ok(())
            }
            Err(e) => {
                tracing::warn!(engine, error = %e, "replay of stored events failed");
                let why = format!("the stored events of engine '{engine}' could not be read: {e}");
                Err(dropped(&self.cursor, &why))
            }
        }
    }
}

#[utoipa::path(
    get,
    path = "/api/v1/events",
    operation_id = "streamEvents",
    tag = "events",
    summary = "Live workflow events (Server-Sent Events)",
    description = "Workflow events the caller may follow, as Server-Sent Events: \
        `id:` the stream position (`<engine>:<sequence>`, one per engine, comma-separated), \
        `event:` the routing event id, `data:` the event as JSON. Resumes after \
        `Last-Event-ID` from the stored log. Heartbeats are SSE comments. A stream that \
        falls behind, or is open when the gateway stops, gets a final `dropped` event \
        with the position to resume from; every stream ends after \
        `events.max_stream_secs`.",
    params(
        StreamParams,
        ("Last-Event-ID" = Option<String>, Header, description = "Resume after this stream position"),
    ),
    responses(
        (status = 200, description = "The event stream", content_type = "text/event-stream", body = String),
        (status = 400, description = "Unknown event id or engine, malformed last event id", body = ExceptionBody),
        (status = 401, description = "Not authenticated", body = ExceptionBody),
        (status = 503, description = "Too many open streams", body = ExceptionBody),
    )
)]
async fn stream(api: Api, req: HttpRequest) -> Result<HttpResponse, ApiError> {
    let p: StreamParams = api.params.decode()?;
    let mut kinds = Vec::new();
    for id in p.event_id.iter().flat_map(|s| s.split(',')).map(str::trim) {
        if id.is_empty() {
            continue;
        }
        let kind = EventKind::parse(id).ok_or_else(|| {
            ApiError::bad_request(format!("Unknown event id '{}'", flowgate_core::shown(id)))
        })?;
        kinds.push(kind);
    }
    if let Some(name) = &p.engine {
        if !api.router().engines().iter().any(|e| e.name == *name) {
            return Err(ApiError::bad_request(format!(
                "No engine named '{}'",
                flowgate_core::shown(name)
            )));
        }
    }
    let header_id = req
        .headers()
        .get("Last-Event-ID")
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|v| !v.is_empty());
    let resume = match header_id.or(p.last_event_id.as_deref()) {
        Some(s) => parse_cursor(s)?,
        None => Cursor::new(),
    };
    let settings = &api.state.settings.events;
    let slot = api
        .state
        .events
        .admit(settings.max_streams)
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "unavailable",
                format!(
                    "Too many open event streams (events.max_streams = {}); retry later",
                    settings.max_streams
                ),
            )
        })?;
    // Opened before any stored event is read: nothing committed in between is missed.
    let inbox = api.state.events.open(api.router(), settings, api.cx());
    let known: Vec<String> = api
        .router()
        .engines()
        .iter()
        .filter(|e| e.engine.keeps_events())
        .map(|e| e.name.clone())
        .collect();
    let cursor: Cursor = resume
        .into_iter()
        .filter(|(e, _)| known.contains(e))
        .collect();
    let replay = cursor.keys().cloned().collect();
    let every = Duration::from_secs(settings.heartbeat_secs);
    let mut heartbeat = tokio::time::interval_at(Instant::now() + every, every);
    heartbeat.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let streamer = Streamer {
        state: api.state.clone(),
        cx: api.cx().clone(),
        filter: Filter {
            kinds,
            model: p.model,
            engine: p.engine,
        },
        inbox,
        taken: VecDeque::new(),
        cursor,
        replay,
        backlog: VecDeque::new(),
        heartbeat,
        end: Box::pin(tokio::time::sleep(Duration::from_secs(
            settings.max_stream_secs,
        ))),
        closing: api.state.events.closing(),
        done: false,
        _slot: slot,
    };
    let opening = futures::stream::once(async {
        Ok::<_, Infallible>(Bytes::from_static(b": connected\n\n"))
    });
    let events = futures::stream::unfold(streamer, |mut s| async move {
        s.next().await.map(|b| (Ok::<_, Infallible>(b), s))
    });
    Ok(HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, "text/event-stream"))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header(("X-Accel-Buffering", "no"))
        .streaming(futures::StreamExt::chain(opening, events)))
}
