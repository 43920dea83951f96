//! Errors found while loading workflow model files, and why an engine cannot start.

use std::fmt;
use std::path::PathBuf;

use crate::pg::error::PgError;
use crate::storage::StorageError;

/// A workflow model file that cannot be used. The message names the file, the node
/// (when the problem belongs to one) and the problem, e.g.
/// `model file 'config/models/Review.json', node 'Task6d8': transition 'toEnd' targets unknown node 'Task9'`.
/// Loading stops at the first problem: flowgate refuses to start with a broken model.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelError {
    /// The file the model was read from (or a name for embedded models).
    pub file: PathBuf,
    /// The node the problem belongs to, if any.
    pub node: Option<String>,
    /// What is wrong.
    pub problem: String,
}

impl ModelError {
    pub(crate) fn new(
        file: impl Into<PathBuf>,
        node: Option<&str>,
        problem: impl Into<String>,
    ) -> Self {
        Self {
            file: file.into(),
            node: node.map(str::to_owned),
            problem: problem.into(),
        }
    }
}

impl fmt::Display for ModelError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "model file '{}'", self.file.display())?;
        if let Some(node) = &self.node {
            write!(f, ", node '{node}'")?;
        }
        write!(f, ": {}", self.problem)
    }
}

impl std::error::Error for ModelError {}

/// Why a durable engine cannot start.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OpenError {
    /// A model file is broken.
    #[error(transparent)]
    Model(#[from] ModelError),
    /// The stored state cannot be opened or read.
    #[error(transparent)]
    Storage(#[from] StorageError),
    /// The PostgreSQL storage cannot start.
    #[error(transparent)]
    Postgres(#[from] PgError),
}
