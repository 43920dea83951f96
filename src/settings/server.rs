//! The plain sections of the settings: `[server]`, `[nuxeo]`, `[routing]`, `[log]`,
//! `[metrics]` and `[errors]`.

use std::collections::BTreeMap;

use serde::Deserialize;

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
