//! Typed settings: embedded defaults → optional file → `FLOWGATE__SECTION__KEY` env.
//!
//! Every key has a default in `config/default.toml`, which is embedded in the binary, so
//! an empty overlay is a valid configuration. Unknown keys are rejected at load time and
//! [`Settings::validate`] reports every invalid value with its full key.

//!
//! One file per part: [`server`] (`[server]`, `[nuxeo]`, `[routing]`, `[log]`,
//! `[metrics]`, `[errors]`), [`auth`] and [`jwt`], [`engines`] and [`embedded`] (the
//! embedded engine's keys), [`events`], [`webhooks`]; [`validate`] holds the rules
//! between values. Settings are plain data: this module uses no other part of the
//! gateway except the CORS rules (`crate::cors`) and the webhook signing keys.

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use config::{Config, Environment, File, FileFormat};
use serde::Deserialize;

pub mod auth;
pub mod embedded;
pub mod engines;
pub mod events;
pub mod jwt;
pub mod server;
mod validate;
pub mod webhooks;
mod webhooks_check;
mod webhooks_env;

#[cfg(test)]
mod tests;

pub use auth::{parse_ttl, AuthSettings, GroupSettings, UserSettings};
pub use embedded::{MemoryEngineSettings, STORAGE_KINDS};
pub use engines::{CommonEngineSettings, EngineSettings, BUILTIN_ENGINE};
pub use events::EventsSettings;
pub use jwt::{JwtSettings, OneOrMany};
pub use server::{
    ErrorSettings, LogSettings, MetricsSettings, NuxeoSettings, RoutingSettings, ServerSettings,
};
pub use webhooks::WebhooksSettings;

/// The defaults, one commented line per setting.
pub const DEFAULT_TOML: &str = include_str!("../../config/default.toml");

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
    pub events: EventsSettings,
    /// Signed webhook endpoints (`[[webhooks]]`).
    #[serde(default)]
    pub webhooks: WebhooksSettings,
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
        let (vars, webhook_vars) = webhooks::split_env(vars);
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
            let value =
                webhooks::env_overrides(current, &webhook_vars).map_err(SettingsError::Load)?;
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

    /// The listening address (validated by [`Settings::validate`]).
    pub fn bind_addr(&self) -> Result<SocketAddr, SettingsError> {
        self.server.bind.parse().map_err(|_| {
            SettingsError::Invalid(vec![format!(
                "server.bind: '{}' is not a host:port socket address",
                self.server.bind
            )])
        })
    }

    /// Engine names as the settings give them (the built-in [`BUILTIN_ENGINE`] when
    /// none is configured).
    pub fn engine_names(&self) -> Vec<String> {
        if self.engines.is_empty() {
            vec![BUILTIN_ENGINE.to_owned()]
        } else {
            self.engines.keys().cloned().collect()
        }
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

/// Whether `s` can be used as one URL path segment without escaping.
pub fn is_path_safe(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~'))
}
