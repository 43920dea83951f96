//! Per-engine HTTP settings: the `[engines.<name>.http]` table of a remote engine.

use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;

/// Transport (TLS, proxy, pool), timeout, retry, breaker and concurrency settings of one
/// remote engine. Every field has a default, so an empty table is valid. The engine's
/// base URL is not part of it: both remote adapters take `base_url` at the engine level.
#[derive(Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct HttpSettings {
    /// Connect timeout in milliseconds (TCP connect plus TLS handshake).
    pub connect_timeout_ms: u64,
    /// Timeout of one attempt in milliseconds (also capped by the caller's deadline).
    pub request_timeout_ms: u64,
    /// Attempts in all for idempotent calls (1 = no retry).
    pub max_attempts: u32,
    /// First retry delay in milliseconds.
    pub retry_min_delay_ms: u64,
    /// Largest retry delay in milliseconds.
    pub retry_max_delay_ms: u64,
    /// Consecutive failures that open the circuit breaker (0 disables it).
    pub breaker_failures: u32,
    /// How long the breaker stays open before one probe is let through, in milliseconds.
    pub breaker_cooldown_ms: u64,
    /// Maximum calls in flight to this engine.
    pub max_concurrency: usize,
    /// Largest upstream body read, in bytes.
    pub max_body_bytes: usize,
    /// How long an idle pooled connection is kept, in milliseconds.
    pub pool_idle_timeout_ms: u64,
    /// PEM file of certificate authorities trusted in addition to the system's roots
    /// (a corporate CA signing the upstream's certificate).
    pub ca_file: Option<PathBuf>,
    /// PEM file of the client certificate (and its chain) presented to the upstream
    /// (mutual TLS). Needs `client_key_file`.
    pub client_cert_file: Option<PathBuf>,
    /// PEM file of the private key (PKCS#8, PKCS#1 or SEC1) of `client_cert_file`.
    pub client_key_file: Option<PathBuf>,
    /// Forward proxy for every call to this engine (`http://proxy.example:3128`; https
    /// upstreams are reached through `CONNECT`). When absent, the standard
    /// `HTTPS_PROXY` / `HTTP_PROXY` / `ALL_PROXY` / `NO_PROXY` variables apply.
    pub proxy: Option<url::Url>,
    /// Hosts reached without `proxy` (comma-separated, as in `NO_PROXY`).
    pub no_proxy: Option<String>,
    /// Accept any upstream certificate, unverified. **Insecure**: anyone on the path can
    /// read and change the traffic. A warning is logged when an engine starts with it.
    pub danger_accept_invalid_certs: bool,
    /// Older place of the engine's base URL (`[engines.<name>.http] base_url`), still
    /// accepted by the Alfresco adapter; give `base_url` at the engine level instead.
    #[doc(hidden)]
    #[serde(rename = "base_url")]
    pub legacy_base_url: Option<url::Url>,
}

impl std::fmt::Debug for HttpSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // A proxy URL may carry the proxy's credentials: its password is not shown.
        let proxy = self.proxy.as_ref().map(|u| {
            let mut u = u.clone();
            if u.password().is_some() {
                // Setting a password fails only on URLs that cannot have one.
                let _ = u.set_password(Some("***"));
            }
            u.to_string()
        });
        f.debug_struct("HttpSettings")
            .field("connect_timeout_ms", &self.connect_timeout_ms)
            .field("request_timeout_ms", &self.request_timeout_ms)
            .field("max_attempts", &self.max_attempts)
            .field("retry_min_delay_ms", &self.retry_min_delay_ms)
            .field("retry_max_delay_ms", &self.retry_max_delay_ms)
            .field("breaker_failures", &self.breaker_failures)
            .field("breaker_cooldown_ms", &self.breaker_cooldown_ms)
            .field("max_concurrency", &self.max_concurrency)
            .field("max_body_bytes", &self.max_body_bytes)
            .field("pool_idle_timeout_ms", &self.pool_idle_timeout_ms)
            .field("ca_file", &self.ca_file)
            .field("client_cert_file", &self.client_cert_file)
            .field("client_key_file", &self.client_key_file)
            .field("proxy", &proxy)
            .field("no_proxy", &self.no_proxy)
            .field(
                "danger_accept_invalid_certs",
                &self.danger_accept_invalid_certs,
            )
            .field("legacy_base_url", &self.legacy_base_url)
            .finish()
    }
}

impl Default for HttpSettings {
    fn default() -> Self {
        Self {
            connect_timeout_ms: 2_000,
            request_timeout_ms: 10_000,
            max_attempts: 3,
            retry_min_delay_ms: 100,
            retry_max_delay_ms: 2_000,
            breaker_failures: 5,
            breaker_cooldown_ms: 5_000,
            max_concurrency: 64,
            max_body_bytes: 8 * 1024 * 1024,
            pool_idle_timeout_ms: 60_000,
            ca_file: None,
            client_cert_file: None,
            client_key_file: None,
            proxy: None,
            no_proxy: None,
            danger_accept_invalid_certs: false,
            legacy_base_url: None,
        }
    }
}

/// Problems with an engine's base URL, each naming `key` (e.g. `engines.alf.base_url`).
pub fn validate_base_url(base_url: &url::Url, key: &str) -> Vec<String> {
    let mut out = Vec::new();
    if !matches!(base_url.scheme(), "http" | "https") {
        out.push(format!("{key}: must be an http or https URL"));
    }
    if base_url.cannot_be_a_base() || base_url.host().is_none() {
        out.push(format!("{key}: not an absolute URL with a host"));
    }
    if !base_url.username().is_empty() || base_url.password().is_some() {
        out.push(format!(
            "{key}: must not carry credentials; use the auth settings"
        ));
    }
    out
}

impl HttpSettings {
    /// Problems with these settings, each naming its field relative to `prefix`
    /// (the table, e.g. `engines.alf.http`). Files are checked when the client is built.
    pub fn validate(&self, prefix: &str) -> Vec<String> {
        let mut out = Vec::new();
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
        match (&self.client_cert_file, &self.client_key_file) {
            (Some(_), None) => out.push(format!(
                "{prefix}.client_key_file: required with client_cert_file"
            )),
            (None, Some(_)) => out.push(format!(
                "{prefix}.client_cert_file: required with client_key_file"
            )),
            _ => {}
        }
        if let Some(p) = &self.proxy {
            if !matches!(p.scheme(), "http" | "https") || p.host().is_none() {
                out.push(format!(
                    "{prefix}.proxy: must be an http:// or https:// URL with a host"
                ));
            }
        }
        if self.no_proxy.is_some() && self.proxy.is_none() {
            out.push(format!(
                "{prefix}.no_proxy: only applies with proxy (NO_PROXY covers the environment's proxy)"
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
    fn debug_output_hides_the_proxy_password() {
        let s = HttpSettings {
            proxy: Some("http://corp:hunter22@proxy.example:3128/".parse().unwrap()),
            ..HttpSettings::default()
        };
        let shown = format!("{s:?}");
        assert!(!shown.contains("hunter22"), "{shown}");
        assert!(
            shown.contains("http://corp:***@proxy.example:3128/"),
            "{shown}"
        );
    }

    #[test]
    fn defaults_fill_missing_fields() {
        let s: HttpSettings = serde_json::from_str(r#"{"max_attempts":2}"#).unwrap();
        assert_eq!(s.max_attempts, 2);
        assert_eq!(s.request_timeout_ms, 10_000);
        assert!(!s.danger_accept_invalid_certs);
        assert!(s.validate("engines.a.http").is_empty());
        assert!(serde_json::from_str::<HttpSettings>(r#"{"bogus":1}"#).is_err());
    }

    #[test]
    fn validation_names_the_field() {
        let s = HttpSettings {
            max_attempts: 0,
            client_cert_file: Some("c.pem".into()),
            proxy: Some("socks9://p/".parse().unwrap()),
            ..HttpSettings::default()
        };
        let problems = s.validate("engines.a.http");
        for key in ["max_attempts", "client_key_file", "proxy"] {
            assert!(
                problems
                    .iter()
                    .any(|p| p.starts_with(&format!("engines.a.http.{key}"))),
                "{key}: {problems:?}"
            );
        }
        let url: url::Url = "http://u:p@127.0.0.1:1/".parse().unwrap();
        assert!(validate_base_url(&url, "engines.a.base_url")
            .iter()
            .any(|p| p.starts_with("engines.a.base_url")));
    }
}
