//! Throttling of failed Basic sign-ins with keyed GCRA rate limiters (`governor`).
//!
//! Two budgets of failures: one per (user, client address) pair
//! (`auth.login_failures_per_minute`) and one per client address
//! (`auth.login_failures_per_minute_per_address`). Only failures spend them. Once a
//! failure finds its budget empty, the pair (or address) is blocked until the budget
//! has a failure to spend again: meanwhile its sign-ins are answered 429 with
//! `Retry-After` before any password check, so that guessing gains nothing from the
//! block. Credentials verified before (the verification cache) and sign-ins of the same
//! user from another address are not affected.
//!
//! Memory stays bounded: the limiters forget keys whose budget is full again
//! (`retain_recent`, at most a minute after their last failure), run every
//! [`PRUNE_EVERY`] failures and whenever a map reaches [`MAX_KEYS`]; the block list
//! holds only blocked keys, pruned likewise and capped at [`MAX_KEYS`].

use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use actix_web::HttpRequest;
use dashmap::DashMap;
use governor::clock::Clock;
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

use crate::settings::{AuthSettings, ServerSettings};

/// Failures between two prunings of the limiters and the block list.
const PRUNE_EVERY: u64 = 1024;
/// Most keys a limiter or the block list holds before it is pruned at once.
const MAX_KEYS: usize = 100_000;

/// The failure budgets and the keys blocked now.
pub(crate) struct Throttle {
    per_user: Option<DefaultKeyedRateLimiter<String>>,
    per_address: Option<DefaultKeyedRateLimiter<String>>,
    /// Blocked key → end of the block.
    blocked: DashMap<String, Instant>,
    failures: AtomicU64,
}

impl std::fmt::Debug for Throttle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Throttle")
            .field("per_user", &self.per_user.is_some())
            .field("per_address", &self.per_address.is_some())
            .field("blocked", &self.blocked.len())
            .finish()
    }
}

fn limiter(per_minute: u32) -> Option<DefaultKeyedRateLimiter<String>> {
    NonZeroU32::new(per_minute).map(|n| RateLimiter::keyed(Quota::per_minute(n)))
}

fn pair_key(user: &str, client: &str) -> String {
    // NUL cannot be part of an address, so pairs cannot collide.
    format!("u\0{client}\0{user}")
}

fn address_key(client: &str) -> String {
    format!("a\0{client}")
}

impl Throttle {
    /// Budgets from `[auth]` settings.
    pub(crate) fn new(s: &AuthSettings) -> Self {
        Self {
            per_user: limiter(s.login_failures_per_minute),
            per_address: limiter(s.login_failures_per_minute_per_address),
            blocked: DashMap::new(),
            failures: AtomicU64::new(0),
        }
    }

    /// The time left of a block of `user` from `client`, if either is blocked.
    pub(crate) fn blocked(&self, user: &str, client: &str) -> Option<Duration> {
        let now = Instant::now();
        let mut left = None;
        for key in [address_key(client), pair_key(user, client)] {
            let Some(until) = self.blocked.get(&key).map(|u| *u) else {
                continue;
            };
            if until > now {
                left = left.max(Some(until - now));
            } else {
                self.blocked.remove_if(&key, |_, u| *u <= now);
            }
        }
        left
    }

    /// Spends one failure of `user` from `client`; when a budget was already empty,
    /// blocks and answers how long.
    pub(crate) fn failed(&self, user: &str, client: &str) -> Option<Duration> {
        let n = self.failures.fetch_add(1, Ordering::Relaxed) + 1;
        if n.is_multiple_of(PRUNE_EVERY) {
            self.prune();
        }
        let mut block = None;
        for (limiter, key) in [
            (&self.per_address, address_key(client)),
            (&self.per_user, pair_key(user, client)),
        ] {
            let Some(limiter) = limiter else { continue };
            if limiter.len() >= MAX_KEYS {
                limiter.retain_recent();
                limiter.shrink_to_fit();
            }
            if let Err(not_until) = limiter.check_key(&key) {
                let wait = not_until.wait_time_from(limiter.clock().now());
                if self.blocked.len() >= MAX_KEYS {
                    self.prune();
                }
                if self.blocked.len() < MAX_KEYS {
                    self.blocked.insert(key, Instant::now() + wait);
                }
                block = block.max(Some(wait));
            }
        }
        block
    }

    /// Drops what no longer matters: full budgets and ended blocks.
    fn prune(&self) {
        for l in [&self.per_user, &self.per_address].into_iter().flatten() {
            l.retain_recent();
            l.shrink_to_fit();
        }
        let now = Instant::now();
        self.blocked.retain(|_, until| *until > now);
        self.blocked.shrink_to_fit();
    }

    /// Keys the limiters and the block list hold (for tests of the bounds).
    #[cfg(test)]
    pub(crate) fn tracked(&self) -> usize {
        self.per_user.as_ref().map_or(0, |l| l.len())
            + self.per_address.as_ref().map_or(0, |l| l.len())
            + self.blocked.len()
    }
}

/// The client address of a request: the peer's IP, or the first forwarded one
/// (`Forwarded` / `X-Forwarded-For`) when `server.trust_forwarded_headers` is on.
pub fn client_address(req: &HttpRequest, server: &ServerSettings) -> Option<String> {
    if server.trust_forwarded_headers {
        let info = req.connection_info();
        if let Some(a) = info.realip_remote_addr() {
            return Some(strip_port(a));
        }
    }
    req.peer_addr().map(|a| a.ip().to_string())
}

fn strip_port(a: &str) -> String {
    if let Ok(s) = a.parse::<std::net::SocketAddr>() {
        return s.ip().to_string();
    }
    let a = a.trim().trim_start_matches('[').trim_end_matches(']');
    flowgate_core::shown(a)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn throttle(per_user: u32, per_address: u32) -> Throttle {
        let s = crate::settings::Settings::load(&crate::settings::Sources::from_toml(format!(
            "[auth]\nlogin_failures_per_minute = {per_user}\n\
             login_failures_per_minute_per_address = {per_address}\n"
        )))
        .expect("settings");
        Throttle::new(&s.auth)
    }

    #[test]
    fn the_pair_is_blocked_after_its_budget_and_other_addresses_are_not() {
        let t = throttle(3, 100);
        for _ in 0..3 {
            assert_eq!(t.failed("jdoe", "10.0.0.1"), None);
        }
        let wait = t.failed("jdoe", "10.0.0.1").expect("blocked");
        assert!(
            wait > Duration::ZERO && wait <= Duration::from_secs(20),
            "{wait:?}"
        );
        assert!(t.blocked("jdoe", "10.0.0.1").is_some());
        assert!(t.blocked("jdoe", "10.0.0.2").is_none());
        assert!(t.blocked("asmith", "10.0.0.1").is_none());
    }

    #[test]
    fn an_address_is_blocked_whatever_the_user() {
        let t = throttle(100, 2);
        assert_eq!(t.failed("a", "10.0.0.9"), None);
        assert_eq!(t.failed("b", "10.0.0.9"), None);
        assert!(t.failed("c", "10.0.0.9").is_some());
        assert!(t.blocked("d", "10.0.0.9").is_some());
        assert!(t.blocked("d", "10.0.0.8").is_none());
    }

    #[test]
    fn zero_disables_a_limit() {
        let t = throttle(0, 0);
        for _ in 0..50 {
            assert_eq!(t.failed("jdoe", "10.0.0.1"), None);
        }
        assert_eq!(t.tracked(), 0);
    }

    #[test]
    fn pruning_forgets_full_budgets() {
        let t = throttle(1000, 1000);
        for i in 0..200 {
            t.failed(&format!("u{i}"), &format!("10.1.0.{}", i % 250));
        }
        assert!(t.tracked() > 0);
        // A budget of 1000 a minute refills one failure in 60 ms.
        std::thread::sleep(Duration::from_millis(200));
        t.prune();
        assert_eq!(t.tracked(), 0);
    }
}
