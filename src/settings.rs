//! Typed settings: embedded defaults → optional file → `FLOWGATE__SECTION__KEY` env.
//!
//! Every key has a default in `config/default.toml`, which is embedded in the binary, so
//! an empty overlay is a valid configuration. Unknown keys are rejected at load time and
//! [`Settings::validate`] reports every invalid value with its full key.

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use config::{Config, Environment, File, FileFormat};
use serde::Deserialize;

mod embedded;

pub use embedded::{MemoryEngineSettings, STORAGE_KINDS};

/// The defaults, one commented line per setting.
pub const DEFAULT_TOML: &str = include_str!("../config/default.toml");

/// Why settings could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    /// The file or environment could not be read or parsed, or holds an unknown key.
    #[error("{0}")]
    Load(String),
    /// Values parsed but are not valid; one line per problem, each naming its key.
    #[error("invalid settings:\n  {}", .0.join("\n  "))]
    Invalid(Vec<String>),
}

/// All gateway settings.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// HTTP server.
    pub server: ServerSettings,
    /// Nuxeo compatibility details.
    pub nuxeo: NuxeoSettings,
    /// Users, groups and tokens.
    pub auth: AuthSettings,
    /// Logging.
    pub log: LogSettings,
    /// Error rendering.
    pub errors: ErrorSettings,
    /// Cross-origin access for browser clients (`[cors]`).
    #[serde(default)]
    pub cors: crate::cors::CorsSettings,
    /// The Prometheus endpoint (`[metrics]`).
    #[serde(default)]
    pub metrics: MetricsSettings,
    /// Workflow engines by name. Empty means one built-in embedded engine named `local`.
    #[serde(default)]
    pub engines: BTreeMap<String, EngineSettings>,
    /// How queries spanning several engines are run.
    #[serde(default)]
    pub routing: RoutingSettings,
    /// Bounds on what one request may ask (`[limits]`).
    #[serde(default)]
    pub limits: flowgate_core::Limits,
    /// The live event stream (`[events]`).
    #[serde(default)]
    pub events: crate::live::EventsSettings,
    /// Signed webhook endpoints (`[[webhooks]]`).
    #[serde(default)]
    pub webhooks: crate::webhooks::settings::WebhooksSettings,
}

/// `[routing]`: fan-out of queries that span engines ("my tasks", "my workflows", models).
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RoutingSettings {
    /// Deadline of one engine inside a fan-out, in milliseconds (capped by the request
    /// deadline). An engine that misses it is reported as failed; the others still answer.
    pub fanout_timeout_ms: u64,
    /// Per-engine overrides of `fanout_timeout_ms`, by engine name.
    pub engine_timeouts_ms: BTreeMap<String, u64>,
    /// Time one engine's probe may take in `GET /health/ready`, in milliseconds.
    pub health_timeout_ms: u64,
}

impl Default for RoutingSettings {
    fn default() -> Self {
        Self {
            fanout_timeout_ms: 5_000,
            engine_timeouts_ms: BTreeMap::new(),
            health_timeout_ms: 2_000,
        }
    }
}

impl RoutingSettings {
    /// The fan-out deadline of engine `name`.
    pub fn fanout_timeout(&self, name: &str) -> std::time::Duration {
        std::time::Duration::from_millis(
            self.engine_timeouts_ms
                .get(name)
                .copied()
                .unwrap_or(self.fanout_timeout_ms),
        )
    }
}

/// `[server]`
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerSettings {
    /// Listening address, `host:port`.
    pub bind: String,
    /// Worker threads; 0 means one per core.
    pub workers: usize,
    /// Public base URL including the context path and a trailing slash
    /// (`https://wf.example.com/nuxeo/`). Empty: derived from each request.
    pub public_base_url: String,
    /// Honour `X-Forwarded-Proto` / `X-Forwarded-Host` when deriving the base URL.
    pub trust_forwarded_headers: bool,
    /// Servlet-style context path clients put before `api/v1` (`/nuxeo`); empty for none.
    pub context_path: String,
    /// Largest accepted request body in bytes; larger ones get 413 unread.
    pub max_body_bytes: usize,
    /// Deadline given to engines for one request, in milliseconds.
    pub request_timeout_ms: u64,
    /// Time a client has to send a request body once its headers arrived, in
    /// milliseconds; a slower body is answered 408 and the connection closed.
    pub body_timeout_ms: u64,
    /// Seconds in-flight requests get to finish after SIGTERM / Ctrl-C.
    pub shutdown_timeout_secs: u64,
    /// Seconds an idle keep-alive connection stays open; 0 closes every connection
    /// after its response.
    pub keep_alive_secs: u64,
    /// Time a client has to send a request's head (line and headers) once it connected
    /// or, on a kept-alive connection, once the previous response went out, in
    /// milliseconds; 0 means no limit. A late head is answered 408 and the connection
    /// closed.
    pub client_request_timeout_ms: u64,
}

/// `[nuxeo]`
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NuxeoSettings {
    /// Version reported by `json/cmis`; must look like `N.N` for the JS client.
    pub product_version: String,
    /// Repository names accepted in `repo/{name}` and `X-NXRepository`.
    pub repositories: Vec<String>,
}

/// `[auth]`
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuthSettings {
    /// Realm announced in `WWW-Authenticate`.
    pub realm: String,
    /// Members of this group are administrators.
    pub admin_group: String,
    /// Members of this group may cancel any workflow.
    pub poweruser_group: String,
    /// How many successful password checks are remembered (0 disables the cache).
    pub verify_cache_size: usize,
    /// Password checks (argon2, about 19 MiB and tens of milliseconds each) run at once;
    /// further ones wait their turn. 0 means one per CPU.
    pub max_parallel_verifications: usize,
    /// Users allowed to log in.
    #[serde(default)]
    pub users: Vec<UserSettings>,
    /// Groups with a label; groups named by users exist even when not listed here.
    #[serde(default)]
    pub groups: Vec<GroupSettings>,
    /// Bearer tokens (JWTs) of an identity provider; absent: bearer tokens are refused.
    #[serde(default)]
    pub jwt: Option<crate::auth::JwtSettings>,
    /// Let `serve` listen on a non-loopback address although a user's password equals
    /// its name (the development users). Insecure; logs a warning at start.
    #[serde(default)]
    pub allow_insecure_dev_users: bool,
    /// Failed Basic sign-ins allowed per minute for one user from one client address
    /// (a burst of this many, then one per 60/n seconds); 0 disables this limit.
    #[serde(default = "default_failures_per_user")]
    pub login_failures_per_minute: u32,
    /// Failed Basic sign-ins allowed per minute from one client address, whatever the
    /// user; 0 disables this limit.
    #[serde(default = "default_failures_per_address")]
    pub login_failures_per_minute_per_address: u32,
    /// How long a token of `authentication/token` or `/api/v1/token` works (`30d`,
    /// `12h`, `90m`, `3600s`); absent: until revoked.
    #[serde(default)]
    pub token_ttl: Option<String>,
}

fn default_failures_per_user() -> u32 {
    10
}

fn default_failures_per_address() -> u32 {
    30
}

/// One `[[auth.users]]` entry.
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserSettings {
    /// Login name.
    pub name: String,
    /// Argon2 PHC string, as printed by `flowgate hash-password`.
    pub password_hash: String,
    /// Group names (bare).
    #[serde(default)]
    pub groups: Vec<String>,
    /// Shown in user entities.
    #[serde(default)]
    pub first_name: String,
    /// Shown in user entities.
    #[serde(default)]
    pub last_name: String,
    /// Shown in user entities.
    #[serde(default)]
    pub email: String,
}

impl std::fmt::Debug for UserSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The hash is not a password, but it still has no business in logs.
        f.debug_struct("UserSettings")
            .field("name", &self.name)
            .field("groups", &self.groups)
            .finish_non_exhaustive()
    }
}

/// One `[[auth.groups]]` entry.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GroupSettings {
    /// Group name.
    pub name: String,
    /// Human label.
    #[serde(default)]
    pub label: String,
    /// Description.
    #[serde(default)]
    pub description: Option<String>,
}

/// `[log]`
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogSettings {
    /// `pretty` or `json`.
    pub format: String,
    /// Filter directive (`info`, `flowgate=debug,info`); `RUST_LOG` wins when set.
    pub level: String,
}

/// `[metrics]`
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MetricsSettings {
    /// Serve `GET /metrics` and count requests.
    pub enabled: bool,
    /// Answer `/metrics` only to an administrator (Basic, token or bearer); otherwise
    /// anyone who reaches it may read it.
    pub require_auth: bool,
    /// Serve `/metrics` on this address only (`127.0.0.1:9100`), by a second server,
    /// instead of on the API's address. Empty: on the API's address.
    pub bind: String,
}

impl Default for MetricsSettings {
    fn default() -> Self {
        Self {
            enabled: true,
            require_auth: false,
            bind: String::new(),
        }
    }
}

/// `[errors]`
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ErrorSettings {
    /// Add `stacktrace` and `exception` to error bodies (development only).
    pub stacktrace: bool,
}

/// One `[engines.<name>]` entry; `kind` selects the backend.
#[derive(Clone, Debug, Deserialize)]
#[serde(tag = "kind", deny_unknown_fields)]
pub enum EngineSettings {
    /// The embedded engine (`kind = "embedded"`, or its older name `"memory"`).
    #[serde(rename = "embedded", alias = "memory")]
    Memory(MemoryEngineSettings),
    /// An Alfresco Content Services repository (`flowgate-alfresco`).
    #[serde(rename = "alfresco")]
    Alfresco(flowgate_alfresco::AlfrescoConfig),
    /// An Adobe CQ / AEM author instance (`flowgate-cq`).
    #[serde(rename = "cq")]
    Cq(flowgate_cq::CqConfig),
}

impl EngineSettings {
    /// Settings every engine kind has.
    pub fn common(&self) -> CommonEngineSettings {
        match self {
            EngineSettings::Memory(m) => CommonEngineSettings {
                default: m.default,
                id_prefix: m.id_prefix.clone(),
                mounts: m.mounts.clone(),
            },
            EngineSettings::Alfresco(a) => CommonEngineSettings {
                default: a.default,
                id_prefix: a.id_prefix.clone(),
                mounts: a.mounts.clone(),
            },
            EngineSettings::Cq(c) => CommonEngineSettings {
                default: c.default,
                id_prefix: c.id_prefix.clone(),
                mounts: c.mounts.clone(),
            },
        }
    }

    /// The kind as written in the file.
    pub fn kind(&self) -> &'static str {
        match self {
            EngineSettings::Memory(_) => "embedded",
            EngineSettings::Alfresco(_) => "alfresco",
            EngineSettings::Cq(_) => "cq",
        }
    }

    /// Whether the engine is reached over the network (and so has an upstream breaker).
    pub fn is_remote(&self) -> bool {
        !matches!(self, EngineSettings::Memory(_))
    }

    /// Whether the engine forwards each caller's own credentials (Basic, or the bearer
    /// token of a bearer sign-in) upstream, so the gateway must keep them in the call
    /// context for this engine (and only this one).
    pub fn passthrough(&self) -> bool {
        match self {
            EngineSettings::Memory(_) => false,
            EngineSettings::Alfresco(a) => a.auth.mode.forwards_caller(),
            EngineSettings::Cq(c) => matches!(
                c.auth,
                flowgate_cq::AuthConfig::Passthrough | flowgate_cq::AuthConfig::BearerPassthrough
            ),
        }
    }

    /// Whether `/path/<mount>/rest` reaches the engine as `/rest`: Alfresco paths are
    /// relative to Company Home, while CQ payload paths keep their `/content` root.
    pub fn strips_mount(&self) -> bool {
        matches!(self, EngineSettings::Alfresco(_))
    }

    /// The upstream base URL of a remote engine.
    pub fn base_url(&self) -> Option<&url::Url> {
        match self {
            EngineSettings::Memory(_) => None,
            EngineSettings::Alfresco(a) => Some(&a.base_url),
            EngineSettings::Cq(c) => Some(&c.base_url),
        }
    }
}

/// Routing settings shared by all engine kinds.
#[derive(Clone, Debug, Default)]
pub struct CommonEngineSettings {
    /// The engine that owns unprefixed ids and the `/` document mount.
    pub default: bool,
    /// Prefix of this engine's ids (`<prefix>~<native id>`); defaults to the engine name.
    /// Ignored for the default engine, whose ids stay unprefixed.
    pub id_prefix: Option<String>,
    /// Document path prefixes served by this engine (`/alfresco`); longest wins.
    pub mounts: Vec<String>,
}

/// Where settings come from.
#[derive(Clone, Debug, Default)]
pub struct Sources {
    /// Overlay file (`--config` / `FLOWGATE_CONFIG`).
    pub file: Option<PathBuf>,
    /// Extra TOML text applied after the file (tests use it instead of files).
    pub toml: Option<String>,
    /// Environment variables to read `FLOWGATE__*` from; `None` reads the process env.
    pub env: Option<HashMap<String, String>>,
}

impl Sources {
    /// Defaults + the process environment + an optional file.
    pub fn from_process(file: Option<PathBuf>) -> Self {
        Self {
            file,
            toml: None,
            env: None,
        }
    }

    /// Defaults + TOML text, with an empty environment: what tests use.
    pub fn from_toml(text: impl Into<String>) -> Self {
        Self {
            file: None,
            toml: Some(text.into()),
            env: Some(HashMap::new()),
        }
    }
}

impl Settings {
    /// Loads and validates settings from `sources`.
    pub fn load(sources: &Sources) -> Result<Self, SettingsError> {
        let mut b = Config::builder().add_source(File::from_str(DEFAULT_TOML, FileFormat::Toml));
        if let Some(path) = &sources.file {
            if !path.is_file() {
                return Err(SettingsError::Load(format!(
                    "config file {} does not exist or is not a file",
                    path.display()
                )));
            }
            b = b.add_source(File::from(path.as_path()).format(FileFormat::Toml));
        }
        if let Some(text) = &sources.toml {
            b = b.add_source(File::from_str(text, FileFormat::Toml));
        }
        // `FLOWGATE__WEBHOOKS__<NAME>__<KEY>` addresses an entry of a list, which the
        // config crate cannot: those are applied below, by endpoint name.
        let vars = match &sources.env {
            Some(m) => m.clone(),
            None => process_env()?,
        };
        let (vars, webhook_vars) = crate::webhooks::settings::split_env(vars);
        let env = Environment::with_prefix("FLOWGATE")
            .prefix_separator("__")
            .separator("__")
            .list_separator(",")
            .with_list_parse_key("nuxeo.repositories")
            .with_list_parse_key("cors.allowed_origins")
            .with_list_parse_key("auth.jwt.audience")
            .with_list_parse_key("auth.jwt.algorithms")
            .with_list_parse_key("auth.jwt.admin_groups")
            .with_list_parse_key("auth.jwt.poweruser_groups")
            .try_parsing(true)
            .source(Some(vars));
        b = b.add_source(env);
        let mut cfg = b
            .build_cloned()
            .map_err(|e| SettingsError::Load(format!("cannot read settings: {e}")))?;
        if !webhook_vars.is_empty() {
            let current = cfg.get::<config::Value>("webhooks").ok();
            let value = crate::webhooks::settings::env_overrides(current, &webhook_vars)
                .map_err(SettingsError::Load)?;
            cfg = b
                .set_override("webhooks", value)
                .and_then(|b| b.build())
                .map_err(|e| SettingsError::Load(format!("cannot read settings: {e}")))?;
        }
        if cfg.get::<config::Value>("server.batch_writes").is_ok() {
            return Err(SettingsError::Load(
                "invalid settings: server.batch_writes was removed (responses are written \
                 by actix-web's own server); delete the key"
                    .into(),
            ));
        }
        let s: Settings = cfg
            .try_deserialize()
            .map_err(|e| SettingsError::Load(format!("invalid settings: {e}")))?;
        s.validate()?;
        Ok(s)
    }

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
            if let Err(e) = crate::auth::tokens::parse_ttl(ttl) {
                errs.push(e);
            }
        }
        if let Some(jwt) = &self.auth.jwt {
            errs.extend(jwt.validate());
        }
        errs.extend(self.webhooks.problems(&crate::webhooks::engine_names(self)));
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

    /// The listening address (validated by [`Settings::validate`]).
    pub fn bind_addr(&self) -> Result<SocketAddr, SettingsError> {
        self.server.bind.parse().map_err(|_| {
            SettingsError::Invalid(vec![format!(
                "server.bind: '{}' is not a host:port socket address",
                self.server.bind
            )])
        })
    }

    /// Directories of models to check with `check-config`, by engine name.
    pub fn model_dirs(&self) -> Vec<(String, &Path)> {
        self.engines
            .iter()
            .filter_map(|(n, e)| match e {
                EngineSettings::Memory(m) => m.models_dir.as_deref().map(|d| (n.clone(), d)),
                EngineSettings::Alfresco(_) | EngineSettings::Cq(_) => None,
            })
            .collect()
    }
}

/// The process environment's `FLOWGATE__*` variables (others are of no interest, and
/// names that are not Unicode are skipped as the config crate skips them).
fn process_env() -> Result<HashMap<String, String>, SettingsError> {
    let mut out = HashMap::new();
    for (k, v) in std::env::vars_os() {
        let Ok(k) = k.into_string() else { continue };
        if !k.to_ascii_uppercase().starts_with("FLOWGATE__") {
            continue;
        }
        let v = v.into_string().map_err(|_| {
            SettingsError::Load(format!(
                "cannot read settings: env variable {k} contains non-Unicode data"
            ))
        })?;
        out.insert(k, v);
    }
    Ok(out)
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

/// Whether `s` can be used as one URL path segment without escaping.
pub fn is_path_safe(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~'))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Sources {
        Sources {
            file: None,
            toml: None,
            env: Some(
                pairs
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect(),
            ),
        }
    }

    #[test]
    fn defaults_alone_are_valid() {
        let s = Settings::load(&env(&[])).unwrap();
        assert_eq!(s.server.bind, "127.0.0.1:8080");
        assert_eq!(s.server.max_body_bytes, 1024 * 1024);
        assert!(s.engines.is_empty());
    }

    #[test]
    fn env_overrides_nested_keys() {
        let s = Settings::load(&env(&[
            ("FLOWGATE__SERVER__BIND", "0.0.0.0:9999"),
            ("FLOWGATE__SERVER__MAX_BODY_BYTES", "10"),
            ("FLOWGATE__LOG__FORMAT", "json"),
        ]))
        .unwrap();
        assert_eq!(s.server.bind, "0.0.0.0:9999");
        assert_eq!(s.server.max_body_bytes, 10);
        assert_eq!(s.log.format, "json");
    }

    #[test]
    fn unknown_keys_are_rejected_with_their_name() {
        let err = Settings::load(&Sources::from_toml("[server]\nbindd = \"x\"\n")).unwrap_err();
        assert!(err.to_string().contains("bindd"), "{err}");
        let err = Settings::load(&Sources::from_toml(
            "[engines.a]\nkind = \"memory\"\nmodel_dir = \"x\"\n",
        ))
        .unwrap_err();
        assert!(err.to_string().contains("model_dir"), "{err}");
    }

    #[test]
    fn unknown_engine_kind_is_rejected() {
        let err =
            Settings::load(&Sources::from_toml("[engines.a]\nkind = \"nope\"\n")).unwrap_err();
        assert!(err.to_string().contains("nope"), "{err}");
    }

    #[test]
    fn validate_names_every_bad_key() {
        let err = Settings::load(&Sources::from_toml(
            "[server]\nbind = \"nowhere\"\npublic_base_url = \"ftp:/x\"\n[nuxeo]\nproduct_version = \"latest\"\n[log]\nformat = \"xml\"\n",
        ))
        .unwrap_err();
        let msg = err.to_string();
        for key in [
            "server.bind",
            "server.public_base_url",
            "nuxeo.product_version",
            "log.format",
        ] {
            assert!(msg.contains(key), "{key} missing in {msg}");
        }
    }

    #[test]
    fn bad_password_hash_is_reported() {
        let err = Settings::load(&Sources::from_toml(
            "[[auth.users]]\nname = \"u\"\npassword_hash = \"plain\"\n",
        ))
        .unwrap_err();
        assert!(
            err.to_string().contains("auth.users[0].password_hash"),
            "{err}"
        );
    }

    #[test]
    fn several_engines_need_one_default_and_distinct_prefixes() {
        let err = Settings::load(&Sources::from_toml(
            "[engines.a]\nkind = \"memory\"\n[engines.b]\nkind = \"memory\"\nid_prefix = \"a\"\n",
        ))
        .unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("exactly one engine"), "{msg}");
        assert!(msg.contains("engines.b.id_prefix"), "{msg}");
    }

    #[test]
    fn missing_explicit_file_is_an_error() {
        let s = Sources {
            file: Some("/nonexistent/flowgate.toml".into()),
            ..Sources::from_toml("")
        };
        assert!(Settings::load(&s).is_err());
    }

    #[test]
    fn user_names_keep_their_case() {
        let hash = crate::auth::cheap_hash("pw");
        let s = Settings::load(&Sources::from_toml(format!(
            "[[auth.users]]\nname = \"Administrator\"\npassword_hash = \"{hash}\"\ngroups = [\"administrators\"]\n"
        )))
        .unwrap();
        assert_eq!(s.auth.users[0].name, "Administrator");
    }
}
