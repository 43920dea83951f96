//! `[[webhooks]]`: the endpoints workflow events are posted to, checked at start-up
//! (the checks are in `webhooks_check.rs`).
//!
//! Two spellings load into [`WebhooksSettings`]:
//!
//! ```toml
//! [[webhooks]]                      # one table per endpoint
//! name = "crm"
//! url = "https://crm.example.com/hooks/flowgate"
//! secret_env = "CRM_WEBHOOK_SECRET" # or secret = "whsec_..."
//! ```
//!
//! and, when the delivery state must live in a directory of its own, the table form
//! `[webhooks]` with `state_dir`, `niceness` and the endpoints as
//! `[[webhooks.endpoints]]`.
//!
//! Environment variables reach an endpoint by its name (or its position):
//! `FLOWGATE__WEBHOOKS__CRM__SECRET=whsec_...` sets `secret` of the endpoint named
//! `crm`; `FLOWGATE__WEBHOOKS__STATE_DIR` sets `state_dir` and
//! `FLOWGATE__WEBHOOKS__NICENESS` sets `niceness` (see [`env_overrides`]).

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use flowgate_core::{EventKind, Secret};
use serde::de::{self, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer};

pub use super::webhooks_env::{env_overrides, split_env};
use crate::webhooks::signing::SigningKey;

/// Prefix of the environment variables that configure webhooks.
pub const ENV_PREFIX: &str = "FLOWGATE__WEBHOOKS__";

/// Niceness of the delivery thread unless `webhooks.niceness` says otherwise: delivery
/// yields the CPU to the API when both want it.
pub const DEFAULT_NICENESS: i32 = 19;

/// Everything under `webhooks`.
#[derive(Clone, Debug, Default)]
pub struct WebhooksSettings {
    /// Directory of `webhooks.redb` (cursors, retries, dead letters). Absent: the
    /// default embedded engine's `data_dir` when it keeps its state on disk, else
    /// memory (delivery state then ends with the process).
    pub state_dir: Option<PathBuf>,
    /// Niceness of the delivery thread, 0 (the API's priority) to 19 (the lowest);
    /// absent: [`DEFAULT_NICENESS`].
    pub niceness: Option<i32>,
    /// The endpoints, in the order given.
    pub endpoints: Vec<EndpointSettings>,
    /// Written as `[webhooks]` + `[[webhooks.endpoints]]` (changes how keys are named
    /// in messages).
    table_form: bool,
}

/// The `[webhooks]` table form.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TableForm {
    #[serde(default)]
    state_dir: Option<PathBuf>,
    #[serde(default)]
    niceness: Option<i32>,
    #[serde(default)]
    endpoints: Vec<EndpointSettings>,
}

impl<'de> Deserialize<'de> for WebhooksSettings {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Either;
        impl<'de> Visitor<'de> for Either {
            type Value = WebhooksSettings;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("[[webhooks]] tables, or a [webhooks] table with state_dir, niceness and [[webhooks.endpoints]]")
            }

            fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
                let endpoints = Vec::<EndpointSettings>::deserialize(
                    de::value::SeqAccessDeserializer::new(seq),
                )?;
                Ok(WebhooksSettings {
                    state_dir: None,
                    niceness: None,
                    endpoints,
                    table_form: false,
                })
            }

            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
                let t = TableForm::deserialize(de::value::MapAccessDeserializer::new(map))?;
                Ok(WebhooksSettings {
                    state_dir: t.state_dir,
                    niceness: t.niceness,
                    endpoints: t.endpoints,
                    table_form: true,
                })
            }

            fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(WebhooksSettings::default())
            }
        }
        d.deserialize_any(Either)
    }
}

/// One endpoint (`[[webhooks]]` table).
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EndpointSettings {
    /// Names the endpoint in the admin API, metrics and logs (path-safe, unique).
    pub name: String,
    /// Where events are posted: https, or http with `allow_plain_http`.
    pub url: String,
    /// Only these routing event ids (`afterWorkflowTaskCreated`, ...); empty: all.
    #[serde(default)]
    pub events: Vec<String>,
    /// Only events of these engines (configured names); empty: all.
    #[serde(default)]
    pub engines: Vec<String>,
    /// Only events of workflows of these models; empty: all.
    #[serde(default)]
    pub models: Vec<String>,
    /// The signing secret, `whsec_<base64 of 24 to 64 random bytes>`. Never logged.
    #[serde(default)]
    pub secret: Option<Secret>,
    /// Name of an environment variable holding the secret (instead of `secret`).
    #[serde(default)]
    pub secret_env: Option<String>,
    /// The secret being replaced, while receivers move to `secret`: each delivery is
    /// then signed with both (two signatures in `webhook-signature`), so a receiver
    /// checking either one accepts it. Never logged.
    #[serde(default)]
    pub previous_secret: Option<Secret>,
    /// Name of an environment variable holding the previous secret.
    #[serde(default)]
    pub previous_secret_env: Option<String>,
    /// Accept an `http://` URL. **Insecure**: the events (names, documents, comments)
    /// travel in clear; for a receiver on the same host or a trusted network only.
    #[serde(default)]
    pub allow_plain_http: bool,
    /// Time to connect (TCP and TLS), in milliseconds.
    #[serde(default = "default_connect_timeout_ms")]
    pub connect_timeout_ms: u64,
    /// Time one delivery may take in all (connect, send, answer), in milliseconds.
    #[serde(default = "default_request_timeout_ms")]
    pub request_timeout_ms: u64,
    /// How long an event is retried, counted from its first attempt, before it is
    /// dead-lettered: `"24h"`, `"30m"`, `"90s"`.
    #[serde(default = "default_max_age")]
    pub max_age: String,
    /// First delay between two attempts (`"1s"`, `"500ms"`); doubles each time.
    #[serde(default = "default_backoff_base")]
    pub backoff_base: String,
    /// Longest delay between two attempts (`"15m"`).
    #[serde(default = "default_backoff_cap")]
    pub backoff_cap: String,
    /// Where an endpoint without a stored position starts: `"oldest"` (every stored
    /// event) or `"latest"` (events committed from then on).
    #[serde(default = "default_start")]
    pub start: String,
    /// PEM file of certificate authorities trusted besides the system's roots.
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
    /// PEM client certificate presented to the receiver (needs `client_key_file`).
    #[serde(default)]
    pub client_cert_file: Option<PathBuf>,
    /// PEM private key of `client_cert_file`.
    #[serde(default)]
    pub client_key_file: Option<PathBuf>,
    /// Forward proxy (`http://proxy.example:3128`); absent: `HTTPS_PROXY` and friends.
    #[serde(default)]
    pub proxy: Option<url::Url>,
    /// Hosts reached without `proxy` (comma-separated).
    #[serde(default)]
    pub no_proxy: Option<String>,
}

impl fmt::Debug for EndpointSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EndpointSettings")
            .field("name", &self.name)
            .field("url", &redact_url(&self.url))
            .field("events", &self.events)
            .field("engines", &self.engines)
            .field("models", &self.models)
            .field("max_age", &self.max_age)
            .finish_non_exhaustive()
    }
}

fn default_connect_timeout_ms() -> u64 {
    2_000
}
fn default_request_timeout_ms() -> u64 {
    10_000
}
fn default_max_age() -> String {
    "24h".into()
}
fn default_backoff_base() -> String {
    "1s".into()
}
fn default_backoff_cap() -> String {
    "15m".into()
}
fn default_start() -> String {
    "oldest".into()
}

/// Where a new endpoint starts reading the event logs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Start {
    /// Every stored event.
    Oldest,
    /// Events committed after the endpoint was first seen.
    Latest,
}

/// An endpoint's settings, checked and put in the forms the dispatcher uses.
#[derive(Clone)]
pub struct Endpoint {
    /// Name.
    pub name: String,
    /// Receiver URL.
    pub url: url::Url,
    /// Signing key.
    pub key: SigningKey,
    /// The key being replaced, also signing while receivers move to `key`.
    pub previous_key: Option<SigningKey>,
    /// Event kinds wanted (empty: all).
    pub kinds: Vec<EventKind>,
    /// Engines wanted (empty: all).
    pub engines: Vec<String>,
    /// Models wanted (empty: all).
    pub models: Vec<String>,
    /// Retry budget from the first attempt.
    pub max_age: Duration,
    /// First retry delay.
    pub backoff_base: Duration,
    /// Largest retry delay.
    pub backoff_cap: Duration,
    /// Time of one attempt.
    pub request_timeout: Duration,
    /// Start of a new endpoint.
    pub start: Start,
    /// Transport settings for the HTTP client (TLS, proxy, connect timeout).
    pub http: flowgate_http::HttpSettings,
}

impl fmt::Debug for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Endpoint")
            .field("name", &self.name)
            .field("url", &redact_url(self.url.as_str()))
            .field("kinds", &self.kinds)
            .field("engines", &self.engines)
            .field("models", &self.models)
            .field("max_age", &self.max_age)
            .finish_non_exhaustive()
    }
}

impl Endpoint {
    /// Whether the endpoint wants `e`.
    pub fn wants(&self, e: &flowgate_core::Event) -> bool {
        (self.kinds.is_empty() || self.kinds.contains(&e.kind))
            && (self.engines.is_empty() || self.engines.contains(&e.engine))
            && (self.models.is_empty() || self.models.contains(&e.model))
    }

    /// The `webhook-signature` value of message `id` sent at `timestamp` with `body`:
    /// signed with the key, and with the previous key during a rotation.
    pub fn signature(&self, id: &str, timestamp: i64, body: &[u8]) -> String {
        let mut s = self.key.sign(id, timestamp, body);
        if let Some(previous) = &self.previous_key {
            s.push(' ');
            s.push_str(&previous.sign(id, timestamp, body));
        }
        s
    }

    /// Whether the endpoint may want events of engine `name`.
    pub fn follows_engine(&self, name: &str) -> bool {
        self.engines.is_empty() || self.engines.iter().any(|e| e == name)
    }
}

/// A URL as messages show it: without user information, query or fragment (either may
/// carry a token).
pub fn redact_url(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut u) => {
            let _ = u.set_username("");
            let _ = u.set_password(None);
            let hidden = u.query().is_some() || u.fragment().is_some();
            u.set_query(None);
            u.set_fragment(None);
            let mut s = u.to_string();
            if hidden {
                s.push_str("?…");
            }
            s
        }
        Err(_) => flowgate_core::shown(url.split(['?', '#']).next().unwrap_or_default()),
    }
}

/// Parses a time span: a whole number followed by `ms`, `s`, `m`, `h` or `d`.
pub fn parse_span(text: &str) -> Result<Duration, String> {
    let s = text.trim();
    let bad = || format!("'{s}' is not a time span such as \"24h\", \"30m\", \"90s\" or \"500ms\"");
    let at = s.find(|c: char| !c.is_ascii_digit()).ok_or_else(bad)?;
    let (n, unit) = s.split_at(at);
    let n: u64 = n.parse().map_err(|_| bad())?;
    let millis = match unit {
        "ms" => Some(n),
        "s" => n.checked_mul(1_000),
        "m" => n.checked_mul(60_000),
        "h" => n.checked_mul(3_600_000),
        "d" => n.checked_mul(86_400_000),
        _ => None,
    }
    .ok_or_else(bad)?;
    if millis == 0 {
        return Err(format!("'{s}' must be longer than 0"));
    }
    Ok(Duration::from_millis(millis))
}

impl WebhooksSettings {
    /// How endpoint `i` is named in messages: `webhooks[0]`, or
    /// `webhooks.endpoints[0]` in the table form.
    pub fn key(&self, i: usize) -> String {
        if self.table_form {
            format!("webhooks.endpoints[{i}]")
        } else {
            format!("webhooks[{i}]")
        }
    }

    /// The niceness the delivery thread runs at.
    pub fn delivery_niceness(&self) -> i32 {
        self.niceness.unwrap_or(DEFAULT_NICENESS)
    }
}

#[cfg(test)]
#[path = "webhooks_tests.rs"]
mod tests;
