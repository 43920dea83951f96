//! What the database's failures become.
//!
//! A request never sees a driver message that could carry connection details: an
//! unreachable database or an exhausted pool is a 503 saying so, a cancelled statement
//! a 504, anything else a 503 naming the SQLSTATE.

use flowgate_core::EngineError;

/// Why the PostgreSQL storage cannot start.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PgError {
    /// The database cannot be reached or refused the connection.
    #[error("PostgreSQL storage: cannot connect to the database ({0})")]
    Connect(String),
    /// The database's schema was written by a newer flowgate.
    #[error(
        "PostgreSQL storage: the database schema is at version {found}, newer than this flowgate (it knows versions up to {known}); \
         run the flowgate version that migrated it, or a newer one"
    )]
    FutureSchema {
        /// Highest version applied in the database.
        found: i64,
        /// Highest version this build knows.
        known: i64,
    },
    /// The schema is older than this build and migrations are off.
    #[error(
        "PostgreSQL storage: the database schema is at version {found}, this flowgate needs {known}; \
         run `flowgate migrate` (or turn migrate_on_start on)"
    )]
    OldSchema {
        /// Highest version applied in the database.
        found: i64,
        /// Version this build needs.
        known: i64,
    },
    /// A migration or a start-up statement failed.
    #[error("PostgreSQL storage: {0}")]
    Statement(String),
}

/// The engine error for a database failure (no connection details in it).
pub(crate) fn engine_error(e: sqlx::Error) -> EngineError {
    match &e {
        sqlx::Error::PoolTimedOut => EngineError::Unavailable(
            "The workflow database is unavailable: no connection could be obtained in time".into(),
        ),
        sqlx::Error::Io(_) | sqlx::Error::Tls(_) | sqlx::Error::PoolClosed => {
            EngineError::Unavailable("The workflow database is unavailable".into())
        }
        sqlx::Error::Database(db) => match db.code().as_deref() {
            // query_canceled: the statement timeout fired.
            Some("57014") => {
                EngineError::Timeout("The workflow database did not answer in time".into())
            }
            // Serialization failure or deadlock: the other step won.
            Some("40001") | Some("40P01") => EngineError::conflict(
                "The workflow was changed by another request at the same time; try again",
            ),
            // admin_shutdown, crash_shutdown, cannot_connect_now.
            Some(c) if c.starts_with("57P") || c.starts_with("08") => {
                EngineError::Unavailable("The workflow database is unavailable".into())
            }
            Some(c) => {
                tracing::error!(sqlstate = %c, error = %db.message(), "workflow database error");
                EngineError::Unavailable(format!("The workflow database failed (SQLSTATE {c})"))
            }
            None => EngineError::Unavailable("The workflow database failed".into()),
        },
        other => {
            tracing::error!(error = %other, "workflow database error");
            EngineError::Unavailable("The workflow database failed".into())
        }
    }
}

/// A stored record that does not decode: the row is damaged or from an unknown format.
pub(crate) fn damaged(what: &str, e: impl std::fmt::Display) -> EngineError {
    tracing::error!(record = what, error = %e, "stored record does not decode");
    EngineError::Unavailable(format!("A stored {what} could not be read"))
}
