//! The one place where failures become HTTP statuses and Nuxeo exception bodies.
//!
//! Every error the gateway answers with is an [`ApiError`]: engine errors convert through
//! [`status_of`], extractor failures are routed here by the handlers installed in
//! `lib.rs`. The body is always `{"entity-type":"exception","status":N,"message":"…"}`;
//! the stable snake_case code goes to logs only.

use actix_web::http::header::{self, HeaderValue};
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use flowgate_core::{EngineError, ErrorKind};
use serde::Serialize;
use utoipa::ToSchema;

/// HTTP status of an engine error kind. This table is the only kind → status mapping.
pub fn status_of(kind: ErrorKind) -> StatusCode {
    match kind {
        ErrorKind::NotFound => StatusCode::NOT_FOUND,
        ErrorKind::Conflict => StatusCode::CONFLICT,
        ErrorKind::Forbidden => StatusCode::FORBIDDEN,
        ErrorKind::BadRequest => StatusCode::BAD_REQUEST,
        ErrorKind::Unsupported => StatusCode::NOT_IMPLEMENTED,
        ErrorKind::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
        ErrorKind::Timeout => StatusCode::GATEWAY_TIMEOUT,
        ErrorKind::Upstream => StatusCode::BAD_GATEWAY,
        // `ErrorKind` is non-exhaustive: a kind added later is a server-side problem
        // until it gets its own row.
        _ => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

/// Longest message an error answer carries, in bytes.
const MAX_MESSAGE_BYTES: usize = 512;

/// The `WWW-Authenticate` challenge of a 401 answer.
#[derive(Debug, Clone)]
enum Challenge {
    /// `Basic realm="<realm>"`.
    Basic(String),
    /// `Bearer error="invalid_token", error_description="<reason>"` (a refused token).
    InvalidBearer(String),
}

/// An error answer: status, a client-safe message and a stable code for logs.
#[derive(Debug, Clone)]
pub struct ApiError {
    status: StatusCode,
    code: &'static str,
    message: String,
    /// `WWW-Authenticate` challenge of 401 answers.
    challenge: Option<Challenge>,
    /// `Allow` value for 405 answers.
    allow: Option<HeaderValue>,
    /// `Retry-After` seconds of 429 answers (small, so that errors stay small).
    retry_after: Option<std::num::NonZeroU32>,
}

impl ApiError {
    /// An error with an explicit status and code.
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        let mut message = message.into();
        if message.is_empty() {
            message = status.canonical_reason().unwrap_or("Error").to_owned();
        }
        // A last bound on what an answer can echo: places that quote client input cut
        // it with `flowgate_core::shown`; whatever slipped through stops here.
        if message.len() > MAX_MESSAGE_BYTES {
            let mut cut = MAX_MESSAGE_BYTES;
            while !message.is_char_boundary(cut) {
                cut -= 1;
            }
            message.truncate(cut);
            message.push('…');
        }
        Self {
            status,
            code,
            message,
            challenge: None,
            allow: None,
            retry_after: None,
        }
    }

    /// 429 with `Retry-After: <secs>` (at least one second).
    pub fn too_many_requests(message: impl Into<String>, retry_after_secs: u64) -> Self {
        let mut e = Self::new(StatusCode::TOO_MANY_REQUESTS, "too_many_requests", message);
        e.retry_after =
            std::num::NonZeroU32::new(u32::try_from(retry_after_secs.max(1)).unwrap_or(u32::MAX));
        e
    }

    /// 400.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "bad_request", message)
    }

    /// 404.
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", message)
    }

    /// 403.
    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, "forbidden", message)
    }

    /// 401 with a `WWW-Authenticate: Basic` challenge.
    pub fn unauthorized(realm: &str) -> Self {
        let mut e = Self::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "Authentication is required: send HTTP Basic credentials or X-Authentication-Token",
        );
        e.challenge = Some(Challenge::Basic(realm.to_owned()));
        e
    }

    /// 401 for a refused bearer token: `WWW-Authenticate: Bearer error="invalid_token",
    /// error_description="<reason>"`. The reason is one of the gateway's fixed sentences,
    /// never text from the token.
    pub fn invalid_bearer(reason: &str) -> Self {
        let mut e = Self::new(
            StatusCode::UNAUTHORIZED,
            "invalid_token",
            format!("Invalid bearer token: {reason}"),
        );
        e.challenge = Some(Challenge::InvalidBearer(reason.to_owned()));
        e
    }

    /// The same error with another client-facing message.
    pub fn with_message(self, message: impl Into<String>) -> Self {
        Self {
            message: Self::new(self.status, self.code, message).message,
            ..self
        }
    }

    /// 405.
    pub fn method_not_allowed(method: &str) -> Self {
        Self::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
            format!("Method {method} is not allowed on this resource"),
        )
    }

    /// The same error answered with `Allow: <methods>` (405 answers).
    pub fn with_allow(mut self, methods: HeaderValue) -> Self {
        self.allow = Some(methods);
        self
    }

    /// 413.
    pub fn payload_too_large(limit: usize) -> Self {
        Self::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            format!("Request body is larger than the limit of {limit} bytes"),
        )
    }

    /// 500 for failures of the gateway itself; the detail stays in the logs.
    pub fn internal(detail: impl std::fmt::Display) -> Self {
        tracing::error!(error = %detail, "internal error");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "Internal server error",
        )
    }

    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// The stable snake_case code (for logs and metrics).
    pub fn code(&self) -> &'static str {
        self.code
    }

    /// The client-facing message.
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl From<EngineError> for ApiError {
    fn from(e: EngineError) -> Self {
        let kind = e.kind();
        Self::new(status_of(kind), kind.code(), e.message())
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} {}: {}",
            self.status.as_u16(),
            self.code,
            self.message
        )
    }
}

/// `{"entity-type":"exception","status":…,"message":…}`: the body of every error answer.
#[derive(Serialize, ToSchema)]
#[schema(as = ExceptionEntity)]
pub struct ExceptionBody<'a> {
    /// Always `exception`.
    #[serde(rename = "entity-type")]
    #[schema(value_type = ExceptionType, inline)]
    entity_type: &'static str,
    /// The HTTP status, repeated.
    #[schema(example = 404, minimum = 400, maximum = 599)]
    status: u16,
    /// What went wrong, safe to show.
    #[schema(example = "Can not get workflow instance with id: 42")]
    message: &'a str,
}

/// The `entity-type` of an exception body.
#[derive(ToSchema)]
#[serde(rename_all = "lowercase")]
#[allow(dead_code)] // Describes the constant written into `ExceptionBody::entity_type`.
enum ExceptionType {
    /// The only value.
    Exception,
}

/// Put in response extensions so the access log can show the error code and the
/// development mode can describe the error.
#[derive(Clone, Debug)]
pub struct ErrorDetail {
    /// Stable snake_case code.
    pub code: &'static str,
    /// Client-facing message.
    pub message: String,
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.status
    }

    fn error_response(&self) -> HttpResponse {
        let body = exception_json(self.status, &self.message);
        let mut res = HttpResponse::build(self.status);
        res.insert_header((header::CONTENT_TYPE, "application/json"));
        let challenge = match &self.challenge {
            Some(Challenge::Basic(realm)) => {
                Some(format!("Basic realm=\"{}\"", realm.replace('"', "")))
            }
            Some(Challenge::InvalidBearer(reason)) => {
                let reason: String = reason
                    .chars()
                    .filter(|c| *c != '"' && *c != '\\' && !c.is_control())
                    .collect();
                Some(format!(
                    "Bearer error=\"invalid_token\", error_description=\"{reason}\""
                ))
            }
            None => None,
        };
        if let Some(v) = challenge.and_then(|v| HeaderValue::from_str(&v).ok()) {
            res.insert_header((header::WWW_AUTHENTICATE, v));
        }
        if let Some(allow) = &self.allow {
            res.insert_header((header::ALLOW, allow.clone()));
        }
        if let Some(secs) = self.retry_after {
            res.insert_header((header::RETRY_AFTER, secs.to_string()));
        }
        let mut res = res.body(body);
        res.extensions_mut().insert(ErrorDetail {
            code: self.code,
            message: self.message.clone(),
        });
        res
    }
}

/// The exception entity as compact JSON.
pub fn exception_json(status: StatusCode, message: &str) -> String {
    let body = ExceptionBody {
        entity_type: "exception",
        status: status.as_u16(),
        message,
    };
    serde_json::to_string(&body).unwrap_or_else(|_| {
        format!(
            "{{\"entity-type\":\"exception\",\"status\":{},\"message\":\"error\"}}",
            status.as_u16()
        )
    })
}

/// The exception entity with the development-mode fields `stacktrace` and `exception`
/// (`errors.stacktrace = true`). flowgate has no Java stack: the trace names the error
/// code, the request and its route, which is what a developer needs to find it.
pub fn exception_json_dev(
    status: StatusCode,
    detail: &ErrorDetail,
    method: &str,
    route: &str,
    request_id: &str,
) -> String {
    let v = serde_json::json!({
        "entity-type": "exception",
        "status": status.as_u16(),
        "message": detail.message,
        "stacktrace": format!(
            "flowgate.error.{}: {}\n\tat {method} {route} (request {request_id})",
            detail.code, detail.message
        ),
        "exception": {
            "className": format!("flowgate.error.{}", detail.code),
            "message": detail.message,
        },
    });
    v.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_has_its_status() {
        let cases = [
            (ErrorKind::NotFound, 404),
            (ErrorKind::Conflict, 409),
            (ErrorKind::Forbidden, 403),
            (ErrorKind::BadRequest, 400),
            (ErrorKind::Unsupported, 501),
            (ErrorKind::Unavailable, 503),
            (ErrorKind::Timeout, 504),
            (ErrorKind::Upstream, 502),
        ];
        for (k, s) in cases {
            assert_eq!(status_of(k).as_u16(), s, "{k:?}");
        }
    }

    #[test]
    fn exception_body_has_exactly_three_fields_in_order() {
        let s = exception_json(StatusCode::NOT_FOUND, "gone \"x\"");
        assert_eq!(
            s,
            r#"{"entity-type":"exception","status":404,"message":"gone \"x\""}"#
        );
    }

    #[test]
    fn engine_error_keeps_message_and_maps_status() {
        let e: ApiError = EngineError::conflict("The task 'x' is not active").into();
        assert_eq!(e.status(), StatusCode::CONFLICT);
        assert_eq!(e.code(), "conflict");
        assert_eq!(e.message(), "The task 'x' is not active");
    }

    #[test]
    fn refused_bearer_tokens_carry_a_bearer_challenge_with_the_reason() {
        let r = ApiError::invalid_bearer("the token has expired").error_response();
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(
            r.headers().get(header::WWW_AUTHENTICATE).unwrap(),
            "Bearer error=\"invalid_token\", error_description=\"the token has expired\""
        );
    }

    #[test]
    fn unauthorized_carries_a_basic_challenge() {
        let r = ApiError::unauthorized("Nuxeo").error_response();
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(
            r.headers().get(header::WWW_AUTHENTICATE).unwrap(),
            "Basic realm=\"Nuxeo\""
        );
    }
}
