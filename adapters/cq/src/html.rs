//! Sling HTML pages: the status page every POST answers with and the default error
//! page. CQ never answers a POST with JSON, so the adapter reads outcomes from these.

/// What a Sling status or error page says.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct SlingPage {
    /// `id="Status"` of a status page.
    pub status: Option<u16>,
    /// `id="Message"` of a status page, else `<title>`, else `<h1>`.
    pub message: Option<String>,
    /// `id="Location"` of a status page.
    pub location: Option<String>,
    /// `id="Path"` of a status page.
    pub path: Option<String>,
}

impl SlingPage {
    /// Parses a body that may be a Sling status page, an error page or anything else.
    /// Missing elements stay `None`; this never fails.
    pub fn parse(body: &str) -> SlingPage {
        let status = element_text(body, "id=\"Status\"").and_then(|s| s.trim().parse().ok());
        let message = element_text(body, "id=\"Message\"")
            .or_else(|| tag_text(body, "title"))
            .or_else(|| tag_text(body, "h1"))
            .map(|m| clean_message(&m))
            .filter(|m| !m.is_empty());
        let location = element_text(body, "id=\"Location\"").filter(|s| !s.trim().is_empty());
        let path = element_text(body, "id=\"Path\"").filter(|s| !s.trim().is_empty());
        SlingPage {
            status,
            message,
            location: location.map(|s| s.trim().to_owned()),
            path: path.map(|s| s.trim().to_owned()),
        }
    }
}

/// Text of the element whose opening tag contains `marker` (up to the next `<`),
/// HTML-unescaped.
fn element_text(body: &str, marker: &str) -> Option<String> {
    let at = body.find(marker)?;
    let rest = &body[at..];
    let open_end = rest.find('>')?;
    let text = &rest[open_end + 1..];
    let end = text.find('<').unwrap_or(text.len());
    Some(unescape(&text[..end]))
}

/// Text of the first `<tag>` element, HTML-unescaped.
fn tag_text(body: &str, tag: &str) -> Option<String> {
    let lower = body.to_ascii_lowercase();
    let open = format!("<{tag}");
    let at = lower.find(&open)?;
    let open_end = lower[at..].find('>')? + at;
    let close = lower[open_end..].find(&format!("</{tag}"))? + open_end;
    let text = unescape(body.get(open_end + 1..close)?);
    let text = text.trim().to_owned();
    (!text.is_empty()).then_some(text)
}

/// Keeps a message safe for clients and logs: one line, no markup left, bounded length.
fn clean_message(m: &str) -> String {
    // Stack traces sometimes follow the exception name on the next lines: keep the first.
    let first = m
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .unwrap_or("");
    let mut out: String = first
        .chars()
        .filter(|c| !c.is_control())
        .take(200)
        .collect();
    if first.chars().count() > 200 {
        out.push('…');
    }
    out
}

/// Resolves the five predefined entities and numeric character references.
pub(crate) fn unescape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(at) = rest.find('&') {
        out.push_str(&rest[..at]);
        let tail = &rest[at..];
        let Some(semi) = tail.find(';').filter(|&i| i <= 10) else {
            out.push('&');
            rest = &tail[1..];
            continue;
        };
        let entity = &tail[1..semi];
        let decoded = match entity {
            "amp" => Some('&'),
            "lt" => Some('<'),
            "gt" => Some('>'),
            "quot" => Some('"'),
            "apos" => Some('\''),
            _ => entity
                .strip_prefix("#x")
                .or_else(|| entity.strip_prefix("#X"))
                .and_then(|h| u32::from_str_radix(h, 16).ok())
                .or_else(|| entity.strip_prefix('#').and_then(|d| d.parse().ok()))
                .and_then(char::from_u32),
        };
        match decoded {
            Some(c) => {
                out.push(c);
                rest = &tail[semi + 1..];
            }
            None => {
                out.push('&');
                rest = &tail[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// Escapes text for HTML element content and attribute values.
#[cfg_attr(not(feature = "sim"), allow(dead_code))]
pub(crate) fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const CREATED: &str = r#"<html>
<head><title>Content created /var/workflow/instances/server0/2024-05-02/request_for_activation_7</title></head>
<body>
<h1>Content created /var/workflow/instances/server0/2024-05-02/request_for_activation_7</h1>
<table><tbody>
<tr><td>Status</td><td><div id="Status">201</div></td></tr>
<tr><td>Message</td><td><div id="Message">Created</div></td></tr>
<tr><td>Location</td><td><a href="/var/workflow/instances/server0/2024-05-02/request_for_activation_7" id="Location">/var/workflow/instances/server0/2024-05-02/request_for_activation_7</a></td></tr>
<tr><td>Parent Location</td><td><a href="/var/workflow/instances/server0/2024-05-02" id="ParentLocation">/var/workflow/instances/server0/2024-05-02</a></td></tr>
<tr><td>Path</td><td><div id="Path">/var/workflow/instances/server0/2024-05-02/request_for_activation_7</div></td></tr>
</tbody></table></body></html>"#;

    const CONFLICT: &str = r#"<!DOCTYPE HTML PUBLIC "-//IETF//DTD HTML 2.0//EN">
<html>
<head>
<title>409 Conflict</title>
</head>
<body>
<h1>Conflict (409)</h1>
<p>The requested URL /var/workflow/instances/x resulted in an error.</p>
</body>
</html>"#;

    #[test]
    fn status_page_yields_status_message_and_location() {
        let p = SlingPage::parse(CREATED);
        assert_eq!(p.status, Some(201));
        assert_eq!(p.message.as_deref(), Some("Created"));
        assert_eq!(
            p.location.as_deref(),
            Some("/var/workflow/instances/server0/2024-05-02/request_for_activation_7")
        );
        assert!(p.path.is_some());
    }

    #[test]
    fn error_page_message_comes_from_the_title() {
        let p = SlingPage::parse(CONFLICT);
        assert_eq!(p.status, None);
        assert_eq!(p.message.as_deref(), Some("409 Conflict"));
    }

    #[test]
    fn entities_are_unescaped_once() {
        assert_eq!(
            unescape("a &amp;lt; b &lt; c &#39;d&#x27; &bogus"),
            "a &lt; b < c 'd' &bogus"
        );
        assert_eq!(unescape(&escape("<x a=\"1\">&'")), "<x a=\"1\">&'");
    }

    #[test]
    fn long_or_multiline_messages_are_cut() {
        let body = format!(
            "<div id=\"Message\">javax.jcr.RepositoryException: {}\n\tat x.y</div>",
            "z".repeat(500)
        );
        let m = SlingPage::parse(&body).message.unwrap_or_default();
        assert!(m.chars().count() <= 201);
        assert!(!m.contains("at x.y"));
    }
}
