//! Requests and answers as the handlers see them: Sling-style URL decomposition,
//! form and query decoding, the [`Resp`] a fault may still rewrite, and the Sling
//! status and error pages.

use actix_web::http::StatusCode;
use percent_encoding::percent_decode_str;
use serde_json::{json, Value};

use crate::html::escape;

/// A response before it becomes an actix response, so faults can rewrite it.
pub(super) struct Resp {
    pub(super) status: u16,
    pub(super) content_type: &'static str,
    pub(super) body: String,
    pub(super) headers: Vec<(&'static str, String)>,
}

pub(super) const JSON: &str = "application/json;charset=utf-8";
pub(super) const HTML: &str = "text/html;charset=utf-8";

impl Resp {
    pub(super) fn json(v: &Value) -> Resp {
        Resp {
            status: 200,
            content_type: JSON,
            body: v.to_string(),
            headers: Vec::new(),
        }
    }

    pub(super) fn html(status: u16, body: String) -> Resp {
        Resp {
            status,
            content_type: HTML,
            body,
            headers: Vec::new(),
        }
    }
}

/// Parsed request facts the handlers need.
pub(super) struct Req {
    pub(super) method: String,
    pub(super) path: String,
    pub(super) resource: String,
    pub(super) selectors: Vec<String>,
    pub(super) extension: Option<String>,
    pub(super) query: Vec<(String, String)>,
    pub(super) form: Vec<(String, String)>,
    pub(super) user: Option<String>,
    pub(super) prefers_json: bool,
}

impl Req {
    pub(super) fn field(&self, name: &str) -> Option<&str> {
        self.form
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    pub(super) fn query(&self, name: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Splits the last segment at its first dot: resource, selectors, extension.
pub(super) fn decompose(path: &str) -> (String, Vec<String>, Option<String>) {
    let (dir, last) = match path.rfind('/') {
        Some(i) => (&path[..=i], &path[i + 1..]),
        None => ("", path),
    };
    let Some(dot) = last.find('.') else {
        return (path.to_owned(), Vec::new(), None);
    };
    let name = &last[..dot];
    let mut parts: Vec<String> = last[dot + 1..].split('.').map(str::to_owned).collect();
    let ext = parts.pop();
    (format!("{dir}{name}"), parts, ext)
}

/// Decodes an `x-www-form-urlencoded` body. Without `_charset_=utf-8` the bytes are
/// read as ISO-8859-1, as Sling does by default.
pub(super) fn parse_form(body: &[u8]) -> Vec<(String, String)> {
    let raw = String::from_utf8_lossy(body);
    let utf8 = raw
        .split('&')
        .any(|kv| kv.eq_ignore_ascii_case("_charset_=utf-8"));
    let decode = |s: &str| -> String {
        let s = s.replace('+', " ");
        let bytes: Vec<u8> = percent_decode_str(&s).collect();
        if utf8 {
            String::from_utf8_lossy(&bytes).into_owned()
        } else {
            bytes.into_iter().map(char::from).collect()
        }
    };
    raw.split('&')
        .filter(|kv| !kv.is_empty())
        .map(|kv| match kv.split_once('=') {
            Some((k, v)) => (decode(k), decode(v)),
            None => (decode(kv), String::new()),
        })
        .collect()
}

pub(super) fn parse_query(q: &str) -> Vec<(String, String)> {
    url::form_urlencoded::parse(q.as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

/// The Sling status page every successful (and some failed) POST answers with.
pub(super) fn status_page(
    status: u16,
    message: &str,
    title: &str,
    location: Option<&str>,
) -> String {
    let loc = location.unwrap_or("");
    let parent = loc.rsplit_once('/').map(|(p, _)| p).unwrap_or("");
    format!(
        "<html>\n<head><title>{t}</title></head>\n<body>\n<h1>{t}</h1>\n<table><tbody>\n\
<tr><td>Status</td><td><div id=\"Status\">{status}</div></td></tr>\n\
<tr><td>Message</td><td><div id=\"Message\">{m}</div></td></tr>\n\
<tr><td>Location</td><td><a href=\"{l}\" id=\"Location\">{l}</a></td></tr>\n\
<tr><td>Parent Location</td><td><a href=\"{p}\" id=\"ParentLocation\">{p}</a></td></tr>\n\
<tr><td>Path</td><td><div id=\"Path\">{l}</div></td></tr>\n\
<tr><td>Referer</td><td><a href=\"\" id=\"Referer\"></a></td></tr>\n\
<tr><td>ChangeLog</td><td><div id=\"ChangeLog\">&lt;pre&gt;&lt;/pre&gt;</div></td></tr>\n\
</tbody></table>\n</body></html>\n",
        t = escape(title),
        m = escape(message),
        l = escape(loc),
        p = escape(parent),
    )
}

pub(super) fn reason(status: u16) -> &'static str {
    StatusCode::from_u16(status)
        .ok()
        .and_then(|s| s.canonical_reason())
        .unwrap_or("Error")
}

/// The Sling default error page (or its JSON variant).
pub(super) fn error_page(status: u16, uri: &str, detail: &str, json_variant: bool) -> Resp {
    if json_variant {
        let mut r = Resp::json(&json!({"status": status, "message": reason(status),
            "requestUri": uri, "servletName": "flowgate-sim", "requestProgress": detail}));
        r.status = status;
        return r;
    }
    let body = format!(
        "<!DOCTYPE HTML PUBLIC \"-//IETF//DTD HTML 2.0//EN\">\n<html>\n<head>\n<title>{status} {r}</title>\n</head>\n\
<body>\n<h1>{r} ({status})</h1>\n<p>The requested URL {u} resulted in an error in com.day.cq.workflow.impl.WorkflowServlet.</p>\n\
<h3>Request Progress:</h3>\n<pre>{d}</pre>\n<hr>\n<address>ApacheSling/2.7 (flowgate simulator)</address>\n</body>\n</html>\n",
        r = reason(status),
        u = escape(uri),
        d = escape(detail),
    );
    Resp::html(status, body)
}

pub(super) type Handled = Result<Resp, (u16, String)>;

pub(super) fn not_found(path: &str) -> (u16, String) {
    (404, format!("No resource found at {path}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sling_decomposition_splits_at_the_first_dot_of_the_last_segment() {
        assert_eq!(
            decompose("/etc/workflow/instances.RUNNING.json"),
            (
                "/etc/workflow/instances".into(),
                vec!["RUNNING".into()],
                Some("json".into())
            )
        );
        assert_eq!(
            decompose("/var/workflow/models/a.1.0.json"),
            (
                "/var/workflow/models/a".into(),
                vec!["1".into(), "0".into()],
                Some("json".into())
            )
        );
        assert_eq!(
            decompose("/etc/workflow/instances"),
            ("/etc/workflow/instances".into(), vec![], None)
        );
    }

    #[test]
    fn form_without_charset_is_read_as_latin1() {
        let utf8 = parse_form("_charset_=utf-8&c=%C3%BC".as_bytes());
        assert_eq!(utf8[1].1, "ü");
        let latin = parse_form("c=%C3%BC".as_bytes());
        assert_eq!(latin[0].1, "Ã¼");
    }
}
