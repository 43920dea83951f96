//! What a remote engine may see: ids and document paths checked before any call
//! ([`check_remote_id`], [`check_remote_path`]), and the caller's own credentials for
//! the engines that pass them through.

use base64::Engine as _;
use flowgate_core::{Credentials, EngineError, Result, Secret};

use super::{EngineEntry, MAX_REMOTE_ID, MAX_REMOTE_PATH};

/// Refuses an id a remote engine must never see: empty, over-long, control characters,
/// path separators, escapes, query or fragment markers, dot segments, absolute URLs.
pub fn check_remote_id(e: &EngineEntry, id: &str) -> Result<()> {
    match remote_id_problem(id) {
        None => Ok(()),
        Some(why) => Err(EngineError::bad_request(format!(
            "Invalid id for engine '{}': {why}",
            e.name
        ))),
    }
}

/// What is wrong with a remote id, if anything (see [`check_remote_id`]).
fn remote_id_problem(id: &str) -> Option<String> {
    if id.is_empty() {
        return Some("empty".into());
    }
    if id.len() > MAX_REMOTE_ID {
        return Some(format!("longer than {MAX_REMOTE_ID} bytes"));
    }
    if id.chars().any(|c| c.is_control() || c.is_whitespace()) {
        return Some("control or white-space characters".into());
    }
    if id
        .chars()
        .any(|c| matches!(c, '/' | '\\' | '%' | '?' | '#' | '&' | '@'))
    {
        return Some("path, query or escape characters".into());
    }
    // Absolute URLs (`scheme://…`) need a `/`, already refused above.
    if id == "." || id == ".." {
        return Some("relative or absolute location".into());
    }
    None
}

/// Refuses a document path a remote engine must never see: relative, over-long, empty or
/// dot segments, back-slashes, escapes, control characters.
pub fn check_remote_path(e: &EngineEntry, path: &str) -> Result<()> {
    let bad = |why: &str| {
        Err(EngineError::bad_request(format!(
            "Invalid document path for engine '{}': {why}",
            e.name
        )))
    };
    if !path.starts_with('/') {
        return bad("not absolute");
    }
    if path.len() > MAX_REMOTE_PATH {
        return bad(&format!("longer than {MAX_REMOTE_PATH} bytes"));
    }
    if path.chars().any(|c| c.is_control()) {
        return bad("control characters");
    }
    if path.chars().any(|c| matches!(c, '\\' | '%' | '?' | '#')) {
        return bad("escape, query or back-slash characters");
    }
    if path.len() > 1
        && path[1..]
            .split('/')
            .any(|s| s.is_empty() || s == "." || s == "..")
    {
        return bad("empty or dot segments");
    }
    Ok(())
}

/// Parses `Authorization: Basic` into credentials for pass-through engines.
pub fn basic_credentials(header: &str) -> Option<Credentials> {
    let (scheme, rest) = header.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let raw = base64::engine::general_purpose::STANDARD
        .decode(rest.trim())
        .ok()?;
    let s = String::from_utf8(raw).ok()?;
    let (u, p) = s.split_once(':')?;
    Some(Credentials::Basic {
        user: u.to_owned(),
        password: Secret::new(p),
    })
}

/// Parses `Authorization: Bearer` into credentials for pass-through engines.
pub fn bearer_credentials(header: &str) -> Option<Credentials> {
    let (scheme, rest) = header.trim().split_once(' ')?;
    let token = rest.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty())
        .then(|| Credentials::Bearer(Secret::new(token)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remote_ids_are_judged_the_same_with_or_without_the_ascii_fast_path() {
        // Every character class the checks know, alone and inside a plain id.
        let mut singles: Vec<String> = (0u8..0x80).map(|b| char::from(b).to_string()).collect();
        singles.extend(
            [
                "\u{a0}", "\u{85}", "\u{2028}", "\u{3000}", "é", "中", "\u{feff}", "://", ":/",
                "::", ":",
            ]
            .map(String::from),
        );
        for c in &singles {
            for id in [
                c.clone(),
                format!("abc{c}def"),
                format!("{c}x"),
                format!("x{c}"),
            ] {
                let slow = if id.chars().any(|c| c.is_control() || c.is_whitespace()) {
                    Some("control or white-space characters")
                } else if id
                    .chars()
                    .any(|c| matches!(c, '/' | '\\' | '%' | '?' | '#' | '&' | '@'))
                {
                    Some("path, query or escape characters")
                } else if id == "." || id == ".." || id.contains("://") {
                    Some("relative or absolute location")
                } else {
                    None
                };
                assert_eq!(remote_id_problem(&id).as_deref(), slow, "{id:?}");
            }
        }
        assert_eq!(
            remote_id_problem("..").as_deref(),
            Some("relative or absolute location")
        );
        assert_eq!(remote_id_problem("").as_deref(), Some("empty"));
        assert!(remote_id_problem(&"b".repeat(MAX_REMOTE_ID + 1)).is_some());
        assert!(remote_id_problem("L2NvbnRlbnQvZmxvd2dhdGUvZW4vcGFnZS1h.3").is_none());
    }

    #[test]
    fn basic_header_becomes_redacted_credentials() {
        let c = basic_credentials("Basic amRvZTpzM2NyZXQ=").unwrap();
        assert!(!format!("{c:?}").contains("s3cret"));
        assert!(basic_credentials("Bearer x").is_none());
        assert!(basic_credentials("Basic !!!").is_none());
        let b = bearer_credentials("Bearer  eyJ.payload.sig ").unwrap();
        assert_eq!(b, Credentials::Bearer(Secret::new("eyJ.payload.sig")));
        assert!(!format!("{b:?}").contains("payload"));
        assert!(bearer_credentials("Basic amRvZTpzM2NyZXQ=").is_none());
        assert!(bearer_credentials("Bearer ").is_none());
    }
}
