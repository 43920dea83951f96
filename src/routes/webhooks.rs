//! `/admin/webhooks`: the state of the webhook endpoints, for administrators (members
//! of `auth.admin_group`; 403 for anyone else, in the Nuxeo exception format).
//!
//! - `GET /admin/webhooks`: every endpoint with its cursor and lag per engine, the
//!   event being delivered, the last success and failure, the dead letters' count.
//! - `GET /admin/webhooks/{name}/deliveries`: the recent attempts, newest first, and
//!   the dead letters.
//! - `POST /admin/webhooks/{name}/deliveries/{id}/retry`: sends a dead letter back to
//!   the endpoint's queue (202); its dispatcher takes it next.
//!
//! An unknown endpoint or delivery is a 404.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use super::{json, resource, Api};
use crate::error::{ApiError, ExceptionBody};
use crate::nuxeo::w3c;
use crate::webhooks::delivery::{system_cx, Runtime};
use crate::webhooks::store::{self, blocking, Attempt, DeadLetter, LetterState, Update};

/// Registers the routes inside `/api/v1`.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(resource("/admin/webhooks").get(list))
        .service(resource("/admin/webhooks/{name}/deliveries").get(deliveries))
        .service(resource("/admin/webhooks/{name}/deliveries/{id}/retry").post(retry));
}

/// One engine's position in an endpoint's queue.
#[derive(Serialize, ToSchema)]
pub struct EngineCursor {
    /// Engine name.
    #[schema(example = "local")]
    engine: String,
    /// Sequence number of the last event of this engine settled for the endpoint
    /// (delivered, dead-lettered or not wanted).
    cursor: u64,
    /// Events of this engine stored after the cursor (wanted or not); absent when the
    /// engine could not be asked.
    lag: Option<u64>,
}

/// One delivery attempt.
#[derive(Serialize, ToSchema)]
pub struct AttemptEntity {
    /// The `webhook-id` (names the delivery in `.../deliveries/{id}/retry`).
    #[schema(example = "msg_3b0c8e0a2f6d5e1c9a7b4d2e1f0a9c8b")]
    id: String,
    /// The event's stable id, `<engine>:<seq>`.
    #[serde(rename = "eventId")]
    #[schema(example = "local:42")]
    event_id: String,
    /// Routing event id.
    #[serde(rename = "type")]
    #[schema(example = "afterWorkflowTaskCreated")]
    kind: String,
    /// When the attempt ended (W3C date).
    at: String,
    /// Attempt number for this event.
    attempt: u32,
    /// `delivered`, `failed` or `dead_lettered`.
    #[schema(example = "delivered")]
    outcome: String,
    /// The receiver's HTTP status, when it answered.
    status: Option<u16>,
    /// Why the attempt failed.
    error: Option<String>,
    /// Time of the attempt, in milliseconds.
    #[serde(rename = "durationMs")]
    duration_ms: u64,
}

impl From<Attempt> for AttemptEntity {
    fn from(a: Attempt) -> Self {
        Self {
            id: a.id,
            event_id: a.event_id,
            kind: a.kind,
            at: w3c(&a.at),
            attempt: a.attempt,
            outcome: label(&a.outcome),
            status: a.status,
            error: a.error,
            duration_ms: a.duration_ms,
        }
    }
}

fn label<T: Serialize>(v: &T) -> String {
    serde_json::to_value(v)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

/// The event an endpoint is delivering now.
#[derive(Serialize, ToSchema)]
pub struct InFlightEntity {
    /// The `webhook-id`.
    id: String,
    /// The event's stable id.
    #[serde(rename = "eventId")]
    event_id: String,
    /// Attempts so far.
    attempts: u32,
    /// First attempt (W3C date); `max_age` counts from it.
    #[serde(rename = "firstAttempt")]
    first_attempt: String,
    /// Next attempt (W3C date), while waiting for it.
    #[serde(rename = "nextAttempt")]
    next_attempt: Option<String>,
    /// Why the last attempt failed.
    #[serde(rename = "lastError")]
    last_error: Option<String>,
}

/// One endpoint.
#[derive(Serialize, ToSchema)]
pub struct WebhookEntity {
    /// Always `webhook`.
    #[serde(rename = "entity-type")]
    #[schema(example = "webhook")]
    entity_type: &'static str,
    /// Endpoint name.
    #[schema(example = "crm")]
    name: String,
    /// Receiver URL, without its query (which may carry a token).
    url: String,
    /// Routing event ids wanted (empty: all).
    events: Vec<String>,
    /// Engines followed (empty: all).
    engines: Vec<String>,
    /// Models wanted (empty: all).
    models: Vec<String>,
    /// Retry budget of an event, in seconds.
    #[serde(rename = "maxAgeSeconds")]
    max_age_seconds: u64,
    /// Position per engine.
    cursors: Vec<EngineCursor>,
    /// Events stored after the cursors, all engines together (a lower bound when an
    /// engine could not be asked).
    lag: u64,
    /// The event being delivered.
    #[serde(rename = "inFlight")]
    in_flight: Option<InFlightEntity>,
    /// The last delivered attempt.
    #[serde(rename = "lastSuccess")]
    last_success: Option<AttemptEntity>,
    /// The last failed attempt.
    #[serde(rename = "lastFailure")]
    last_failure: Option<AttemptEntity>,
    /// Dead letters kept (waiting or requeued).
    #[serde(rename = "deadLetters")]
    dead_letters: usize,
    /// Dead letters requeued and not yet delivered.
    requeued: usize,
}

/// Answer of `GET /admin/webhooks`.
#[derive(Serialize, ToSchema)]
pub struct WebhooksEntity {
    /// Always `webhooks`.
    #[serde(rename = "entity-type")]
    #[schema(example = "webhooks")]
    entity_type: &'static str,
    /// Whether the delivery state survives a restart (`webhooks.redb`).
    persistent: bool,
    /// The endpoints, in the order configured.
    entries: Vec<WebhookEntity>,
}

/// An event whose delivery failed for `max_age`.
#[derive(Serialize, ToSchema)]
pub struct DeadLetterEntity {
    /// Always `webhookDeadLetter`.
    #[serde(rename = "entity-type")]
    #[schema(example = "webhookDeadLetter")]
    entity_type: &'static str,
    /// The `webhook-id`.
    id: String,
    /// The event's stable id.
    #[serde(rename = "eventId")]
    event_id: String,
    /// Routing event id.
    #[serde(rename = "type")]
    kind: String,
    /// When the event was committed (W3C date).
    #[serde(rename = "eventDate")]
    event_date: String,
    /// First attempt (W3C date).
    #[serde(rename = "firstAttempt")]
    first_attempt: String,
    /// Last attempt (W3C date).
    #[serde(rename = "lastAttempt")]
    last_attempt: String,
    /// Attempts made.
    attempts: u32,
    /// Why the last attempt failed.
    #[serde(rename = "lastError")]
    last_error: String,
    /// `dead` (kept, nothing more tried) or `requeued` (to be delivered again).
    #[schema(example = "dead")]
    state: String,
    /// When an administrator requeued it (W3C date).
    #[serde(rename = "requeuedAt")]
    requeued_at: Option<String>,
}

impl From<DeadLetter> for DeadLetterEntity {
    fn from(l: DeadLetter) -> Self {
        Self {
            entity_type: "webhookDeadLetter",
            state: label(&l.state),
            id: l.id,
            event_id: l.event_id,
            kind: l.kind,
            event_date: w3c(&l.event_at),
            first_attempt: w3c(&l.first_attempt),
            last_attempt: w3c(&l.last_attempt),
            attempts: l.attempts,
            last_error: l.last_error,
            requeued_at: l.requeued_at.as_ref().map(w3c),
        }
    }
}

/// Answer of `GET /admin/webhooks/{name}/deliveries`.
#[derive(Serialize, ToSchema)]
pub struct DeliveriesEntity {
    /// Always `webhookDeliveries`.
    #[serde(rename = "entity-type")]
    #[schema(example = "webhookDeliveries")]
    entity_type: &'static str,
    /// Endpoint name.
    endpoint: String,
    /// The recent attempts (at most 200), newest first.
    entries: Vec<AttemptEntity>,
    /// Dead letters, oldest event first.
    #[serde(rename = "deadLetters")]
    dead_letters: Vec<DeadLetterEntity>,
}

fn require_admin(api: &Api) -> Result<(), ApiError> {
    if api.cx().admin {
        Ok(())
    } else {
        Err(ApiError::forbidden(
            "Only administrators may see and manage webhook deliveries",
        ))
    }
}

fn endpoint<'a>(api: &'a Api, name: &str) -> Result<&'a std::sync::Arc<Runtime>, ApiError> {
    api.state.webhooks.find(name).ok_or_else(|| {
        ApiError::not_found(format!(
            "No webhook endpoint named '{}'",
            flowgate_core::shown(name)
        ))
    })
}

fn store_failed(e: store::StoreError) -> ApiError {
    ApiError::internal(e)
}

fn date(d: &DateTime<Utc>) -> String {
    w3c(d)
}

/// `GET /admin/webhooks`.
#[utoipa::path(
    get,
    path = "/api/v1/admin/webhooks",
    operation_id = "listWebhooks",
    tag = "admin",
    summary = "Webhook endpoints and their delivery state (administrators only)",
    description = "Every configured webhook endpoint with its position in each engine's event \
log (`cursors`), the events stored after it (`lag`), the event being delivered, the last \
success and failure, and the number of dead letters. Secrets are never shown.",
    responses(
        (status = 200, description = "The endpoints", body = WebhooksEntity),
        (status = 403, description = "The caller is not an administrator", body = ExceptionBody),
    )
)]
async fn list(api: Api) -> Result<HttpResponse, ApiError> {
    require_admin(&api)?;
    let store = api.state.webhooks.store().clone();
    let mut entries = Vec::new();
    for rt in api.state.webhooks.endpoints() {
        let name = rt.ep.name.clone();
        let (cursors, last, letters) = blocking(&store, move |s| {
            Ok((s.cursors(&name)?, s.last(&name)?, s.letters(&name)?))
        })
        .await
        .map_err(store_failed)?;
        let cx = system_cx(&rt.ep.name);
        let mut rows = Vec::new();
        let mut lag = 0u64;
        for e in api.router().engines() {
            if !e.engine.keeps_events() || !rt.ep.follows_engine(&e.name) {
                continue;
            }
            let cursor = cursors.get(&e.name).copied().unwrap_or(0);
            let behind = match api.router().event_count_after(&cx, &e.name, cursor).await {
                Ok(n) => Some(n as u64),
                Err(err) => {
                    tracing::warn!(webhook = %rt.ep.name, engine = %e.name, error = %err, "lag not known");
                    None
                }
            };
            lag += behind.unwrap_or(0);
            rows.push(EngineCursor {
                engine: e.name.clone(),
                cursor,
                lag: behind,
            });
        }
        let requeued = letters
            .iter()
            .filter(|l| l.state == LetterState::Requeued)
            .count();
        entries.push(WebhookEntity {
            entity_type: "webhook",
            name: rt.ep.name.clone(),
            url: crate::settings::webhooks::redact_url(rt.ep.url.as_str()),
            events: rt.ep.kinds.iter().map(|k| k.as_str().to_owned()).collect(),
            engines: rt.ep.engines.clone(),
            models: rt.ep.models.clone(),
            max_age_seconds: rt.ep.max_age.as_secs(),
            cursors: rows,
            lag,
            in_flight: rt.in_flight().map(|f| InFlightEntity {
                id: f.id,
                event_id: f.event_id,
                attempts: f.attempts,
                first_attempt: date(&f.first_attempt),
                next_attempt: f.next_attempt.as_ref().map(date),
                last_error: f.last_error,
            }),
            last_success: last.last_success.map(Into::into),
            last_failure: last.last_failure.map(Into::into),
            dead_letters: letters.len(),
            requeued,
        });
    }
    json(
        StatusCode::OK,
        &WebhooksEntity {
            entity_type: "webhooks",
            persistent: store.persistent(),
            entries,
        },
    )
}

/// `GET /admin/webhooks/{name}/deliveries`.
#[utoipa::path(
    get,
    path = "/api/v1/admin/webhooks/{name}/deliveries",
    operation_id = "listWebhookDeliveries",
    tag = "admin",
    summary = "Recent deliveries and dead letters of a webhook endpoint (administrators only)",
    description = "The recent delivery attempts of the endpoint (at most 200, newest first), \
successes and failures alike, and its dead letters: events whose delivery failed for the \
endpoint's `max_age`.",
    params(("name" = String, Path, description = "Endpoint name")),
    responses(
        (status = 200, description = "Attempts and dead letters", body = DeliveriesEntity),
        (status = 403, description = "The caller is not an administrator", body = ExceptionBody),
        (status = 404, description = "No endpoint of that name", body = ExceptionBody),
    )
)]
async fn deliveries(req: HttpRequest, api: Api) -> Result<HttpResponse, ApiError> {
    require_admin(&api)?;
    let name = req.match_info().get("name").unwrap_or_default();
    let rt = endpoint(&api, name)?;
    let n = rt.ep.name.clone();
    let (recent, letters) = blocking(api.state.webhooks.store(), move |s| {
        Ok((s.recent(&n, store::RECENT_KEPT)?, s.letters(&n)?))
    })
    .await
    .map_err(store_failed)?;
    json(
        StatusCode::OK,
        &DeliveriesEntity {
            entity_type: "webhookDeliveries",
            endpoint: rt.ep.name.clone(),
            entries: recent.into_iter().map(Into::into).collect(),
            dead_letters: letters.into_iter().map(Into::into).collect(),
        },
    )
}

/// `POST /admin/webhooks/{name}/deliveries/{id}/retry`.
#[utoipa::path(
    post,
    path = "/api/v1/admin/webhooks/{name}/deliveries/{id}/retry",
    operation_id = "retryWebhookDelivery",
    tag = "admin",
    summary = "Deliver a dead letter again (administrators only)",
    description = "Sends a dead-lettered event back to the endpoint's queue: its dispatcher \
delivers it next (with the same `webhook-id` and body), with a fresh `max_age` counted \
from now. A delivered letter leaves the dead letters; one that fails again for `max_age` \
is dead again. Asking again while it is requeued changes nothing.",
    params(
        ("name" = String, Path, description = "Endpoint name"),
        ("id" = String, Path, description = "The dead letter's `webhook-id`"),
    ),
    responses(
        (status = 202, description = "Requeued", body = DeadLetterEntity),
        (status = 403, description = "The caller is not an administrator", body = ExceptionBody),
        (status = 404, description = "No endpoint of that name, or no dead letter with that id", body = ExceptionBody),
    )
)]
async fn retry(req: HttpRequest, api: Api) -> Result<HttpResponse, ApiError> {
    require_admin(&api)?;
    let name = req.match_info().get("name").unwrap_or_default();
    let id = req.match_info().get("id").unwrap_or_default().to_owned();
    let rt = endpoint(&api, name)?;
    let n = rt.ep.name.clone();
    let wanted = id.clone();
    let letter = blocking(api.state.webhooks.store(), move |s| {
        let Some(mut l) = s.letters(&n)?.into_iter().find(|l| l.id == wanted) else {
            return Ok(None);
        };
        if l.state == LetterState::Dead {
            l.state = LetterState::Requeued;
            l.requeued_at = Some(Utc::now());
            s.apply(
                &n,
                &Update {
                    put_letter: Some(l.clone()),
                    ..Update::default()
                },
            )?;
        }
        Ok(Some(l))
    })
    .await
    .map_err(store_failed)?
    .ok_or_else(|| {
        ApiError::not_found(format!(
            "No dead-lettered delivery '{}' for webhook endpoint '{}'",
            flowgate_core::shown(&id),
            rt.ep.name
        ))
    })?;
    tracing::info!(webhook = %rt.ep.name, delivery = %letter.id, event = %letter.event_id, user = %api.cx().user, "dead letter requeued");
    rt.requeue();
    json(StatusCode::ACCEPTED, &DeadLetterEntity::from(letter))
}
