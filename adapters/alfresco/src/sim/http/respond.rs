//! Response bodies: the v1 `entry` and `list` envelopes with paging, and error
//! bodies in the v1 and legacy formats.

use actix_web::http::StatusCode;
use actix_web::HttpResponse;
use serde_json::{json, Value};

use super::{Family, Req};
use crate::sim::query::{ApiError, Paging};

pub(super) fn error_response(family: Family, e: &ApiError) -> HttpResponse {
    let status = StatusCode::from_u16(e.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    match family {
        Family::V1 => HttpResponse::build(status).json(json!({"error": {
            "errorKey": e.key,
            "statusCode": e.status,
            "briefSummary": format!("{:08} {}", (uuid::Uuid::new_v4().as_u128() % 100_000_000), e.message),
            "stackTrace": "For security reasons the stack trace is no longer displayed, but the property is kept for previous versions",
            "descriptionURL": "https://api-explorer.alfresco.com",
            "logId": uuid::Uuid::new_v4().to_string(),
        }})),
        Family::Legacy => HttpResponse::build(status).json(json!({
            "status": {"code": e.status, "name": status.canonical_reason().unwrap_or(""), "description": e.message},
            "message": e.message,
        })),
    }
}

pub(super) fn entry_json(v: Value) -> HttpResponse {
    HttpResponse::Ok().json(json!({ "entry": v }))
}

pub(super) fn created(v: Value) -> HttpResponse {
    HttpResponse::Created().json(json!({ "entry": v }))
}

/// A query-backed list: sliced, `totalItems` over the full set.
pub(super) fn paged(items: Vec<Value>, p: Paging) -> HttpResponse {
    let total = items.len();
    let page: Vec<Value> = items
        .into_iter()
        .skip(p.skip)
        .take(p.max)
        .map(|e| json!({ "entry": e }))
        .collect();
    let count = page.len();
    HttpResponse::Ok().json(json!({"list": {
        "pagination": {"count": count, "hasMoreItems": p.skip + count < total, "totalItems": total,
                        "skipCount": p.skip, "maxItems": p.max},
        "entries": page,
    }}))
}

/// A sub-collection that ignores paging.
pub(super) fn unpaged(items: Vec<Value>, p: Paging) -> HttpResponse {
    let count = items.len();
    HttpResponse::Ok().json(json!({"list": {
        "pagination": {"count": count, "hasMoreItems": false, "totalItems": count,
                        "skipCount": p.skip, "maxItems": p.max},
        "entries": items.into_iter().map(|e| json!({"entry": e})).collect::<Vec<_>>(),
    }}))
}

pub(super) fn method_not_allowed() -> HttpResponse {
    error_response(
        Family::V1,
        &ApiError::new(
            405,
            "framework.exception.UnsupportedResourceOperation",
            "The operation is unsupported",
        ),
    )
}

pub(super) fn parse_body(r: &Req) -> Result<Value, ApiError> {
    serde_json::from_slice(&r.body)
        .map_err(|_| ApiError::bad("Could not read content from HTTP request body"))
}
