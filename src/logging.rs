//! Request ids, request spans and the access log.
//!
//! [`request_id`] gives every request an id (the client's `X-Request-Id` when it is
//! short printable ASCII, a fresh UUIDv7 otherwise), keeps it in the request's
//! extensions as [`RequestId`] and echoes it in the response. The span of each request
//! and its log line come from `tracing-actix-web`'s `TracingLogger`, with [`AccessLog`]
//! choosing the fields: the span carries the request id, the method and the path as the
//! client sent it (without the query string, never a header value); the line written
//! when the request ends adds the route template, the status, the duration, the user
//! and the error code.

use std::time::Instant;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::middleware::Next;
use actix_web::{Error, HttpMessage};
use tracing::Span;
use tracing_actix_web::{RootSpanBuilder, TracingLogger};

use crate::auth::{AuthenticatedUser, RequestId};
use crate::error::ErrorDetail;
use crate::normalize::OriginalPath;

/// `X-Request-Id`.
const X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Whether a client's request id is kept: 1 to 128 printable ASCII characters.
fn valid_request_id(v: &str) -> bool {
    !v.is_empty() && v.len() <= 128 && v.bytes().all(|b| b.is_ascii_graphic())
}

/// The middleware assigning and echoing request ids (see the module documentation).
pub async fn request_id<B: MessageBody>(
    req: ServiceRequest,
    next: Next<B>,
) -> Result<ServiceResponse<B>, Error> {
    let id = req
        .headers()
        .get(&X_REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|v| valid_request_id(v))
        .map(str::to_owned)
        .unwrap_or_else(|| uuid::Uuid::now_v7().to_string());
    req.extensions_mut().insert(RequestId(id.clone()));
    let mut res = next.call(req).await?;
    if let Ok(v) = HeaderValue::from_str(&id) {
        res.headers_mut().insert(X_REQUEST_ID, v);
    }
    Ok(res)
}

/// `TracingLogger` with the gateway's span and access-log fields.
pub fn tracing_logger() -> TracingLogger<AccessLog> {
    TracingLogger::new()
}

/// What the request's log line repeats from its span (so that each line stands alone),
/// and when the request reached the logger.
#[derive(Debug)]
struct Started {
    at: Instant,
    id: String,
    path: String,
}

/// The span and log line of each request (see the module documentation).
#[derive(Debug)]
pub struct AccessLog;

impl RootSpanBuilder for AccessLog {
    fn on_request_start(req: &ServiceRequest) -> Span {
        let ext = req.extensions();
        let id = ext.get::<RequestId>().map(|r| r.0.as_str()).unwrap_or("");
        let path = match ext.get::<OriginalPath>() {
            Some(p) => p.0.as_str(),
            None => req.path(),
        };
        let span =
            tracing::info_span!("http.request", request_id = %id, method = %req.method(), %path);
        if !tracing::enabled!(tracing::Level::INFO) {
            // No access log at this level: nothing to remember for it.
            return span;
        }
        let started = Started {
            at: Instant::now(),
            id: id.to_owned(),
            path: path.to_owned(),
        };
        drop(ext);
        req.extensions_mut().insert(started);
        span
    }

    fn on_request_end<B: MessageBody>(span: Span, outcome: &Result<ServiceResponse<B>, Error>) {
        if !tracing::enabled!(tracing::Level::INFO) {
            // Below the log level the line would be dropped: skip the route lookup too.
            return;
        }
        span.in_scope(|| match outcome {
            Ok(res) => {
                let req = res.request();
                let ext = req.extensions();
                let started = ext.get::<Started>();
                let duration_ms = started
                    .map(|s| s.at.elapsed().as_secs_f64() * 1000.0)
                    .unwrap_or_default();
                let request_id = started.map(|s| s.id.as_str()).unwrap_or("");
                let path = started.map(|s| s.path.as_str()).unwrap_or("");
                let user = ext
                    .get::<AuthenticatedUser>()
                    .map(|u| u.0.as_str())
                    .unwrap_or("");
                let route = req
                    .match_pattern()
                    .unwrap_or_else(|| "unmatched".to_owned());
                let code = res
                    .response()
                    .extensions()
                    .get::<ErrorDetail>()
                    .map(|c| c.code)
                    .unwrap_or("");
                tracing::info!(
                    request_id,
                    method = %req.method(),
                    path,
                    %route,
                    status = res.status().as_u16(),
                    duration_ms,
                    %user,
                    error_code = code,
                    "request"
                );
            }
            Err(e) => {
                // Refused before a handler answered (413, CORS).
                let status = e.as_response_error().status_code().as_u16();
                tracing::info!(route = "unmatched", status, "request");
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_ids_are_bounded_printable_ascii() {
        assert!(valid_request_id("abc-123"));
        assert!(!valid_request_id(""));
        assert!(!valid_request_id("a b"));
        assert!(!valid_request_id(&"x".repeat(200)));
    }
}
