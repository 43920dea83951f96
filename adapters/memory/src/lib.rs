//! # flowgate-memory
//!
//! The embedded workflow engine of flowgate. It runs Nuxeo-style route models
//! (`config/models/*.json`) in process and keeps its state in memory.
//!
//! - Models are JSON: start and stop nodes, task nodes (title, directive, assignees,
//!   buttons, due date, node variables, the workflow variables a node may see),
//!   transitions with CEL conditions and chains of declarative actions, merges, nodes
//!   creating one task per participant, loops. Every model is checked and every
//!   expression compiled at load time: a broken file is a [`ModelError`] naming the
//!   file, the node and the problem.
//! - State lives in concurrent maps with secondary indexes (actor → tasks,
//!   document/initiator/model → instances, instance → tasks), so queries cost in
//!   proportion to their result. Each instance step runs under that instance's lock on
//!   a working copy and is applied as one batch of plain serializable changes.
//!
//! Types to know: [`MemoryEngine`] (the engine), [`EngineStats`], [`ModelError`],
//! [`validate_dir`]; the state records in [`state`].
//!
//! ```
//! use flowgate_core::{CallContext, StartWorkflow, TaskQuery, WorkflowEngine};
//! use flowgate_memory::MemoryEngine;
//!
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
//! let engine = MemoryEngine::builtin("local").unwrap();
//! let cx = CallContext::user("Administrator", ["members"]);
//! let wf = engine
//!     .start(&cx, StartWorkflow { model: "SerialDocumentReview".into(), ..Default::default() })
//!     .await
//!     .unwrap();
//! let tasks = engine.tasks(&cx, TaskQuery::for_workflow(&wf.id)).await.unwrap();
//! assert_eq!(tasks.items[0].actors, vec!["Administrator"]);
//! # });
//! ```

mod engine;
mod error;
mod expr;
mod model;
mod runner;
mod spec;
pub mod state;
mod store;
mod vars;
mod view;

pub use engine::{validate_dir, EngineStats, MemoryEngine};
pub use error::ModelError;
pub use vars::{format_date, parse_date};
