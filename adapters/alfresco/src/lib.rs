//! # flowgate-alfresco
//!
//! The Alfresco Content Services engine of flowgate: [`AlfrescoEngine`] implements
//! [`flowgate_core::WorkflowEngine`] over Alfresco's public v1 workflow REST API (plus
//! the core nodes API to resolve documents and one legacy web script for "workflows of a
//! document"). Configure it with [`AlfrescoConfig`].
//!
//! - Models are Alfresco process definitions, addressed by definition key; actions of a
//!   task are the values of its outcome property (`approve`, `reject`), or `complete`.
//! - Authentication: a service account (Basic, or a ticket renewed on expiry) with the
//!   adapter enforcing the caller's visibility, or pass-through of the caller's Basic
//!   credentials or of the bearer token the caller signed in with, Alfresco enforcing it.
//! - Every call goes through `flowgate-http` (timeouts, idempotent-only retries, breaker);
//!   client ids only reach upstream URLs as single, encoded segments.
//!
//! Behind the `sim` feature, [`sim`] is an in-process Alfresco simulator for tests.
//!
//! ```no_run
//! # fn demo() -> Result<(), flowgate_core::EngineError> {
//! use flowgate_alfresco::{AlfrescoConfig, AlfrescoEngine};
//! let cfg: AlfrescoConfig = serde_json::from_value(serde_json::json!({
//!     "http": {"base_url": "http://127.0.0.1:8081/alfresco/"},
//!     "auth": {"mode": "ticket", "user": "admin", "password_env": "ALFRESCO_PASSWORD"}
//! })).map_err(|e| flowgate_core::EngineError::bad_request(e.to_string()))?;
//! let engine = AlfrescoEngine::new("alfresco", cfg)?;
//! # let _ = engine; Ok(()) }
//! ```

mod cache;
mod client;
mod config;
mod convert;
mod engine;
mod error;
mod wire;

#[cfg(test)]
mod fixture_tests;

#[cfg(feature = "sim")]
pub mod sim;

pub use config::{AlfrescoConfig, AuthConfig, AuthMode};
pub use engine::AlfrescoEngine;
