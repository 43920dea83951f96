//! Operations endpoints, unauthenticated: `GET /health/live` (the process answers) and
//! `GET /health/ready` (whether the gateway can serve: per-engine status from the
//! upstream circuit breaker and a cheap probe; ready unless the default engine is down).

use std::time::Duration;

use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use serde_json::json;

use super::{json, resource};
use crate::error::ApiError;
use crate::AppState;

/// Registers the health endpoints under `ctx` (`""` or the context path).
pub fn configure(cfg: &mut web::ServiceConfig, ctx: &str) {
    cfg.service(resource(&format!("{ctx}/health/live")).get(live))
        .service(resource(&format!("{ctx}/health/ready")).get(ready));
}

/// `GET /health/live`.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)] // Schema only: `live` writes the body.
pub struct Liveness {
    /// Always `live`.
    #[schema(example = "live")]
    status: String,
}

/// `GET /health/ready`.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)] // Schema only: `ready` writes the body.
pub struct Readiness {
    /// `ready` or `not_ready`.
    #[schema(example = "ready")]
    status: String,
    /// Every configured engine.
    engines: Vec<crate::router::EngineHealth>,
}

/// `GET /health/live`: 200 while the process serves requests.
#[utoipa::path(
    get,
    path = "/health/live",
    operation_id = "healthLive",
    tag = "operations",
    summary = "Liveness: the process answers",
    security(()),
    responses((status = 200, description = "Live", body = Liveness))
)]
async fn live() -> Result<HttpResponse, ApiError> {
    json(StatusCode::OK, &json!({"status": "live"}))
}

/// `GET /health/ready`: 200 with every engine's status unless the default engine is
/// down (then 503). Engines whose breaker is open are reported down without a probe.
#[utoipa::path(
    get,
    path = "/health/ready",
    operation_id = "healthReady",
    tag = "operations",
    summary = "Readiness: per-engine status; not ready while the default engine is down",
    security(()),
    responses(
        (status = 200, description = "Ready", body = Readiness),
        (status = 503, description = "The default engine is down", body = Readiness),
    )
)]
async fn ready(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let timeout = Duration::from_millis(state.settings.routing.health_timeout_ms);
    let engines = state.router.health(timeout).await;
    let default_down = engines.iter().any(|e| e.default && e.status == "down");
    let (status, word) = if default_down {
        (StatusCode::SERVICE_UNAVAILABLE, "not_ready")
    } else {
        (StatusCode::OK, "ready")
    };
    let mut r = json(status, &json!({"status": word, "engines": engines}))?;
    r.headers_mut().insert(
        actix_web::http::header::CACHE_CONTROL,
        actix_web::http::header::HeaderValue::from_static("no-store"),
    );
    Ok(r)
}
