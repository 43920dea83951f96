//! The one place where CQ / AEM error answers become [`EngineError`]s.

use flowgate_core::EngineError;
use serde::Deserialize;

use crate::html::SlingPage;

/// The JSON variant of the Sling error page (newer Sling when `Accept` prefers JSON).
#[derive(Deserialize)]
struct JsonError {
    status: Option<u16>,
    message: Option<String>,
}

/// Status and message of an error body: a Sling error page, a status page, the JSON
/// variant, or anything else (then only the HTTP status counts).
pub(crate) fn describe(status: u16, body: &str) -> (u16, Option<String>) {
    let trimmed = body.trim_start_matches('\u{feff}').trim_start();
    if trimmed.starts_with('{') {
        if let Ok(j) = serde_json::from_str::<JsonError>(trimmed) {
            let s = match j.status {
                Some(inner) if status < 300 && inner >= 400 => inner,
                _ => status,
            };
            return (s, j.message.map(|m| m.chars().take(200).collect()));
        }
        return (status, None);
    }
    let page = SlingPage::parse(body);
    // A 2xx whose status page reports a failure (`:status=browser` style) is a failure.
    let s = match page.status {
        Some(inner) if status < 300 && inner >= 400 => inner,
        _ => status,
    };
    (s, page.message)
}

/// Maps an upstream error answer to an [`EngineError`]. The message carries the status
/// and the page's short message, never the body itself.
///
/// 400 → `BadRequest`, 403 → `Forbidden`, 404 → `NotFound`, 409 → `Conflict`,
/// 401 and everything else → `Upstream` (the gateway's own credentials were refused,
/// or the upstream failed: 502 for the client).
pub(crate) fn upstream_error(status: u16, body: &str) -> EngineError {
    let (status, message) = describe(status, body);
    let detail = |what: &str| match &message {
        Some(m) => format!("CQ/AEM {what} ({status}: {m})"),
        None => format!("CQ/AEM {what} ({status})"),
    };
    match status {
        400 => EngineError::bad_request(detail("refused the request")),
        401 => EngineError::upstream(Some(401), "CQ/AEM refused the gateway's credentials (401)"),
        403 => EngineError::forbidden(detail("denied access")),
        404 => EngineError::not_found(detail("has no such resource")),
        409 => EngineError::conflict(detail("refused the state change")),
        _ => EngineError::upstream(Some(status), detail("failed")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use flowgate_core::ErrorKind;

    #[test]
    fn statuses_map_to_kinds() {
        let page = "<html><head><title>409 Conflict</title></head><body><h1>Conflict (409)</h1></body></html>";
        let e = upstream_error(409, page);
        assert_eq!(e.kind(), ErrorKind::Conflict);
        assert!(e.message().contains("409 Conflict"));
        assert_eq!(upstream_error(404, "").kind(), ErrorKind::NotFound);
        assert_eq!(upstream_error(403, "").kind(), ErrorKind::Forbidden);
        assert_eq!(upstream_error(400, "").kind(), ErrorKind::BadRequest);
        assert_eq!(upstream_error(500, "<html>").kind(), ErrorKind::Upstream);
        assert_eq!(upstream_error(401, "").kind(), ErrorKind::Upstream);
    }

    #[test]
    fn status_page_inside_a_200_wins() {
        let body = "<div id=\"Status\">409</div><div id=\"Message\">not reachable</div>";
        let e = upstream_error(200, body);
        assert_eq!(e.kind(), ErrorKind::Conflict);
        assert!(e.message().contains("not reachable"));
    }

    #[test]
    fn json_error_variant_is_understood() {
        let e = upstream_error(
            500,
            r#"{"status":404,"message":"Not Found","requestUri":"/x"}"#,
        );
        assert_eq!(e.kind(), ErrorKind::Upstream);
        let e = upstream_error(404, r#"{"status":404,"message":"Not Found"}"#);
        assert!(e.message().contains("Not Found"));
    }

    #[test]
    fn bodies_are_never_copied_whole() {
        let secret = "x".repeat(5000);
        let e = upstream_error(500, &format!("<pre>{secret}</pre>"));
        assert!(e.message().len() < 300);
    }
}
