//! Cross-origin access for browser clients (the Nuxeo JS client in a web page, the API
//! Playground): which origins may call flowgate, and the CORS middleware built from that.
//!
//! Nothing is allowed by default: with an empty `cors.allowed_origins` the gateway adds no
//! CORS headers and browsers keep other origins out. An allowed origin gets preflights
//! answered without authentication (browsers never send credentials on a preflight), its
//! `Access-Control-Request-Headers` echoed (the clients send header families such as
//! `X-NXfetch.*` that cannot be listed one by one) and, unless the rule is `*`,
//! credentials allowed.

use actix_cors::Cors;
use actix_web::http::header::HeaderValue;
use serde::Deserialize;

/// Methods browsers may use cross-origin: the API's plus `OPTIONS` (the API answers no
/// `HEAD`, so it is not offered).
pub const ALLOWED_METHODS: [&str; 5] = ["GET", "POST", "PUT", "DELETE", "OPTIONS"];

/// `[cors]`
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CorsSettings {
    /// Origins allowed to call the gateway from a browser: exact origins
    /// (`https://playground.example.com`), origins with any port (`http://localhost:*`),
    /// or `*` for every origin (then without credentials). Empty: no CORS at all.
    pub allowed_origins: Vec<String>,
    /// Let browsers send credentials (Basic auth, cookies) cross-origin. Never applied to
    /// the `*` rule: browsers refuse credentials with a wildcard origin anyway.
    pub allow_credentials: bool,
    /// How long browsers may cache a preflight answer, in seconds.
    pub max_age_secs: usize,
}

impl Default for CorsSettings {
    fn default() -> Self {
        Self {
            allowed_origins: Vec::new(),
            allow_credentials: true,
            max_age_secs: 3600,
        }
    }
}

/// One `allowed_origins` entry, parsed.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Rule {
    /// `*`: any origin.
    Any,
    /// `scheme://host[:port]`, compared exactly (ASCII case-insensitively).
    Exact(String),
    /// `scheme://host:*`: the host on any port; the part before `*` is kept.
    AnyPort(String),
}

impl Rule {
    fn parse(s: &str) -> Result<Self, String> {
        let s = s.trim();
        if s == "*" {
            return Ok(Rule::Any);
        }
        let (scheme, rest) = s
            .split_once("://")
            .ok_or_else(|| format!("'{s}' is not an origin (scheme://host[:port])"))?;
        if !matches!(scheme, "http" | "https") {
            return Err(format!("'{s}': the scheme must be http or https"));
        }
        if rest.is_empty() || rest.contains('/') {
            return Err(format!(
                "'{s}' is not an origin: no path, not even a trailing '/'"
            ));
        }
        if let Some(host) = rest.strip_suffix(":*") {
            if host.is_empty() || host.contains(['*', ':']) {
                return Err(format!("'{s}': only the port may be '*'"));
            }
            return Ok(Rule::AnyPort(
                format!("{scheme}://{host}:").to_ascii_lowercase(),
            ));
        }
        if rest.contains('*') {
            return Err(format!("'{s}': only the port may be '*'"));
        }
        if let Some((_, port)) = rest.rsplit_once(':') {
            if !rest.ends_with(']') && port.parse::<u16>().is_err() {
                return Err(format!("'{s}': '{port}' is not a port"));
            }
        }
        Ok(Rule::Exact(s.to_ascii_lowercase()))
    }

    fn matches(&self, origin: &str) -> bool {
        let origin = origin.to_ascii_lowercase();
        match self {
            Rule::Any => true,
            Rule::Exact(o) => *o == origin,
            Rule::AnyPort(prefix) => origin
                .strip_prefix(prefix.as_str())
                .is_some_and(|port| !port.is_empty() && port.bytes().all(|b| b.is_ascii_digit())),
        }
    }
}

/// Problems with `[cors]`, one line per bad entry, naming its key.
pub fn validate(s: &CorsSettings) -> Vec<String> {
    s.allowed_origins
        .iter()
        .enumerate()
        .filter_map(|(i, o)| {
            Rule::parse(o)
                .err()
                .map(|e| format!("cors.allowed_origins[{i}]: {e}"))
        })
        .collect()
}

/// The CORS middleware for `s`, or `None` when no origin is allowed. Invalid entries were
/// refused by [`validate`] at start-up; should one get here it is skipped, never widened.
pub fn middleware(s: &CorsSettings) -> Option<Cors> {
    let rules: Vec<Rule> = s
        .allowed_origins
        .iter()
        .filter_map(|o| Rule::parse(o).ok())
        .collect();
    if rules.is_empty() {
        return None;
    }
    let wildcard = rules.contains(&Rule::Any);
    let mut cors = Cors::default()
        .allowed_methods(ALLOWED_METHODS)
        // Echoes Access-Control-Request-Headers: the clients' header families
        // (X-NXfetch.*, enrichers-*, ...) cannot be enumerated.
        .allow_any_header()
        .expose_headers(["x-request-id", "www-authenticate"])
        .max_age(s.max_age_secs);
    if wildcard {
        cors = cors.allow_any_origin().send_wildcard();
    } else {
        cors = cors.allowed_origin_fn(move |origin: &HeaderValue, _| {
            origin
                .to_str()
                .is_ok_and(|o| rules.iter().any(|r| r.matches(o)))
        });
        if s.allow_credentials {
            cors = cors.supports_credentials();
        }
    }
    Some(cors)
}

/// Drops `Access-Control-Allow-Credentials` from answers that allow no origin (requests
/// without `Origin`, or from origins not allowed): the CORS middleware adds it to every
/// answer once credentials are supported, which tells nothing useful and misleads
/// scanners and reviewers into reading a wide-open policy.
pub async fn credentials_only_with_origin(
    req: actix_web::dev::ServiceRequest,
    next: actix_web::middleware::Next<impl actix_web::body::MessageBody>,
) -> Result<actix_web::dev::ServiceResponse<impl actix_web::body::MessageBody>, actix_web::Error> {
    use actix_web::http::header;
    let mut res = next.call(req).await?;
    let headers = res.headers_mut();
    if !headers.contains_key(header::ACCESS_CONTROL_ALLOW_ORIGIN) {
        headers.remove(header::ACCESS_CONTROL_ALLOW_CREDENTIALS);
    }
    Ok(res)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins_match_exactly_or_on_any_port() {
        let exact = Rule::parse("https://Playground.example.com").unwrap();
        assert!(exact.matches("https://playground.example.com"));
        assert!(!exact.matches("https://playground.example.com:8443"));
        assert!(!exact.matches("http://playground.example.com"));
        let local = Rule::parse("http://localhost:*").unwrap();
        assert!(local.matches("http://localhost:5173"));
        assert!(!local.matches("http://localhost"));
        assert!(!local.matches("http://localhost:80.evil.com"));
        assert!(!local.matches("http://localhost.evil.com:80"));
        assert!(Rule::parse("*")
            .unwrap()
            .matches("https://anything.example"));
    }

    #[test]
    fn malformed_origins_are_reported_with_their_key() {
        let s = CorsSettings {
            allowed_origins: vec![
                "http://ok.example".into(),
                "ok.example".into(),
                "http://x.example/".into(),
                "http://*.example".into(),
                "ftp://x.example".into(),
                "http://x.example:port".into(),
            ],
            ..CorsSettings::default()
        };
        let errs = validate(&s);
        assert_eq!(errs.len(), 5, "{errs:?}");
        assert!(errs[0].starts_with("cors.allowed_origins[1]"), "{errs:?}");
    }

    #[test]
    fn no_origins_means_no_middleware() {
        assert!(middleware(&CorsSettings::default()).is_none());
    }
}
