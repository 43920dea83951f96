//! Configuration of one Alfresco engine (`[engines.<name>] kind = "alfresco"`).

use flowgate_core::Secret;
use flowgate_http::HttpSettings;
use serde::Deserialize;

/// How the adapter authenticates to Alfresco.
#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq, Default)]
#[serde(rename_all = "lowercase")]
pub enum AuthMode {
    /// A service account sent as HTTP Basic on every call.
    #[default]
    Basic,
    /// A service account that logs in once for a ticket and renews it when it expires.
    Ticket,
    /// The caller's own Basic credentials are forwarded; Alfresco enforces visibility.
    Passthrough,
    /// The caller's bearer token (from a gateway sign-in with `Authorization: Bearer`)
    /// is forwarded, for an Alfresco behind the same identity provider; Alfresco
    /// enforces visibility. Callers signed in otherwise are refused (403).
    #[serde(rename = "bearer_passthrough")]
    BearerPassthrough,
}

impl AuthMode {
    /// Whether the caller's own credentials (Basic or bearer) go upstream, so that
    /// Alfresco, not the adapter, decides what the caller sees and does.
    pub fn forwards_caller(self) -> bool {
        matches!(self, AuthMode::Passthrough | AuthMode::BearerPassthrough)
    }
}

/// Credentials of the engine.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq, Default)]
#[serde(deny_unknown_fields)]
pub struct AuthConfig {
    /// `basic` (default), `ticket`, `passthrough` or `bearer_passthrough`.
    #[serde(default)]
    pub mode: AuthMode,
    /// Service account user name (not used in the pass-through modes).
    #[serde(default)]
    pub user: Option<String>,
    /// Service account password, inline (prefer `password_env`).
    #[serde(default)]
    pub password: Option<Secret>,
    /// Name of an environment variable holding the service account password.
    #[serde(default)]
    pub password_env: Option<String>,
}

/// Settings of one Alfresco engine. Embedded by the gateway's settings.
///
/// ```toml
/// [engines.alfresco]
/// kind = "alfresco"                # read by the gateway
/// base_url = "https://alfresco.example/alfresco/"
/// id_prefix = "alf"
/// mounts = ["/alfresco"]
/// [engines.alfresco.http]          # optional: TLS, proxy, timeouts, retries
/// ca_file = "/etc/flowgate/corporate-ca.pem"
/// [engines.alfresco.auth]
/// mode = "ticket"
/// user = "admin"
/// password_env = "ALFRESCO_PASSWORD"
/// ```
///
/// The base URL is also accepted at its older place, `[engines.<name>.http] base_url`.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(try_from = "AlfrescoFile")]
pub struct AlfrescoConfig {
    /// The Alfresco web application (`https://host:8443/alfresco/`).
    pub base_url: url::Url,
    /// Upstream HTTP settings: TLS, proxy, timeouts, retries, breaker, pool.
    pub http: HttpSettings,
    /// Authentication.
    #[serde(default)]
    pub auth: AuthConfig,
    /// Whether this is the gateway's default engine (carried for the router).
    #[serde(default)]
    pub default: bool,
    /// Id prefix the gateway router puts on this engine's ids (carried, not applied here).
    #[serde(default)]
    pub id_prefix: Option<String>,
    /// Document path prefixes routed to this engine, e.g. `/alfresco` (carried for the
    /// router; the adapter sees paths with the mount already removed).
    #[serde(default)]
    pub mounts: Vec<String>,
    /// Page size used when walking Alfresco lists (1..=1000).
    #[serde(default = "default_page_size")]
    pub page_size: u32,
    /// Upper bound on items read from one Alfresco list before giving up with an error.
    #[serde(default = "default_max_scan")]
    pub max_scan: usize,
    /// Upper bound on pages (requests) read from one Alfresco list, 1..=10000. A list
    /// whose `hasMoreItems` is still true after that many pages is an error (502) rather
    /// than an endless walk.
    #[serde(default = "default_max_pages")]
    pub max_pages: usize,
    /// How long (milliseconds) the parts of a task that rarely change while it is open
    /// (its process's package items, its variables, the runtime list's "not delegated"
    /// verdict) are reused without asking Alfresco again. The task itself (state,
    /// assignee, owner, due date, name, ended or not) is always read fresh; every write
    /// made through this engine drops the parts of the process it touched. Not used in
    /// pass-through mode. 0 disables the cache (every read asks Alfresco for everything).
    #[serde(default = "default_cache_ttl_ms")]
    pub cache_ttl_ms: u64,
    /// Seconds between two polls that derive this engine's workflow events from the
    /// running processes and open tasks (see docs/events.md, "Remote engines"); 0 (the
    /// default) turns polling and the engine's events off. Needs a service account
    /// (mode `basic` or `ticket`).
    #[serde(default)]
    pub events_poll_secs: u64,
    /// Directory of the `events.redb` file keeping the last snapshot and the derived
    /// events across restarts; omitted, they are kept in memory only.
    #[serde(default)]
    pub events_state_dir: Option<std::path::PathBuf>,
    /// How long derived events are kept (`"30d"`, `"12h"`, `"90m"`).
    #[serde(default = "default_events_retention")]
    pub events_retention: String,
    /// Most running processes, and most open tasks, one poll reads; more makes the
    /// poll fail.
    #[serde(default = "default_events_max_items")]
    pub events_max_items: usize,
}

/// `[engines.<name>]` as written in a file: the base URL at the engine level or, as in
/// older files, in the `http` table.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AlfrescoFile {
    #[serde(default)]
    base_url: Option<url::Url>,
    #[serde(default)]
    http: HttpSettings,
    #[serde(default)]
    auth: AuthConfig,
    #[serde(default)]
    default: bool,
    #[serde(default)]
    id_prefix: Option<String>,
    #[serde(default)]
    mounts: Vec<String>,
    #[serde(default = "default_page_size")]
    page_size: u32,
    #[serde(default = "default_max_scan")]
    max_scan: usize,
    #[serde(default = "default_max_pages")]
    max_pages: usize,
    #[serde(default = "default_cache_ttl_ms")]
    cache_ttl_ms: u64,
    #[serde(default)]
    events_poll_secs: u64,
    #[serde(default)]
    events_state_dir: Option<std::path::PathBuf>,
    #[serde(default = "default_events_retention")]
    events_retention: String,
    #[serde(default = "default_events_max_items")]
    events_max_items: usize,
}

impl TryFrom<AlfrescoFile> for AlfrescoConfig {
    type Error = String;

    fn try_from(f: AlfrescoFile) -> Result<Self, String> {
        let mut http = f.http;
        let base_url = match (f.base_url, http.legacy_base_url.take()) {
            (Some(u), None) | (None, Some(u)) => u,
            (Some(a), Some(b)) if a == b => a,
            (Some(_), Some(_)) => {
                return Err(
                    "base_url is given twice (at the engine level and in its http \
                            table) with different values"
                        .to_owned(),
                )
            }
            (None, None) => return Err("missing field `base_url`".to_owned()),
        };
        Ok(Self {
            base_url,
            http,
            auth: f.auth,
            default: f.default,
            id_prefix: f.id_prefix,
            mounts: f.mounts,
            page_size: f.page_size,
            max_scan: f.max_scan,
            max_pages: f.max_pages,
            cache_ttl_ms: f.cache_ttl_ms,
            events_poll_secs: f.events_poll_secs,
            events_state_dir: f.events_state_dir,
            events_retention: f.events_retention,
            events_max_items: f.events_max_items,
        })
    }
}

fn default_page_size() -> u32 {
    100
}

fn default_max_scan() -> usize {
    5000
}

fn default_max_pages() -> usize {
    50
}

/// Largest `max_pages` accepted.
const MAX_MAX_PAGES: usize = 10_000;

fn default_cache_ttl_ms() -> u64 {
    2000
}

fn default_events_retention() -> String {
    flowgate_poll::DEFAULT_RETENTION.to_owned()
}

fn default_events_max_items() -> usize {
    flowgate_poll::DEFAULT_MAX_ITEMS
}

/// Longest `cache_ttl_ms` accepted: staleness beyond a minute is not a cache any more.
const MAX_CACHE_TTL_MS: u64 = 60_000;

impl AlfrescoConfig {
    /// A configuration with defaults for everything but the base URL and auth.
    pub fn new(base_url: url::Url, auth: AuthConfig) -> Self {
        Self {
            base_url,
            http: HttpSettings::default(),
            auth,
            default: false,
            id_prefix: None,
            mounts: Vec::new(),
            page_size: default_page_size(),
            max_scan: default_max_scan(),
            max_pages: default_max_pages(),
            cache_ttl_ms: default_cache_ttl_ms(),
            events_poll_secs: 0,
            events_state_dir: None,
            events_retention: default_events_retention(),
            events_max_items: default_events_max_items(),
        }
    }

    /// Every problem with these settings, each naming its key relative to `prefix`
    /// (e.g. `engines.alfresco`).
    pub fn validate(&self, prefix: &str) -> Vec<String> {
        let mut out =
            flowgate_http::validate_base_url(&self.base_url, &format!("{prefix}.base_url"));
        out.extend(self.http.validate(&format!("{prefix}.http")));
        for m in &self.mounts {
            if !m.starts_with('/') {
                out.push(format!("{prefix}.mounts: '{m}' must start with '/'"));
            }
        }
        if !(1..=1000).contains(&self.page_size) {
            out.push(format!("{prefix}.page_size: must be between 1 and 1000"));
        }
        if !(1..=MAX_MAX_PAGES).contains(&self.max_pages) {
            out.push(format!(
                "{prefix}.max_pages: must be between 1 and {MAX_MAX_PAGES}"
            ));
        }
        if self.cache_ttl_ms > MAX_CACHE_TTL_MS {
            out.push(format!(
                "{prefix}.cache_ttl_ms: must be between 0 (off) and {MAX_CACHE_TTL_MS}"
            ));
        }
        if let Err(errs) = self.events(prefix) {
            out.extend(errs);
        }
        if self.events_poll_secs > 0 && self.auth.mode.forwards_caller() {
            out.push(format!(
                "{prefix}.events_poll_secs: polling needs a service account (auth mode basic or ticket)"
            ));
        }
        let a = &self.auth;
        match a.mode {
            AuthMode::Passthrough | AuthMode::BearerPassthrough => {
                if a.user.is_some() || a.password.is_some() || a.password_env.is_some() {
                    out.push(format!(
                        "{prefix}.auth: the pass-through modes take no service credentials"
                    ));
                }
            }
            AuthMode::Basic | AuthMode::Ticket => {
                if a.user.as_deref().is_none_or(str::is_empty) {
                    out.push(format!(
                        "{prefix}.auth.user: required for mode basic/ticket"
                    ));
                }
                match (&a.password, &a.password_env) {
                    (Some(_), Some(_)) => out.push(format!(
                        "{prefix}.auth.password: give either password or password_env, not both"
                    )),
                    (None, None) => out.push(format!(
                        "{prefix}.auth.password_env: required for mode basic/ticket (or password)"
                    )),
                    _ => {}
                }
            }
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

    /// The service password, read from the environment when configured so.
    pub(crate) fn service_password(
        &self,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Option<Secret>, String> {
        match (&self.auth.password, &self.auth.password_env) {
            (Some(p), _) => Ok(Some(p.clone())),
            (None, Some(var)) => env(var)
                .map(|v| Some(Secret::new(v)))
                .ok_or_else(|| format!("environment variable {var} is not set")),
            (None, None) => Ok(None),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_parses_with_defaults_and_rejects_unknown_keys() {
        let c: AlfrescoConfig = toml_like(
            r#"{"base_url":"http://127.0.0.1:8081/alfresco/",
                "auth":{"mode":"ticket","user":"admin","password_env":"ALF_PW"},
                "id_prefix":"alf"}"#,
        )
        .unwrap();
        // The older place of the base URL is still read.
        let old: AlfrescoConfig = toml_like(
            r#"{"http":{"base_url":"http://127.0.0.1:8081/alfresco/","max_attempts":2},
                "auth":{"mode":"ticket","user":"admin","password_env":"ALF_PW"},
                "id_prefix":"alf"}"#,
        )
        .unwrap();
        assert_eq!(old.base_url, c.base_url);
        assert_eq!(old.http.max_attempts, 2);
        assert_eq!(old.http.legacy_base_url, None);
        assert!(toml_like(r#"{"base_url":"http://a/","http":{"base_url":"http://b/"}}"#).is_err());
        assert!(toml_like(r#"{"http":{}}"#).is_err());
        assert_eq!(c.auth.mode, AuthMode::Ticket);
        assert_eq!(c.page_size, 100);
        assert_eq!(c.max_pages, 50);
        assert_eq!(c.cache_ttl_ms, 2000);
        assert!(c.validate("engines.alfresco").is_empty());
        assert!(toml_like(r#"{"base_url":"http://x/","bogus":1}"#).is_err());
    }

    #[test]
    fn validation_names_each_bad_key() {
        let mut c = AlfrescoConfig::new(
            "http://127.0.0.1/alfresco/".parse().unwrap(),
            AuthConfig::default(),
        );
        c.page_size = 0;
        c.cache_ttl_ms = 3_600_000;
        c.max_pages = 0;
        let errs = c.validate("engines.alf");
        assert!(errs.iter().any(|e| e.starts_with("engines.alf.max_pages")));
        assert!(errs.iter().any(|e| e.starts_with("engines.alf.page_size")));
        assert!(errs
            .iter()
            .any(|e| e.starts_with("engines.alf.cache_ttl_ms")));
        assert!(errs.iter().any(|e| e.starts_with("engines.alf.auth.user")));
        assert!(errs
            .iter()
            .any(|e| e.starts_with("engines.alf.auth.password_env")));
    }

    #[test]
    fn bearer_passthrough_parses_and_takes_no_service_account() {
        let c = toml_like(
            r#"{"base_url":"http://127.0.0.1:8081/alfresco/",
                "auth":{"mode":"bearer_passthrough"}}"#,
        )
        .unwrap();
        assert_eq!(c.auth.mode, AuthMode::BearerPassthrough);
        assert!(c.auth.mode.forwards_caller());
        assert!(!AuthMode::Ticket.forwards_caller());
        assert!(c.validate("engines.alf").is_empty());
        let with_user = toml_like(
            r#"{"base_url":"http://127.0.0.1:8081/alfresco/",
                "auth":{"mode":"bearer_passthrough","user":"admin"}}"#,
        )
        .unwrap();
        assert!(with_user
            .validate("engines.alf")
            .iter()
            .any(|e| e.starts_with("engines.alf.auth:")));
    }

    #[test]
    fn secrets_do_not_show_in_debug() {
        let a = AuthConfig {
            mode: AuthMode::Basic,
            user: Some("admin".into()),
            password: Some(Secret::new("hunter2")),
            password_env: None,
        };
        assert!(!format!("{a:?}").contains("hunter2"));
    }

    /// The README's snippet, read the way the gateway reads `[engines.<name>]`.
    #[test]
    fn readme_snippet_parses_inside_a_kind_tagged_engine_enum() {
        #[derive(Deserialize, Debug)]
        #[serde(tag = "kind", rename_all = "lowercase", deny_unknown_fields)]
        enum Engine {
            Alfresco(AlfrescoConfig),
        }
        #[derive(Deserialize, Debug)]
        struct File {
            engines: std::collections::BTreeMap<String, Engine>,
        }
        let readme = include_str!("../README.md");
        let snippet = readme
            .split("```toml")
            .nth(1)
            .and_then(|s| s.split("```").next())
            .expect("a toml block");
        let f: File = toml::from_str(snippet).expect("snippet parses");
        let Some(Engine::Alfresco(c)) = f.engines.get("alfresco") else {
            panic!("alfresco engine")
        };
        assert_eq!(c.auth.password_env.as_deref(), Some("ALFRESCO_PASSWORD"));
        assert_eq!(c.mounts, vec!["/alfresco".to_owned()]);
        assert!(c.validate("engines.alfresco").is_empty());
    }

    fn toml_like(s: &str) -> Result<AlfrescoConfig, serde_json::Error> {
        serde_json::from_str(s)
    }
}
