//! Who is calling, and until when.

use std::fmt;
use std::time::{Duration, Instant};

/// A string that must never be printed: `Debug` and `Display` redact it.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret value.
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The secret value itself. Call sites should be few and obvious.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

impl From<String> for Secret {
    fn from(value: String) -> Self {
        Self(value)
    }
}

impl From<&str> for Secret {
    fn from(value: &str) -> Self {
        Self(value.to_owned())
    }
}

impl<'de> serde::Deserialize<'de> for Secret {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        String::deserialize(d).map(Secret)
    }
}

/// The caller's own credentials, kept only so that adapters configured for
/// pass-through authentication can forward them upstream.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Credentials {
    /// HTTP Basic user name and password as sent by the client.
    Basic {
        /// User name.
        user: String,
        /// Password (redacted in `Debug`).
        password: Secret,
    },
    /// A bearer token as sent by the client.
    Bearer(Secret),
}

/// Everything an engine needs to know about one call: the authenticated principal,
/// its groups, whether it is an administrator, a request id for logs and an optional
/// deadline after which the engine should give up with [`crate::EngineError::Timeout`].
#[derive(Clone, Debug)]
pub struct CallContext {
    /// The authenticated user name (bare, without a `user:` prefix).
    pub user: String,
    /// The user's groups (bare names, without a `group:` prefix).
    pub groups: Vec<String>,
    /// Administrators see and may act on everything.
    pub admin: bool,
    /// Power users see and may cancel every workflow (see [`crate::access`]).
    pub poweruser: bool,
    /// Correlates log lines of one request across engines; sent upstream as
    /// `X-Request-Id` by the remote adapters (empty: none).
    pub request_id: String,
    /// The caller's W3C trace context (`traceparent` header), forwarded upstream
    /// unchanged when present. Only a well-formed value is kept (see
    /// [`valid_traceparent`]).
    pub traceparent: Option<String>,
    /// When the caller stops waiting. `None` means no deadline.
    pub deadline: Option<Instant>,
    /// Repository name from the request (`default` unless the client said otherwise).
    pub repository: String,
    /// The caller's credentials, present only when the gateway was asked to keep them
    /// for pass-through authentication.
    pub credentials: Option<Credentials>,
}

impl CallContext {
    /// A non-admin caller with the given groups; handy in tests and examples.
    pub fn user<I, S>(user: impl Into<String>, groups: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Self {
            user: user.into(),
            groups: groups.into_iter().map(Into::into).collect(),
            admin: false,
            poweruser: false,
            request_id: String::new(),
            traceparent: None,
            deadline: None,
            repository: "default".to_owned(),
            credentials: None,
        }
    }

    /// An administrator caller (member of `administrators`).
    pub fn admin(user: impl Into<String>) -> Self {
        let mut cx = Self::user(user, ["administrators"]);
        cx.admin = true;
        cx
    }

    /// Sets a deadline `timeout` from now.
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.deadline = Some(Instant::now() + timeout);
        self
    }

    /// Sets the request id.
    pub fn with_request_id(mut self, id: impl Into<String>) -> Self {
        self.request_id = id.into();
        self
    }

    /// Sets the W3C trace context, when `value` is a well-formed `traceparent`.
    pub fn with_traceparent(mut self, value: &str) -> Self {
        self.traceparent = valid_traceparent(value).then(|| value.to_owned());
        self
    }

    /// Time left before the deadline; `None` when there is no deadline, zero when it passed.
    pub fn remaining(&self) -> Option<Duration> {
        self.deadline
            .map(|d| d.saturating_duration_since(Instant::now()))
    }

    /// Whether the caller is a member of `group` (bare name).
    pub fn in_group(&self, group: &str) -> bool {
        self.groups.iter().any(|g| g == group)
    }

    /// Whether `principal` (bare, `user:` or `group:` prefixed) designates this caller,
    /// directly or through one of its groups.
    pub fn is_principal(&self, principal: &str) -> bool {
        if let Some(u) = principal.strip_prefix("user:") {
            return u == self.user;
        }
        if let Some(g) = principal.strip_prefix("group:") {
            return self.in_group(g);
        }
        principal == self.user || self.in_group(principal)
    }
}

/// Whether `v` is a W3C `traceparent` value of a known shape: `version-traceid-parentid-flags`
/// in lower-case hex (2-32-16-2 digits), trace and parent ids not all zeros, version not
/// `ff`. Later versions may append fields after a `-`.
pub fn valid_traceparent(v: &str) -> bool {
    fn hex(s: &str, n: usize) -> bool {
        s.len() == n && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
    }
    let mut parts = v.split('-');
    let (Some(version), Some(trace), Some(parent), Some(flags)) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return false;
    };
    let rest_ok = match version {
        "00" => parts.next().is_none(),
        _ => true,
    };
    v.len() <= 512
        && hex(version, 2)
        && version != "ff"
        && hex(trace, 32)
        && trace.bytes().any(|b| b != b'0')
        && hex(parent, 16)
        && parent.bytes().any(|b| b != b'0')
        && hex(flags, 2)
        && rest_ok
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn traceparents_are_checked() {
        let ok = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
        assert!(valid_traceparent(ok));
        assert_eq!(
            CallContext::admin("a")
                .with_traceparent(ok)
                .traceparent
                .as_deref(),
            Some(ok)
        );
        for bad in [
            "",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7",
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
            "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
            "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-x",
        ] {
            assert!(!valid_traceparent(bad), "{bad}");
            assert_eq!(
                CallContext::admin("a").with_traceparent(bad).traceparent,
                None
            );
        }
    }

    #[test]
    fn principal_matching_understands_prefixes_and_groups() {
        let cx = CallContext::user("jdoe", ["members"]);
        assert!(cx.is_principal("jdoe"));
        assert!(cx.is_principal("user:jdoe"));
        assert!(cx.is_principal("members"));
        assert!(cx.is_principal("group:members"));
        assert!(!cx.is_principal("group:jdoe"));
        assert!(!cx.is_principal("user:members"));
        assert!(!cx.is_principal("asmith"));
    }

    #[test]
    fn secrets_are_redacted() {
        let c = Credentials::Basic {
            user: "u".into(),
            password: Secret::new("hunter2"),
        };
        assert!(!format!("{c:?}").contains("hunter2"));
    }
}
