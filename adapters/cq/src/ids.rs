//! flowgate ids of CQ objects: reversible, path-safe encodings (base64url without
//! padding) of JCR paths, checked on the way in so that no id can address anything but
//! a workflow instance or work item.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use flowgate_core::EngineError;

/// Encodes a JCR path as a flowgate id.
pub(crate) fn encode(path: &str) -> String {
    URL_SAFE_NO_PAD.encode(path.as_bytes())
}

/// Checks a JCR path before it goes into a URL: absolute, no empty, `.` or `..`
/// segments, no control characters, and no dot in the last segment (Sling would read
/// what follows as selectors and extension, e.g. `.infinity.json`).
pub(crate) fn check_path(path: &str) -> Result<(), EngineError> {
    let Some(rest) = path.strip_prefix('/') else {
        return Err(EngineError::bad_request("CQ paths must be absolute"));
    };
    if rest.is_empty() {
        return Err(EngineError::bad_request("CQ path is empty"));
    }
    if path.chars().any(char::is_control) {
        return Err(EngineError::bad_request(
            "CQ path contains control characters",
        ));
    }
    if rest.split('/').any(|s| matches!(s, "" | "." | "..")) {
        return Err(EngineError::bad_request(
            "CQ path contains empty or relative segments",
        ));
    }
    if rest
        .rsplit('/')
        .next()
        .is_some_and(|last| last.contains('.'))
    {
        return Err(EngineError::bad_request(
            "CQ paths whose last segment contains a dot cannot be addressed",
        ));
    }
    Ok(())
}

/// Whether `id` is plain base64url (what [`encode`] produces); anything else is looked
/// at character by character.
fn is_base64url(id: &str) -> bool {
    id.bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// Decodes an id to a path. Ids that are not encodings of an absolute path are unknown
/// (404); ids carrying path syntax, and paths that would escape, are refused (400).
fn decode(id: &str, what: &str) -> Result<String, EngineError> {
    if id.is_empty()
        || !is_base64url(id)
            && id
                .chars()
                .any(|c| c.is_control() || matches!(c, '/' | '\\' | '%' | '.' | ':' | '?' | '#'))
    {
        return Err(EngineError::bad_request(format!("malformed {what} id")));
    }
    let path = URL_SAFE_NO_PAD
        .decode(id.as_bytes())
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .filter(|p| p.starts_with('/'))
        .ok_or_else(|| EngineError::not_found(format!("unknown {what} id '{id}'")))?;
    check_path(&path)?;
    // A path segment with a dot anywhere could still be read as a selector by Sling.
    if path.contains('.') {
        return Err(EngineError::bad_request(format!("malformed {what} id")));
    }
    Ok(path)
}

/// Decodes a workflow instance id: must be a path under the profile's instance root.
pub(crate) fn workflow_path(id: &str, root: &str) -> Result<String, EngineError> {
    let path = decode(id, "workflow")?;
    if !under(&path, root) || path.contains("/workItems/") {
        return Err(EngineError::not_found(format!(
            "unknown workflow id '{id}'"
        )));
    }
    Ok(path)
}

/// Decodes a task (work item) id: `<instance>/workItems/<name>` under the instance root.
/// Returns the work item path and its instance path.
pub(crate) fn task_path(id: &str, root: &str) -> Result<(String, String), EngineError> {
    let path = decode(id, "task")?;
    let instance = path
        .split_once("/workItems/")
        .filter(|(i, name)| under(i, root) && !name.is_empty() && !name.contains('/'))
        .map(|(i, _)| i.to_owned())
        .ok_or_else(|| EngineError::not_found(format!("unknown task id '{id}'")))?;
    Ok((path, instance))
}

/// Resolves a document reference: a raw absolute path, or the id of one.
pub(crate) fn document_path(doc: &str) -> Result<String, EngineError> {
    if doc.starts_with('/') {
        check_payload(doc)?;
        return Ok(doc.to_owned());
    }
    let path = URL_SAFE_NO_PAD
        .decode(doc.as_bytes())
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .filter(|p| p.starts_with('/'))
        .ok_or_else(|| EngineError::not_found(format!("unknown document '{doc}'")))?;
    check_payload(&path)?;
    Ok(path)
}

/// A payload path goes into form bodies only, so a dot in its last segment is fine
/// (assets are named `photo.jpg`); everything else of [`check_path`] applies.
pub(crate) fn check_payload(path: &str) -> Result<(), EngineError> {
    match path.rsplit_once('/') {
        Some((parent, last)) if last.contains('.') && !parent.is_empty() => {
            check_path(parent)?;
            if last == "." || last == ".." || last.chars().any(char::is_control) {
                return Err(EngineError::bad_request("invalid document path"));
            }
            Ok(())
        }
        _ => check_path(path),
    }
}

fn under(path: &str, root: &str) -> bool {
    path.strip_prefix(root)
        .is_some_and(|rest| rest.starts_with('/') && rest.len() > 1)
}

/// Node id of a work item: its name is `<node>_<instance path with '/'→'_'>[_<k>]`.
pub(crate) fn node_of_item(item: &str, instance: &str) -> Option<String> {
    let name = item.rsplit('/').next()?;
    let flat = instance.trim_start_matches('/').replace('/', "_");
    let at = name.find(&format!("_{flat}"))?;
    (at > 0).then(|| name[..at].to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use flowgate_core::ErrorKind;

    const ROOT: &str = "/var/workflow/instances";

    #[test]
    fn ids_round_trip_and_are_path_safe() {
        let p = "/var/workflow/instances/server0/2024-05-02/my flow_1";
        let id = encode(p);
        assert!(id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'));
        assert_eq!(workflow_path(&id, ROOT).unwrap(), p);
    }

    #[test]
    fn escaping_ids_are_bad_requests() {
        for p in [
            "/var/workflow/instances/../../etc/passwd",
            "/var/workflow/instances/a/./b",
            "/var/workflow/instances//a",
            "/var/workflow/instances/a\r\nHost: evil",
            "/var/workflow/instances/a.infinity",
            "/var/workflow/instances/a%2F..",
        ] {
            let e = workflow_path(&encode(p), ROOT).unwrap_err();
            assert!(
                matches!(e.kind(), ErrorKind::BadRequest | ErrorKind::NotFound),
                "{p}: {e:?}"
            );
            if !p.contains('%') {
                assert_eq!(e.kind(), ErrorKind::BadRequest, "{p}");
            }
        }
        for raw in ["../etc", "a/b", "a%2Fb", "http:x", "a\r\nb"] {
            assert_eq!(
                workflow_path(raw, ROOT).unwrap_err().kind(),
                ErrorKind::BadRequest,
                "{raw:?}"
            );
        }
        assert_eq!(
            workflow_path(&encode("http://evil.example/x"), ROOT)
                .unwrap_err()
                .kind(),
            ErrorKind::NotFound
        );
    }

    #[test]
    fn ids_outside_the_instance_tree_are_unknown() {
        for p in [
            "/content/secret",
            "/var/workflow/instances",
            "/etc/workflow/instances/x",
        ] {
            assert_eq!(
                workflow_path(&encode(p), ROOT).unwrap_err().kind(),
                ErrorKind::NotFound,
                "{p}"
            );
        }
        assert_eq!(
            workflow_path("7d3a8a5e-1f65-4f1a-9c2d-3d0b1f2e9a11", ROOT)
                .unwrap_err()
                .kind(),
            ErrorKind::NotFound
        );
    }

    #[test]
    fn task_ids_name_their_instance_and_node() {
        let i = "/var/workflow/instances/server0/2024-05-02/p_2";
        let w = format!("{i}/workItems/node1_var_workflow_instances_server0_2024-05-02_p_2");
        let (item, inst) = task_path(&encode(&w), ROOT).unwrap();
        assert_eq!((item.as_str(), inst.as_str()), (w.as_str(), i));
        assert_eq!(node_of_item(&w, i).as_deref(), Some("node1"));
        assert_eq!(node_of_item(&format!("{w}_1"), i).as_deref(), Some("node1"));
        assert_eq!(
            task_path(&encode(i), ROOT).unwrap_err().kind(),
            ErrorKind::NotFound
        );
    }

    #[test]
    fn path_checks_refuse_each_rule_with_its_message() {
        for ok in [
            "/a",
            "/a/b",
            "/a.b/c",
            "/x y/jcr:content",
            "/é/\u{2028}",
            "/.a/b/%2F",
        ] {
            assert!(check_path(ok).is_ok(), "{ok:?}");
        }
        for (bad, message) in [
            ("a/b", "absolute"),
            ("/", "empty"),
            ("/a/\tb", "control characters"),
            ("/a/\u{7f}", "control characters"),
            ("/a/\u{85}", "control characters"),
            ("/a/../.b", "empty or relative segments"),
            ("/a//b", "empty or relative segments"),
            ("/a/./b", "empty or relative segments"),
            ("/a/..", "empty or relative segments"),
            ("/a/", "empty or relative segments"),
            ("/a/b.", "contains a dot"),
            ("/a/...", "contains a dot"),
        ] {
            let e = check_path(bad).map(|_| ()).map_err(|e| e.to_string());
            match e {
                Err(e) => assert!(e.contains(message), "{bad:?}: {e} / {message}"),
                Ok(()) => panic!("{bad:?} accepted"),
            }
        }
        // Control characters are reported before segments, segments before the dot.
        let e = check_path("/a//b\t.c").map_err(|e| e.to_string());
        assert!(e.is_err_and(|e| e.contains("control characters")));
        let e = check_path("/a//b.c").map_err(|e| e.to_string());
        assert!(e.is_err_and(|e| e.contains("empty or relative segments")));
    }

    #[test]
    fn documents_may_be_raw_paths_or_ids() {
        assert_eq!(document_path("/content/a b/ü").unwrap(), "/content/a b/ü");
        assert_eq!(document_path(&encode("/content/x")).unwrap(), "/content/x");
        assert_eq!(
            document_path("/content/dam/a.jpg").unwrap(),
            "/content/dam/a.jpg"
        );
        assert!(document_path("/content/../etc").is_err());
    }
}
