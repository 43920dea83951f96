//! Configuration of a CQ / AEM engine, as embedded in the gateway's settings
//! (`[engines.<name>]` with `kind = "cq"`).

use flowgate_core::{EngineError, Secret};
use flowgate_http::HttpSettings;
use serde::Deserialize;

use crate::Profile;

/// Settings of one CQ / AEM engine.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CqConfig {
    /// Author instance base URL, with the context path if any (`http://127.0.0.1:4502/`).
    pub base_url: url::Url,
    /// Release family: `cq5`, `aem60-63`, `aem64-65` (default) or `cloud`.
    #[serde(default = "defaults::profile")]
    pub profile: Profile,
    /// How the adapter authenticates upstream.
    pub auth: AuthConfig,
    /// Upstream HTTP settings: TLS, proxy, timeouts, retries, breaker, pool.
    #[serde(default)]
    pub http: HttpSettings,
    /// Document path prefixes this engine resolves (default `["/content"]`); the gateway
    /// routes `/path/...` documents under the longest matching mount here.
    #[serde(default = "defaults::mounts")]
    pub mounts: Vec<String>,
    /// Prefix of this engine's ids in the gateway (applied by the gateway's router;
    /// the gateway defaults it to the engine name).
    #[serde(default)]
    pub id_prefix: Option<String>,
    /// Whether this is the gateway's default engine (owns unprefixed ids and `/`).
    #[serde(default)]
    pub default: bool,
    /// Most instances read per query (CQ lists have no paging; every hit costs a GET).
    #[serde(default = "defaults::max_scan")]
    pub max_scan: usize,
    /// How long a CSRF token is reused before it is fetched again, in seconds.
    #[serde(default = "defaults::csrf_ttl_secs")]
    pub csrf_ttl_secs: u64,
    /// Concurrent GETs of one list scan.
    #[serde(default = "defaults::scan_concurrency")]
    pub scan_concurrency: usize,
    /// How long, in milliseconds, instance documents and the routes and back-routes of a
    /// work item are reused (default 3000, at most 60000; 0 turns the cache off). Work
    /// items themselves are always read fresh; every write of the adapter drops what it
    /// changed. An external change to a cached part (a title, a suspension done in AEM)
    /// shows after this long at most.
    #[serde(default = "defaults::cache_ttl_ms")]
    pub cache_ttl_ms: u64,
    /// Seconds between two polls that derive this engine's workflow events from the
    /// running instances and open work items (see docs/events.md, "Remote engines");
    /// 0 (the default) turns polling and the engine's events off. Needs a service
    /// account (mode `basic` or `bearer`).
    #[serde(default)]
    pub events_poll_secs: u64,
    /// Directory of the `events.redb` file keeping the last snapshot and the derived
    /// events across restarts; omitted, they are kept in memory only.
    #[serde(default)]
    pub events_state_dir: Option<std::path::PathBuf>,
    /// How long derived events are kept (`"30d"`, `"12h"`, `"90m"`).
    #[serde(default = "defaults::events_retention")]
    pub events_retention: String,
    /// Most running instances, and most open work items, one poll reads; more makes
    /// the poll fail.
    #[serde(default = "defaults::events_max_items")]
    pub events_max_items: usize,
}

/// Largest accepted `cache_ttl_ms`: the cache is meant to absorb bursts, not to hold
/// state.
pub const MAX_CACHE_TTL_MS: u64 = 60_000;

/// Upstream authentication.
#[derive(Clone, Debug, Deserialize)]
#[serde(tag = "mode", rename_all = "snake_case", deny_unknown_fields)]
pub enum AuthConfig {
    /// HTTP Basic with a service account. The adapter then enforces the caller's
    /// identity itself (tasks and workflows are filtered by user and groups).
    Basic {
        /// Service account user name.
        user: String,
        /// Its password (or use `password_env`).
        #[serde(default)]
        password: Option<Secret>,
        /// Name of an environment variable holding the password.
        #[serde(default)]
        password_env: Option<String>,
    },
    /// A bearer token (AEM as a Cloud Service access token).
    Bearer {
        /// The token (or use `token_env`).
        #[serde(default)]
        token: Option<Secret>,
        /// Name of an environment variable holding the token.
        #[serde(default)]
        token_env: Option<String>,
    },
    /// Forward each caller's own credentials (`CallContext.credentials`); the gateway
    /// must be configured to keep them. CQ then enforces its own ACLs.
    Passthrough,
    /// Forward the bearer token each caller signed in to the gateway with (for an AEM
    /// behind the same identity provider); CQ enforces its own ACLs. Callers signed in
    /// otherwise are refused (403) without any request upstream.
    BearerPassthrough,
}

mod defaults {
    use crate::Profile;

    pub fn profile() -> Profile {
        Profile::Aem64To65
    }
    pub fn mounts() -> Vec<String> {
        vec!["/content".to_owned()]
    }
    pub fn max_scan() -> usize {
        500
    }
    pub fn csrf_ttl_secs() -> u64 {
        240
    }
    pub fn scan_concurrency() -> usize {
        8
    }
    pub fn cache_ttl_ms() -> u64 {
        3_000
    }
    pub fn events_retention() -> String {
        flowgate_poll::DEFAULT_RETENTION.to_owned()
    }
    pub fn events_max_items() -> usize {
        flowgate_poll::DEFAULT_MAX_ITEMS
    }
}

/// Credentials resolved from the configuration (environment variables read once).
#[derive(Clone, Debug)]
pub(crate) enum Auth {
    Basic { user: String, password: Secret },
    Bearer(Secret),
    Passthrough,
    BearerPassthrough,
}

impl CqConfig {
    /// A configuration with defaults, for tests and examples.
    pub fn new(base_url: url::Url, profile: Profile, auth: AuthConfig) -> CqConfig {
        CqConfig {
            base_url,
            profile,
            auth,
            http: HttpSettings::default(),
            mounts: defaults::mounts(),
            id_prefix: None,
            default: false,
            max_scan: defaults::max_scan(),
            csrf_ttl_secs: defaults::csrf_ttl_secs(),
            scan_concurrency: defaults::scan_concurrency(),
            cache_ttl_ms: defaults::cache_ttl_ms(),
            events_poll_secs: 0,
            events_state_dir: None,
            events_retention: defaults::events_retention(),
            events_max_items: defaults::events_max_items(),
        }
    }

    /// Every problem with these settings, each naming its key under `prefix`
    /// (`engines.cq`). Empty when the configuration is usable.
    pub fn validate(&self, prefix: &str) -> Vec<String> {
        let mut out =
            flowgate_http::validate_base_url(&self.base_url, &format!("{prefix}.base_url"));
        out.extend(self.http.validate(&format!("{prefix}.http")));
        if self.http.legacy_base_url.is_some() {
            out.push(format!(
                "{prefix}.http.base_url: give base_url at the engine level"
            ));
        }
        for (i, m) in self.mounts.iter().enumerate() {
            if !m.starts_with('/') || m.contains("..") || m.contains("//") {
                out.push(format!("{prefix}.mounts[{i}]: must be an absolute path"));
            }
        }
        if self.id_prefix.as_deref().is_some_and(|p| {
            p.is_empty()
                || !p
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        }) {
            out.push(format!(
                "{prefix}.id_prefix: must be non-empty ASCII letters, digits, '-' or '_'"
            ));
        }
        if self.cache_ttl_ms > MAX_CACHE_TTL_MS {
            out.push(format!(
                "{prefix}.cache_ttl_ms: at most {MAX_CACHE_TTL_MS} (0 turns the cache off)"
            ));
        }
        if self.max_scan == 0 {
            out.push(format!("{prefix}.max_scan: must be at least 1"));
        }
        if let Err(errs) = self.events(prefix) {
            out.extend(errs);
        }
        if self.events_poll_secs > 0
            && matches!(
                self.auth,
                AuthConfig::Passthrough | AuthConfig::BearerPassthrough
            )
        {
            out.push(format!(
                "{prefix}.events_poll_secs: polling needs a service account (auth mode basic or bearer)"
            ));
        }
        match (&self.auth, self.profile) {
            (AuthConfig::Basic { .. }, Profile::Cloud) => out.push(format!(
                "{prefix}.auth.mode: the cloud profile needs 'bearer', 'passthrough' or \
                 'bearer_passthrough'"
            )),
            (AuthConfig::Bearer { .. }, p) if p != Profile::Cloud => out.push(format!(
                "{prefix}.auth.mode: 'bearer' is only accepted by the cloud profile"
            )),
            _ => {}
        }
        if let Err(e) = self.resolve_auth() {
            out.push(format!("{prefix}.auth: {}", e.message()));
        }
        out
    }

    /// The event polling settings (`events_*` keys).
    pub fn events(&self, prefix: &str) -> Result<flowgate_poll::PollSettings, Vec<String>> {
        flowgate_poll::PollSettings::from_keys(
            prefix,
            self.events_poll_secs,
            self.events_state_dir.as_ref(),
            &self.events_retention,
            self.events_max_items,
        )
    }

    /// Resolves secrets (reading the named environment variables).
    pub(crate) fn resolve_auth(&self) -> Result<Auth, EngineError> {
        fn pick(
            inline: &Option<Secret>,
            env: &Option<String>,
            what: &str,
        ) -> Result<Secret, EngineError> {
            match (inline, env) {
                (Some(s), None) => Ok(s.clone()),
                (None, Some(var)) => std::env::var(var).map(Secret::new).map_err(|_| {
                    EngineError::bad_request(format!("environment variable {var} is not set"))
                }),
                (Some(_), Some(_)) => Err(EngineError::bad_request(format!(
                    "give either {what} or {what}_env, not both"
                ))),
                (None, None) => Err(EngineError::bad_request(format!(
                    "{what} or {what}_env is required"
                ))),
            }
        }
        Ok(match &self.auth {
            AuthConfig::Basic {
                user,
                password,
                password_env,
            } => Auth::Basic {
                user: user.clone(),
                password: pick(password, password_env, "password")?,
            },
            AuthConfig::Bearer { token, token_env } => {
                Auth::Bearer(pick(token, token_env, "token")?)
            }
            AuthConfig::Passthrough => Auth::Passthrough,
            AuthConfig::BearerPassthrough => Auth::BearerPassthrough,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(toml_like: serde_json::Value) -> Result<CqConfig, serde_json::Error> {
        serde_json::from_value(toml_like)
    }

    #[test]
    fn bearer_passthrough_is_accepted_by_every_profile() {
        for profile in ["aem64-65", "cloud", "cq5"] {
            let c = parse(serde_json::json!({
                "base_url": "http://127.0.0.1:4502/",
                "profile": profile,
                "auth": {"mode": "bearer_passthrough"}
            }))
            .unwrap();
            assert!(matches!(c.auth, AuthConfig::BearerPassthrough));
            assert!(c.validate("engines.aem").is_empty(), "{profile}");
        }
    }

    #[test]
    fn minimal_config_gets_defaults() {
        let c = parse(serde_json::json!({
            "base_url": "http://127.0.0.1:4502/",
            "auth": {"mode": "basic", "user": "svc", "password": "pw"}
        }))
        .unwrap();
        assert_eq!(c.profile, Profile::Aem64To65);
        assert_eq!(c.mounts, vec!["/content".to_owned()]);
        assert_eq!(c.id_prefix, None);
        assert_eq!(c.cache_ttl_ms, 3_000);
        assert!(c.validate("engines.cq").is_empty());
        assert!(!format!("{c:?}").contains("pw"));
    }

    #[test]
    fn unknown_keys_are_refused() {
        assert!(parse(serde_json::json!({
            "base_url": "http://127.0.0.1:4502/",
            "auth": {"mode": "passthrough"}, "bogus": 1
        }))
        .is_err());
        assert!(parse(serde_json::json!({
            "base_url": "http://127.0.0.1:4502/",
            "auth": {"mode": "basic", "user": "u", "password": "p", "pasword": "x"}
        }))
        .is_err());
    }

    #[test]
    fn validation_names_the_offending_keys() {
        let mut c = parse(serde_json::json!({
            "base_url": "http://127.0.0.1:4502/", "profile": "cloud",
            "auth": {"mode": "basic", "user": "svc"}, "mounts": ["content"],
            "http": {"request_timeout_ms": 500}
        }))
        .unwrap();
        let errs = c.validate("engines.cq");
        assert!(
            errs.iter().any(|e| e.starts_with("engines.cq.auth.mode")),
            "{errs:?}"
        );
        assert!(
            errs.iter().any(|e| e.starts_with("engines.cq.auth:")),
            "{errs:?}"
        );
        assert!(
            errs.iter().any(|e| e.starts_with("engines.cq.mounts[0]")),
            "{errs:?}"
        );
        assert_eq!(c.http.request_timeout_ms, 500);
        c.cache_ttl_ms = MAX_CACHE_TTL_MS + 1;
        assert!(c
            .validate("engines.cq")
            .iter()
            .any(|e| e.starts_with("engines.cq.cache_ttl_ms")));
        c.cache_ttl_ms = 0;
        assert!(!c
            .validate("engines.cq")
            .iter()
            .any(|e| e.starts_with("engines.cq.cache_ttl_ms")));
        c.auth = AuthConfig::Bearer {
            token: None,
            token_env: Some("FLOWGATE_CQ_TEST_SURELY_UNSET_VAR".into()),
        };
        assert!(c
            .validate("engines.cq")
            .iter()
            .any(|e| e.contains("FLOWGATE_CQ_TEST_SURELY_UNSET_VAR")));
    }
}

#[cfg(test)]
mod embedding_tests {
    use super::*;

    /// The gateway's `[engines.<name>]` table is an enum tagged by `kind`; the example
    /// file must parse through such an enum, `kind` included.
    #[derive(Debug, Deserialize)]
    #[serde(tag = "kind", rename_all = "lowercase", deny_unknown_fields)]
    enum EngineSettings {
        Cq(CqConfig),
    }

    #[derive(Debug, Deserialize)]
    struct File {
        engines: std::collections::BTreeMap<String, EngineSettings>,
    }

    #[test]
    fn the_config_example_parses_as_a_gateway_engine_table() {
        let file: File = toml::from_str(include_str!("../config.example.toml")).unwrap();
        let EngineSettings::Cq(c) = &file.engines["aem"];
        assert_eq!(c.profile, Profile::Aem64To65);
        assert_eq!(c.id_prefix.as_deref(), Some("cq"));
        // Only the unset password variable is reported (this test sets no environment).
        let problems = c.validate("engines.aem");
        assert!(
            problems.iter().all(|p| p.contains("FLOWGATE_AEM_PASSWORD")),
            "{problems:?}"
        );
        let EngineSettings::Cq(cloud) = &file.engines["aem-cloud"];
        assert_eq!(cloud.profile, Profile::Cloud);
        let bad = "[engines.x]\nkind = \"cq\"\nbase_url = \"http://h/\"\nauth = { mode = \"passthrough\" }\ntypo = 1\n";
        assert!(toml::from_str::<File>(bad).is_err());
    }
}
