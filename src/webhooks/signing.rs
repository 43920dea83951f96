//! Standard Webhooks signatures (<https://www.standardwebhooks.com>).
//!
//! A delivery carries three headers:
//!
//! - `webhook-id`: the message id, the same for every attempt at one event for one
//!   endpoint, so that receivers can drop repeated deliveries ([`message_id`]);
//! - `webhook-timestamp`: seconds since the Unix epoch at the attempt;
//! - `webhook-signature`: `v1,<base64 of HMAC-SHA256("{id}.{timestamp}.{body}")>`, keyed
//!   with the base64-decoded part of the endpoint's `whsec_` secret. While an endpoint's
//!   secret is rotated (`previous_secret`), a second signature by the old secret follows,
//!   space-separated: receivers accept a message any one of its signatures verifies.
//!
//! The HMAC is the `hmac` crate's over `sha2`'s SHA-256; nothing is hand-rolled.

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use flowgate_core::Event;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

/// Prefix of a Standard Webhooks secret.
pub const SECRET_PREFIX: &str = "whsec_";

/// Shortest key the specification allows, in bytes.
pub const MIN_KEY_BYTES: usize = 24;
/// Longest key the specification allows, in bytes.
pub const MAX_KEY_BYTES: usize = 64;

/// Header names, as the specification writes them.
pub const HEADER_ID: &str = "webhook-id";
/// See [`HEADER_ID`].
pub const HEADER_TIMESTAMP: &str = "webhook-timestamp";
/// See [`HEADER_ID`].
pub const HEADER_SIGNATURE: &str = "webhook-signature";

/// The decoded key of one endpoint. `Debug` never shows it.
#[derive(Clone, PartialEq, Eq)]
pub struct SigningKey(Vec<u8>);

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SigningKey(***)")
    }
}

impl SigningKey {
    /// The key of a `whsec_<base64>` secret. The error never contains the secret.
    pub fn from_whsec(secret: &str) -> Result<Self, String> {
        let b64 = secret.trim().strip_prefix(SECRET_PREFIX).ok_or_else(|| {
            format!("must be a Standard Webhooks secret: {SECRET_PREFIX} followed by base64")
        })?;
        let key = STANDARD
            .decode(b64)
            .map_err(|_| format!("the part after {SECRET_PREFIX} is not valid base64"))?;
        if !(MIN_KEY_BYTES..=MAX_KEY_BYTES).contains(&key.len()) {
            return Err(format!(
                "the key must be {MIN_KEY_BYTES} to {MAX_KEY_BYTES} random bytes (found {}); \
                 make one with: echo \"{SECRET_PREFIX}$(head -c 32 /dev/urandom | base64)\"",
                key.len()
            ));
        }
        Ok(Self(key))
    }

    /// The `webhook-signature` value for message `id` sent at `timestamp` (Unix
    /// seconds) with `body`: `v1,<base64 HMAC-SHA256>`.
    pub fn sign(&self, id: &str, timestamp: i64, body: &[u8]) -> String {
        // A key of any length is accepted by HMAC; ours is 24 to 64 bytes.
        let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(&self.0)
            .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
        mac.update(id.as_bytes());
        mac.update(b".");
        mac.update(timestamp.to_string().as_bytes());
        mac.update(b".");
        mac.update(body);
        format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes()))
    }
}

/// The `webhook-id` of event `e` for endpoint `endpoint`: `msg_` and 32 hex digits, a
/// name-based UUID (v5) of the endpoint, the event's stable id and its time. The
/// same for every attempt and every restart; another endpoint, or another event
/// (also one numbered alike in an engine log started afresh), gets another.
pub fn message_id(endpoint: &str, e: &Event) -> String {
    let name = format!(
        "{endpoint}\n{}\n{}",
        e.id(),
        e.at.to_rfc3339_opts(chrono::SecondsFormat::Nanos, true)
    );
    let id = uuid::Uuid::new_v5(&NAMESPACE, name.as_bytes());
    format!("msg_{}", id.simple())
}

/// Namespace of [`message_id`] (a fixed random UUID).
const NAMESPACE: uuid::Uuid = uuid::Uuid::from_u128(0x6f1d_7c2e_4b8a_4f0e_9d3c_2a51_e7b0_c418);

#[cfg(test)]
mod tests {
    use super::*;

    /// The vector of the reference libraries' tests (standard-webhooks repository).
    #[test]
    fn signs_like_the_reference_implementation() {
        let key = SigningKey::from_whsec("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
        let sig = key.sign(
            "msg_p5jXN8AQM9LWM0D4loKWxJek",
            1_614_265_330,
            br#"{"test": 2432232314}"#,
        );
        assert_eq!(sig, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
    }

    #[test]
    fn secrets_need_the_prefix_base64_and_a_sane_length() {
        assert!(SigningKey::from_whsec("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").is_err());
        assert!(SigningKey::from_whsec("whsec_not base64!").is_err());
        let short = format!("whsec_{}", STANDARD.encode([1u8; 8]));
        let err = SigningKey::from_whsec(&short).unwrap_err();
        assert!(err.contains("found 8"), "{err}");
        assert!(!err.contains(&short));
        let long = format!("whsec_{}", STANDARD.encode([1u8; 65]));
        assert!(SigningKey::from_whsec(&long).is_err());
        assert_eq!(format!("{:?}", SigningKey(vec![1, 2])), "SigningKey(***)");
    }

    #[test]
    fn message_ids_are_stable_per_event_and_endpoint() {
        let e = Event {
            seq: 7,
            engine: "local".into(),
            kind: flowgate_core::EventKind::TaskCreated,
            at: chrono::Utc::now(),
            workflow_id: "w".into(),
            task_id: None,
            task_name: None,
            model: "m".into(),
            documents: vec![],
            principal: "p".into(),
            initiator: "p".into(),
            actors: vec![],
            delegated: vec![],
            action: None,
            comment: None,
            extended: Default::default(),
        };
        let a = message_id("crm", &e);
        assert_eq!(a, message_id("crm", &e.clone()));
        assert!(a.starts_with("msg_") && a.len() == 36, "{a}");
        assert_ne!(a, message_id("audit", &e));
        let mut later = e.clone();
        later.at += chrono::Duration::seconds(1);
        assert_ne!(a, message_id("crm", &later));
    }
}
