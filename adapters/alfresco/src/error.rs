//! Alfresco status codes → [`EngineError`], in one place.

use flowgate_core::EngineError;
use serde_json::Value;

/// Maps a non-success Alfresco answer to an engine error. The message carries at most a
/// short server summary (never the whole body, never credentials).
pub(crate) fn upstream_error(status: u16, body: &str) -> EngineError {
    let summary = summary(body);
    let with = |base: &str| match &summary {
        Some(s) => format!("{base}: {s}"),
        None => base.to_owned(),
    };
    match status {
        400 => EngineError::bad_request(with("Alfresco refused the request")),
        401 => EngineError::upstream(
            Some(401),
            "Alfresco rejected the gateway's service credentials",
        ),
        403 => EngineError::forbidden(with("Alfresco denied access")),
        404 => EngineError::not_found(with("not found in Alfresco")),
        // 405 is what Alfresco answers for a PUT on a completed task.
        405 | 409 => EngineError::conflict(with("Alfresco refused the change")),
        429 | 503 => EngineError::Unavailable("Alfresco is unavailable".to_owned()),
        504 => EngineError::Timeout("Alfresco did not answer in time".to_owned()),
        s => EngineError::upstream(Some(s), format!("Alfresco answered HTTP {s}")),
    }
}

/// The `briefSummary` of a v1 error body without its 8-digit log number, cut short.
fn summary(body: &str) -> Option<String> {
    let v: Value = serde_json::from_str(body).ok()?;
    let s = v.get("error")?.get("briefSummary")?.as_str()?;
    let s = match s.split_once(' ') {
        Some((n, rest)) if n.len() == 8 && n.bytes().all(|b| b.is_ascii_digit()) => rest,
        _ => s,
    };
    Some(
        s.chars()
            .take(160)
            .map(|c| if c.is_control() { ' ' } else { c })
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use flowgate_core::ErrorKind;

    #[test]
    fn statuses_map_to_kinds() {
        let cases = [
            (400, ErrorKind::BadRequest),
            (401, ErrorKind::Upstream),
            (403, ErrorKind::Forbidden),
            (404, ErrorKind::NotFound),
            (405, ErrorKind::Conflict),
            (409, ErrorKind::Conflict),
            (500, ErrorKind::Upstream),
            (502, ErrorKind::Upstream),
            (503, ErrorKind::Unavailable),
            (504, ErrorKind::Timeout),
        ];
        for (s, k) in cases {
            assert_eq!(upstream_error(s, "").kind(), k, "{s}");
        }
    }

    #[test]
    fn message_keeps_summary_without_log_number_and_never_the_body() {
        let body = r#"{"error":{"briefSummary":"09020016 The entity with id: 99 was not found","stackTrace":"secret stuff"}}"#;
        let e = upstream_error(404, body);
        assert!(e.message().contains("The entity with id: 99 was not found"));
        assert!(!e.message().contains("09020016"));
        assert!(!e.message().contains("stackTrace"));
        let html = upstream_error(500, "<html>password=hunter2</html>");
        assert!(!html.message().contains("hunter2"));
    }
}
