//! Per-request rendering context: public base URL, fetch flags, query parameters.

use std::collections::{HashMap, HashSet};

use actix_web::HttpRequest;

use crate::error::ApiError;
use crate::settings::ServerSettings;

/// Query parameters with Nuxeo's tolerance: empty text values are absent, names are
/// exact, unknown names are ignored, repeated names accumulate.
#[derive(Clone, Debug, Default)]
pub struct Params {
    pairs: Vec<(String, String)>,
}

impl Params {
    /// Parses a raw query string (a bare `?` or an empty string gives no parameters).
    pub fn parse(query: &str) -> Self {
        let pairs = url::form_urlencoded::parse(query.as_bytes())
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        Self { pairs }
    }

    /// The request's query parameters.
    pub fn of(req: &HttpRequest) -> Self {
        Self::parse(req.query_string())
    }

    /// First non-blank value of `name`, trimmed.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.pairs
            .iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.trim())
            .find(|v| !v.is_empty())
    }

    /// Every non-blank value of `name`, each split on `,` and trimmed (the Java client
    /// joins lists with commas; principal names never contain one).
    pub fn list(&self, name: &str) -> Vec<String> {
        self.pairs
            .iter()
            .filter(|(k, _)| k == name)
            .flat_map(|(_, v)| v.split(','))
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .map(str::to_owned)
            .collect()
    }

    /// A boolean flag: `true` (any case) is true, anything else false.
    pub fn flag(&self, name: &str) -> bool {
        self.get(name)
            .is_some_and(|v| v.eq_ignore_ascii_case("true"))
    }

    /// A non-negative integer; blank or unparsable values are absent.
    pub fn usize(&self, name: &str) -> Option<usize> {
        self.get(name).and_then(|v| v.parse().ok())
    }

    /// The parameters read into `T` (a `serde` query type): values are trimmed, repeated
    /// names are joined with commas, unknown names are ignored. A value of the wrong type
    /// (`pageSize=ten`, `pageSize=`) is a 400; an optional text field marked with
    /// [`blank_as_none`] reads a blank value as absent.
    pub fn decode<T: serde::de::DeserializeOwned>(&self) -> Result<T, ApiError> {
        let mut merged: Vec<(&str, Vec<&str>)> = Vec::new();
        for (k, raw) in &self.pairs {
            // Trimmed, except that a value of white space alone stays as sent, so that it
            // is refused where the type does not take it (`revoke=%20`).
            let v = match super::requests::trimmed(raw) {
                "" => raw.as_str(),
                v => v,
            };
            match merged.iter_mut().find(|(name, _)| name == k) {
                Some((_, values)) => values.push(v),
                None => merged.push((k, vec![v])),
            }
        }
        // A name whose values are all blank is sent once, blank: text fields read it as
        // absent (see [`blank_as_none`]), numbers and flags refuse it. Otherwise every
        // value counts, so that a list with a blank entry is seen as such.
        let merged = merged.into_iter().map(|(k, values)| {
            if values.iter().all(|v| v.is_empty()) {
                (k, String::new())
            } else {
                (k, values.join(","))
            }
        });
        let query = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(merged)
            .finish();
        actix_web::web::Query::<T>::from_query(&query)
            .map(actix_web::web::Query::into_inner)
            .map_err(|e| {
                ApiError::bad_request(format!(
                    "Invalid query parameters: {}",
                    flowgate_core::shown(&e.to_string())
                ))
            })
    }

    /// All (name, value) pairs, in order.
    pub fn pairs(&self) -> &[(String, String)] {
        &self.pairs
    }
}

/// `deserialize_with` for an optional text query field: a blank value is absent, as
/// Nuxeo treats `?userId=`. Use with `#[serde(default)]`.
pub fn blank_as_none<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    let v: Option<String> = serde::Deserialize::deserialize(d)?;
    Ok(v.filter(|v| !super::requests::trimmed(v).is_empty()))
}

/// Everything the renderers need to know about the request.
#[derive(Clone, Debug, Default)]
pub struct RenderCtx {
    /// Public base URL with context path and trailing slash (`http://h:8080/nuxeo/`).
    pub base: String,
    /// Fetch flags by entity type (`task` → {`actors`, ...}).
    pub fetch: HashMap<String, HashSet<String>>,
    /// Repository name for document entities.
    pub repository: String,
}

/// Where the REST API sits under the public base URL, in every link the gateway writes.
pub const API_PATH: &str = "api/v1/";

impl RenderCtx {
    /// Builds the context of a request from its already parsed query string.
    pub fn with_params(
        req: &HttpRequest,
        server: &ServerSettings,
        repository: &str,
        params: &Params,
    ) -> Self {
        let base = base_url(req, server);
        let mut fetch: HashMap<String, HashSet<String>> = HashMap::new();
        let mut add = |entity: &str, value: &str| {
            let set = fetch.entry(entity.to_owned()).or_default();
            set.extend(
                value
                    .split(',')
                    .map(str::trim)
                    .filter(|t| !t.is_empty())
                    .map(str::to_owned),
            );
        };
        // Header names are already lower case; most requests carry no fetch header, so
        // names are checked before anything is copied.
        for (name, value) in req.headers() {
            if let Some(entity) = fetch_entity(name.as_str()) {
                if let Ok(v) = value.to_str() {
                    add(entity, v);
                }
            }
        }
        for (name, value) in params.pairs() {
            let entity = if name.bytes().any(|b| b.is_ascii_uppercase()) {
                fetch_entity(&name.to_ascii_lowercase()).map(str::to_owned)
            } else {
                fetch_entity(name).map(str::to_owned)
            };
            if let Some(entity) = entity {
                add(&entity, value);
            }
        }
        Self {
            base,
            fetch,
            repository: repository.to_owned(),
        }
    }

    /// Whether `fetch.<entity>` contains `token`.
    pub fn fetches(&self, entity: &str, token: &str) -> bool {
        self.fetch.get(entity).is_some_and(|s| s.contains(token))
    }

    /// `BASE + API_PATH + rest`, `rest` given in parts (joined without a separator).
    pub fn api_url(&self, rest: &[&str]) -> String {
        let len = self.base.len() + API_PATH.len() + rest.iter().map(|p| p.len()).sum::<usize>();
        let mut s = String::with_capacity(len);
        s.push_str(&self.base);
        s.push_str(API_PATH);
        for p in rest {
            s.push_str(p);
        }
        s
    }
}

/// The entity type of a lower-cased fetch header/parameter name, for every spelling
/// Nuxeo accepts: `fetch.E`, `fetch-E`, `x-nxfetch.E`, `x-nxfetch-E`.
fn fetch_entity(name: &str) -> Option<&str> {
    let rest = name.strip_prefix("x-nx").unwrap_or(name);
    let rest = rest.strip_prefix("fetch")?;
    let e = rest.strip_prefix('.').or_else(|| rest.strip_prefix('-'))?;
    (!e.is_empty()).then_some(e)
}

const X_FORWARDED_PROTO: actix_web::http::header::HeaderName =
    actix_web::http::header::HeaderName::from_static("x-forwarded-proto");
const X_FORWARDED_HOST: actix_web::http::header::HeaderName =
    actix_web::http::header::HeaderName::from_static("x-forwarded-host");

/// The public base URL: configured, or derived from the request's Host (and
/// X-Forwarded-* when trusted), always ending with the context path and `/`.
pub fn base_url(req: &HttpRequest, server: &ServerSettings) -> String {
    if !server.public_base_url.is_empty() {
        let mut b = server.public_base_url.clone();
        if !b.ends_with('/') {
            b.push('/');
        }
        return b;
    }
    let first = |name: &str| {
        req.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(',').next())
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .map(str::to_owned)
    };
    let headers = req.headers();
    let forwarded = server.trust_forwarded_headers
        && (headers.contains_key(actix_web::http::header::FORWARDED)
            || headers.contains_key(X_FORWARDED_PROTO)
            || headers.contains_key(X_FORWARDED_HOST));
    if !forwarded {
        if let Some(h) = req
            .headers()
            .get(actix_web::http::header::HOST)
            .and_then(|v| v.to_str().ok())
            .filter(|h| valid_host(h))
        {
            // The common case: no forwarding headers (or untrusted ones), so the Host
            // header and the listener's scheme say it all, without building the
            // connection info.
            let scheme = if req.app_config().secure() {
                "https://"
            } else {
                "http://"
            };
            let mut b =
                String::with_capacity(scheme.len() + h.len() + server.context_path.len() + 1);
            b.push_str(scheme);
            b.push_str(h);
            b.push_str(&server.context_path);
            b.push('/');
            return b;
        }
    }
    // When nothing in the request names a host (HTTP/1.0 without `Host`), actix answers
    // with the server's own host, which `HttpServer` sets to the bound address.
    let info = req.connection_info();
    let (mut scheme, mut host) = (info.scheme().to_owned(), info.host().to_owned());
    if server.trust_forwarded_headers {
        if let Some(p) = first("x-forwarded-proto") {
            scheme = p;
        }
        if let Some(h) = first("x-forwarded-host") {
            host = h;
        }
    } else if let Some(h) = req
        .headers()
        .get(actix_web::http::header::HOST)
        .and_then(|v| v.to_str().ok())
    {
        // connection_info() honours Forwarded headers by itself; use Host only.
        host = h.to_owned();
        scheme = if req.app_config().secure() {
            "https".into()
        } else {
            "http".into()
        };
    }
    // Whatever the headers said, links only ever get an http(s) scheme and a
    // syntactically valid host: anything else falls back to the listener's view.
    let listener_scheme = if req.app_config().secure() {
        "https"
    } else {
        "http"
    };
    if !matches!(scheme.as_str(), "http" | "https") {
        scheme = listener_scheme.to_owned();
    }
    if !valid_host(&host) {
        host = req
            .headers()
            .get(actix_web::http::header::HOST)
            .and_then(|v| v.to_str().ok())
            .filter(|h| valid_host(h))
            .map(str::to_owned)
            .or_else(|| Some(req.app_config().host().to_owned()).filter(|h| valid_host(h)))
            .unwrap_or_else(|| "localhost".to_owned());
    }
    format!("{scheme}://{host}{}/", server.context_path)
}

/// Whether `h` is a `host[:port]` fit for a link: a DNS name or IPv4 address of letters,
/// digits, dots and hyphens, or a bracketed IPv6 address, with an optional numeric port.
pub fn valid_host(h: &str) -> bool {
    if h.is_empty() || h.len() > 255 {
        return false;
    }
    let (host, port) = if let Some(rest) = h.strip_prefix('[') {
        let Some((addr, after)) = rest.split_once(']') else {
            return false;
        };
        if addr.is_empty()
            || !addr
                .bytes()
                .all(|b| b.is_ascii_hexdigit() || b == b':' || b == b'.')
        {
            return false;
        }
        match after {
            "" => return true,
            p => match p.strip_prefix(':') {
                Some(port) => ("x", Some(port)),
                None => return false,
            },
        }
    } else {
        match h.split_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (h, None),
        }
    };
    let host_ok = !host.is_empty()
        && !host.starts_with(['.', '-'])
        && host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-');
    let port_ok =
        port.is_none_or(|p| !p.is_empty() && p.len() <= 5 && p.bytes().all(|b| b.is_ascii_digit()));
    host_ok && port_ok
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_fit_for_links() {
        for ok in [
            "example.com",
            "wf.example.com:8443",
            "127.0.0.1:8080",
            "[::1]:8080",
            "[::1]",
            "localhost",
        ] {
            assert!(valid_host(ok), "{ok}");
        }
        for bad in [
            "",
            "javascript://x%0aalert(1)//",
            "a b",
            "evil.com/path",
            "h:port",
            "h:123456",
            "[::1",
            "x@y",
            "-x.com",
            "h:",
        ] {
            assert!(!valid_host(bad), "{bad}");
        }
    }

    #[test]
    fn blank_values_are_absent_and_lists_split_on_commas() {
        let p = Params::parse("userId=&workflowModelName=Serial&actors=a,b&actors=c&actors=");
        assert_eq!(p.get("userId"), None);
        assert_eq!(p.get("workflowModelName"), Some("Serial"));
        assert_eq!(p.list("actors"), vec!["a", "b", "c"]);
        assert!(Params::parse("").pairs().is_empty());
    }

    #[test]
    fn every_fetch_spelling_names_its_entity() {
        for n in [
            "fetch.task",
            "fetch-task",
            "x-nxfetch.task",
            "x-nxfetch-task",
        ] {
            assert_eq!(fetch_entity(n), Some("task"), "{n}");
        }
        assert_eq!(fetch_entity("fetch"), None);
        assert_eq!(fetch_entity("x-nxproperties"), None);
        assert_eq!(fetch_entity("enrichers-user"), None);
    }
}
