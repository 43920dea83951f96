//! # flowgate-cq
//!
//! The Adobe CQ / AEM engine of flowgate: [`CqEngine`] implements
//! [`flowgate_core::WorkflowEngine`] over the classic workflow REST API
//! (`/etc/workflow/models`, `/etc/workflow/instances`, `/bin/workflow/inbox`), for the
//! release families of [`Profile`] (CQ 5, AEM 6.0–6.3, AEM 6.4/6.5, AEM as a Cloud
//! Service).
//!
//! What a reader should know:
//! - Ids are base64url (no padding) encodings of JCR paths: reversible and path-safe.
//!   Ids are checked before any request: traversal, control characters, Sling selector
//!   tricks and anything outside the instance tree never reach CQ.
//! - Every POST is answered by a Sling HTML status page; the adapter reads the outcome
//!   from it, verifies a start by reading the new instance back, and fetches and
//!   refreshes the CSRF token where the release has one.
//! - Tasks are inbox work items. Completing a task takes a route (action name = route id
//!   or label; back-routes are `back:<id or label>`); delegation is supported, reassign
//!   is not ([`flowgate_core::Capabilities::reassign`] is false).
//! - With a service account the adapter enforces the caller's visibility itself.
//! - Feature `sim` adds [`sim`], an in-process AEM simulator used by the tests, also
//!   runnable as the `flowgate-cq-sim` binary.
//!
//! ```no_run
//! # async fn demo() -> flowgate_core::Result<()> {
//! use flowgate_core::{CallContext, WorkflowEngine};
//! use flowgate_cq::{AuthConfig, CqConfig, CqEngine, Profile};
//! let config = CqConfig::new(
//!     "http://127.0.0.1:4502/".parse().expect("static URL"),
//!     Profile::Aem64To65,
//!     AuthConfig::Basic { user: "admin".into(), password: Some("admin".into()), password_env: None },
//! );
//! let engine = CqEngine::new("cq", config)?;
//! let models = engine.models(&CallContext::admin("admin")).await?;
//! # let _ = models; Ok(()) }
//! ```

mod cache;
mod client;
mod config;
mod convert;
mod dates;
#[cfg(test)]
mod documented_examples;
mod engine;
mod error;
mod html;
mod ids;
mod ledger;
mod profile;
mod wire;

pub use config::{AuthConfig, CqConfig};
pub use engine::CqEngine;
pub use flowgate_http::HttpSettings;
pub use profile::Profile;

#[cfg(feature = "sim")]
pub mod sim;
