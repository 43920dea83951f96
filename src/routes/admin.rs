//! `/admin`: maintenance operations for administrators (members of `auth.admin_group`).
//!
//! `POST /admin/purge?endedBefore=<RFC 3339 date-time>` deletes for good the workflows
//! that ended (done or canceled) before that instant, with their tasks, in every engine
//! that keeps its own history (the embedded engine); engines that do not are skipped.
//! Running workflows are never deleted.

use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use chrono::{DateTime, Utc};
use flowgate_core::ErrorKind;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::{json, resource, Api};
use crate::error::{ApiError, ExceptionBody};

/// Registers the routes.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(resource("/admin/purge").post(purge));
}

/// Query of `POST /admin/purge`.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct PurgeParams {
    /// Workflows that ended strictly before this instant are deleted (RFC 3339
    /// date-time with its offset, e.g. `2024-01-31T00:00:00Z`).
    #[serde(rename = "endedBefore", default)]
    #[param(required = true, value_type = String, format = DateTime)]
    ended_before: Option<String>,
}

/// What one engine deleted.
#[derive(Serialize, ToSchema)]
pub struct EnginePurge {
    /// Engine name.
    #[schema(example = "local")]
    engine: String,
    /// Workflows deleted.
    purged: usize,
}

/// Answer of `POST /admin/purge`.
#[derive(Serialize, ToSchema)]
pub struct PurgeResult {
    /// Always `workflowPurge`.
    #[serde(rename = "entity-type")]
    #[schema(example = "workflowPurge")]
    entity_type: &'static str,
    /// The instant given, as understood (UTC).
    #[serde(rename = "endedBefore")]
    #[schema(value_type = String, format = DateTime)]
    ended_before: String,
    /// Workflows deleted, all engines together.
    purged: usize,
    /// Per engine that keeps its own history.
    engines: Vec<EnginePurge>,
}

/// An RFC 3339 date-time with `T` between date and time, as OpenAPI's `date-time`.
fn parse_instant(text: &str) -> Option<DateTime<Utc>> {
    if text
        .as_bytes()
        .get(10)
        .is_some_and(|b| !matches!(b, b'T' | b't'))
    {
        return None;
    }
    DateTime::parse_from_rfc3339(text)
        .ok()
        .map(|d| d.with_timezone(&Utc))
}

/// `POST /admin/purge`: deletes the workflows ended before a date.
#[utoipa::path(
    post,
    path = "/api/v1/admin/purge",
    operation_id = "purgeEndedWorkflows",
    tag = "admin",
    summary = "Delete the workflows ended before a date (administrators only)",
    description = "Deletes for good the workflows that ended (done or canceled) strictly before \
`endedBefore`, with their tasks, from every engine that keeps its own history. Running \
workflows are never deleted. Repeating the call is harmless.",
    params(PurgeParams),
    responses(
        (status = 200, description = "How many workflows were deleted", body = PurgeResult),
        (status = 400, description = "`endedBefore` is missing or not an RFC 3339 date-time", body = ExceptionBody),
        (status = 403, description = "The caller is not an administrator", body = ExceptionBody),
    )
)]
async fn purge(api: Api) -> Result<HttpResponse, ApiError> {
    if !api.cx().admin {
        return Err(ApiError::forbidden(
            "Only administrators may purge ended workflows",
        ));
    }
    let p: PurgeParams = api.params.decode()?;
    let raw = p.ended_before.unwrap_or_default();
    if raw.trim().is_empty() {
        return Err(ApiError::bad_request(
            "Query parameter endedBefore is required (an RFC 3339 date-time, e.g. 2024-01-31T00:00:00Z)",
        ));
    }
    let before = parse_instant(raw.trim()).ok_or_else(|| {
        ApiError::bad_request(format!(
            "endedBefore: {} is not an RFC 3339 date-time (e.g. 2024-01-31T00:00:00Z)",
            flowgate_core::shown(&raw)
        ))
    })?;
    let mut engines = Vec::new();
    for e in api.router().engines() {
        match e.engine.purge_ended(api.cx(), before).await {
            Ok(n) => engines.push(EnginePurge {
                engine: e.name.clone(),
                purged: n,
            }),
            Err(err) if err.kind() == ErrorKind::Unsupported => {}
            Err(err) => {
                tracing::warn!(engine = %e.name, error = %err, "purge failed");
                return Err(err.into());
            }
        }
    }
    let purged = engines.iter().map(|e| e.purged).sum();
    tracing::info!(purged, ended_before = %before.to_rfc3339(), "ended workflows purged");
    json(
        StatusCode::OK,
        &PurgeResult {
            entity_type: "workflowPurge",
            ended_before: before.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true),
            purged,
            engines,
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instants_are_rfc_3339_date_times() {
        let d = parse_instant("2024-01-31T10:00:00+02:00").unwrap();
        assert_eq!(d.to_rfc3339(), "2024-01-31T08:00:00+00:00");
        assert!(parse_instant("2024-01-31t08:00:00.5z").is_some());
        for bad in [
            "2024-01-31",
            "2024-01-31 08:00:00Z",
            "yesterday",
            "2024-13-01T00:00:00Z",
            "",
        ] {
            assert!(parse_instant(bad).is_none(), "{bad} accepted");
        }
    }
}
