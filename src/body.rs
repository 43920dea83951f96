//! Request bodies: read whole before any handler runs, within a deadline and a size
//! limit, and only as JSON for writes.
//!
//! - A write (`POST`, `PUT`, `PATCH`, `DELETE`) with a body must say it is JSON
//!   (`application/json`, `application/*+json` or `application/json+…`, as the Nuxeo
//!   clients send): anything else is 415, so a plain HTML form posted cross-site by a
//!   browser cannot act with the user's stored credentials.
//! - The body must arrive within `server.body_timeout_ms` of the headers; a slower one
//!   is answered 408 and the connection is closed, so slow senders cannot hold
//!   connections and workers open.
//! - A body past `server.max_body_bytes` is 413 (a declared length past it is refused
//!   before anything is read).
//!
//! Answers given before the body was read in full close the connection: what is left of
//! the body would otherwise be read as the next request.

use std::rc::Rc;
use std::time::Duration;

use actix_http::ConnectionType;
use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header;
use actix_web::http::{Method, StatusCode};
use actix_web::middleware::Next;
use actix_web::web::{Bytes, BytesMut};
use actix_web::{HttpMessage, ResponseError};
use futures::StreamExt;

use crate::error::ApiError;

/// What the body guard enforces.
#[derive(Clone, Copy, Debug)]
pub struct BodyRules {
    /// Time the whole body may take to arrive after the headers.
    pub timeout: Duration,
    /// Largest body, in bytes.
    pub limit: usize,
}

/// Whether the request announces a body (a non-zero length, or a chunked one).
fn has_body(req: &ServiceRequest) -> bool {
    let headers = req.headers();
    if headers.contains_key(header::TRANSFER_ENCODING) {
        return true;
    }
    headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
        .is_some_and(|n| n > 0)
}

/// Whether a `Content-Type` value names JSON.
pub fn is_json(content_type: &str) -> bool {
    let essence = content_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    let Some(subtype) = essence.strip_prefix("application/") else {
        return false;
    };
    subtype == "json" || subtype.ends_with("+json") || subtype.starts_with("json+")
}

fn is_write(method: &Method) -> bool {
    matches!(
        *method,
        Method::POST | Method::PUT | Method::PATCH | Method::DELETE
    )
}

/// The middleware: see the module documentation.
pub async fn guard<B: MessageBody + 'static>(
    rules: Rc<BodyRules>,
    mut req: ServiceRequest,
    next: Next<B>,
) -> Result<ServiceResponse<EitherBody<B>>, actix_web::Error> {
    if !has_body(&req) {
        return next
            .call(req)
            .await
            .map(ServiceResponse::map_into_left_body);
    }
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    if declared.is_some_and(|n| n > rules.limit as u64) {
        return Ok(refuse(req, ApiError::payload_too_large(rules.limit)));
    }
    if is_write(req.method()) {
        let content_type = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        if !is_json(content_type) {
            let shown = flowgate_core::shown(content_type);
            return Ok(refuse(
                req,
                ApiError::new(
                    StatusCode::UNSUPPORTED_MEDIA_TYPE,
                    "unsupported_media_type",
                    format!("Request bodies must be JSON (Content-Type: application/json), not '{shown}'"),
                ),
            ));
        }
    }
    match read(&mut req, &rules).await {
        Ok(body) => {
            req.set_payload(actix_web::dev::Payload::from(body));
            next.call(req)
                .await
                .map(ServiceResponse::map_into_left_body)
        }
        Err(e) => Ok(refuse(req, e)),
    }
}

/// Reads the whole body within the rules.
async fn read(req: &mut ServiceRequest, rules: &BodyRules) -> Result<Bytes, ApiError> {
    let mut payload = req.take_payload();
    let deadline = tokio::time::Instant::now() + rules.timeout;
    let mut body = BytesMut::new();
    loop {
        let chunk = match tokio::time::timeout_at(deadline, payload.next()).await {
            Err(_) => {
                return Err(ApiError::new(
                    StatusCode::REQUEST_TIMEOUT,
                    "request_timeout",
                    format!(
                        "The request body did not arrive within {} ms",
                        rules.timeout.as_millis()
                    ),
                ))
            }
            Ok(None) => return Ok(body.freeze()),
            Ok(Some(Err(e))) => {
                return Err(ApiError::bad_request(format!("Cannot read body: {e}")))
            }
            Ok(Some(Ok(chunk))) => chunk,
        };
        if body.len() + chunk.len() > rules.limit {
            return Err(ApiError::payload_too_large(rules.limit));
        }
        body.extend_from_slice(&chunk);
    }
}

/// An error answer that also closes the connection.
fn refuse<B>(req: ServiceRequest, e: ApiError) -> ServiceResponse<EitherBody<B>> {
    let mut res = e.error_response();
    res.head_mut().set_connection_type(ConnectionType::Close);
    req.into_response(res).map_into_right_body()
}

#[cfg(test)]
mod tests {
    use super::is_json;

    #[test]
    fn json_media_types() {
        for ok in [
            "application/json",
            "Application/JSON; charset=utf-8",
            "application/json+nxrequest",
            "application/vnd.api+json",
        ] {
            assert!(is_json(ok), "{ok}");
        }
        for bad in [
            "",
            "text/plain",
            "application/x-www-form-urlencoded",
            "multipart/form-data; boundary=x",
            "text/json",
            "application/jsonp",
        ] {
            assert!(!is_json(bad), "{bad}");
        }
    }
}
