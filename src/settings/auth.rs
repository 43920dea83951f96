//! `[auth]`: users, groups, sign-in limits and token lifetimes (the identity
//! provider's `[auth.jwt]` is in [`super::jwt`]).

use std::time::Duration;

use serde::Deserialize;

use super::JwtSettings;

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
    pub jwt: Option<JwtSettings>,
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

/// Parses `auth.token_ttl`: a number followed by `s`, `m`, `h` or `d` (`30d`, `12h`).
pub fn parse_ttl(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let unit_at = s
        .find(|c: char| !c.is_ascii_digit())
        .ok_or_else(|| format!("auth.token_ttl: '{s}' needs a unit (s, m, h or d)"))?;
    let (n, unit) = s.split_at(unit_at);
    let n: u64 = n
        .parse()
        .map_err(|_| format!("auth.token_ttl: '{s}' is not a duration such as \"30d\""))?;
    let secs = match unit.trim() {
        "s" => Some(n),
        "m" => n.checked_mul(60),
        "h" => n.checked_mul(3600),
        "d" => n.checked_mul(86_400),
        _ => None,
    }
    .filter(|&s| s > 0)
    .ok_or_else(|| {
        format!("auth.token_ttl: '{s}' is not a positive duration such as \"30d\" or \"12h\"")
    })?;
    Ok(Duration::from_secs(secs))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ttl_is_parsed_with_a_unit() {
        assert_eq!(parse_ttl("30d").unwrap(), Duration::from_secs(30 * 86_400));
        assert_eq!(parse_ttl(" 12h ").unwrap(), Duration::from_secs(12 * 3600));
        assert_eq!(parse_ttl("90s").unwrap(), Duration::from_secs(90));
        for bad in ["", "30", "d", "0d", "3w", "-1h", "99999999999999999999d"] {
            assert!(parse_ttl(bad).is_err(), "{bad}");
        }
    }
}
