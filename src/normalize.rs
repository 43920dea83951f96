//! Request path normalisation, done once before routing.
//!
//! The API answers under several mounts (`/nuxeo/site/api/v1`, `/nuxeo/api/v1`, `/api/v1`,
//! each optionally followed by `/repo/{name}`). Rather than registering the resource tree
//! six times, which makes every request walk six scopes' patterns, one middleware
//! ([`middleware`], the outermost) rewrites every mount to the canonical `/api/v1`, keeps the repository named by a
//! `/repo/{name}` segment in the request's extensions ([`RepoSegment`]), and merges
//! repeated slashes and trims a trailing one, as Nuxeo tolerates both. Paths that need
//! no change are not touched (no allocation).

use std::rc::Rc;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::uri::{PathAndQuery, Uri};
use actix_web::middleware::Next;
use actix_web::HttpMessage;

/// The canonical API mount every other mount is rewritten to.
pub const API_ROOT: &str = "/api/v1";

/// The repository named by a `/repo/{name}` segment of the request path.
#[derive(Clone, Debug)]
pub struct RepoSegment(pub String);

/// The path as the client sent it, kept when the gateway rewrote it (error messages
/// quote what the client asked for).
#[derive(Clone, Debug)]
pub struct OriginalPath(pub String);

/// The rewriting rules: the API mounts, longest first.
#[derive(Clone, Debug)]
pub struct Mounts {
    prefixes: Vec<String>,
}

impl Mounts {
    /// Mounts of the API (`prefixes` as built from the context path).
    pub fn new(mut prefixes: Vec<String>) -> Self {
        prefixes.sort_by_key(|p| std::cmp::Reverse(p.len()));
        Self { prefixes }
    }

    /// The canonical form of `path` and the repository it names, or `None` when the
    /// path is already canonical.
    pub fn canonical(&self, path: &str) -> Option<(String, Option<String>)> {
        let tidy = tidy_slashes(path);
        let p: &str = tidy.as_deref().unwrap_or(path);
        for prefix in &self.prefixes {
            let Some(rest) = p.strip_prefix(prefix.as_str()) else {
                continue;
            };
            if !(rest.is_empty() || rest.starts_with('/')) {
                continue;
            }
            let (repo, rest) = match rest.strip_prefix("/repo/") {
                Some(after) => {
                    let name = after.split('/').next().unwrap_or("");
                    if name.is_empty() {
                        (None, rest)
                    } else {
                        (Some(name.to_owned()), &after[name.len()..])
                    }
                }
                None => (None, rest),
            };
            if prefix == API_ROOT && repo.is_none() {
                break;
            }
            let mut out = String::with_capacity(API_ROOT.len() + rest.len());
            out.push_str(API_ROOT);
            out.push_str(rest);
            return Some((out, repo));
        }
        tidy.map(|t| (t, None))
    }
}

/// `path` with runs of `/` merged and a trailing `/` trimmed, or `None` when it has
/// neither.
fn tidy_slashes(path: &str) -> Option<String> {
    let doubled = path.contains("//");
    let trailing = path.len() > 1 && path.ends_with('/');
    if !doubled && !trailing {
        return None;
    }
    let mut out = String::with_capacity(path.len());
    let mut last_slash = false;
    for c in path.chars() {
        if c == '/' && last_slash {
            continue;
        }
        last_slash = c == '/';
        out.push(c);
    }
    if out.len() > 1 && out.ends_with('/') {
        out.pop();
    }
    Some(out)
}

/// The middleware: rewrites the path with [`rewrite`], then lets the request through.
pub async fn middleware<B: MessageBody>(
    mounts: Rc<Mounts>,
    mut req: ServiceRequest,
    next: Next<B>,
) -> Result<ServiceResponse<B>, actix_web::Error> {
    rewrite(&mounts, &mut req);
    next.call(req).await
}

/// Rewrites the request path to its canonical form (before routing).
pub fn rewrite(mounts: &Mounts, req: &mut ServiceRequest) {
    let Some((path, repo)) = mounts.canonical(req.path()) else {
        return;
    };
    let mut parts = req.head().uri.clone().into_parts();
    let with_query = match parts.path_and_query.as_ref().and_then(|pq| pq.query()) {
        Some(q) => format!("{path}?{q}"),
        None => path,
    };
    // The rewritten path is made of the original's characters, so it parses; if it
    // somehow does not, the request is routed as sent.
    let Ok(pq) = PathAndQuery::try_from(with_query) else {
        return;
    };
    parts.path_and_query = Some(pq);
    let Ok(uri) = Uri::from_parts(parts) else {
        return;
    };
    let original = req.path().to_owned();
    req.match_info_mut().get_mut().update(&uri);
    req.head_mut().uri = uri;
    let mut ext = req.extensions_mut();
    ext.insert(OriginalPath(original));
    if let Some(r) = repo {
        ext.insert(RepoSegment(r));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mounts() -> Mounts {
        Mounts::new(vec![
            "/nuxeo/site/api/v1".into(),
            "/nuxeo/api/v1".into(),
            "/api/v1".into(),
        ])
    }

    #[test]
    fn canonical_paths_are_left_alone() {
        let m = mounts();
        assert_eq!(m.canonical("/api/v1/task/x"), None);
        assert_eq!(m.canonical("/api/v1"), None);
        assert_eq!(m.canonical("/"), None);
        assert_eq!(m.canonical("/nuxeo/json/cmis"), None);
        assert_eq!(m.canonical("/metrics"), None);
    }

    #[test]
    fn every_mount_becomes_the_canonical_one() {
        let m = mounts();
        let c = |p: &str| m.canonical(p);
        assert_eq!(
            c("/nuxeo/api/v1/task/x"),
            Some(("/api/v1/task/x".into(), None))
        );
        assert_eq!(
            c("/nuxeo/site/api/v1/workflow"),
            Some(("/api/v1/workflow".into(), None))
        );
        assert_eq!(
            c("/nuxeo/site/api/v1/repo/other/task/x/approve"),
            Some(("/api/v1/task/x/approve".into(), Some("other".into())))
        );
        assert_eq!(
            c("/api/v1/repo/default/id/d/@workflow"),
            Some(("/api/v1/id/d/@workflow".into(), Some("default".into())))
        );
        assert_eq!(
            c("/api/v1/repo/r"),
            Some(("/api/v1".into(), Some("r".into())))
        );
    }

    #[test]
    fn lookalike_prefixes_are_not_mounts() {
        let m = mounts();
        assert_eq!(m.canonical("/api/v1x/task"), None);
        assert_eq!(m.canonical("/nuxeo/api/v10/task"), None);
        // An empty repository name is not a repository segment.
        assert_eq!(
            m.canonical("/nuxeo/api/v1/repo/"),
            Some(("/api/v1/repo".into(), None))
        );
    }

    #[test]
    fn repeated_and_trailing_slashes_are_tidied() {
        let m = mounts();
        assert_eq!(
            m.canonical("/api/v1//task///x/"),
            Some(("/api/v1/task/x".into(), None))
        );
        assert_eq!(
            m.canonical("//nuxeo/api/v1/task/"),
            Some(("/api/v1/task".into(), None))
        );
        assert_eq!(m.canonical("/metrics/"), Some(("/metrics".into(), None)));
    }
}
