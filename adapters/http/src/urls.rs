//! Building upstream URLs from client-supplied pieces without letting them escape.

use flowgate_core::EngineError;
use percent_encoding::{utf8_percent_encode, AsciiSet, CONTROLS};

use crate::request::Target;

/// Characters encoded inside one path segment: everything that could end the segment,
/// start a query or fragment, or be read as an escape (`%`).
const SEGMENT: &AsciiSet = &CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b'#')
    .add(b'%')
    .add(b'/')
    .add(b'<')
    .add(b'>')
    .add(b'?')
    .add(b'[')
    .add(b'\\')
    .add(b']')
    .add(b'^')
    .add(b'`')
    .add(b'{')
    .add(b'|')
    .add(b'}');

const MAX_SEGMENT: usize = 1024;
const MAX_PATH: usize = 4096;

/// Whether a segment keeps byte `b` as it is: printable ASCII outside [`SEGMENT`] (a
/// test holds the two to the same set).
const fn plain(b: u8) -> bool {
    b > b' '
        && b < 0x7f
        && !matches!(
            b,
            b'"' | b'#'
                | b'%'
                | b'/'
                | b'<'
                | b'>'
                | b'?'
                | b'['
                | b'\\'
                | b']'
                | b'^'
                | b'`'
                | b'{'
                | b'|'
                | b'}'
        )
}

/// Refuses empty, relative and over-long pieces.
fn check_shape(piece: &str, what: &str) -> Result<(), EngineError> {
    if piece.is_empty() {
        return Err(EngineError::bad_request(format!("empty {what}")));
    }
    if piece == "." || piece == ".." {
        return Err(EngineError::bad_request(format!(
            "{what} must not be a relative path component"
        )));
    }
    if piece.len() > MAX_SEGMENT {
        return Err(EngineError::bad_request(format!(
            "{what} is longer than {MAX_SEGMENT} bytes"
        )));
    }
    Ok(())
}

fn check_piece(piece: &str, what: &str) -> Result<(), EngineError> {
    check_shape(piece, what)?;
    if piece.chars().any(char::is_control) {
        return Err(EngineError::bad_request(format!(
            "{what} contains control characters"
        )));
    }
    Ok(())
}

fn push_segment(path: &mut String, piece: &str) {
    path.push('/');
    if piece.bytes().all(plain) {
        path.push_str(piece);
        return;
    }
    for part in utf8_percent_encode(piece, SEGMENT) {
        path.push_str(part);
    }
}

/// Appends encoded `segments` (each one path segment) and optionally an absolute path
/// (split on `/`) to the base URL's path.
pub(crate) fn join(
    base: &url::Url,
    segments: &[&str],
    abs_path: Option<&str>,
) -> Result<Target, EngineError> {
    let mut path = String::with_capacity(128);
    path.push_str(base.path().trim_end_matches('/'));
    for s in segments {
        check_piece(s, "id")?;
        push_segment(&mut path, s);
    }
    if let Some(p) = abs_path {
        if p.len() > MAX_PATH {
            return Err(EngineError::bad_request(format!(
                "path is longer than {MAX_PATH} bytes"
            )));
        }
        let rest = p
            .strip_prefix('/')
            .ok_or_else(|| EngineError::bad_request("path must be absolute"))?;
        if rest.bytes().all(|b| b == b'/' || plain(b)) {
            // Nothing to encode and no control characters (the usual repository path):
            // only the pieces' shapes to check, then copied whole.
            if !rest.is_empty() {
                for piece in rest.split('/') {
                    check_shape(piece, "path segment")?;
                }
                path.push('/');
                path.push_str(rest);
            }
        } else {
            for piece in rest.split('/') {
                check_piece(piece, "path segment")?;
                push_segment(&mut path, piece);
            }
        }
    }
    if path.is_empty() {
        path.push('/');
    }
    Ok(Target::from_encoded_path(path))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base() -> url::Url {
        "http://127.0.0.1:9/alfresco/".parse().unwrap()
    }

    #[test]
    fn segments_are_encoded_and_stay_under_the_base() {
        let u = join(&base(), &["tasks", "a/b?c#d%2F"], None).unwrap();
        assert_eq!(u.path(), "/alfresco/tasks/a%2Fb%3Fc%23d%252F");
        assert_eq!(u.query(), None);
        let root = join(&"http://127.0.0.1:9".parse().unwrap(), &[], None).unwrap();
        assert_eq!(root.as_str(), "/");
        let u = join(&base(), &["é ü", "a b"], None).unwrap();
        assert_eq!(u.path(), "/alfresco/%C3%A9%20%C3%BC/a%20b");
    }

    #[test]
    fn traversal_and_control_characters_are_refused() {
        for bad in ["..", ".", "", "a\r\nHost: evil", "x\0"] {
            let e = join(&base(), &[bad], None).unwrap_err();
            assert_eq!(e.kind(), flowgate_core::ErrorKind::BadRequest, "{bad:?}");
        }
        assert!(join(&base(), &[&"a".repeat(2000)], None).is_err());
    }

    #[test]
    fn plain_bytes_are_exactly_those_the_segment_set_keeps() {
        for b in 0u8..=0x7f {
            let c = [b];
            let s = std::str::from_utf8(&c).unwrap();
            let kept = utf8_percent_encode(s, SEGMENT).to_string() == s;
            assert_eq!(plain(b), kept, "byte {b:#04x}");
        }
        for b in 0x80u8..=0xff {
            assert!(!plain(b), "byte {b:#04x}");
        }
        // Both paths of `join` give the same target for the same pieces.
        for p in ["/content/a-b_c/jcr:content", "/x/y~z/@v", "/a b/c", "/é/x"] {
            let whole = join(&base(), &[], Some(p)).unwrap();
            let mut by_piece = String::from("/alfresco");
            for piece in p[1..].split('/') {
                by_piece.push('/');
                by_piece.push_str(&utf8_percent_encode(piece, SEGMENT).to_string());
            }
            assert_eq!(whole.path(), by_piece, "{p}");
        }
    }

    #[test]
    fn absolute_urls_cannot_change_the_host() {
        let u = join(&base(), &["http://evil.example/x"], None).unwrap();
        assert_eq!(u.path(), "/alfresco/http:%2F%2Fevil.example%2Fx");
    }

    #[test]
    fn repository_paths_keep_slashes_and_encode_pieces() {
        let u = join(
            &base(),
            &["bin", "workflow"],
            Some("/content/my site/jcr:content"),
        )
        .unwrap();
        assert_eq!(
            u.path(),
            "/alfresco/bin/workflow/content/my%20site/jcr:content"
        );
        for bad in ["relative/x", "/a/../b", "/a//b", "/a/./b"] {
            assert!(join(&base(), &[], Some(bad)).is_err(), "{bad}");
        }
    }
}
