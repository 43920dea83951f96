//! Checking the `[[webhooks]]` endpoints ([`WebhooksSettings::problems`] at start-up,
//! [`WebhooksSettings::resolve`] when the dispatchers are built): every problem named
//! by its key, and the endpoints in the dispatcher's form, their secrets resolved to
//! keys.

use std::time::Duration;

use flowgate_core::{EventKind, Secret};

use super::webhooks::{
    parse_span, redact_url, Endpoint, EndpointSettings, Start, WebhooksSettings,
};
use crate::webhooks::signing::SigningKey;

impl WebhooksSettings {
    /// Problems with the values, each naming its key. `engines` are the configured
    /// engine names. A secret given by `secret_env` is checked when the endpoints are
    /// built ([`WebhooksSettings::resolve`]).
    pub fn problems(&self, engines: &[String]) -> Vec<String> {
        let mut out = Vec::new();
        let mut seen = std::collections::HashSet::new();
        for (i, e) in self.endpoints.iter().enumerate() {
            let key = self.key(i);
            if let Err(mut p) = check(e, &key, engines, &|_| None, false) {
                out.append(&mut p);
            }
            if !seen.insert(e.name.as_str()) {
                out.push(format!(
                    "{key}.name: another endpoint is already named '{}'",
                    e.name
                ));
            }
        }
        if let Some(dir) = &self.state_dir {
            if dir.as_os_str().is_empty() {
                out.push("webhooks.state_dir: must not be empty; omit it instead".into());
            }
        }
        if let Some(n) = self.niceness {
            if !(0..=19).contains(&n) {
                out.push(format!(
                    "webhooks.niceness: {n} is not between 0 (the API's priority) and 19 (the lowest)"
                ));
            }
        }
        out
    }

    /// The endpoints in the dispatcher's form; `env` reads the variables named by
    /// `secret_env`. Fails with every problem, each naming its key.
    pub fn resolve(
        &self,
        engines: &[String],
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Vec<Endpoint>, Vec<String>> {
        let mut out = Vec::new();
        let mut errs = Vec::new();
        for (i, e) in self.endpoints.iter().enumerate() {
            match check(e, &self.key(i), engines, env, true) {
                Ok(Some(ep)) => out.push(ep),
                Ok(None) => {}
                Err(mut p) => errs.append(&mut p),
            }
        }
        if errs.is_empty() {
            Ok(out)
        } else {
            Err(errs)
        }
    }
}

/// Checks one endpoint; with `build`, also resolves its secret and returns it ready.
fn check(
    e: &EndpointSettings,
    key: &str,
    engines: &[String],
    env: &dyn Fn(&str) -> Option<String>,
    build: bool,
) -> Result<Option<Endpoint>, Vec<String>> {
    let mut errs = Vec::new();
    if !super::is_path_safe(&e.name) {
        errs.push(format!(
            "{key}.name: '{}' must be a non-empty path-safe name (letters, digits, '-', '_', '.', '~')",
            flowgate_core::shown(&e.name)
        ));
    }
    let url = match url::Url::parse(e.url.trim()) {
        Err(err) => {
            errs.push(format!(
                "{key}.url: '{}' is not an absolute URL ({err})",
                redact_url(&e.url)
            ));
            None
        }
        Ok(u) => {
            let shown = redact_url(u.as_str());
            match u.scheme() {
                "https" => {}
                "http" if e.allow_plain_http => {}
                "http" => errs.push(format!(
                    "{key}.url: '{shown}' is plain http; use https, or set {key}.allow_plain_http = true \
                     for a receiver on a trusted network (events then travel in clear)"
                )),
                other => errs.push(format!(
                    "{key}.url: scheme '{other}' is not http or https"
                )),
            }
            if u.host().is_none() {
                errs.push(format!("{key}.url: '{shown}' has no host"));
            }
            if !u.username().is_empty() || u.password().is_some() {
                errs.push(format!(
                    "{key}.url: must not carry credentials (user:password@); the receiver checks the signature"
                ));
            }
            Some(u)
        }
    };
    let mut kinds = Vec::new();
    for id in &e.events {
        match EventKind::parse(id.trim()) {
            Some(k) => kinds.push(k),
            None => errs.push(format!(
                "{key}.events: '{}' is not a routing event id (one of {})",
                flowgate_core::shown(id),
                EventKind::ALL.map(EventKind::as_str).join(", ")
            )),
        }
    }
    for name in &e.engines {
        if !engines.contains(name) {
            errs.push(format!(
                "{key}.engines: no engine named '{}' is configured",
                flowgate_core::shown(name)
            ));
        }
    }
    let mut span = |field: &str, text: &str| match parse_span(text) {
        Ok(d) => Some(d),
        Err(why) => {
            errs.push(format!("{key}.{field}: {why}"));
            None
        }
    };
    let max_age = span("max_age", &e.max_age);
    let base = span("backoff_base", &e.backoff_base);
    let cap = span("backoff_cap", &e.backoff_cap);
    if let (Some(b), Some(c)) = (base, cap) {
        if b > c {
            errs.push(format!("{key}.backoff_base: must not exceed backoff_cap"));
        }
    }
    let start = match e.start.trim() {
        "oldest" => Some(Start::Oldest),
        "latest" => Some(Start::Latest),
        other => {
            errs.push(format!(
                "{key}.start: '{}' must be \"oldest\" or \"latest\"",
                flowgate_core::shown(other)
            ));
            None
        }
    };
    if e.connect_timeout_ms == 0 {
        errs.push(format!("{key}.connect_timeout_ms: must be greater than 0"));
    }
    if e.request_timeout_ms == 0 {
        errs.push(format!("{key}.request_timeout_ms: must be greater than 0"));
    }
    let http = flowgate_http::HttpSettings {
        connect_timeout_ms: e.connect_timeout_ms,
        request_timeout_ms: e.request_timeout_ms.max(1),
        ca_file: e.ca_file.clone(),
        client_cert_file: e.client_cert_file.clone(),
        client_key_file: e.client_key_file.clone(),
        proxy: e.proxy.clone(),
        no_proxy: e.no_proxy.clone(),
        ..flowgate_http::HttpSettings::default()
    };
    for p in http.validate(key) {
        // Only the transport keys an endpoint has can be wrong here.
        if ["client_cert_file", "client_key_file", "proxy", "no_proxy"]
            .iter()
            .any(|k| p.starts_with(&format!("{key}.{k}")))
        {
            errs.push(p);
        }
    }
    let key_bytes = signing_key(e, key, false, env, build, &mut errs);
    let previous_key =
        signing_key(e, key, true, env, build, &mut errs).filter(|p| key_bytes.as_ref() != Some(p));
    if !errs.is_empty() {
        return Err(errs);
    }
    if !build {
        return Ok(None);
    }
    match (url, key_bytes, max_age, base, cap, start) {
        (
            Some(url),
            Some(key),
            Some(max_age),
            Some(backoff_base),
            Some(backoff_cap),
            Some(start),
        ) => Ok(Some(Endpoint {
            name: e.name.clone(),
            url,
            key,
            previous_key,
            kinds,
            engines: e.engines.clone(),
            models: e.models.clone(),
            max_age,
            backoff_base,
            backoff_cap,
            request_timeout: Duration::from_millis(e.request_timeout_ms),
            start,
            http,
        })),
        _ => Err(vec![format!("{key}: incomplete settings")]),
    }
}

/// The key of endpoint `e`'s `secret` / `secret_env` pair, or with `previous` of its
/// `previous_secret` / `previous_secret_env` pair (which may be absent); `env` reads
/// the variable, looked up only with `build`. Problems go to `errs`, never with the
/// value.
fn signing_key(
    e: &EndpointSettings,
    key: &str,
    previous: bool,
    env: &dyn Fn(&str) -> Option<String>,
    build: bool,
    errs: &mut Vec<String>,
) -> Option<SigningKey> {
    let (field, value, var) = if previous {
        (
            "previous_secret",
            &e.previous_secret,
            &e.previous_secret_env,
        )
    } else {
        ("secret", &e.secret, &e.secret_env)
    };
    let secret = match (value, var) {
        (Some(_), Some(_)) => {
            errs.push(format!(
                "{key}.{field}: give either {field} or {field}_env, not both"
            ));
            None
        }
        (None, None) if previous => None,
        (None, None) => {
            errs.push(format!(
                "{key}.secret: required (or secret_env naming an environment variable, or \
                 FLOWGATE__WEBHOOKS__<NAME>__SECRET); the Standard Webhooks form whsec_<base64>"
            ));
            None
        }
        (Some(s), None) => Some((s.clone(), format!("{key}.{field}"))),
        (None, Some(var)) if var.trim().is_empty() => {
            errs.push(format!(
                "{key}.{field}_env: must name an environment variable"
            ));
            None
        }
        (None, Some(var)) if build => match env(var) {
            Some(v) => Some((Secret::new(v), format!("{key}.{field}_env ({var})"))),
            None => {
                errs.push(format!(
                    "{key}.{field}_env: environment variable {var} is not set"
                ));
                None
            }
        },
        (None, Some(_)) => None,
    };
    secret.and_then(|(s, field)| match SigningKey::from_whsec(s.expose()) {
        Ok(k) => Some(k),
        Err(why) => {
            // Never the value itself.
            errs.push(format!("{field}: {why}"));
            None
        }
    })
}
