//! Per-engine HTTP settings.

use std::time::Duration;

use serde::Deserialize;

/// Timeouts, retry, breaker and pooling settings of one remote engine.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct HttpSettings {
    /// Base URL of the upstream; its path is the prefix of every call
    /// (`http://host:8080/alfresco/`).
    pub base_url: url::Url,
    /// Connect timeout in milliseconds.
    #[serde(default = "defaults::connect_timeout_ms")]
    pub connect_timeout_ms: u64,
    /// Timeout of one attempt in milliseconds (also capped by the caller's deadline).
    #[serde(default = "defaults::request_timeout_ms")]
    pub request_timeout_ms: u64,
    /// Attempts in all for idempotent calls (1 = no retry).
    #[serde(default = "defaults::max_attempts")]
    pub max_attempts: u32,
    /// First retry delay in milliseconds.
    #[serde(default = "defaults::retry_min_delay_ms")]
    pub retry_min_delay_ms: u64,
    /// Largest retry delay in milliseconds.
    #[serde(default = "defaults::retry_max_delay_ms")]
    pub retry_max_delay_ms: u64,
    /// Consecutive failures that open the circuit breaker (0 disables it).
    #[serde(default = "defaults::breaker_failures")]
    pub breaker_failures: u32,
    /// How long the breaker stays open before one probe is let through, in milliseconds.
    #[serde(default = "defaults::breaker_cooldown_ms")]
    pub breaker_cooldown_ms: u64,
    /// Maximum calls in flight to this engine.
    #[serde(default = "defaults::max_concurrency")]
    pub max_concurrency: usize,
    /// Largest upstream body read, in bytes.
    #[serde(default = "defaults::max_body_bytes")]
    pub max_body_bytes: usize,
}

mod defaults {
    pub fn connect_timeout_ms() -> u64 {
        2_000
    }
    pub fn request_timeout_ms() -> u64 {
        10_000
    }
    pub fn max_attempts() -> u32 {
        3
    }
    pub fn retry_min_delay_ms() -> u64 {
        100
    }
    pub fn retry_max_delay_ms() -> u64 {
        2_000
    }
    pub fn breaker_failures() -> u32 {
        5
    }
    pub fn breaker_cooldown_ms() -> u64 {
        5_000
    }
    pub fn max_concurrency() -> usize {
        64
    }
    pub fn max_body_bytes() -> usize {
        8 * 1024 * 1024
    }
}

impl HttpSettings {
    /// Settings with every default and the given base URL.
    pub fn new(base_url: url::Url) -> Self {
        Self {
            base_url,
            connect_timeout_ms: defaults::connect_timeout_ms(),
            request_timeout_ms: defaults::request_timeout_ms(),
            max_attempts: defaults::max_attempts(),
            retry_min_delay_ms: defaults::retry_min_delay_ms(),
            retry_max_delay_ms: defaults::retry_max_delay_ms(),
            breaker_failures: defaults::breaker_failures(),
            breaker_cooldown_ms: defaults::breaker_cooldown_ms(),
            max_concurrency: defaults::max_concurrency(),
            max_body_bytes: defaults::max_body_bytes(),
        }
    }

    /// Problems with these settings, each naming its field relative to `prefix`.
    pub fn validate(&self, prefix: &str) -> Vec<String> {
        let mut out = Vec::new();
        if !matches!(self.base_url.scheme(), "http" | "https") {
            out.push(format!("{prefix}.base_url: must be an http or https URL"));
        }
        if self.base_url.cannot_be_a_base() || self.base_url.host().is_none() {
            out.push(format!(
                "{prefix}.base_url: not an absolute URL with a host"
            ));
        }
        if !self.base_url.username().is_empty() || self.base_url.password().is_some() {
            out.push(format!(
                "{prefix}.base_url: must not carry credentials; use the auth settings"
            ));
        }
        if self.request_timeout_ms == 0 {
            out.push(format!("{prefix}.request_timeout_ms: must be > 0"));
        }
        if self.connect_timeout_ms == 0 {
            out.push(format!("{prefix}.connect_timeout_ms: must be > 0"));
        }
        if self.max_attempts == 0 {
            out.push(format!("{prefix}.max_attempts: must be >= 1"));
        }
        if self.max_concurrency == 0 {
            out.push(format!("{prefix}.max_concurrency: must be >= 1"));
        }
        if self.retry_min_delay_ms > self.retry_max_delay_ms {
            out.push(format!(
                "{prefix}.retry_min_delay_ms: must not exceed retry_max_delay_ms"
            ));
        }
        out
    }

    pub(crate) fn request_timeout(&self) -> Duration {
        Duration::from_millis(self.request_timeout_ms)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_fill_missing_fields() {
        let s: HttpSettings =
            serde_json::from_str(r#"{"base_url":"http://127.0.0.1:1/x/"}"#).unwrap();
        assert_eq!(s.max_attempts, 3);
        assert!(s.validate("engines.a").is_empty());
    }

    #[test]
    fn validation_names_the_field() {
        let mut s = HttpSettings::new("http://u:p@127.0.0.1:1/".parse().unwrap());
        s.max_attempts = 0;
        let problems = s.validate("engines.a");
        assert!(problems.iter().any(|p| p.starts_with("engines.a.base_url")));
        assert!(problems
            .iter()
            .any(|p| p.starts_with("engines.a.max_attempts")));
    }
}
