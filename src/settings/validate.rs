//! [`Settings::validate`]: every rule between values, each problem reported with its
//! full key.

use std::net::SocketAddr;

use super::{is_path_safe, parse_ttl, EngineSettings, Settings, SettingsError};

impl Settings {
    /// Checks values and cross-field rules; reports every problem with its key.
    pub fn validate(&self) -> Result<(), SettingsError> {
        let mut errs = Vec::new();
        if self.server.bind.parse::<SocketAddr>().is_err() {
            errs.push(format!(
                "server.bind: '{}' is not a host:port socket address",
                self.server.bind
            ));
        }
        if !self.metrics.bind.is_empty() && self.metrics.bind.parse::<SocketAddr>().is_err() {
            errs.push(format!(
                "metrics.bind: '{}' is not a host:port socket address",
                self.metrics.bind
            ));
        }
        let base = &self.server.public_base_url;
        if !base.is_empty() {
            match url::Url::parse(base) {
                Ok(u) if matches!(u.scheme(), "http" | "https") && u.has_host() => {}
                _ => errs.push(format!(
                    "server.public_base_url: '{base}' is not an absolute http(s) URL"
                )),
            }
        }
        let ctx = &self.server.context_path;
        if !ctx.is_empty() && (!ctx.starts_with('/') || ctx.ends_with('/') || ctx.contains("//")) {
            errs.push(format!(
                "server.context_path: '{ctx}' must be empty or start with '/' and not end with '/'"
            ));
        }
        if self.server.max_body_bytes == 0 {
            errs.push("server.max_body_bytes: must be greater than 0".into());
        }
        if self.server.request_timeout_ms == 0 {
            errs.push("server.request_timeout_ms: must be greater than 0".into());
        }
        if self.server.body_timeout_ms == 0 {
            errs.push("server.body_timeout_ms: must be greater than 0".into());
        }
        let l = &self.limits;
        for (key, v) in [
            ("max_actors_per_task", l.max_actors_per_task),
            ("max_actors_per_request", l.max_actors_per_request),
            ("max_variables_per_request", l.max_variables_per_request),
            ("max_variable_bytes", l.max_variable_bytes),
            ("max_tasks_per_step", l.max_tasks_per_step),
            ("max_page_size", l.max_page_size),
        ] {
            if v == 0 {
                errs.push(format!("limits.{key}: must be greater than 0"));
            }
        }
        errs.extend(self.events.problems());
        if self.routing.fanout_timeout_ms == 0 {
            errs.push("routing.fanout_timeout_ms: must be greater than 0".into());
        }
        if self.routing.health_timeout_ms == 0 {
            errs.push("routing.health_timeout_ms: must be greater than 0".into());
        }
        for name in self.routing.engine_timeouts_ms.keys() {
            if !self.engines.contains_key(name) {
                errs.push(format!(
                    "routing.engine_timeouts_ms.{name}: no engine of that name is configured"
                ));
            }
        }
        if !product_version_ok(&self.nuxeo.product_version) {
            errs.push(format!(
                "nuxeo.product_version: '{}' must contain a MAJOR.MINOR version",
                self.nuxeo.product_version
            ));
        }
        if self.nuxeo.repositories.is_empty() {
            errs.push("nuxeo.repositories: at least one repository name is required".into());
        }
        for r in &self.nuxeo.repositories {
            if !is_path_safe(r) {
                errs.push(format!("nuxeo.repositories: '{r}' is not a path-safe name"));
            }
        }
        if !matches!(self.log.format.as_str(), "pretty" | "json") {
            errs.push(format!(
                "log.format: '{}' must be 'pretty' or 'json'",
                self.log.format
            ));
        }
        errs.extend(crate::cors::validate(&self.cors));
        if self.auth.admin_group.is_empty() {
            errs.push("auth.admin_group: must not be empty".into());
        }
        let mut seen = std::collections::HashSet::new();
        for (i, u) in self.auth.users.iter().enumerate() {
            let key = format!("auth.users[{i}]");
            if u.name.is_empty() || u.name.contains(':') || u.name.contains(',') {
                errs.push(format!(
                    "{key}.name: '{}' must be non-empty without ':' or ','",
                    u.name
                ));
            }
            if !seen.insert(u.name.as_str()) {
                errs.push(format!("{key}.name: user '{}' is defined twice", u.name));
            }
            if argon2::PasswordHash::new(&u.password_hash).is_err() {
                errs.push(format!(
                    "{key}.password_hash: not an argon2 PHC string (use `flowgate hash-password`)"
                ));
            }
        }
        for (i, g) in self.auth.groups.iter().enumerate() {
            if g.name.is_empty() || g.name.contains(':') {
                errs.push(format!(
                    "auth.groups[{i}].name: '{}' is not a valid group name",
                    g.name
                ));
            }
        }
        if let Some(ttl) = &self.auth.token_ttl {
            if let Err(e) = parse_ttl(ttl) {
                errs.push(e);
            }
        }
        if let Some(jwt) = &self.auth.jwt {
            errs.extend(jwt.validate());
        }
        errs.extend(self.webhooks.problems(&self.engine_names()));
        let defaults: Vec<&String> = self
            .engines
            .iter()
            .filter(|(_, e)| e.common().default)
            .map(|(n, _)| n)
            .collect();
        if self.engines.len() > 1 && defaults.len() != 1 {
            errs.push(format!(
                "engines: exactly one engine must have `default = true` (found {})",
                defaults.len()
            ));
        }
        let mut prefixes = std::collections::HashMap::new();
        for (name, e) in &self.engines {
            if !is_path_safe(name) || name.contains('~') {
                errs.push(format!(
                    "engines.{name}: engine names must be path-safe, without '~'"
                ));
            }
            let c = e.common();
            let prefix = c.id_prefix.clone().unwrap_or_else(|| name.clone());
            if prefix.is_empty() || !is_path_safe(&prefix) || prefix.contains('~') {
                errs.push(format!(
                    "engines.{name}.id_prefix: '{prefix}' must be non-empty, path-safe, without '~'"
                ));
            }
            if let Some(other) = prefixes.insert(prefix.clone(), name.clone()) {
                errs.push(format!(
                    "engines.{name}.id_prefix: '{prefix}' is already used by engines.{other}"
                ));
            }
            for m in &c.mounts {
                if !m.starts_with('/') {
                    errs.push(format!("engines.{name}.mounts: '{m}' must start with '/'"));
                }
            }
            match e {
                EngineSettings::Memory(m) => errs.extend(m.validate(name)),
                EngineSettings::Alfresco(a) => errs.extend(a.validate(&format!("engines.{name}"))),
                EngineSettings::Cq(c) => errs.extend(c.validate(&format!("engines.{name}"))),
            }
            if let Some(ms) = self.routing.engine_timeouts_ms.get(name) {
                if *ms == 0 {
                    errs.push(format!(
                        "routing.engine_timeouts_ms.{name}: must be greater than 0"
                    ));
                }
            }
        }
        if errs.is_empty() {
            Ok(())
        } else {
            Err(SettingsError::Invalid(errs))
        }
    }
}

fn product_version_ok(v: &str) -> bool {
    // The JS client looks for `(\d+)\.(\d+)` anywhere in the string.
    let b = v.as_bytes();
    b.iter().enumerate().any(|(i, c)| {
        *c == b'.'
            && i > 0
            && b[i - 1].is_ascii_digit()
            && b.get(i + 1).is_some_and(|n| n.is_ascii_digit())
    })
}
