//! Bearer tokens: JWTs signed by the identity provider of `[auth.jwt]`.
//!
//! A token is accepted when its header names an allowed asymmetric algorithm, its
//! signature verifies with the provider's key it names (`kid`), and its `iss`, `aud`,
//! `exp` and `nbf` claims hold (with `leeway_secs` of clock skew). Its user is the
//! `user_claim` (or `sub`), its groups the array at `groups_claim`; membership of an
//! admin or power-user group makes the caller one. The user need not be configured in
//! `[[auth.users]]`. Refusals name their reason and never quote the token.

use std::collections::HashSet;
use std::str::FromStr;
use std::sync::Arc;

use actix_web::http::StatusCode;
use base64::Engine as _;
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, Validation};
use serde_json::Value;

use super::jwks::{Jwks, KeyError};
use super::User;
use crate::error::ApiError;
use crate::settings::AuthSettings;
use crate::settings::JwtSettings;

/// Longest token considered, in bytes.
const MAX_TOKEN_BYTES: usize = 16 * 1024;

/// Why a token was refused; [`Refusal::reason`] is what the client is told.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// Not three base64url parts of JSON.
    Malformed,
    /// The header names an algorithm that is not accepted (its name when it is a known
    /// JOSE name).
    AlgorithmNotAllowed(Option<&'static str>),
    /// The named key is not a key of the token's algorithm.
    KeyAlgorithmMismatch,
    /// The token names a key the provider does not have.
    UnknownKey,
    /// The signature does not verify.
    BadSignature,
    /// `exp` is past.
    Expired,
    /// `nbf` is ahead.
    NotYetValid,
    /// `iss` is not the configured issuer.
    WrongIssuer,
    /// No `aud` value is accepted.
    WrongAudience,
    /// A required claim is absent.
    MissingClaim(&'static str),
    /// Neither the user claim nor `sub` holds a usable user name.
    NoUser,
}

impl Refusal {
    /// The reason, as a fixed sentence (safe in a quoted header parameter).
    pub fn reason(&self) -> String {
        match self {
            Refusal::Malformed => "the token is malformed".into(),
            Refusal::AlgorithmNotAllowed(Some(alg)) => {
                format!("the token's algorithm {alg} is not allowed")
            }
            Refusal::AlgorithmNotAllowed(None) => "the token's algorithm is not allowed".into(),
            Refusal::KeyAlgorithmMismatch => {
                "the token's key is not a key of the token's algorithm".into()
            }
            Refusal::UnknownKey => "the token is signed with an unknown key".into(),
            Refusal::BadSignature => "the token's signature is invalid".into(),
            Refusal::Expired => "the token has expired".into(),
            Refusal::NotYetValid => "the token is not valid yet".into(),
            Refusal::WrongIssuer => "the token's issuer is not accepted".into(),
            Refusal::WrongAudience => "the token's audience is not accepted".into(),
            Refusal::MissingClaim(c) => format!("the token lacks the required claim {c}"),
            Refusal::NoUser => "the token names no valid user".into(),
        }
    }
}

/// JOSE algorithm names, so that a refusal can name the one a token used without
/// echoing anything else from it.
const JOSE_NAMES: &[&str] = &[
    "none", "HS256", "HS384", "HS512", "RS256", "RS384", "RS512", "PS256", "PS384", "PS512",
    "ES256", "ES384", "ES512", "EdDSA",
];

fn known_name(alg: &str) -> Option<&'static str> {
    JOSE_NAMES.iter().copied().find(|n| *n == alg)
}

/// Checks bearer tokens against `[auth.jwt]`.
pub struct BearerVerifier {
    jwks: Arc<Jwks>,
    /// One validation per accepted algorithm: the library wants the algorithms of one
    /// validation to be of the key's family.
    validations: Vec<(Algorithm, Validation)>,
    user_claim: String,
    groups_path: Vec<String>,
    admin_groups: HashSet<String>,
    poweruser_groups: HashSet<String>,
}

impl std::fmt::Debug for BearerVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BearerVerifier")
            .field("jwks", &self.jwks)
            .field(
                "algorithms",
                &self.validations.iter().map(|(a, _)| a).collect::<Vec<_>>(),
            )
            .finish_non_exhaustive()
    }
}

impl BearerVerifier {
    /// The verifier of `[auth.jwt]`; reads `jwks_file` now. `auth` gives the admin and
    /// power-user group names that apply to every caller.
    pub fn new(s: &JwtSettings, auth: &AuthSettings) -> Result<Self, String> {
        let jwks = Arc::new(Jwks::new(s)?);
        let algorithms = s
            .algorithms
            .iter()
            .map(|a| {
                Algorithm::from_str(a)
                    .ok()
                    .filter(|a| {
                        !matches!(a, Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512)
                    })
                    .ok_or_else(|| format!("algorithms: '{a}' is not accepted"))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let validations = algorithms
            .into_iter()
            .map(|alg| {
                let mut v = Validation::new(alg);
                v.leeway = s.leeway_secs;
                v.validate_exp = true;
                v.validate_nbf = true;
                v.set_issuer(&[s.issuer.as_str()]);
                v.set_audience(&s.audience.to_vec());
                v.set_required_spec_claims(&["exp", "iss", "aud"]);
                (alg, v)
            })
            .collect();
        let mut admin_groups: HashSet<String> = s.admin_groups.iter().cloned().collect();
        admin_groups.insert(auth.admin_group.clone());
        let mut poweruser_groups: HashSet<String> = s.poweruser_groups.iter().cloned().collect();
        poweruser_groups.insert(auth.poweruser_group.clone());
        Ok(Self {
            jwks,
            validations,
            user_claim: s.user_claim.clone(),
            groups_path: s.groups_claim.split('.').map(str::to_owned).collect(),
            admin_groups,
            poweruser_groups,
        })
    }

    /// The user a token signs in, or the 401 (or, when the key set cannot be had, 503)
    /// to answer.
    pub async fn verify(&self, token: &str) -> Result<User, ApiError> {
        self.check(token).await.map_err(|e| match e {
            Checked::Refused(r) => ApiError::invalid_bearer(&r.reason()),
            Checked::KeysUnavailable => ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "unavailable",
                "The identity provider's signing keys cannot be fetched, so this bearer \
                 token cannot be checked; retry shortly",
            ),
        })
    }

    async fn check(&self, token: &str) -> Result<User, Checked> {
        if token.is_empty() || token.len() > MAX_TOKEN_BYTES {
            return Err(Refusal::Malformed.into());
        }
        let header = match jsonwebtoken::decode_header(token) {
            Ok(h) => h,
            Err(_) => return Err(header_refusal(token).into()),
        };
        let Some((_, validation)) = self.validations.iter().find(|(a, _)| *a == header.alg) else {
            let name = serde_json::to_value(header.alg)
                .ok()
                .and_then(|v| v.as_str().and_then(known_name));
            return Err(Refusal::AlgorithmNotAllowed(name).into());
        };
        let key = match self.jwks.key(header.kid.as_deref(), header.alg).await {
            Ok(k) => k,
            Err(KeyError::Unknown) => return Err(Refusal::UnknownKey.into()),
            Err(KeyError::WrongAlgorithm) => return Err(Refusal::KeyAlgorithmMismatch.into()),
            Err(KeyError::Unavailable) => return Err(Checked::KeysUnavailable),
        };
        let data = jsonwebtoken::decode::<Value>(token, &key.decoding, validation)
            .map_err(|e| Checked::Refused(refusal_of(e.kind())))?;
        self.user_of(&data.claims)
            .ok_or(Checked::Refused(Refusal::NoUser))
    }

    /// The user described by verified claims.
    fn user_of(&self, claims: &Value) -> Option<User> {
        let usable = |v: &Value| {
            v.as_str()
                .map(str::trim)
                .filter(|n| valid_user_name(n))
                .map(str::to_owned)
        };
        let name = claims
            .get(&self.user_claim)
            .and_then(usable)
            .or_else(|| claims.get("sub").and_then(usable))?;
        let groups = self.groups_of(claims);
        let text = |k: &str| {
            claims
                .get(k)
                .and_then(Value::as_str)
                .map(str::to_owned)
                .unwrap_or_default()
        };
        Some(User {
            admin: groups.iter().any(|g| self.admin_groups.contains(g)),
            poweruser: groups.iter().any(|g| self.poweruser_groups.contains(g)),
            first_name: text("given_name"),
            last_name: text("family_name"),
            email: text("email"),
            name,
            groups,
            password_hash: String::new(),
        })
    }

    /// The strings at `groups_claim` (an array, or one string); a leading `/` (full
    /// group paths) is dropped.
    fn groups_of(&self, claims: &Value) -> Vec<String> {
        let mut at = claims;
        for part in &self.groups_path {
            match at.get(part) {
                Some(v) => at = v,
                None => return Vec::new(),
            }
        }
        let values: Vec<&Value> = match at {
            Value::Array(items) => items.iter().collect(),
            v @ Value::String(_) => vec![v],
            _ => Vec::new(),
        };
        let mut groups: Vec<String> = Vec::new();
        for v in values {
            let Some(g) = v.as_str() else { continue };
            let g = g.strip_prefix('/').unwrap_or(g).trim();
            if !g.is_empty() && !g.chars().any(char::is_control) && !groups.iter().any(|x| x == g) {
                groups.push(g.to_owned());
            }
        }
        groups
    }
}

/// A user name usable in actor lists and entities.
fn valid_user_name(n: &str) -> bool {
    !n.is_empty() && n.len() <= 256 && !n.contains(',') && !n.chars().any(char::is_control)
}

enum Checked {
    Refused(Refusal),
    KeysUnavailable,
}

impl From<Refusal> for Checked {
    fn from(r: Refusal) -> Self {
        Checked::Refused(r)
    }
}

/// Why a token whose header does not parse is refused: an algorithm the library does
/// not know (`none`) is not allowed; anything else is malformed.
fn header_refusal(token: &str) -> Refusal {
    let alg = token
        .split('.')
        .next()
        .and_then(|h| {
            base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(h)
                .ok()
        })
        .and_then(|raw| serde_json::from_slice::<Value>(&raw).ok())
        .and_then(|h| h.get("alg").and_then(Value::as_str).map(str::to_owned));
    match alg {
        Some(a) => Refusal::AlgorithmNotAllowed(known_name(&a)),
        None => Refusal::Malformed,
    }
}

fn refusal_of(kind: &ErrorKind) -> Refusal {
    match kind {
        ErrorKind::ExpiredSignature => Refusal::Expired,
        ErrorKind::ImmatureSignature => Refusal::NotYetValid,
        ErrorKind::InvalidIssuer => Refusal::WrongIssuer,
        ErrorKind::InvalidAudience => Refusal::WrongAudience,
        ErrorKind::InvalidSignature => Refusal::BadSignature,
        ErrorKind::MissingRequiredClaim(c) => Refusal::MissingClaim(match c.as_str() {
            "exp" => "exp",
            "iss" => "iss",
            "aud" => "aud",
            "nbf" => "nbf",
            "sub" => "sub",
            _ => "(unnamed)",
        }),
        ErrorKind::InvalidAlgorithm
        | ErrorKind::InvalidEcdsaKey
        | ErrorKind::InvalidEddsaKey
        | ErrorKind::InvalidRsaKey(_)
        | ErrorKind::InvalidKeyFormat => Refusal::KeyAlgorithmMismatch,
        ErrorKind::MissingAlgorithm | ErrorKind::InvalidAlgorithmName => {
            Refusal::AlgorithmNotAllowed(None)
        }
        _ => Refusal::Malformed,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_refusals_name_only_known_algorithms() {
        let b64 = |s: &str| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(s);
        let none = format!("{}.{}.", b64(r#"{"alg":"none"}"#), b64("{}"));
        assert_eq!(
            header_refusal(&none),
            Refusal::AlgorithmNotAllowed(Some("none"))
        );
        let odd = format!("{}.{}.", b64(r#"{"alg":"<script>"}"#), b64("{}"));
        assert_eq!(header_refusal(&odd), Refusal::AlgorithmNotAllowed(None));
        assert_eq!(header_refusal("garbage"), Refusal::Malformed);
    }

    #[test]
    fn reasons_are_safe_in_a_quoted_header_parameter() {
        let all = [
            Refusal::Malformed,
            Refusal::AlgorithmNotAllowed(Some("none")),
            Refusal::UnknownKey,
            Refusal::MissingClaim("exp"),
            Refusal::NoUser,
        ];
        for r in all {
            let s = r.reason();
            assert!(!s.contains('"') && !s.contains('\\') && s.is_ascii(), "{s}");
        }
    }
}
