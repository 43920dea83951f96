//! Injected faults (see [`crate::sim::FaultKind`]) and the reshaping of successful
//! workflow answers to the configured shape or the endless-list misbehaviour.

use actix_web::{web, HttpResponse};
use serde_json::Value;

use crate::sim::shape;
use crate::sim::{FaultKind, Shared};

pub(super) const WF_PREFIX: [&str; 7] = [
    "alfresco",
    "api",
    "-default-",
    "public",
    "workflow",
    "versions",
    "1",
];

/// A successful workflow answer in the simulator's shape (and, for the endless-list
/// fault, claiming more entries).
pub(super) async fn reshaped(shared: &Shared, rest: &[String], resp: HttpResponse) -> HttpResponse {
    let status = resp.status();
    let Ok(bytes) = actix_web::body::to_bytes(resp.into_body()).await else {
        return HttpResponse::InternalServerError().finish();
    };
    let Ok(body) = serde_json::from_slice::<Value>(&bytes) else {
        return HttpResponse::build(status)
            .content_type("application/json")
            .body(bytes);
    };
    let rest: Vec<&str> = rest.iter().map(String::as_str).collect();
    let mut body = shape::reshape(shared.shape, &rest, body);
    if shared.endless_lists {
        body = shape::endless(&rest, body);
    }
    HttpResponse::build(status).json(body)
}

pub(super) fn dropped() -> HttpResponse {
    let s = futures::stream::once(async {
        Err::<web::Bytes, std::io::Error>(std::io::Error::new(
            std::io::ErrorKind::ConnectionAborted,
            "injected connection drop",
        ))
    });
    HttpResponse::Ok()
        .content_type("application/json")
        .streaming(s)
}

pub(super) fn take_fault(shared: &Shared, method: &str, path: &str) -> Option<FaultKind> {
    let mut faults = shared.faults.lock();
    let idx = faults.iter().position(|f| {
        f.method.as_deref().is_none_or(|m| m == method)
            && path.contains(&f.path_contains)
            && f.times != Some(0)
    })?;
    let f = &mut faults[idx];
    if let Some(n) = f.times.as_mut() {
        *n -= 1;
    }
    Some(f.kind.clone())
}
