//! Builds the configured engines and the [`Router`] over them.
//!
//! Adding an engine kind is one arm in [`build_engine`] (and one variant in
//! `settings::EngineSettings`); nothing in `routes/` changes.

use std::sync::Arc;

use flowgate_core::WorkflowEngine;
use flowgate_memory::MemoryEngine;

use crate::router::{EngineEntry, Router};
use crate::settings::{EngineSettings, Settings};

/// Name of the engine used when none is configured.
pub const BUILTIN_ENGINE: &str = "local";

/// An engine could not be built.
#[derive(Debug, thiserror::Error)]
#[error("engines.{engine}: {reason}")]
pub struct RegistryError {
    /// Engine name.
    pub engine: String,
    /// What went wrong.
    pub reason: String,
}

/// Builds one engine from its settings.
pub fn build_engine(
    name: &str,
    settings: &EngineSettings,
) -> Result<Arc<dyn WorkflowEngine>, RegistryError> {
    let err = |reason: String| RegistryError {
        engine: name.to_owned(),
        reason,
    };
    Ok(match settings {
        EngineSettings::Memory(m) => match &m.models_dir {
            Some(dir) => {
                Arc::new(MemoryEngine::from_dir(name, dir).map_err(|e| err(e.to_string()))?)
            }
            None => Arc::new(MemoryEngine::builtin(name).map_err(|e| err(e.to_string()))?),
        },
    })
}

/// Builds every configured engine (or the built-in one) and the router over them.
pub fn build(settings: &Settings) -> Result<Router, RegistryError> {
    if settings.engines.is_empty() {
        let entry = EngineEntry {
            name: BUILTIN_ENGINE.to_owned(),
            prefix: None,
            mounts: vec!["/".to_owned()],
            engine: Arc::new(
                MemoryEngine::builtin(BUILTIN_ENGINE).map_err(|e| RegistryError {
                    engine: BUILTIN_ENGINE.into(),
                    reason: e.to_string(),
                })?,
            ),
        };
        return Router::new(vec![entry], 0).map_err(|reason| RegistryError {
            engine: BUILTIN_ENGINE.into(),
            reason,
        });
    }
    let single = settings.engines.len() == 1;
    let mut entries = Vec::with_capacity(settings.engines.len());
    let mut default = 0;
    for (i, (name, es)) in settings.engines.iter().enumerate() {
        let common = es.common();
        let is_default = single || common.default;
        if is_default {
            default = i;
        }
        let mut mounts = common.mounts.clone();
        if is_default && !mounts.iter().any(|m| m == "/") {
            mounts.push("/".to_owned());
        }
        entries.push(EngineEntry {
            name: name.clone(),
            prefix: if is_default {
                None
            } else {
                Some(common.id_prefix.clone().unwrap_or_else(|| name.clone()))
            },
            mounts,
            engine: build_engine(name, es)?,
        });
        tracing::info!(engine = %name, kind = es.kind(), default = is_default, "engine ready");
    }
    Router::new(entries, default).map_err(|reason| RegistryError {
        engine: "*".into(),
        reason,
    })
}

/// Checks every model directory; returns one line per loaded model or the first problem.
pub fn check_models(settings: &Settings) -> Result<Vec<String>, RegistryError> {
    let mut out = Vec::new();
    for (name, dir) in settings.model_dirs() {
        let models = flowgate_memory::validate_dir(dir).map_err(|e| RegistryError {
            engine: name.clone(),
            reason: e.to_string(),
        })?;
        for m in models {
            out.push(format!("engines.{name}: model {m} ({})", dir.display()));
        }
    }
    Ok(out)
}
