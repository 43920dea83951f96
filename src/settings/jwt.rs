//! `[auth.jwt]`: bearer tokens (JWT) signed by an identity provider.

use std::path::PathBuf;

use flowgate_http::HttpSettings;
use serde::Deserialize;

/// Algorithms accepted when `algorithms` is not given: every asymmetric one.
pub const ASYMMETRIC_ALGORITHMS: &[&str] = &[
    "RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "EdDSA",
];

/// One value or a list of them (`audience = "flowgate"` or `audience = ["a", "b"]`).
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(untagged)]
pub enum OneOrMany {
    /// A single value.
    One(String),
    /// Several values.
    Many(Vec<String>),
}

impl OneOrMany {
    /// The values as a list.
    pub fn to_vec(&self) -> Vec<String> {
        match self {
            OneOrMany::One(s) => vec![s.clone()],
            OneOrMany::Many(v) => v.clone(),
        }
    }
}

/// `[auth.jwt]`: who issues the bearer tokens flowgate accepts, where their keys are and
/// how claims map to users and groups.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JwtSettings {
    /// Required `iss` claim (the identity provider's issuer URL).
    pub issuer: String,
    /// Accepted `aud` values; a token must name at least one of them.
    pub audience: OneOrMany,
    /// URL of the provider's key set (JWKS), fetched when a token names a key not yet
    /// known. Exactly one of `jwks_url` and `jwks_file` is required.
    #[serde(default)]
    pub jwks_url: Option<url::Url>,
    /// A JWKS document on disk, read at start.
    #[serde(default)]
    pub jwks_file: Option<PathBuf>,
    /// Accepted signature algorithms; only asymmetric ones may be named.
    #[serde(default = "default_algorithms")]
    pub algorithms: Vec<String>,
    /// Seconds of clock skew tolerated on `exp` and `nbf`.
    #[serde(default = "default_leeway")]
    pub leeway_secs: u64,
    /// Claim holding the user name; `sub` is used when it is absent.
    #[serde(default = "default_user_claim")]
    pub user_claim: String,
    /// Dotted path of the claim holding the groups (`groups`, `realm_access.roles`).
    #[serde(default = "default_groups_claim")]
    pub groups_claim: String,
    /// Members of these groups are administrators (besides `auth.admin_group`).
    #[serde(default)]
    pub admin_groups: Vec<String>,
    /// Members of these groups are power users (besides `auth.poweruser_group`).
    #[serde(default)]
    pub poweruser_groups: Vec<String>,
    /// Time one fetch of `jwks_url` may take, connection included, in milliseconds.
    #[serde(default = "default_fetch_timeout")]
    pub fetch_timeout_ms: u64,
    /// Shortest time between two fetches of `jwks_url`, in milliseconds: tokens naming
    /// unknown keys cannot make flowgate hammer the provider.
    #[serde(default = "default_refetch_interval")]
    pub refetch_min_interval_ms: u64,
    /// Keys older than this many seconds are fetched again in the background (a key the
    /// provider dropped stops working then); 0 keeps them until an unknown key shows up.
    #[serde(default = "default_refresh")]
    pub refresh_secs: u64,
    /// Transport of the `jwks_url` fetches: `ca_file`, `proxy`, `no_proxy`, client
    /// certificate, `connect_timeout_ms` (the same table as an engine's `http`).
    #[serde(default)]
    pub http: HttpSettings,
}

fn default_algorithms() -> Vec<String> {
    ASYMMETRIC_ALGORITHMS
        .iter()
        .map(|s| (*s).to_owned())
        .collect()
}

fn default_leeway() -> u64 {
    30
}

fn default_user_claim() -> String {
    "preferred_username".to_owned()
}

fn default_groups_claim() -> String {
    "groups".to_owned()
}

fn default_fetch_timeout() -> u64 {
    3_000
}

fn default_refetch_interval() -> u64 {
    30_000
}

fn default_refresh() -> u64 {
    3_600
}

impl JwtSettings {
    /// Problems with these settings, each naming its key.
    pub fn validate(&self) -> Vec<String> {
        let mut errs = Vec::new();
        let key = "auth.jwt";
        if self.issuer.trim().is_empty() {
            errs.push(format!("{key}.issuer: must not be empty"));
        }
        let audience = self.audience.to_vec();
        if audience.is_empty() || audience.iter().any(|a| a.trim().is_empty()) {
            errs.push(format!(
                "{key}.audience: give one or more non-empty audience values"
            ));
        }
        match (&self.jwks_url, &self.jwks_file) {
            (None, None) => errs.push(format!("{key}: one of jwks_url and jwks_file is required")),
            (Some(_), Some(_)) => errs.push(format!("{key}: give jwks_url or jwks_file, not both")),
            (Some(u), None) => {
                errs.extend(flowgate_http::validate_base_url(
                    u,
                    &format!("{key}.jwks_url"),
                ));
                errs.extend(self.http.validate(&format!("{key}.http")));
            }
            (None, Some(_)) => {}
        }
        if self.algorithms.is_empty() {
            errs.push(format!("{key}.algorithms: name at least one algorithm"));
        }
        for a in &self.algorithms {
            if !ASYMMETRIC_ALGORITHMS.contains(&a.as_str()) {
                errs.push(format!(
                    "{key}.algorithms: '{}' is not accepted; only asymmetric algorithms are ({})",
                    flowgate_core::shown(a),
                    ASYMMETRIC_ALGORITHMS.join(", ")
                ));
            }
        }
        if self.user_claim.trim().is_empty() {
            errs.push(format!("{key}.user_claim: must not be empty"));
        }
        if self.groups_claim.split('.').any(|p| p.trim().is_empty()) {
            errs.push(format!(
                "{key}.groups_claim: '{}' is not a dotted claim path",
                self.groups_claim
            ));
        }
        if self.fetch_timeout_ms == 0 {
            errs.push(format!("{key}.fetch_timeout_ms: must be greater than 0"));
        }
        errs
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(v: serde_json::Value) -> JwtSettings {
        serde_json::from_value(v).expect("parses")
    }

    #[test]
    fn defaults_and_audience_forms() {
        let s = parse(serde_json::json!({
            "issuer": "https://idp", "audience": "flowgate", "jwks_file": "/tmp/k.json"
        }));
        assert!(s.validate().is_empty(), "{:?}", s.validate());
        assert_eq!(s.audience.to_vec(), ["flowgate"]);
        assert_eq!(s.user_claim, "preferred_username");
        assert_eq!(s.leeway_secs, 30);
        let s = parse(serde_json::json!({
            "issuer": "https://idp", "audience": ["a", "b"], "jwks_url": "https://idp/certs"
        }));
        assert_eq!(s.audience.to_vec(), ["a", "b"]);
        assert!(s.validate().is_empty());
    }

    #[test]
    fn symmetric_algorithms_and_missing_keys_are_refused() {
        let s = parse(serde_json::json!({
            "issuer": "i", "audience": [], "algorithms": ["HS256", "none", "RS256"]
        }));
        let errs = s.validate().join("\n");
        assert!(errs.contains("'HS256' is not accepted"), "{errs}");
        assert!(errs.contains("'none' is not accepted"), "{errs}");
        assert!(errs.contains("audience"), "{errs}");
        assert!(errs.contains("one of jwks_url and jwks_file"), "{errs}");
    }
}
