//! Connection and schema: the migrations under `adapters/memory/migrations` are
//! embedded in the binary and applied by sqlx's migrator, which holds a PostgreSQL
//! advisory lock while it works, so replicas starting together apply each migration
//! once. A database carrying a migration this build does not know is refused.

use std::str::FromStr;

use sqlx::migrate::{MigrateError, Migrator};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::PgPool;

use super::{PgError, PgOptions};

static MIGRATOR: Migrator = sqlx::migrate!("./migrations");

/// Highest schema version this build knows.
pub const SCHEMA_VERSION: i64 = 1;

/// Whether `name` may be used unquoted as a schema name.
fn plain_identifier(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_lowercase() || c == '_')
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        && name.len() <= 63
}

/// A pool for `options` (connections are opened on first use and kept).
pub(crate) async fn connect(options: &PgOptions) -> Result<PgPool, PgError> {
    let mut conn = PgConnectOptions::from_str(&options.url)
        .map_err(|_| PgError::Connect("the database URL is not valid".into()))?
        .application_name("flowgate")
        .options([(
            "statement_timeout",
            options.statement_timeout.as_millis().to_string(),
        )]);
    if let Some(schema) = &options.schema {
        if !plain_identifier(schema) {
            return Err(PgError::Statement(format!(
                "schema '{schema}' must be lower-case letters, digits and '_'"
            )));
        }
        conn = conn.options([("search_path", schema.as_str())]);
    }
    let pool = PgPoolOptions::new()
        .max_connections(options.pool_size.max(1))
        .acquire_timeout(options.acquire_timeout)
        .test_before_acquire(false)
        .connect_lazy_with(conn);
    if let Some(schema) = &options.schema {
        // Replicas starting together may race to create it: losing is fine.
        match sqlx::query(&format!("CREATE SCHEMA IF NOT EXISTS {schema}"))
            .execute(&pool)
            .await
        {
            Ok(_) => {}
            Err(sqlx::Error::Database(db))
                if matches!(db.code().as_deref(), Some("23505") | Some("42P06")) => {}
            Err(e) => return Err(connect_error(e)),
        }
    } else {
        ping(&pool).await.map_err(connect_error)?;
    }
    Ok(pool)
}

fn connect_error(e: sqlx::Error) -> PgError {
    match e {
        sqlx::Error::Database(db) => PgError::Connect(format!(
            "{} (SQLSTATE {})",
            db.message(),
            db.code().unwrap_or_default()
        )),
        sqlx::Error::PoolTimedOut => PgError::Connect("no answer in time".into()),
        // The operating system's or the TLS library's words (an unknown issuer, a name
        // mismatch, a refused connection); they never carry the URL or its password.
        sqlx::Error::Io(io) => PgError::Connect(io.to_string()),
        other => PgError::Connect(other.to_string()),
    }
}

/// Applies every pending migration.
pub(crate) async fn apply(pool: &PgPool) -> Result<(), PgError> {
    MIGRATOR.run(pool).await.map_err(|e| match e {
        MigrateError::VersionMissing(found) => PgError::FutureSchema {
            found,
            known: SCHEMA_VERSION,
        },
        MigrateError::Execute(e) => connect_error(e),
        other => PgError::Statement(other.to_string()),
    })
}

/// Checks that the schema is exactly what this build needs (migrations off).
pub(crate) async fn check(pool: &PgPool) -> Result<(), PgError> {
    let found: Option<i64> =
        sqlx::query_scalar("SELECT max(version) FROM _sqlx_migrations WHERE success")
            .fetch_one(pool)
            .await
            .unwrap_or(None);
    let found = found.unwrap_or(0);
    if found > SCHEMA_VERSION {
        return Err(PgError::FutureSchema {
            found,
            known: SCHEMA_VERSION,
        });
    }
    if found < SCHEMA_VERSION {
        return Err(PgError::OldSchema {
            found,
            known: SCHEMA_VERSION,
        });
    }
    Ok(())
}

/// Makes sure the engine has its row (the event sequence lives there).
pub(crate) async fn register(pool: &PgPool, engine: &str) -> Result<(), PgError> {
    sqlx::query("INSERT INTO fg_engines (engine) VALUES ($1) ON CONFLICT DO NOTHING")
        .bind(engine)
        .execute(pool)
        .await
        .map(|_| ())
        .map_err(connect_error)
}

/// One round trip to the database.
pub(crate) async fn ping(pool: &PgPool) -> Result<(), sqlx::Error> {
    sqlx::query("SELECT 1").execute(pool).await.map(|_| ())
}

/// `flowgate migrate`: connects and applies pending migrations; returns the schema
/// version afterwards.
pub async fn migrate(options: &PgOptions) -> Result<i64, PgError> {
    let pool = connect(options).await?;
    apply(&pool).await?;
    pool.close().await;
    Ok(SCHEMA_VERSION)
}

#[cfg(test)]
mod tests {
    #[test]
    fn schema_names_are_plain_identifiers() {
        assert!(super::plain_identifier("flowgate"));
        assert!(super::plain_identifier("t_0a1b"));
        assert!(!super::plain_identifier("Flowgate"));
        assert!(!super::plain_identifier("a;drop"));
        assert!(!super::plain_identifier(""));
    }
}
