//! A PostgreSQL schema of its own for each test.
//!
//! Tests that need PostgreSQL read the server's URL from `FLOWGATE_TEST_DATABASE_URL`
//! (`.ci/run` starts the server and sets it). Without it, [`database_url`] returns
//! `None` and the test is skipped with a message, except when `CI` is set: then it
//! fails, so a CI run never passes without having run them.

/// The environment variable holding the test server's URL.
pub const URL_VAR: &str = "FLOWGATE_TEST_DATABASE_URL";

/// The test server's URL; `None` (with a message) when there is none outside CI.
///
/// # Panics
/// When `CI` is set and the URL is missing.
pub fn database_url() -> Option<String> {
    match std::env::var(URL_VAR) {
        Ok(url) if !url.trim().is_empty() => Some(url),
        _ if std::env::var_os("CI").is_some() => {
            panic!("{URL_VAR} is not set: the PostgreSQL tests must run in CI (see .ci/run)")
        }
        _ => {
            eprintln!("skipped: {URL_VAR} is not set (no PostgreSQL server for this test)");
            None
        }
    }
}

/// A schema made for one test, dropped with everything in it when this goes.
#[derive(Debug)]
pub struct TestSchema {
    /// The server's URL.
    pub url: String,
    /// The schema's name (`t_<32 hex digits>`).
    pub name: String,
}

impl TestSchema {
    /// A fresh schema name on the test server (created by whoever connects first);
    /// `None` when there is no server outside CI.
    pub fn new() -> Option<Self> {
        let url = database_url()?;
        let name = format!("t_{}", uuid::Uuid::new_v4().simple());
        Some(Self { url, name })
    }

    /// The URL with `search_path` set to this schema, for processes configured by URL.
    pub fn url_with_search_path(&self) -> String {
        let sep = if self.url.contains('?') { '&' } else { '?' };
        format!("{}{sep}options=-c%20search_path%3D{}", self.url, self.name)
    }
}

impl Drop for TestSchema {
    fn drop(&mut self) {
        let (url, name) = (self.url.clone(), self.name.clone());
        // A thread of its own: the test may be inside a runtime, which cannot block.
        let _ = std::thread::spawn(move || {
            let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return;
            };
            rt.block_on(async move {
                use sqlx::Connection;
                if let Ok(mut conn) = sqlx::PgConnection::connect(&url).await {
                    let _ = sqlx::query(&format!("DROP SCHEMA IF EXISTS {name} CASCADE"))
                        .execute(&mut conn)
                        .await;
                    let _ = conn.close().await;
                }
            });
        })
        .join();
    }
}
