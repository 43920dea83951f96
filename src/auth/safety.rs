//! Start-up checks of `flowgate serve` that keep development credentials off the
//! network, and the first administrator given by environment.
//!
//! A user whose password equals its name (the development users of `config/dev.toml`
//! and the examples of `config/example.toml`) is only accepted while the gateway listens
//! on a loopback address (127.0.0.0/8, ::1), unless `auth.allow_insecure_dev_users`
//! says otherwise. Hashes shipped in this repository's settings files are recognised as
//! such; any other hash is checked against its user name with argon2 (one check per
//! user, only when listening beyond loopback).

use std::net::SocketAddr;

use argon2::{Argon2, PasswordHash, PasswordVerifier};

use crate::settings::{Settings, UserSettings};

/// Environment variable holding the first administrator's password.
pub const ADMIN_PASSWORD_ENV: &str = "FLOWGATE_ADMIN_PASSWORD";
/// Environment variable naming the first administrator (default `Administrator`).
pub const ADMIN_USER_ENV: &str = "FLOWGATE_ADMIN_USER";

/// The settings files of this repository whose users have well-known passwords.
const SHIPPED: &[&str] = &[
    include_str!("../../config/dev.toml"),
    include_str!("../../config/example.toml"),
];

/// Whether `hash` is one of the password hashes shipped in this repository.
pub fn is_shipped_hash(hash: &str) -> bool {
    let hash = hash.trim();
    !hash.is_empty()
        && SHIPPED.iter().any(|file| {
            file.lines().any(|l| {
                l.trim()
                    .strip_prefix("password_hash")
                    .and_then(|rest| rest.trim().strip_prefix('='))
                    .is_some_and(|v| v.trim().trim_matches('"') == hash)
            })
        })
}

/// Whether `addr` only reaches this machine (127.0.0.0/8, ::1, or IPv4-mapped loopback).
/// The unspecified addresses 0.0.0.0 and :: listen on every interface: not loopback.
pub fn is_loopback(addr: &SocketAddr) -> bool {
    addr.ip().to_canonical().is_loopback()
}

/// Whether the user's password is its own name, or its hash is a shipped one.
fn has_dev_password(u: &UserSettings) -> bool {
    if is_shipped_hash(&u.password_hash) {
        return true;
    }
    PasswordHash::new(&u.password_hash).is_ok_and(|h| {
        Argon2::default()
            .verify_password(u.name.as_bytes(), &h)
            .is_ok()
    })
}

/// Adds the administrator of `FLOWGATE_ADMIN_PASSWORD` (named `user`, default
/// `Administrator`) to the settings, hashing the password; a configured user of the
/// same name is replaced. Answers the administrator's name, or `None` without password.
pub fn add_admin(
    settings: &mut Settings,
    password: Option<String>,
    user: Option<String>,
) -> Result<Option<String>, String> {
    let Some(password) = password.filter(|p| !p.is_empty()) else {
        return Ok(None);
    };
    let name = user
        .map(|u| u.trim().to_owned())
        .filter(|u| !u.is_empty())
        .unwrap_or_else(|| "Administrator".to_owned());
    if name.contains(':') || name.contains(',') {
        return Err(format!(
            "{ADMIN_USER_ENV}: '{}' must not contain ':' or ','",
            flowgate_core::shown(&name)
        ));
    }
    if password == name {
        return Err(format!(
            "{ADMIN_PASSWORD_ENV}: the password must not equal the user name"
        ));
    }
    let hash = super::hash_password(&password).map_err(|e| format!("{ADMIN_PASSWORD_ENV}: {e}"))?;
    let admin = UserSettings {
        name: name.clone(),
        password_hash: hash,
        groups: vec![settings.auth.admin_group.clone()],
        first_name: name.clone(),
        last_name: String::new(),
        email: String::new(),
    };
    settings.auth.users.retain(|u| u.name != name);
    settings.auth.users.push(admin);
    Ok(Some(name))
}

/// Checks that `settings` may listen on `addr`: an error saying why when a user with a
/// development password would be reachable beyond loopback; otherwise the warnings to
/// log (development users allowed by `auth.allow_insecure_dev_users`, nobody able to
/// sign in). `trusted` names a user known to be safe (the administrator of
/// [`add_admin`]), whose hash is not checked again.
pub fn check_listen(
    settings: &Settings,
    addr: SocketAddr,
    trusted: Option<&str>,
) -> Result<Vec<String>, String> {
    let mut warnings = Vec::new();
    if settings.auth.users.is_empty() && settings.auth.jwt.is_none() {
        warnings.push(format!(
            "no user is configured: nobody can sign in (add [[auth.users]], [auth.jwt], \
             or set {ADMIN_PASSWORD_ENV})"
        ));
    }
    if is_loopback(&addr) {
        return Ok(warnings);
    }
    let weak: Vec<&str> = settings
        .auth
        .users
        .iter()
        .filter(|u| Some(u.name.as_str()) != trusted)
        .filter(|u| has_dev_password(u))
        .map(|u| u.name.as_str())
        .collect();
    if weak.is_empty() {
        return Ok(warnings);
    }
    let who = weak.join(", ");
    if settings.auth.allow_insecure_dev_users {
        warnings.push(format!(
            "INSECURE: listening on {addr}, beyond loopback, with development users whose \
             password is their user name or a published hash ({who}); allowed by \
             auth.allow_insecure_dev_users"
        ));
        return Ok(warnings);
    }
    Err(format!(
        "refusing to listen on {addr}: it is not a loopback address and users {who} have \
         development passwords (the user name, or a hash published with flowgate). \
         Give them real hashes (`flowgate hash-password`) or remove them (set \
         {ADMIN_PASSWORD_ENV} for a first administrator), listen on 127.0.0.1, or set \
         auth.allow_insecure_dev_users = true to accept the risk"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::settings::Sources;

    fn settings(extra: &str) -> Settings {
        Settings::load(&Sources::from_toml(extra.to_owned())).expect("settings")
    }

    fn user(name: &str, hash: &str) -> String {
        format!("[[auth.users]]\nname = \"{name}\"\npassword_hash = \"{hash}\"\n")
    }

    fn addr(s: &str) -> SocketAddr {
        s.parse().expect("addr")
    }

    #[test]
    fn loopback_is_127_slash_8_and_ipv6_one_only() {
        for a in [
            "127.0.0.1:80",
            "127.9.9.9:80",
            "[::1]:80",
            "[::ffff:127.0.0.1]:80",
        ] {
            assert!(is_loopback(&addr(a)), "{a}");
        }
        for a in ["0.0.0.0:80", "[::]:80", "10.0.0.1:80", "[2001:db8::1]:80"] {
            assert!(!is_loopback(&addr(a)), "{a}");
        }
    }

    #[test]
    fn the_dev_config_hashes_are_recognised() {
        let dev = include_str!("../../config/dev.toml");
        let first = dev
            .lines()
            .find_map(|l| l.strip_prefix("password_hash = \""))
            .and_then(|l| l.strip_suffix('"'))
            .expect("a hash in dev.toml");
        assert!(is_shipped_hash(first));
        assert!(!is_shipped_hash(&crate::auth::cheap_hash("x")));
        assert!(!is_shipped_hash(""));
    }

    #[test]
    fn a_password_equal_to_the_name_is_refused_beyond_loopback_only() {
        let s = settings(&user("jdoe", &crate::auth::cheap_hash("jdoe")));
        assert!(check_listen(&s, addr("127.0.0.1:8080"), None).is_ok());
        let err = check_listen(&s, addr("0.0.0.0:8080"), None).unwrap_err();
        assert!(
            err.contains("jdoe") && err.contains("allow_insecure_dev_users"),
            "{err}"
        );
        let safe = settings(&user("jdoe", &crate::auth::cheap_hash("long secret")));
        assert!(check_listen(&safe, addr("0.0.0.0:8080"), None).is_ok());
    }

    #[test]
    fn the_insecure_setting_allows_with_a_warning() {
        let s = settings(&format!(
            "[auth]\nallow_insecure_dev_users = true\n{}",
            user("jdoe", &crate::auth::cheap_hash("jdoe"))
        ));
        let warnings = check_listen(&s, addr("[::]:8080"), None).expect("allowed");
        assert!(
            warnings.iter().any(|w| w.contains("INSECURE")),
            "{warnings:?}"
        );
    }

    #[test]
    fn the_admin_of_the_environment_replaces_a_configured_one() {
        let mut s = settings(&user(
            "Administrator",
            &crate::auth::cheap_hash("Administrator"),
        ));
        assert_eq!(add_admin(&mut s, None, None), Ok(None));
        let name = add_admin(&mut s, Some("s3cret-pw".into()), None).expect("added");
        assert_eq!(name.as_deref(), Some("Administrator"));
        assert_eq!(s.auth.users.len(), 1);
        assert_eq!(s.auth.users[0].groups, vec!["administrators".to_owned()]);
        assert!(!s.auth.users[0].password_hash.contains("s3cret"));
        assert!(check_listen(&s, addr("0.0.0.0:8080"), name.as_deref()).is_ok());
        assert!(add_admin(&mut s, Some("root".into()), Some("root".into())).is_err());
    }
}
