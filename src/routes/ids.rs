//! Routing of the resource families whose paths carry ids (`/task/{id}/reassign`), segment
//! by segment instead of with actix's regular expressions.
//!
//! actix matches every pattern with a `{name}` part by running a compiled regular
//! expression over the path, one per resource tried in turn: a completion
//! (`/task/{id}/{action}`) ran four before the right one, and the cost grows with the
//! id's length (AEM ids are long). These families are made of literal segments and
//! single-segment captures only, so [`IdRoutes`] takes the family's static prefix
//! (`/task`, matched by actix without a regex) and compares the remaining segments
//! itself. What handlers and the edge see is what resources give them: captures through
//! `web::Path<Seg>`, the route template through [`RouteSlot`] (metrics, logs), 405 with
//! an exception body and `Allow` when a pattern matches but none of its methods does, and the API's
//! 404 when no pattern matches. A capture matches one non-empty segment, as actix's
//! `{name}` does; patterns are tried in the order they were added.

use std::rc::Rc;

use actix_web::dev::{
    AppService, HttpServiceFactory, ResourceDef, ResourceMap, Service, ServiceFactory,
    ServiceRequest, ServiceResponse,
};
use actix_web::{web, Error, Route};
use futures::future::LocalBoxFuture;

use super::{method_not_allowed, not_found, Methods, RouteSlot};

/// A route's running service (its type is not exported by name).
type RouteService = <Route as ServiceFactory<ServiceRequest>>::Service;

/// Most segments a pattern may have (after the prefix).
const MAX_SEGMENTS: usize = 6;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Part {
    /// A segment that must be exactly this text.
    Lit(&'static str),
    /// A non-empty segment captured under this name.
    Cap(&'static str),
}

/// Parses `/a/{b}/c` into parts. Patterns are written in this crate: a malformed one is
/// a programming error, reported when the routes are built.
fn parse(pattern: &'static str) -> Vec<Part> {
    let body = pattern.strip_prefix('/').unwrap_or(pattern);
    let parts: Vec<Part> = body
        .split('/')
        .map(
            |s| match s.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
                Some(name) => Part::Cap(name),
                None => Part::Lit(s),
            },
        )
        .collect();
    assert!(
        !body.is_empty() && parts.len() <= MAX_SEGMENTS,
        "route pattern {pattern:?}: 1 to {MAX_SEGMENTS} segments expected"
    );
    assert!(
        parts.iter().all(|p| match p {
            Part::Lit(s) => !s.is_empty() && !s.contains(['{', '}']),
            Part::Cap(n) => !n.is_empty() && !n.contains(['{', '}', ':']),
        }),
        "route pattern {pattern:?}: literal segments and plain {{name}} captures only"
    );
    parts
}

/// Splits `rest` (`/x/y`, after the prefix) into segment spans; `None` when it is not
/// a run of `/`-led segments or has more than [`MAX_SEGMENTS`].
fn spans(rest: &str) -> Option<([(usize, usize); MAX_SEGMENTS], usize)> {
    let mut out = [(0, 0); MAX_SEGMENTS];
    let mut n = 0;
    let body = rest.strip_prefix('/')?;
    let mut start = 1;
    for seg in body.split('/') {
        if n == MAX_SEGMENTS {
            return None;
        }
        out[n] = (start, start + seg.len());
        n += 1;
        start += seg.len() + 1;
    }
    Some((out, n))
}

/// Whether the segments at `spans` of `rest` fit `pattern`.
fn fits(pattern: &[Part], rest: &str, spans: &[(usize, usize)]) -> bool {
    pattern.len() == spans.len()
        && pattern.iter().zip(spans).all(|(p, &(a, b))| match p {
            Part::Lit(s) => rest.get(a..b) == Some(*s),
            Part::Cap(_) => b > a,
        })
}

struct Entry {
    source: &'static str,
    pattern: Vec<Part>,
    routes: Vec<Route>,
    /// Holds the entry's [`RouteSlot`], added to each request it serves.
    data: Rc<actix_web::dev::Extensions>,
}

/// A family of resources under one static prefix, routed segment by segment.
pub(crate) struct IdRoutes {
    prefix: &'static str,
    entries: Vec<Entry>,
}

impl IdRoutes {
    /// Routes under `prefix` (`/task`), itself registered inside the API scope
    /// ([`crate::normalize::API_ROOT`], which the route templates start with).
    pub(crate) fn new(prefix: &'static str) -> Self {
        Self {
            prefix,
            entries: Vec::new(),
        }
    }

    /// Adds `pattern` (`/{id}/reassign`) answered by `methods`.
    pub(crate) fn at(mut self, pattern: &'static str, methods: Methods) -> Self {
        let template = format!("{}{}{pattern}", crate::normalize::API_ROOT, self.prefix);
        let mut data = actix_web::dev::Extensions::new();
        data.insert(RouteSlot::fixed(&template));
        data.insert(methods.allowed());
        self.entries.push(Entry {
            source: pattern,
            pattern: parse(pattern),
            routes: methods.into_routes(),
            data: Rc::new(data),
        });
        self
    }
}

impl HttpServiceFactory for IdRoutes {
    fn register(self, config: &mut AppService) {
        let rdef = ResourceDef::root_prefix(self.prefix);
        // The patterns are listed in the resource map like a scope's resources, so that
        // `HttpRequest::match_pattern` and route listings see them.
        let mut rmap = ResourceMap::new(rdef.clone());
        for e in &self.entries {
            rmap.add(&mut ResourceDef::new(e.source), None);
        }
        config.register_service(
            rdef,
            None,
            Factory(Rc::new(self.entries)),
            Some(Rc::new(rmap)),
        );
    }
}

struct Factory(Rc<Vec<Entry>>);

impl ServiceFactory<ServiceRequest> for Factory {
    type Response = ServiceResponse;
    type Error = Error;
    type Config = ();
    type Service = IdRoutesService;
    type InitError = ();
    type Future = LocalBoxFuture<'static, Result<Self::Service, Self::InitError>>;

    fn new_service(&self, _: ()) -> Self::Future {
        let entries = Rc::clone(&self.0);
        Box::pin(async move {
            let mut built = Vec::with_capacity(entries.len());
            for e in entries.iter() {
                let mut routes = Vec::with_capacity(e.routes.len());
                for r in &e.routes {
                    routes.push(r.new_service(()).await?);
                }
                built.push(EntryService {
                    pattern: e.pattern.clone(),
                    routes,
                    data: Rc::clone(&e.data),
                });
            }
            Ok(IdRoutesService {
                entries: built,
                not_allowed: web::to(method_not_allowed).new_service(()).await?,
                not_found: web::to(not_found).new_service(()).await?,
            })
        })
    }
}

struct EntryService {
    pattern: Vec<Part>,
    routes: Vec<RouteService>,
    data: Rc<actix_web::dev::Extensions>,
}

/// The running form of [`IdRoutes`] (one per worker).
pub(crate) struct IdRoutesService {
    entries: Vec<EntryService>,
    not_allowed: RouteService,
    not_found: RouteService,
}

impl Service<ServiceRequest> for IdRoutesService {
    type Response = ServiceResponse;
    type Error = Error;
    type Future = LocalBoxFuture<'static, Result<ServiceResponse, Error>>;

    actix_web::dev::always_ready!();

    fn call(&self, mut req: ServiceRequest) -> Self::Future {
        let rest = req.match_info().unprocessed();
        let found = spans(rest).and_then(|(sp, n)| {
            let i = self
                .entries
                .iter()
                .position(|e| fits(&e.pattern, rest, &sp[..n]))?;
            Some((i, sp))
        });
        let Some((i, sp)) = found else {
            return self.not_found.call(req);
        };
        let entry = &self.entries[i];
        for (p, &(a, b)) in entry.pattern.iter().zip(&sp) {
            if let Part::Cap(name) = p {
                // Captures keep the path's text as matched; `web::Path` decodes them.
                let value = req.match_info().unprocessed()[a..b].to_owned();
                req.match_info_mut().add_static(*name, value);
            }
        }
        req.add_data_container(Rc::clone(&entry.data));
        for r in &entry.routes {
            if r.check(&mut req) {
                return r.call(req);
            }
        }
        self.not_allowed.call(req)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_parse_into_literals_and_captures() {
        assert_eq!(parse("/{id}"), vec![Part::Cap("id")]);
        assert_eq!(
            parse("/{doc}/@task/{task}/{action}"),
            vec![
                Part::Cap("doc"),
                Part::Lit("@task"),
                Part::Cap("task"),
                Part::Cap("action")
            ]
        );
    }

    #[test]
    #[should_panic(expected = "plain {name} captures only")]
    fn regex_captures_are_refused() {
        parse("/{doc:.*}/@task");
    }

    #[test]
    fn segments_match_like_actix_single_segment_captures() {
        let m = |pattern: &'static str, rest: &str| {
            spans(rest).is_some_and(|(sp, n)| fits(&parse(pattern), rest, &sp[..n]))
        };
        assert!(m("/{id}", "/abc"));
        assert!(m("/{id}/reassign", "/abc/reassign"));
        assert!(!m("/{id}/reassign", "/abc/reassignx"));
        assert!(!m("/{id}", "/abc/def"));
        assert!(!m("/{id}", "/"));
        assert!(!m("/{id}", ""));
        assert!(!m("/{id}/{action}", "/abc/"));
        assert!(!m("/{id}/{action}", "//x"));
        assert!(m("/{id}/{action}", "/a%2Fb/x"));
        assert!(!m("/{a}/{b}/{c}/{d}/{e}/{f}", "/1/2/3/4/5/6/7"));
        assert!(m("/{a}/{b}/{c}/{d}/{e}/{f}", "/1/2/3/4/5/6"));
    }
}
