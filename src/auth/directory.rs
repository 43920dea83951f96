//! The users and groups the gateway knows (from the settings, and those bearer tokens
//! describe), password checks with argon2 behind a bounded cache of successes, and the
//! lasting tokens' lookup.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use actix_web::http::StatusCode;
use actix_web::web;
use argon2::password_hash::{PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Argon2, PasswordHash};
use base64::Engine as _;
use dashmap::DashMap;
use siphasher::sip128::SipHasher13;

use super::throttle::Throttle;
use super::tokens::{self};
use super::BearerVerifier;
use crate::error::ApiError;
use crate::settings::AuthSettings;

/// Hashes a password into an argon2id PHC string (what `password_hash` settings hold).
pub fn hash_password(password: &str) -> Result<String, String> {
    let mut raw = [0u8; 16];
    rand::fill(&mut raw);
    let salt = SaltString::encode_b64(&raw).map_err(|e| format!("cannot make a salt: {e}"))?;
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| format!("cannot hash password: {e}"))
}

/// A hash of a random password with the parameters of `like` (a configured user's hash),
/// so that checking it costs what checking a real user's password costs.
fn decoy_hash(like: &str) -> Option<String> {
    let parsed = PasswordHash::new(like).ok()?;
    let params = argon2::Params::try_from(&parsed).ok()?;
    let algorithm = argon2::Algorithm::try_from(parsed.algorithm).ok()?;
    let version = parsed
        .version
        .and_then(|v| argon2::Version::try_from(v).ok())
        .unwrap_or_default();
    let mut raw = [0u8; 16];
    rand::fill(&mut raw);
    let salt = SaltString::encode_b64(&raw).ok()?;
    let mut secret = [0u8; 24];
    rand::fill(&mut secret);
    Argon2::new(algorithm, version, params)
        .hash_password(&secret, &salt)
        .ok()
        .map(|h| h.to_string())
}

/// A user known to the gateway.
#[derive(Clone, Debug)]
pub struct User {
    /// Login name.
    pub name: String,
    /// Bare group names.
    pub groups: Vec<String>,
    /// First name (may be empty).
    pub first_name: String,
    /// Last name (may be empty).
    pub last_name: String,
    /// E-mail (may be empty).
    pub email: String,
    /// Member of the admin group.
    pub admin: bool,
    /// Member of the power-user group.
    pub poweruser: bool,
    pub(super) password_hash: String,
}

/// A group known to the gateway.
#[derive(Clone, Debug)]
pub struct Group {
    /// Group name.
    pub name: String,
    /// Label (the name when none was configured).
    pub label: String,
    /// Description.
    pub description: Option<String>,
}

/// How a caller proved who it is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SignIn {
    /// HTTP Basic user name and password.
    Password,
    /// An `X-Authentication-Token` issued by `authentication/token`.
    Token {
        /// The token only allows reading.
        read_only: bool,
    },
    /// A bearer JWT of the identity provider (`[auth.jwt]`).
    Bearer,
}

/// A cache key: the 128-bit SipHash-1-3 of the credentials under a key drawn at start.
/// A keyed pseudo-random function: without the key nobody can make two credentials
/// meet on one entry, and the plain credentials are never stored. Uniformly
/// distributed, so its low half is all a hash table needs ([`KeyHasher`]).
#[derive(Debug, PartialEq, Eq, Hash)]
struct CacheKey(u128);

/// Hashes a [`CacheKey`] to its low 64 bits: the key is already a keyed hash, so the
/// table's usual second hash would only cost time.
#[derive(Default)]
struct KeyHasher(u64);

impl std::hash::Hasher for KeyHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        // Only reached for keys other than `u128`; fold them so nothing is lost.
        for b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(*b);
        }
    }

    fn write_u128(&mut self, v: u128) {
        self.0 = v as u64;
    }
}

type KeyHash = std::hash::BuildHasherDefault<KeyHasher>;

/// Users, groups, caches and tokens.
#[derive(Debug)]
pub struct Directory {
    users: HashMap<String, Arc<User>>,
    groups: BTreeMap<String, Group>,
    realm: String,
    poweruser_group: String,
    /// A hash with the parameters of the configured users' hashes, checked for unknown
    /// user names so that a wrong password takes as long whether the user exists or not.
    decoy_hash: Option<String>,
    cache_size: usize,
    /// The two SipHash keys of the credentials cache, drawn at start.
    cache_keys: (u64, u64),
    /// Verified credentials → user name. Names, not `Arc<User>` handles: cloning a
    /// shared handle per request would make every worker write its reference count.
    verified: DashMap<CacheKey, String, KeyHash>,
    /// One permit per password check allowed to run at once.
    verify_slots: tokio::sync::Semaphore,
    checks: Arc<CheckCount>,
    tokens: Arc<tokens::TokenStore>,
    /// Checks bearer tokens when `[auth.jwt]` is configured.
    pub(super) bearer: Option<BearerVerifier>,
    /// Budgets of failed Basic sign-ins.
    pub(super) throttle: Throttle,
}

/// Counts of argon2 runs (each costs milliseconds, so counting is free by comparison).
#[derive(Debug, Default)]
struct CheckCount {
    running: AtomicUsize,
    peak: AtomicUsize,
    total: AtomicUsize,
}

impl CheckCount {
    fn start(&self) -> Running<'_> {
        let now = self.running.fetch_add(1, Ordering::Relaxed) + 1;
        self.peak.fetch_max(now, Ordering::Relaxed);
        self.total.fetch_add(1, Ordering::Relaxed);
        Running(self)
    }
}

/// One password check in progress.
struct Running<'a>(&'a CheckCount);

impl Drop for Running<'_> {
    fn drop(&mut self) {
        self.0.running.fetch_sub(1, Ordering::Relaxed);
    }
}

impl Directory {
    /// Builds the directory from `[auth]` settings.
    pub fn new(s: &AuthSettings) -> Self {
        let mut groups: BTreeMap<String, Group> = s
            .groups
            .iter()
            .map(|g| {
                let label = if g.label.is_empty() {
                    g.name.clone()
                } else {
                    g.label.clone()
                };
                (
                    g.name.clone(),
                    Group {
                        name: g.name.clone(),
                        label,
                        description: g.description.clone(),
                    },
                )
            })
            .collect();
        let mut users = HashMap::new();
        for u in &s.users {
            for g in &u.groups {
                groups.entry(g.clone()).or_insert_with(|| Group {
                    name: g.clone(),
                    label: g.clone(),
                    description: None,
                });
            }
            users.insert(
                u.name.clone(),
                Arc::new(User {
                    name: u.name.clone(),
                    groups: u.groups.clone(),
                    first_name: u.first_name.clone(),
                    last_name: u.last_name.clone(),
                    email: u.email.clone(),
                    admin: u.groups.iter().any(|g| g == &s.admin_group),
                    poweruser: u.groups.iter().any(|g| g == &s.poweruser_group),
                    password_hash: u.password_hash.clone(),
                }),
            );
        }
        let cache_keys = (rand::random(), rand::random());
        let decoy_hash = s.users.first().and_then(|u| decoy_hash(&u.password_hash));
        Self {
            users,
            groups,
            realm: s.realm.clone(),
            poweruser_group: s.poweruser_group.clone(),
            decoy_hash,
            cache_size: s.verify_cache_size,
            cache_keys,
            verified: DashMap::default(),
            verify_slots: tokio::sync::Semaphore::new(match s.max_parallel_verifications {
                0 => std::thread::available_parallelism().map_or(1, usize::from),
                n => n,
            }),
            checks: Arc::default(),
            tokens: Arc::new(tokens::TokenStore::memory(
                s.token_ttl
                    .as_deref()
                    .and_then(|t| crate::settings::parse_ttl(t).ok()),
            )),
            bearer: None,
            throttle: Throttle::new(s),
        }
    }

    /// [`Directory::new`] with the bearer token verifier of `[auth.jwt]` when configured;
    /// fails when its key set cannot be read or its HTTP client built.
    pub fn build(s: &AuthSettings) -> Result<Self, String> {
        if let Some(t) = &s.token_ttl {
            crate::settings::parse_ttl(t)?;
        }
        let mut d = Self::new(s);
        if let Some(jwt) = &s.jwt {
            d.bearer = Some(BearerVerifier::new(jwt, s).map_err(|e| format!("auth.jwt: {e}"))?);
        }
        Ok(d)
    }

    /// A user by name.
    pub fn user(&self, name: &str) -> Option<&Arc<User>> {
        self.users.get(name)
    }

    /// A group by name.
    pub fn group(&self, name: &str) -> Option<&Group> {
        self.groups.get(name)
    }

    /// Realm for 401 challenges.
    pub fn realm(&self) -> &str {
        &self.realm
    }

    /// Name of the group whose members may cancel any workflow.
    pub fn poweruser_group(&self) -> &str {
        &self.poweruser_group
    }

    fn cache_key(&self, encoded: &str) -> CacheKey {
        let (k0, k1) = self.cache_keys;
        CacheKey(
            SipHasher13::new_with_keys(k0, k1)
                .hash(encoded.as_bytes())
                .as_u128(),
        )
    }

    /// Checks `Basic` credentials, given as their base64 part (`dXNlcjpwYXNzd29yZA==`):
    /// the user, or `None` when they are wrong. Runs argon2 on a blocking thread unless
    /// the same credentials were verified before; at most `max_parallel_verifications`
    /// checks run at once, and a check that finds no free slot within `wait` is refused
    /// with 503 (the caller may retry) rather than queued without end.
    pub async fn verify_basic(
        &self,
        encoded: &str,
        wait: Duration,
    ) -> Result<Option<&Arc<User>>, ApiError> {
        let key = self.cache_key(encoded);
        if let Some(u) = self.cached(&key) {
            return Ok(Some(u));
        }
        let Some((user, password)) = decode_basic(encoded) else {
            return Ok(None);
        };
        let known = self.users.get(&user);
        let hash = match (known, &self.decoy_hash) {
            (Some(u), _) => u.password_hash.clone(),
            (None, Some(decoy)) => decoy.clone(),
            (None, None) => return Ok(None),
        };
        let _slot = match tokio::time::timeout(wait, self.verify_slots.acquire()).await {
            Ok(Ok(slot)) => slot,
            // The semaphore is never closed.
            Ok(Err(closed)) => return Err(ApiError::internal(closed)),
            Err(_) => {
                return Err(ApiError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "unavailable",
                    "Too many password checks in progress; retry shortly",
                ))
            }
        };
        // Requests with the same credentials that waited behind the first check find
        // its result here instead of running argon2 again.
        if let Some(u) = self.cached(&key) {
            return Ok(Some(u));
        }
        let checks = self.checks.clone();
        let ok = web::block(move || {
            let _running = checks.start();
            PasswordHash::new(&hash)
                .map(|h| {
                    Argon2::default()
                        .verify_password(password.as_bytes(), &h)
                        .is_ok()
                })
                .unwrap_or(false)
        })
        .await
        .unwrap_or(false);
        let Some(u) = known.filter(|_| ok) else {
            return Ok(None);
        };
        if self.cache_size > 0 {
            if self.verified.len() >= self.cache_size {
                // Bounded by dropping everything: simple, and a refill costs one argon2
                // per active user.
                self.verified.clear();
            }
            self.verified.insert(key, user);
        }
        Ok(Some(u))
    }

    /// Password checks run so far, and the most that ran at once.
    pub fn check_counts(&self) -> (usize, usize) {
        (
            self.checks.total.load(Ordering::Relaxed),
            self.checks.peak.load(Ordering::Relaxed),
        )
    }

    /// Whether these `Basic` credentials (their base64 part) were verified before and
    /// are still in the cache.
    pub(super) fn verified_before(&self, encoded: &str) -> bool {
        self.cached(&self.cache_key(encoded)).is_some()
    }

    fn cached(&self, key: &CacheKey) -> Option<&Arc<User>> {
        if self.cache_size == 0 {
            return None;
        }
        self.verified
            .get(key)
            .and_then(|n| self.users.get(n.as_str()))
    }

    /// Where tokens are kept.
    pub fn tokens(&self) -> &Arc<tokens::TokenStore> {
        &self.tokens
    }

    /// The same directory with its tokens kept by `store`.
    pub fn with_token_store(mut self, store: tokens::TokenStore) -> Self {
        self.tokens = Arc::new(store);
        self
    }

    /// The user of a token and whether it only reads; an error when the store fails.
    pub(super) async fn user_of_token(
        &self,
        token: &str,
    ) -> Result<Option<(&Arc<User>, bool)>, ApiError> {
        let Some(grant) = self
            .tokens
            .lookup_async(token)
            .await
            .map_err(ApiError::internal)?
        else {
            return Ok(None);
        };
        let read_only = grant.read_only();
        Ok(self.users.get(&grant.user).map(|u| (u, read_only)))
    }
}

/// User and password of `Basic` credentials' base64 part.
pub(super) fn decode_basic(encoded: &str) -> Option<(String, String)> {
    let raw = base64::engine::general_purpose::STANDARD
        .decode(encoded)
        .ok()?;
    let mut s = String::from_utf8(raw).ok()?;
    let colon = s.find(':')?;
    let p = s[colon + 1..].to_owned();
    s.truncate(colon);
    Some((s, p))
}

/// An argon2id hash with the smallest parameters: unit tests run in debug builds, where
/// the default parameters take seconds.
#[cfg(test)]
pub(crate) fn cheap_hash(password: &str) -> String {
    let params = argon2::Params::new(8, 1, 1, None).unwrap();
    let a = Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params);
    let salt = SaltString::encode_b64(b"unit-test-salt").unwrap();
    a.hash_password(password.as_bytes(), &salt)
        .unwrap()
        .to_string()
}

#[cfg(test)]
#[path = "directory_tests.rs"]
mod tests;
