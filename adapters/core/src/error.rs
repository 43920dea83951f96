//! The one error type every engine returns.

/// Result alias used across the trait.
pub type Result<T, E = EngineError> = std::result::Result<T, E>;

/// What went wrong, as a small `Copy` kind. The gateway maps each kind to exactly one
/// HTTP status (in `src/error.rs`); adapters never pick statuses themselves.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The workflow, task, model or document does not exist (404).
    NotFound,
    /// The object is in a state that forbids the operation, e.g. completing an ended
    /// task or reassigning on a node that does not allow it (409).
    Conflict,
    /// The caller may not see or act on the object (403).
    Forbidden,
    /// The request is invalid for this object: unknown action, bad variable (400).
    BadRequest,
    /// The engine does not support this operation (501).
    Unsupported,
    /// The engine cannot be reached or refuses work right now (503).
    Unavailable,
    /// The engine did not answer in time; the outcome of a write is unknown (504).
    Timeout,
    /// The upstream answered something the adapter cannot use (502).
    Upstream,
}

impl ErrorKind {
    /// A stable snake_case code for logs and metric labels.
    pub fn code(self) -> &'static str {
        match self {
            ErrorKind::NotFound => "not_found",
            ErrorKind::Conflict => "conflict",
            ErrorKind::Forbidden => "forbidden",
            ErrorKind::BadRequest => "bad_request",
            ErrorKind::Unsupported => "unsupported",
            ErrorKind::Unavailable => "unavailable",
            ErrorKind::Timeout => "timeout",
            ErrorKind::Upstream => "upstream",
        }
    }
}

/// An engine failure. Messages are safe to show to clients: they never contain
/// credentials or whole upstream bodies.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EngineError {
    /// See [`ErrorKind::NotFound`].
    #[error("{0}")]
    NotFound(String),
    /// See [`ErrorKind::Conflict`].
    #[error("{0}")]
    Conflict(String),
    /// See [`ErrorKind::Forbidden`].
    #[error("{0}")]
    Forbidden(String),
    /// See [`ErrorKind::BadRequest`].
    #[error("{0}")]
    BadRequest(String),
    /// See [`ErrorKind::Unsupported`]. `op` names the operation, `engine` the engine.
    #[error("operation '{op}' is not supported by engine '{engine}'")]
    Unsupported {
        /// Operation name, e.g. `suspend`.
        op: &'static str,
        /// Engine name from the configuration.
        engine: String,
    },
    /// See [`ErrorKind::Unavailable`].
    #[error("{0}")]
    Unavailable(String),
    /// See [`ErrorKind::Timeout`].
    #[error("{0}")]
    Timeout(String),
    /// See [`ErrorKind::Upstream`]. `status` is the upstream HTTP status when there was one.
    #[error("{detail}")]
    Upstream {
        /// Upstream HTTP status, if any.
        status: Option<u16>,
        /// A short, safe description.
        detail: String,
    },
}

impl EngineError {
    /// The kind of this error.
    pub fn kind(&self) -> ErrorKind {
        match self {
            EngineError::NotFound(_) => ErrorKind::NotFound,
            EngineError::Conflict(_) => ErrorKind::Conflict,
            EngineError::Forbidden(_) => ErrorKind::Forbidden,
            EngineError::BadRequest(_) => ErrorKind::BadRequest,
            EngineError::Unsupported { .. } => ErrorKind::Unsupported,
            EngineError::Unavailable(_) => ErrorKind::Unavailable,
            EngineError::Timeout(_) => ErrorKind::Timeout,
            EngineError::Upstream { .. } => ErrorKind::Upstream,
        }
    }

    /// Whether retrying the same idempotent call later may succeed.
    pub fn is_retryable(&self) -> bool {
        matches!(
            self.kind(),
            ErrorKind::Unavailable | ErrorKind::Timeout | ErrorKind::Upstream
        )
    }

    /// Shorthand for [`EngineError::NotFound`].
    pub fn not_found(msg: impl Into<String>) -> Self {
        EngineError::NotFound(msg.into())
    }

    /// Shorthand for [`EngineError::Conflict`].
    pub fn conflict(msg: impl Into<String>) -> Self {
        EngineError::Conflict(msg.into())
    }

    /// Shorthand for [`EngineError::Forbidden`].
    pub fn forbidden(msg: impl Into<String>) -> Self {
        EngineError::Forbidden(msg.into())
    }

    /// Shorthand for [`EngineError::BadRequest`].
    pub fn bad_request(msg: impl Into<String>) -> Self {
        EngineError::BadRequest(msg.into())
    }

    /// Shorthand for [`EngineError::Upstream`].
    pub fn upstream(status: Option<u16>, detail: impl Into<String>) -> Self {
        EngineError::Upstream {
            status,
            detail: detail.into(),
        }
    }

    /// Shorthand for [`EngineError::Unsupported`].
    pub fn unsupported(op: &'static str, engine: impl Into<String>) -> Self {
        EngineError::Unsupported {
            op,
            engine: engine.into(),
        }
    }

    /// The message without any prefix, safe to show to clients.
    pub fn message(&self) -> String {
        self.to_string()
    }

    /// Prefixes context to the message, Nuxeo style: `"<context>, <message>"`.
    /// The kind is kept.
    pub fn context(self, ctx: impl std::fmt::Display) -> Self {
        let wrap = |m: String| format!("{ctx}, {m}");
        match self {
            EngineError::NotFound(m) => EngineError::NotFound(wrap(m)),
            EngineError::Conflict(m) => EngineError::Conflict(wrap(m)),
            EngineError::Forbidden(m) => EngineError::Forbidden(wrap(m)),
            EngineError::BadRequest(m) => EngineError::BadRequest(wrap(m)),
            EngineError::Unavailable(m) => EngineError::Unavailable(wrap(m)),
            EngineError::Timeout(m) => EngineError::Timeout(wrap(m)),
            EngineError::Upstream { status, detail } => EngineError::Upstream {
                status,
                detail: wrap(detail),
            },
            e @ EngineError::Unsupported { .. } => e,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn context_is_prefixed_and_kind_kept() {
        let e = EngineError::not_found("abc").context("Can not get workflow instance with id: abc");
        assert_eq!(e.kind(), ErrorKind::NotFound);
        assert_eq!(
            e.message(),
            "Can not get workflow instance with id: abc, abc"
        );
    }

    #[test]
    fn only_transient_kinds_are_retryable() {
        assert!(EngineError::Timeout("t".into()).is_retryable());
        assert!(!EngineError::conflict("c").is_retryable());
    }
}
