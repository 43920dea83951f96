//! `GET /metrics`: the Prometheus series of [`crate::metrics`] in the text exposition
//! format, on the API's address or, with `[metrics] bind`, on a server of its own.

use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse};

use super::{not_found, resource};
use crate::auth::authenticate;
use crate::error::ApiError;
use crate::metrics::{self, PATH};
use crate::settings::MetricsSettings;
use crate::AppState;

/// Registers the `/metrics` route when enabled.
pub fn configure(cfg: &mut web::ServiceConfig, settings: &MetricsSettings) {
    if settings.enabled && settings.bind.is_empty() {
        cfg.service(resource(PATH).get(scrape));
    }
}

/// The server of `/metrics` alone, for `[metrics] bind`: one worker, same state (and so
/// the same engines and users) as the API's server.
pub fn server(
    data: web::Data<AppState>,
    listener: std::net::TcpListener,
) -> std::io::Result<actix_web::dev::Server> {
    Ok(actix_web::HttpServer::new(move || {
        actix_web::App::new()
            .app_data(data.clone())
            .service(resource(PATH).get(scrape))
            .default_service(web::to(not_found))
    })
    .workers(1)
    // Stopped with the API server, by `flowgate serve`.
    .disable_signals()
    .listen(listener)?
    .run())
}

/// With `[metrics] require_auth`: the caller must be an administrator.
async fn require_admin(req: &HttpRequest, state: &AppState) -> Result<(), ApiError> {
    let caller = authenticate(state, req).await?;
    if caller.cx.admin {
        Ok(())
    } else {
        Err(ApiError::forbidden(
            "Metrics are only shown to administrators",
        ))
    }
}

/// `GET /metrics`: Prometheus metrics in the text exposition format. Served without
/// authentication (put it behind the network boundary or turn it off with
/// `[metrics] enabled = false`).
#[utoipa::path(
    get,
    path = "/metrics",
    tag = "operations",
    security(()),
    responses(
        (status = 200, description = "Prometheus text format 0.0.4", content_type = "text/plain", body = String),
        (status = 503, description = "No recorder could be installed", body = crate::error::ExceptionBody),
    )
)]
pub(crate) async fn scrape(req: HttpRequest) -> Result<HttpResponse, ApiError> {
    let state = req.app_data::<web::Data<AppState>>();
    if let Some(state) = state.filter(|s| s.settings.metrics.require_auth) {
        require_admin(&req, state).await?;
    }
    let handle = metrics::recorder().ok_or_else(|| {
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "metrics_unavailable",
            "Metrics are not available: another metrics recorder is installed",
        )
    })?;
    let mut body = handle.render();
    if let Some(state) = state {
        metrics::render_streams(&mut body, state.events.open_streams());
        crate::db_metrics::render(&mut body);
        metrics::render_engine_stats(
            &mut body,
            state
                .router
                .engines()
                .iter()
                .map(|e| (e.name.as_str(), &e.engine)),
        );
    }
    Ok(HttpResponse::Ok()
        .insert_header((
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        ))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .body(body))
}
