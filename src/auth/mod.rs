//! Users, groups, password and token checks, and the [`Caller`] extractor that turns a
//! request's credentials into a [`CallContext`].
//!
//! Basic credentials are verified with argon2, which is deliberately slow; successful
//! verifications are remembered in a bounded cache keyed by a keyed 128-bit hash
//! (SipHash-1-3 under a random key drawn at start) of the credentials as sent (the
//! base64 part of the `Basic` value), so a client repeating the same credentials pays
//! for argon2 once and later requests do not even decode them.
//! Tokens issued by `authentication/token` and `/api/v1/token` are kept by [`tokens`].
//! Bearer tokens (JWTs of an identity provider, `[auth.jwt]`) are checked by [`jwt`].
//!
//! Files: `directory.rs` (users, groups, password checks), `caller.rs` (the
//! extractor), `throttle.rs` (failed sign-ins), `tokens.rs` / `tokens_pg.rs` /
//! `grants.rs` (lasting tokens), `jwt.rs` / `jwks.rs` (bearer tokens), `safety.rs`
//! (refusing the development users on a public address), `audit.rs` (sign-in events).

pub mod audit;
mod caller;
mod directory;
mod grants;
mod jwks;
pub mod jwt;
pub mod safety;
pub mod throttle;
pub mod tokens;
mod tokens_pg;

pub use caller::{authenticate, repository_of, AuthenticatedUser, Caller, RequestId};
#[cfg(test)]
pub(crate) use directory::cheap_hash;
pub use directory::{hash_password, Directory, Group, SignIn, User};
pub use jwt::BearerVerifier;
