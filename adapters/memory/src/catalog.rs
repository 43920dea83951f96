//! What both embedded engines (state in memory or in PostgreSQL) share before they hold
//! any state: where the models come from ([`ModelSource`]), loading and checking them
//! ([`validate_dir`]), the engine's description, and the namespace of document ids
//! derived from paths. It depends on neither engine.

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use flowgate_core::{Capabilities, EngineInfo};
use uuid::Uuid;

use crate::error::ModelError;
use crate::model::compile::{compile_str, load_file};
use crate::model::Model;

/// Namespace of document ids derived from paths (UUID v5 of the path).
pub(crate) const PATH_NS: Uuid = Uuid::from_u128(0x2d9c_51a7_8e44_4b0f_a3c6_0f1e_7b2d_9a10);

/// The shipped models, embedded so tests and `builtin` do not depend on the cwd.
const BUILTIN_MODELS: &[(&str, &str)] = &[
    (
        "config/models/SerialDocumentReview.json",
        include_str!("../../../config/models/SerialDocumentReview.json"),
    ),
    (
        "config/models/ParallelDocumentReview.json",
        include_str!("../../../config/models/ParallelDocumentReview.json"),
    ),
];

/// Name, kind and capabilities of an embedded engine, whatever its storage.
pub(crate) fn embedded_info(name: String) -> EngineInfo {
    EngineInfo {
        name,
        kind: "embedded",
        capabilities: Capabilities {
            reassign: true,
            delegate: true,
            suspend_resume: false,
            model_graph: true,
            workflow_graph: true,
            document_paths: true,
            document_store: false,
        },
    }
}

/// Checked models by name.
pub(crate) fn model_map(
    models: Vec<Model>,
) -> std::result::Result<BTreeMap<String, Arc<Model>>, ModelError> {
    check_unique(&models)?;
    Ok(models
        .into_iter()
        .map(|m| (m.name.clone(), Arc::new(m)))
        .collect())
}

/// Where an engine's models come from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ModelSource {
    /// The shipped models embedded in the binary (see [`crate::MemoryEngine::builtin`]).
    Builtin,
    /// Every `*.json` of a directory (see [`crate::MemoryEngine::from_dir`]).
    Dir(PathBuf),
}

impl ModelSource {
    pub(crate) fn load(&self) -> std::result::Result<Vec<Model>, ModelError> {
        match self {
            ModelSource::Builtin => BUILTIN_MODELS
                .iter()
                .map(|(file, text)| compile_str(Path::new(file), text))
                .collect(),
            ModelSource::Dir(dir) => load_dir(dir),
        }
    }
}

/// Loads every `*.json` of `dir` (sorted by file name) and checks model names are unique.
pub(crate) fn load_dir(dir: &Path) -> std::result::Result<Vec<Model>, ModelError> {
    let entries = std::fs::read_dir(dir)
        .map_err(|e| ModelError::new(dir, None, format!("cannot read the model directory: {e}")))?;
    let mut files = Vec::new();
    for e in entries {
        let e = e.map_err(|e| {
            ModelError::new(dir, None, format!("cannot read the model directory: {e}"))
        })?;
        let p = e.path();
        if p.extension().is_some_and(|x| x == "json") && p.is_file() {
            files.push(p);
        }
    }
    files.sort();
    let mut models = Vec::with_capacity(files.len());
    for f in files {
        models.push(load_file(&f)?);
    }
    Ok(models)
}

fn check_unique(models: &[Model]) -> std::result::Result<(), ModelError> {
    let mut seen = HashSet::new();
    for m in models {
        if !seen.insert(m.name.as_str()) {
            return Err(ModelError::new(
                &m.file,
                None,
                format!("model name '{}' is already used by another file", m.name),
            ));
        }
    }
    Ok(())
}

/// Checks every model file of `dir` as `flowgate check-config` does; returns the model
/// names in file order.
pub fn validate_dir(dir: &Path) -> std::result::Result<Vec<String>, ModelError> {
    let models = load_dir(dir)?;
    check_unique(&models)?;
    Ok(models.into_iter().map(|m| m.name).collect())
}
