//! What a lasting token grants, as every token store keeps it.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// What is kept of one token.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Grant {
    /// The user the token signs in.
    pub user: String,
    /// `applicationName`.
    pub application: String,
    /// `deviceId`.
    pub device_id: String,
    /// `deviceDescription`, when given.
    pub device_description: Option<String>,
    /// `permission` as asked (`rw`, `r`, …); without `w` the token only reads.
    pub permission: String,
    /// When the token was issued.
    pub created: DateTime<Utc>,
    /// When the token stops working (`auth.token_ttl`), if ever.
    pub expires: Option<DateTime<Utc>>,
}

impl Grant {
    /// The token allows GET and HEAD requests only.
    pub fn read_only(&self) -> bool {
        !self.permission.contains('w')
    }

    pub(super) fn expired(&self, now: DateTime<Utc>) -> bool {
        self.expires.is_some_and(|e| e <= now)
    }
}

/// A stored token as listings show it.
#[derive(Clone, Debug)]
pub struct TokenInfo {
    /// The hex form of the token's hash: names the token without revealing it.
    pub id: String,
    /// What the token grants.
    pub grant: Grant,
}

/// What a new token is for.
#[derive(Clone, Debug)]
pub struct TokenRequest {
    /// The user the token signs in.
    pub user: String,
    /// `applicationName`.
    pub application: String,
    /// `deviceId`.
    pub device_id: String,
    /// `deviceDescription`.
    pub device_description: Option<String>,
    /// `permission` (`r` when not given).
    pub permission: String,
}
